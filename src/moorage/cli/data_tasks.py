"""Data tasks: backup (now, --list, --verify, --fetch) and restore (live, --into scratch, --destroy-data)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from invoke import task
from rich.table import Table

from moorage.cli.common import (
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    PROJECT_HELP,
    SET_HELP,
    project_from_flags,
    reports_errors,
)
from moorage.cli.deploy_tasks import LOCK_HELP, _console, _finish
from moorage.connection import connect
from moorage.data import fetch, settings
from moorage.data import restore as data_restore
from moorage.deploy import recipe
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions
from moorage.operations.backups import catalog
from moorage.progname import command
from moorage.run import make_report


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    "check": "Plan only: say what would be backed up, change nothing.",
    "fetch_": "Also copy the new backups to this machine (--fetch-dir), checked against their sha256.",
    "fetch_dir": "Where --fetch puts them (default: ./backups/HOST).",
    "list_": "List the host's backups with age, size and verification state; back up nothing.",
    "verify": "Check backups again (recorded sha256, read back by pg_restore / tar); --file for one.",
    "file": "With --verify: only this backup.",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def backup(c, host="", inventory="", project="", json_=False, set_=None, check=False, fetch_=False,
           fetch_dir="", list_=False, verify=False, file="", verbose=False):
    """Back up a host's databases (pg_dump -Fc, verified by pg_restore) and media; install the daily job."""
    if not host:
        raise InputError("--host is required: a host name, an environment name, or all")
    located = project_from_flags(project, inventory)
    loaded, hosts = settings.load(located.inventory, host, list(set_ or []), located)
    if list_ or verify:
        return (_verify if verify else _list)(settings.one(hosts, host), file, json_)
    if file:
        raise InputError("--file goes with --verify (to back up, leave it out; to restore, see "
                         f"`{command('restore')}`)")
    report = make_report(json_, False, verbose)
    result = Runner(loaded, RunOptions(check=check), report).run(located.load_playbook("backup"),
                                                                 [s.host for s in hosts])
    outcomes = []
    for data in hosts:
        name = data.host.name
        made = [b for e in report.events if e.kind == "task" and e.host == name for b in e.data.get("backups", [])]
        if name in result.failed_hosts:
            outcomes.append(recipe.Outcome(name, False, f"verified backups made: {', '.join(made)}; then a later "
                                           "step failed (above)" if made else
                                           "backup failed (above); older backups are kept"))
            continue
        message = (f"verified backups in {data.backup_dir}: {', '.join(made)}" if made
                   else "check mode: nothing made" if check
                   else "nothing to back up: backup_databases and backup_media are empty"
                   if not data.databases and not data.media else "nothing made")
        if fetch_ and made:
            message += "; " + _fetch(data, made, Path(fetch_dir or Path("backups") / name))
        outcomes.append(recipe.Outcome(name, True, message))
    _finish(outcomes, report)


def _fetch(data: settings.DataSettings, names: list[str], dest: Path) -> str:
    conn = connect(data.host.target)
    try:
        listed = {b.name: b for b in data_restore.list_backups(conn, data)}
        paths = [fetch.fetch(conn, data.backup_dir, listed[name], dest) for name in names if name in listed]
    finally:
        conn.close()
    return f"fetched to {', '.join(str(p) for p in paths)} (sha256 checked)"


def _list(data: settings.DataSettings, file: str, json_: bool) -> None:
    conn = connect(data.host.target)
    try:
        backups = data_restore.list_backups(conn, data)
    finally:
        conn.close()
    warning = catalog.staleness(backups, 24, labels=data.labels)
    if json_:
        print(json.dumps({"host": data.host.name, "backup_dir": data.backup_dir, "warning": warning,
                          "backups": [catalog.as_json(b) for b in backups]}))
        return
    table = Table("backup", "kind", "age", "size", "state", "reason",
                  title=f"{data.host.name}: {data.backup_dir}")
    for b in backups:
        state = b.state if b.verified else f"[red]{b.state}[/]"
        table.add_row(b.name, b.kind, catalog.human_age(b.age()), catalog.human_size(b.size), state,
                      str(b.meta.get("reason", "")))
    console = _console()
    console.print(table if backups else f"{data.host.name}: no backup in {data.backup_dir}")
    if warning:
        console.print(f"[yellow]warning[/]: {warning}; back up with `{command('backup', '--host', data.host.name)}`")


def _verify(data: settings.DataSettings, file: str, json_: bool) -> None:
    conn = connect(data.host.target)
    try:
        backups = data_restore.list_backups(conn, data)
        chosen = [b for b in backups if not file or b.name == file]
        if file and not chosen:
            available = ", ".join(b.name for b in backups[:12]) or "none"
            raise InputError(f"no backup named {file!r} in {data.backup_dir} on {data.host.name}; "
                             f"available: {available}")
        results = data_restore.verify(conn, data, chosen)
    finally:
        conn.close()
    bad = {name: status for name, status in results.items() if status != "ok"}
    if json_:
        print(json.dumps({"host": data.host.name, "results": results}))
    else:
        for name, status in results.items():
            print(f"{name}: " + ("verified" if status == "ok" else status.replace("corrupt:", "CORRUPT:", 1)))
    if bad:
        raise HostError(data.host.name, f"{len(bad)} of {len(results)} backup(s) failed verification: "
                        + "; ".join(f"{n}: {s}" for n, s in bad.items()))


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    **LOCK_HELP,
    "file": f"Backup to restore (see `{command('backup', '--list')}`); default: the newest verified one of each "
            "database.",
    "backup": "Same as --file.",
    "into": "Restore into this scratch database instead (created, marked as moorage's); the live one is untouched.",
    "yes": "Confirm without the typed confirmation (scripts); otherwise type the environment's name.",
    "destroy_data": "Drop the live database and replace it by a fresh restored copy (an exact copy: tables "
                    "the backup doesn't have go too); needs a verified backup newer than "
                    "data_guard_max_age_hours (24).",
})
@reports_errors
def restore(c, host="", inventory="", project="", file="", backup="", into="", yes=False, destroy_data=False,
            json_=False, set_=None, break_lock=False):
    """Restore a database from a verified backup: writers stopped, pg_restore in one transaction, health gate."""
    if not host:
        raise InputError("--host is required: the host (or its environment) whose database is restored")
    if into and destroy_data:
        raise InputError("--destroy-data replaces the live database; a restore --into a scratch database destroys "
                         "nothing: leave --destroy-data out")
    if into and not re.fullmatch(r"[a-z_][a-z0-9_]*", into):
        raise InputError(f"--into {into!r}: name the scratch database with lowercase letters, digits and _ "
                         "(e.g. --into restore_check)")
    names = [n for n in (file, backup) if n]
    located = project_from_flags(project, inventory)
    request = data_restore.RestoreRequest(str(located.inventory), host, list(set_ or []), names, into,
                                          destroy_data, yes, break_lock)
    report = make_report(json_, False)
    name, ok, message = data_restore.restore(request, located, report)
    _finish([recipe.Outcome(name, ok, message)], report)
