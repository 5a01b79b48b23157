"""Deploy-day tasks: deploy, rollback, releases, status, logs."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from invoke import task
from invoke.exceptions import Exit
from rich.console import Console
from rich.table import Table

from moorage.cli.checks import check_before_run
from moorage.cli.common import (
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    PROJECT_HELP,
    RUN_HELP,
    project_from_flags,
    reports_errors,
)
from moorage.cli.run_tasks import run_options
from moorage.connection import Connection, connect
from moorage.data import catalog
from moorage.deploy import recipe, server
from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.progname import command
from moorage.run import make_report
from moorage.templating import render_keys

DAY2_HELP = {"host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP}
LOCK_HELP = {"break_lock": "Remove a stale deploy lock first (written to the audit log)."}
BACKUP_WARN_HOURS = 24  # status warns when the newest verified database backup is older (seed 001's checklist)


def _finish(outcomes: list[recipe.Outcome], report: Any) -> None:
    """One ``outcome`` event per host after the recap; failures also on stderr; exit 1 if any."""
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:  # every failed host shows failed>=1, whichever recipe step stopped it
        recap = report.recap_for(outcome.host)
        if not recap.failed:
            recap.count("failed")
    report.recap()
    for outcome in outcomes:
        report.emit("outcome", host=outcome.host, status="ok" if outcome.ok else "failed",
                    message=outcome.message)
    report.end(1 if failed else 0)
    for outcome in failed:
        print(f"error: {outcome.host}: {outcome.message}", file=sys.stderr)
    if failed:
        raise Exit(code=1)


@task(auto_shortflags=False, iterable=["set_"], help={
    **RUN_HELP, **LOCK_HELP,
    "force": "Deploy to production even when a preflight check fails (written to the audit log).",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def deploy(c, host="", inventory="", project="", check=False, diff=False, tags="", set_=None,
           json_=False, force=False, break_lock=False, verbose=False):
    """Bring a host to the desired state: compose files, .env, proxy config, images, migrations, health."""
    if not host:
        raise InputError("--host is required: a host name, an environment name, or all")
    located = project_from_flags(project, inventory)
    check_before_run(located, host, list(set_ or []), "deploy")  # input errors (exit 2) before any connection
    request = recipe.Request(str(located.inventory), host, list(set_ or []), run_options(check, diff, tags, "", 0),
                             force=force, break_lock=break_lock, project=located)
    report = make_report(json_, diff, verbose)
    _finish(recipe.deploy(request, report), report)


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, **LOCK_HELP,
    "tag": "Release to go back to: its id (or a unique prefix), its git revision, or 'previous'.",
    "to": "Same as --tag (e.g. --to previous).",
    "set_": RUN_HELP["set_"],
    "restore_db": "Then restore the database backup recorded as that release's data (taken before the next "
                  "release's migrations); asks for the environment's name unless --yes.",
    "yes": "With --restore-db: confirm without typing the environment's name.",
    "destroy_data": "With --restore-db: drop the database and restore a fresh exact copy (see `restore`).",
})
@reports_errors
def rollback(c, host="", inventory="", project="", tag="", to="", json_=False, break_lock=False, set_=None,
             restore_db=False, yes=False, destroy_data=False):
    """Go back to a recorded release (compose files, .env, images; nothing rebuilt); --restore-db for its data."""
    if not host or not (tag or to):
        raise InputError("rollback needs --host and --tag RELEASE (or --to previous); see `releases`")
    if (yes or destroy_data) and not restore_db:
        raise InputError("--yes and --destroy-data go with --restore-db (a rollback alone doesn't touch data)")
    located = project_from_flags(project, inventory)
    request = recipe.Request(str(located.inventory), host, list(set_ or []), break_lock=break_lock, project=located)
    report = make_report(json_, False)
    _finish(recipe.rollback(request, tag or to, report, restore_db, yes, destroy_data), report)


def _console() -> Console:
    """A console that doesn't squeeze tables to 80 columns when output goes to a file or pipe."""
    console = Console(soft_wrap=True)
    if not console.is_terminal:
        console.width = 200
    return console


@contextmanager
def _connected(host: Any) -> Iterator[Connection]:
    """One connection to ``host`` for a day-2 task, closed afterwards."""
    conn = connect(host.target)
    try:
        yield conn
    finally:
        conn.close()


def _compose(app: dict[str, Any], arguments: str) -> str:
    """``docker compose ARGUMENTS`` run in the current release of the app."""
    return (f"cd {shlex.quote(app['app_dir'] + '/current')} && docker compose -p {shlex.quote(app['compose_project'])}"
            f" -f {shlex.quote(app['compose_file'])} {arguments}")


