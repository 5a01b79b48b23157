"""The one gate every destructive path goes through.

Nothing in moorage removes or replaces data (``DROP DATABASE``, ``pg_restore --clean`` into the live
database, ``docker compose down -v``, ``docker volume rm``) unless ``authorize`` said yes, which
takes all three of:

1. the user asked for it by name: ``--destroy-data``, or a command whose whole purpose it is
   (``restore``, ``rollback --restore-db``);
2. a verified backup of every database concerned, newer than ``max_age_hours``, is on the host;
3. the typed confirmation: the environment's name, read from a terminal — or ``--yes``.  With no
   terminal and no ``--yes`` the request is refused (exit status 2), never assumed.

It returns a ``Permit``; the operation that destroys checks it with ``require_permit`` (a token
known only to this process, so no playbook can forge one with ``--set``).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from moorage.errors import InputError
from moorage.operations.backups import catalog
from moorage.progname import command

Ask = Callable[[str], "str | None"]  # shows a prompt, returns the typed line, or None without a terminal

_PERMITS: dict[str, str] = {}


class GuardRefused(InputError):
    """A destructive request lacked one of the three conditions (exit status 2; nothing changed)."""


@dataclass(frozen=True)
class Destruction:
    """What is about to be destroyed, where, and whether the user asked for it by name."""

    what: str  # "replace the live database shop with shop-staging-db-20260102T023000Z.dump"
    host: str
    environment: str
    labels: Sequence[str]  # the databases (backup labels) whose data goes
    named: bool
    flag: str = "--destroy-data"  # how to ask for it by name


@dataclass(frozen=True)
class Permit:
    """Proof, for this process only, that ``authorize`` agreed to ``what``."""

    token: str
    what: str


def authorize(request: Destruction, backups: Iterable[catalog.Backup], *, max_age_hours: float, yes: bool,
              ask: Ask, now: float | None = None) -> Permit:
    """Say yes (a ``Permit``) or raise ``GuardRefused`` with the sentence the user needs.

    The conditions are checked in order and the prompt comes last, so nobody types a
    confirmation for a request that would be refused anyway.
    """
    where = f"{request.host} (environment {request.environment})"
    if not request.named:
        raise GuardRefused(f"refusing to {request.what} on {where}: this destroys data, and runs only when "
                           f"you ask for it by name with {request.flag}")
    now = time.time() if now is None else now
    stale = catalog.staleness(list(backups), max_age_hours, now, request.labels)
    if stale:
        raise GuardRefused(f"refusing to {request.what} on {where}: {stale}. Back up first "
                           f"({command('backup', '--host', request.host)}), then ask again; nothing was changed")
    if not yes:
        prompt = (f"This will {request.what} on {where}.\n"
                  f"Type the environment name ({request.environment}) to confirm: ")
        answer = ask(prompt)
        if answer is None:
            raise GuardRefused(f"refusing to {request.what} on {where}: it needs a typed confirmation and "
                               "there is no terminal to ask on (stdin is not a TTY); run it in a terminal, "
                               "or pass --yes to confirm; nothing was changed")
        if answer.strip() != request.environment:
            raise GuardRefused(f"confirmation did not match: typed {answer.strip()!r}, expected "
                               f"{request.environment!r}; nothing was changed")
    permit = Permit(secrets.token_hex(16), request.what)
    _PERMITS[permit.token] = permit.what
    return permit


def require_permit(token: str, what: str) -> None:
    """Raise ``GuardRefused`` unless ``token`` came from ``authorize`` in this process."""
    if not token or token not in _PERMITS:
        raise GuardRefused(f"refusing to {what}: no permit from the data guard (destructive steps run "
                           f"only through {command('restore')} / rollback --restore-db, after their checks and "
                           "confirmation)")


def terminal_ask(prompt: str) -> str | None:
    """Ask on the terminal (prompt on stderr, answer from stdin); None when stdin is not a TTY."""
    if not sys.stdin or not sys.stdin.isatty():
        return None
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else ""
