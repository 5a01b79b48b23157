"""What the inventory and the project hold, shown without contacting a host: a host's resolved
variables (``inventory``) and the roles and playbooks a project can run."""

from __future__ import annotations

import json as jsonlib
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from moorage import builtin
from moorage.inventory import Host
from moorage.project import Project
from moorage.recipes.play import Request
from moorage.yamlsrc import display_path


def show_inventory(request: Request, *, json_: bool = False) -> int:
    """Print each selected host's variables, secrets masked, with the level and ``file:line`` of each."""
    for selected in request.inventory().select(request.target):
        if json_:
            print(jsonlib.dumps(_as_json(selected)))
        else:
            Console(width=None if sys.stdout.isatty() else 200).print(_table(selected))
    return 0


def list_roles(project: Project) -> int:
    """Print the roles a playbook can use and where each comes from (the project's, or built in)."""
    _list_found(project.roles())
    return 0


def list_playbooks(project: Project) -> int:
    """Print the playbooks ``play NAME`` can run and where each comes from."""
    _list_found(project.playbooks())
    return 0


def _as_json(host: Host) -> dict[str, Any]:
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



def _list_found(found: dict[str, Path]) -> None:
    width = max((len(name) for name in found), default=0)
    for name, path in found.items():
        origin = "built-in" if builtin.contains(path) else "project "
        print(f"{name:<{width}}  {origin}  {display_path(path)}")
