"""Deploy-day tasks: deploy, rollback, releases, status, logs (recipes in ``moorage.recipes``)."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import (
    DAY2_HELP,
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    LOCK_HELP,
    PROJECT_HELP,
    RUN_HELP,
    exit_with,
    reports_errors,
    request,
    required_host,
    run_options,
)
from moorage.errors import InputError


@task(auto_shortflags=False, iterable=["set_"], help={
    **RUN_HELP, **LOCK_HELP,
    "force": "Deploy to production even when a preflight check fails (written to the audit log).",
    "verbose": "Show a summary line for unchanged tasks too.",
    "services": "Only (re)create these compose services (commas: api,worker); the others keep their containers. "
                "Still a recorded release.",
})
@reports_errors
def deploy(c: Context, host: str = "", inventory: str = "", project: str = "", check: bool = False,
           diff: bool = False, tags: str = "", set_: list[str] | None = None, json_: bool = False,
           force: bool = False, break_lock: bool = False, verbose: bool = False, services: str = "") -> None:
    """Bring a host to the desired state: compose files, .env, proxy config, images, migrations, health."""
    from moorage.recipes import deploy as deploy_recipe
    from moorage.report import make_report

    asked = request(required_host(host), project, inventory, set_, run_options(check, diff, tags))
    exit_with(deploy_recipe.deploy(asked, make_report(json_, diff, verbose), force=force, break_lock=break_lock,
                                   services=service_list(services)))


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
def rollback(c: Context, host: str = "", inventory: str = "", project: str = "", tag: str = "", to: str = "",
             json_: bool = False, break_lock: bool = False, set_: list[str] | None = None, restore_db: bool = False,
             yes: bool = False, destroy_data: bool = False) -> None:
    """Go back to a recorded release (compose files, .env, images; nothing rebuilt); --restore-db for its data."""
    from moorage.recipes import rollback as rollback_recipe
    from moorage.report import make_report

    if not host or not (tag or to):
        raise InputError("rollback needs --host and --tag RELEASE (or --to previous); see `releases`")
    if (yes or destroy_data) and not restore_db:
        raise InputError("--yes and --destroy-data go with --restore-db (a rollback alone doesn't touch data)")
    asked = request(host, project, inventory, set_)
    exit_with(rollback_recipe.rollback(asked, tag or to, make_report(json_, False), break_lock=break_lock,
                                       restore_db=restore_db, yes=yes, destroy_data=destroy_data))


@task(auto_shortflags=False, help=DAY2_HELP)
@reports_errors
def releases(c: Context, host: str = "", inventory: str = "", project: str = "", json_: bool = False) -> None:
    """List a host's recorded releases, newest first, marking the current one."""
    from moorage.recipes import day2

    exit_with(day2.releases(request(host, project, inventory), json_=json_))


@task(auto_shortflags=False, help=DAY2_HELP)
@reports_errors
def status(c: Context, host: str = "", inventory: str = "", project: str = "", json_: bool = False) -> None:
    """Show a host's current release, its containers and their health, and the last audit lines."""
    from moorage.recipes import day2

    exit_with(day2.status(request(host, project, inventory), json_=json_))


@task(auto_shortflags=False, help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP,
    "service": "Only this compose service (e.g. web, db).",
    "tail": "How many past lines to show (default 100).",
    "since": "Only lines newer than this: a duration (10m, 1h30m) or a time (2026-11-29T10:00:00Z).",
    "follow": "Keep streaming new lines until Ctrl-C (exit 0).",
})
@reports_errors
def logs(c: Context, host: str = "", inventory: str = "", project: str = "", service: str | None = None,
         tail: int = 100, since: str = "", follow: bool = False) -> None:
    """Show the last lines of the app's container logs on a host (docker compose logs); --follow streams."""
    from moorage.recipes import day2
    from moorage.recipes import services as services_recipe

    if service is not None and not service.strip():  # compose reads an empty name as "every service"
        raise InputError("--service needs a service name, got an empty one (without --service: every service)")
    service = (service or "").strip()
    if tail < 0:  # docker compose reads a negative --tail as "all": refuse it rather than flood the terminal
        raise InputError(f"--tail must be 0 or more lines, got {tail}")
    asked = request(host, project, inventory)
    if follow:
        exit_with(services_recipe.follow_logs(asked, service=service, tail=tail, since=since))
    else:
        exit_with(day2.logs(asked, service=service, tail=tail, since=since))


def service_list(flag: str) -> list[str]:
    """``--services a,b`` as names (blanks dropped, order kept, each once)."""
    return list(dict.fromkeys(name.strip() for name in flag.split(",") if name.strip()))
