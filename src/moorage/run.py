"""Run a playbook against a target: inventory -> playbook -> plan/apply -> report.

This is what ``invoke play`` (and the deploy-style tasks built on it) call.
Input errors are raised before anything runs (exit status 2); host failures
end in the recap and exit status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from moorage import secrets
from moorage.executor import Runner, RunOptions, RunResult
from moorage.inventory import load_inventory
from moorage.project import Project, locate
from moorage.report import HumanRenderer, JsonRenderer, Report


def make_report(json_lines: bool, show_diff: bool, verbose: bool = False) -> Report:
    """The event stream with the renderer the user asked for, masking secrets."""
    renderer = JsonRenderer(sys.stdout) if json_lines else HumanRenderer(show_diff=show_diff,
                                                                         verbose=verbose)
    return Report(renderer, mask=secrets.mask)


def run_playbook(playbook: str | Path, target: str, project: Project | str | Path = "",
                 overrides: list[str] | None = None, options: RunOptions | None = None,
                 report: Report | None = None) -> RunResult:
    """Load the inventory and the playbook, select ``target``'s hosts and run the plays.

    ``playbook``: a file, or a playbook name looked up in the project then the built-in ones;
    ``project``: a ``Project``, or an inventory path (its parent is the project).
    """
    options = options or RunOptions()
    located = project if isinstance(project, Project) else locate(inventory=project)
    loaded_inventory = load_inventory(located.inventory, overrides or [])
    loaded_playbook = located.load_playbook(playbook)
    hosts = loaded_inventory.select(target)
    for host in hosts:  # a missing secret is bad input: say so before anything runs
        host.variables()
    report = report or make_report(False, options.diff)
    result = Runner(loaded_inventory, options, report).run(loaded_playbook, hosts)
    report.finish(result.exit_code, result.round_trips())
    return result
