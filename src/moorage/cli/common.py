"""What every CLI task shares: errors as sentences (never tracebacks), the inventory flag."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from invoke.exceptions import Exit

from moorage import secrets
from moorage.errors import MoorageError
from moorage.inventory import Inventory, load_inventory

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_INVENTORY = "inventory"
INVENTORY_HELP = "Inventory directory or hosts.yml (default: ./inventory)."
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


def inventory_from_flag(path: str | None, overrides: Sequence[str] | None = None) -> Inventory:
    """Load the inventory named by ``--inventory`` (default ``./inventory``) with ``--set`` flags."""
    return load_inventory(Path(path or DEFAULT_INVENTORY), list(overrides or []))


def inventory_dir(path: str | None) -> Path:
    """The directory of the inventory named by ``--inventory`` (its hosts.yml may be named)."""
    given = Path(path or DEFAULT_INVENTORY)
    return given.parent if given.is_file() else given

# Flags shared by the tasks that run playbooks (play, deploy, sync-media...).
RUN_HELP = {
    "host": HOST_HELP,
    "inventory": INVENTORY_HELP,
    "check": "Plan only: show what would change, change nothing.",
    "diff": "Show the diff of every file that changes.",
    "tags": "Only run tasks with one of these tags (comma-separated).",
    "set_": SET_HELP,
    "json_": JSON_HELP,
}
