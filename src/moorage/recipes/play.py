"""Run a playbook against a target: inventory -> playbook -> plan/apply -> report.

``Request`` is what every recipe is asked: the project, the target (hosts or environments), the
level-5 variables (``--set``, as a mapping) and the run's options.  Input errors are raised before
anything runs (exit status 2); host failures end in the recap and exit status 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.errors import InputError
from moorage.executor import Runner, RunOptions, RunResult
from moorage.executor.interrupt import catching
from moorage.inventory import Host, Inventory, load_inventory
from moorage.progname import command
from moorage.project import BUILTIN_PLAYBOOKS, PLAYBOOK_SUFFIXES, Project
from moorage.report import Report

# The playbooks only their recipe runs: it takes the server's lock, writes the audit log, and
# gives the release its id (deploy: after the production preflight).  Through `play` they would
# skip all that and record the placeholder release id.  name -> (the command's flags, what it adds)
RECIPE_PLAYBOOKS = {
    "deploy": ((), "it takes the lock, runs the preflight and records the release"),
    "rollback": (("--to", "previous"), "it takes the lock, finds the recorded release and writes the audit log"),
    "swarm": ((), "it runs the plays one at a time, each fed the join tokens and node IDs the one before read"),
}


@dataclass(frozen=True)
class Request:
    """What the user asked a recipe for: where (``project``, ``target``: a host, an environment,
    ``all``, commas for several), with which level-5 variables (``--set``), and how (``options``)."""

    project: Project
    target: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    options: RunOptions = field(default_factory=RunOptions)

    def inventory(self) -> Inventory:
        """The project's inventory with the request's variables at level 5."""
        return load_inventory(self.project.inventory, self.variables)


def run(inventory: Inventory, playbook: str | Path, hosts: list[Host], project: Project, options: RunOptions,
        report: Report) -> RunResult:
    """Run ``playbook`` (a file or a name: the project's, else the built-in one) on ``hosts``,
    ending the report with the recap and the exit status."""
    loaded = project.load_playbook(playbook)
    options.check_tags(loaded)  # a tag no task carries would run (or skip) nothing and pass
    for host in hosts:  # a missing secret is bad input: say so before anything runs
        host.variables()
    result = Runner(inventory, options, report).run(loaded, hosts)
    report.finish(result.exit_code, result.round_trips())
    return result


def recipe_playbook(project: Project, given: str | Path) -> str:
    """The name in ``RECIPE_PLAYBOOKS`` of the playbook ``given`` (a name or a path) resolves to
    (the project's or the built-in file), else ``""``."""
    path = project.resolve_playbook(given).resolve()
    for name in RECIPE_PLAYBOOKS:
        files = [folder / f"{name}{suffix}" for folder in (project.playbooks_dir, BUILTIN_PLAYBOOKS)
                 for suffix in PLAYBOOK_SUFFIXES]
        if any(f.is_file() and f.resolve() == path for f in files):
            return name
    return ""


def play(request: Request, playbook: str | Path, report: Report) -> int:
    """``play``: any playbook on the request's hosts; returns the exit status.

    Raises ``InputError`` for a playbook only its recipe runs (``RECIPE_PLAYBOOKS``), naming the command.
    """
    name = recipe_playbook(request.project, playbook)
    if name:
        flags, why = RECIPE_PLAYBOOKS[name]
        instead = command(name, "--host", request.target, *flags)
        raise InputError(f"`play` does not run the {name} playbook: run `{instead}` ({why})")
    with catching():  # Ctrl-C: stop at the next safe point, exit 130
        inventory = request.inventory()
        return run(inventory, playbook, inventory.select(request.target), request.project, request.options,
                   report).exit_code


def sync_media(request: Request, delete: bool, report: Report) -> int:
    """``sync-media``: playbooks/sync-media.yml, with ``media_delete`` when ``delete``."""
    with catching():
        inventory = request.inventory().with_variables({"media_delete": True} if delete else {})
        return run(inventory, "sync-media", inventory.select(request.target), request.project, request.options,
                   report).exit_code
