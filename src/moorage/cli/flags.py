"""What every CLI task shares: the help of the common flags, turning flags into a recipe's
``Request``, errors as sentences (never tracebacks), and exiting with a recipe's status.

The CLI modules import the engine (recipes, executor, inventory: jsonschema, Jinja2, Fabric,
rich) inside the functions that run a task, not at the top: ``moorage --help`` and ``--list``
need only the tasks' flags, and a task pays only for what it uses (start-up, issue #18)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.exceptions import Exit

from moorage import secrets
from moorage.errors import InputError, MoorageError

if TYPE_CHECKING:
    from moorage.executor import RunOptions
    from moorage.project import Project
    from moorage.recipes.play import Request

F = TypeVar("F", bound=Callable[..., Any])

INVENTORY_HELP = "Inventory directory or hosts.yml (default: the project's inventory/)."
PROJECT_HELP = ("The project directory (default: the current directory or the nearest one above it that has "
                "inventory/hosts.yml).")
HOST_HELP = "A host name, an environment name, or all (commas for several)."
SET_HELP = "Override a variable, highest precedence: --set k=v (the value is read as YAML); repeatable."
JSON_HELP = "Print JSON (one object per line) instead of the human view."
ANY_HOST = "a host name, an environment name, or all"

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
DAY2_HELP = {"host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP}
LOCK_HELP = {"break_lock": "Remove a stale deploy lock first (written to the audit log)."}


def reports_errors(func: F) -> F:
    """Turn a ``MoorageError`` into its message on stderr and the matching exit status."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except MoorageError as exc:
            print(f"error: {secrets.mask(str(exc))}", file=sys.stderr)
            raise Exit(code=exc.exit_code) from None

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature Invoke reads


def exit_with(code: int) -> None:
    """End the task with a recipe's exit status (nothing to do for 0)."""
    if code:
        raise Exit(code=code)


def project_from_flags(project: str = "", inventory: str = "") -> Project:
    """The project named by ``--project`` / ``--inventory``, else found from the current directory up."""
    from moorage.project import locate

    return locate(project, inventory)


def required_host(host: str, what: str = ANY_HOST) -> str:
    """``--host``'s value; an ``InputError`` saying what it names when it is missing."""
    if not host:
        raise InputError(f"--host is required: {what}")
    return host


def _split(flag: str) -> frozenset[str]:
    return frozenset(t.strip() for t in flag.split(",") if t.strip())


def run_options(check: bool = False, diff: bool = False, tags: str = "", skip_tags: str = "",
                forks: int = 0) -> RunOptions:
    """The run's options from CLI flags (validated)."""
    from moorage.executor import RunOptions

    if int(forks or 0) < 0:
        raise InputError(f"--forks must be a positive number of hosts, got {forks}")
    return RunOptions(check=check, diff=diff, tags=_split(tags), skip_tags=_split(skip_tags),
                      forks=int(forks) if forks else None)


def request(host: str, project: str = "", inventory: str = "", set_: Iterable[str] | None = None,
            options: RunOptions | None = None) -> Request:
    """A recipe's request from the flags: the project, ``--host``, ``--set`` (parsed into a mapping
    of data, checked before anything runs) and the run's options."""
    from moorage.executor import RunOptions
    from moorage.inventory import parse_overrides
    from moorage.recipes.play import Request

    return Request(project_from_flags(project, inventory), host, parse_overrides(list(set_ or [])),
                   options or RunOptions())
