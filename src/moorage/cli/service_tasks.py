"""Services and parts: restart, stop, start, up, down, exec, run (recipes in ``moorage.recipes.services``).

restart|stop|start|up|down take ``--service S`` and/or ``--part P`` (the inventory's ``parts``),
each repeatable; ``--part`` also takes a comma list (``--part db,api``).

``exec`` and ``run`` take the command after ``--`` word for word (``moorage exec --host H
--service S -- sh -c 'exit 3'``): Invoke keeps only a space-joined copy of those words, so they are
read from the command line itself (``command_after_dashes``).
"""

from __future__ import annotations

import sys

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import INVENTORY_HELP, LOCK_HELP, PROJECT_HELP, exit_with, reports_errors, request
from moorage.errors import InputError

ONE_HOST = "One host (a host name, or an environment with one host)."
CONTROL_HELP = {"host": ONE_HOST, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, **LOCK_HELP,
                "service": "A compose service of the current release; repeatable (--service web --service worker).",
                "part": "A part of the inventory's `parts` (its services); repeatable or a comma list (--part db,api)."}
ATTACH_HELP = {"host": ONE_HOST, "inventory": INVENTORY_HELP, "project": PROJECT_HELP,
               "service": "The compose service to run the command in (the words after --)."}


def command_after_dashes(argv: list[str] | None = None) -> list[str]:
    """The words after the first ``--`` of the command line (``sys.argv`` by default), as given."""
    words = sys.argv if argv is None else argv
    return words[words.index("--") + 1:] if "--" in words else []


def _control(verb: str, host: str, inventory: str, project: str, service: list[str] | None, part: list[str] | None,
             break_lock: bool) -> None:
    from moorage.recipes import services as recipe
    from moorage.recipes.parts import split_names

    services = list(dict.fromkeys(name for name in service or [] if name))
    parts = split_names(part)
    if not host or not (services or parts):
        raise InputError(f"{verb} needs --host HOST and --service SERVICE or --part PART (repeatable); see `status` "
                         "for the services, the inventory's `parts` for the parts")
    exit_with(recipe.control(request(host, project, inventory), verb, services, parts=parts, break_lock=break_lock))


@task(auto_shortflags=False, iterable=["service", "part"], help=CONTROL_HELP)
@reports_errors
def restart(c: Context, host: str = "", inventory: str = "", project: str = "", service: list[str] | None = None,
            part: list[str] | None = None, break_lock: bool = False) -> None:
    """Restart services of the current release (docker compose restart), inside the deploy lock, audited."""
    _control("restart", host, inventory, project, service, part, break_lock)


@task(auto_shortflags=False, iterable=["service", "part"], help=CONTROL_HELP)
@reports_errors
def stop(c: Context, host: str = "", inventory: str = "", project: str = "", service: list[str] | None = None,
         part: list[str] | None = None, break_lock: bool = False) -> None:
    """Stop services of the current release (docker compose stop; containers kept), locked, audited."""
    _control("stop", host, inventory, project, service, part, break_lock)


@task(auto_shortflags=False, iterable=["service", "part"], help=CONTROL_HELP)
@reports_errors
def start(c: Context, host: str = "", inventory: str = "", project: str = "", service: list[str] | None = None,
          part: list[str] | None = None, break_lock: bool = False) -> None:
    """Start stopped services of the current release (docker compose start), locked, audited."""
    _control("start", host, inventory, project, service, part, break_lock)


@task(auto_shortflags=False, iterable=["service", "part"], help=CONTROL_HELP)
@reports_errors
def up(c: Context, host: str = "", inventory: str = "", project: str = "", service: list[str] | None = None,
       part: list[str] | None = None, break_lock: bool = False) -> None:
    """Bring services back in the current release (up -d --no-deps, compose_scale kept), wait until ready."""
    _control("up", host, inventory, project, service, part, break_lock)


@task(auto_shortflags=False, iterable=["service", "part"], help=CONTROL_HELP)
@reports_errors
def down(c: Context, host: str = "", inventory: str = "", project: str = "", service: list[str] | None = None,
         part: list[str] | None = None, break_lock: bool = False) -> None:
    """Remove services' containers (rm --stop), never a volume: `up` brings them back with their data."""
    _control("down", host, inventory, project, service, part, break_lock)


def _attach(mode: str, host: str, inventory: str, project: str, service: str, index: int = 0) -> None:
    from moorage.recipes import services as recipe

    if not host or not service:
        raise InputError(f"{mode} needs --host HOST --service SERVICE -- COMMAND...")
    exit_with(recipe.attach(request(host, project, inventory), mode, service, command_after_dashes(), index=index))


@task(name="exec", auto_shortflags=False, help={
    **ATTACH_HELP, "index": "Which container of a scaled service (compose_scale), from 1 (default: the first)."})
@reports_errors
def exec_(c: Context, host: str = "", inventory: str = "", project: str = "", service: str = "",
          index: int = 0) -> None:
    """Run -- COMMAND... in a running container of a service of the current release; its exit status is ours.

    A TTY when this terminal is one (else -T), stdin forwarded, values from the release's .env."""
    _attach("exec", host, inventory, project, service, index)


@task(name="run", auto_shortflags=False, help=ATTACH_HELP)
@reports_errors
def run(c: Context, host: str = "", inventory: str = "", project: str = "", service: str = "") -> None:
    """Run -- COMMAND... in a one-off container of a service (removed after); its exit status is ours.

    A TTY when this terminal is one (else -T), stdin forwarded, values from the release's .env."""
    _attach("run", host, inventory, project, service)
