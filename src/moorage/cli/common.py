"""What every CLI task shares: errors as sentences (never tracebacks), the inventory flag."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from invoke.exceptions import Exit

from moorage import secrets
from moorage.errors import MoorageError
from moorage.inventory import Inventory, load_inventory
from moorage.project import Project, locate

F = TypeVar("F", bound=Callable[..., Any])

INVENTORY_HELP = "Inventory directory or hosts.yml (default: the project's inventory/)."
PROJECT_HELP = ("The project directory (default: the current directory or the nearest one above it that has "
                "inventory/hosts.yml).")
HOST_HELP = "A host name, an environment name, or all (commas for several)."
SET_HELP = "Override a variable, highest precedence: --set k=v (the value is read as YAML); repeatable."
JSON_HELP = "Print JSON (one object per line) instead of the human view."


def reports_errors(func: F) -> F:
    """Turn a ``MoorageError`` into its message on stderr and the matching exit status."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MoorageError as exc:
            print(f"error: {secrets.mask(str(exc))}", file=sys.stderr)
            raise Exit(code=exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def project_from_flags(project: str = "", inventory: str = "") -> Project:
    """The project named by ``--project`` / ``--inventory``, else found from the current directory up."""
    return locate(project, inventory)


def inventory_from_flags(project: str, inventory: str, overrides: Sequence[str] | None = None) -> Inventory:
    """Load the project's inventory with ``--set`` flags."""
    return load_inventory(project_from_flags(project, inventory).inventory, list(overrides or []))

# Flags shared by the tasks that run playbooks (play, deploy, sync-media...).
RUN_HELP = {
    "host": HOST_HELP,
    "inventory": INVENTORY_HELP,
    "project": PROJECT_HELP,
    "check": "Plan only: show what would change, change nothing.",
    "diff": "Show the diff of every file that changes.",
    "tags": "Only run tasks with one of these tags (comma-separated).",
    "set_": SET_HELP,
    "json_": JSON_HELP,
}