def _app(project: str, inventory: str, host_name: str) -> tuple[Any, dict[str, Any]]:
    """A host and the app settings the day-2 tasks need (app_dir, compose project and file)."""
    located = project_from_flags(project, inventory)
    hosts = load_inventory(located.inventory).select(host_name)
    if len(hosts) != 1:
        raise InputError(f"--host must name one host here, '{host_name}' selects {len(hosts)}")
    variables = hosts[0].variables(located.load_playbook("deploy").defaults())
    keys = ("app_dir", "compose_project", "compose_file", "health_url", "health_headers", "backup_dir",
            "backup_databases")
    return hosts[0], render_keys(variables, keys)


@task(auto_shortflags=False, help=DAY2_HELP)
@reports_errors
def releases(c, host="", inventory="", project="", json_=False):
    """List a host's recorded releases, newest first, marking the current one."""
    target, app = _app(project, inventory, host)
    with _connected(target) as conn:
        ledger = server.read_ledger(conn, app["app_dir"])
    if json_:
        print(json.dumps({"current": ledger.current, "releases": ledger.releases}))
        return
    table = Table("", "release", "created", "revision", "by", "images", title=f"{target.name}: {app['app_dir']}")
    for release in ledger.releases:
        meta = release.get("meta", {})
        table.add_row("*" if release["id"] == ledger.current else "", release["id"], release.get("created", ""),
                      meta.get("revision", ""), meta.get("by", ""), "\n".join(release.get("images", {})))
    _console().print(table if ledger.releases else f"{target.name}: no release recorded yet")


@task(auto_shortflags=False, help=DAY2_HELP)
@reports_errors
def status(c, host="", inventory="", project="", json_=False):
    """Show a host's current release, its containers and their health, and the last audit lines."""
    from moorage.operations.base import Facts, OpContext, TaskFailed
    from moorage.operations.http import WaitHttp

    target, app = _app(project, inventory, host)
    with _connected(target) as conn:
        ledger = server.read_ledger(conn, app["app_dir"])
        listing = conn.run(_compose(app, "ps -a --format '{{.Service}}|{{.State}}|{{.Health}}|{{.Image}}'"))
        services = [line.split("|") for line in listing.text.splitlines() if "|" in line]
        audit = server.read_audit(conn, app["app_dir"], 5)
        backups = catalog.parse_listing(conn.run(catalog.list_command(app["backup_dir"] or "/nonexistent")).text)
    health = "none (health_url is empty: the containers' healthchecks are the gate)"
    if app["health_url"]:
        probe = WaitHttp({"url": app["health_url"], "headers": app["health_headers"] or {}, "retries": 1,
                          "timeout": 5}, OpContext(target.name, {}))
        try:
            health = probe.apply(probe.plan(Facts()), conn).message  # an HTTP probe from here: no connection used
        except TaskFailed as exc:
            health = f"FAILING: {exc}"
    newest = catalog.newest_verified(backups)
    backup = {"newest": newest.name if newest else None, "age_seconds": round(newest.age()) if newest else None,
              "warning": catalog.staleness(backups, BACKUP_WARN_HOURS,
                                           labels=None if app["backup_databases"] else [])}  # no database: no warning
    if json_:
        print(json.dumps({"host": target.name, "current": ledger.current, "health": health, "audit": audit,
                          "backup": backup,
                          "services": [dict(zip(("service", "state", "health", "image"), s, strict=False))
                                       for s in services]}))
        return
    console = _console()
    console.print(f"[bold]{target.name}[/]: release [bold]{ledger.current or 'none'}[/] in {app['app_dir']}")
    table = Table("service", "state", "health", "image")
    for row in services:
        table.add_row(*row)
    console.print(table)
    console.print(" ".join(filter(None, ["health gate", app["health_url"]])) + f": {health}")
    if backup["warning"]:
        console.print(f"[yellow]warning[/]: {backup['warning']}; back up with "
                      f"`{command('backup', '--host', target.name)}`")
    elif newest:
        console.print(f"backups: newest verified {newest.name}, {catalog.human_age(newest.age())} old")
    for line in audit:
        console.print(f"  audit: {line}")


@task(auto_shortflags=False, help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP,
    "service": "Only this compose service (e.g. web, db).",
    "tail": "How many past lines to show (default 100).",
})
@reports_errors
def logs(c, host="", inventory="", project="", service="", tail=100):
    """Show the last lines of the app's container logs on a host (docker compose logs)."""
    target, app = _app(project, inventory, host)
    with _connected(target) as conn:
        only = shlex.quote(service) if service else ""
        result = conn.run(_compose(app, f"logs --no-color --tail {int(tail)} {only}"))
    sys.stdout.write(result.text)
    if not result.ok:
        raise InputError(f"{target.name}: docker compose logs failed: {result.stderr_tail(3)}")
