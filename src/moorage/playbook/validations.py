"""The ``validation: true`` tasks of a host's roles, decided on the controller.

A validation task refuses a run when its ``when`` holds (``roles/traefik``: ``tls`` is none,
letsencrypt or selfsigned; ``roles/media``: media_dir does not hold app_dir).  Its condition
reads only variables, so ``moorage check --host H`` (and a deploy's input check) evaluates it
here and reports the refusal before any connection, at the ``file:line`` where a variable the
condition names was set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moorage.errors import InputError, Location
from moorage.inventory import Host
from moorage.playbook.declarations import skipped_roles
from moorage.playbook.model import Play, Task
from moorage.schema import Problem
from moorage.templating import evaluate, names_in


def validation_problems(host: Host, plays: Sequence[Play]) -> list[Problem]:
    """One problem per role validation task of ``plays`` whose condition holds for ``host``
    (each task once).  A condition that can't be evaluated here (it reads a registered result)
    is left to the run, and so is a ``check_only`` one (onboarding's: it reads what the onboard
    recipe supplies, such as the operator's public key)."""
    found: dict[int, Problem] = {}
    for play in plays:
        skipped = skipped_roles(play, host.variables(play.defaults()))
        defaults = play.defaults(skipped)
        variables = host.variables(defaults)
        origin = host.unresolved(defaults)[1]
        for task in [t for role in play.roles if role.name not in skipped for t in role.tasks]:
            if _decided_here(task) and id(task) not in found and _refuses(task, variables):
                role = task.role.name if task.role else "play"
                where = _origin(task, origin) or host.location
                found[id(task)] = Problem(where, "", f"host '{host.name}': role {role} refuses the run: "
                                          f"{task.name} does not hold (checked at {task.location})")
    return list(found.values())


def _decided_here(task: Task) -> bool:
    return task.validation and bool(task.when) and not task.args.get("check_only")


def _refuses(task: Task, variables: Mapping[str, Any]) -> bool:
    try:
        return bool(evaluate(task.when or "", variables, task.location))
    except InputError:
        return False


def _origin(task: Task, origin: Mapping[str, tuple[int, Location | None]]) -> Location | None:
    """Where the inventory set a variable the condition names, the one the task's name says
    first (its subject) before the others; None when all are defaults."""
    names = names_in("{{ " + (task.when or "") + " }}")
    for name in sorted(names, key=lambda n: (task.name.find(n) % (len(task.name) + 1), n)):
        where = origin.get(name, (0, None))[1]
        if where is not None and origin[name][0] > 1:
            return where
    return None
