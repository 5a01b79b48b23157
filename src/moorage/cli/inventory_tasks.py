"""The ``check`` and ``inventory`` tasks: is the input valid, and what will a host get."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path

from invoke import task
from rich.console import Console
from rich.table import Table
from rich.text import Text

from moorage import builtin, secrets
from moorage.cli.checks import run_check
from moorage.cli.common import (
    HOST_HELP,
    INVENTORY_HELP,
    PROJECT_HELP,
    SET_HELP,
    inventory_from_flags,
    project_from_flags,
    reports_errors,
)
from moorage.errors import InputError
from moorage.inventory import Host
from moorage.yamlsrc import display_path


@task(auto_shortflags=False, help={
    "inventory": INVENTORY_HELP,
    "project": PROJECT_HELP,
    "host": "Also resolve this target's variables (so missing secrets show): " + HOST_HELP,
})
@reports_errors
def check(c, inventory="", project="", host=""):
    """Validate the inventory, every playbook and every role; exit 2 naming file:line on problems."""
    report = run_check(project_from_flags(project, inventory), host)
    for line in report.lines:
        print(line)
    for warning in report.warnings:
        print(f"warning: {secrets.mask(warning)}", file=sys.stderr)
    report.raise_if_problems()
    print("all valid")


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP + " Required.",
    "inventory": INVENTORY_HELP,
    "project": PROJECT_HELP,
    "set_": SET_HELP,
    "json_": "Print one JSON object per host instead of a table.",
})
@reports_errors
def inventory(c, host="", inventory="", project="", set_=None, json_=False):
    """Show a host's resolved variables, secrets masked, with the level and file:line of each."""
    if not host:
        raise InputError("--host is required: name a host, an environment or all (e.g. --host vps)")
    loaded = inventory_from_flags(project, inventory, set_)
    for selected in loaded.select(host):
        if json_:
            print(jsonlib.dumps(_as_json(selected)))
        else:
            Console(width=None if sys.stdout.isatty() else 200).print(_table(selected))


def _as_json(host: Host) -> dict:
    return {
        "host": host.name, "environment": host.environment, "production": host.production,
        "connection": host.target.connection, "endpoint": host.target.endpoint,
        "variables": [{**row._asdict(), "value": _typed(row.value)} for row in host.explain()],
    }


def _typed(shown: str) -> object:
    """The displayed (masked) value back as JSON data when it is JSON, else the text itself."""
    try:
        return jsonlib.loads(shown)
    except ValueError:
        return shown


def _table(host: Host) -> Table:
    where = "this machine" if host.target.connection == "local" else host.target.endpoint
    kind = "production" if host.production else "not production"
    title = f"{host.name} — environment {host.environment}, {where}, {kind}"
    table = Table(title=title, title_justify="left")
    table.add_column("variable", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("level", no_wrap=True)
    table.add_column("from", no_wrap=True)
    for row in host.explain():
        table.add_row(*(Text(cell) for cell in row))
    return table



@task(auto_shortflags=False, help={"inventory": INVENTORY_HELP, "project": PROJECT_HELP})
@reports_errors
def roles(c, inventory="", project=""):
    """List the roles a playbook can use and where each comes from (the project's, or built in)."""
    _list_found(project_from_flags(project, inventory).roles())


@task(auto_shortflags=False, help={"inventory": INVENTORY_HELP, "project": PROJECT_HELP})
@reports_errors
def playbooks(c, inventory="", project=""):
    """List the playbooks `play NAME` can run and where each comes from (the project's, or built in)."""
    _list_found(project_from_flags(project, inventory).playbooks())


def _list_found(found: dict[str, Path]) -> None:
    width = max((len(name) for name in found), default=0)
    for name, path in found.items():
        origin = "built-in" if builtin.contains(path) else "project "
        print(f"{name:<{width}}  {origin}  {display_path(path)}")
