"""Tasks that run playbooks: ``play`` (any playbook)."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from moorage.cli.common import RUN_HELP, project_from_flags, reports_errors
from moorage.errors import InputError
from moorage.executor import RunOptions
from moorage.run import make_report, run_playbook


def _split(flag: str) -> frozenset[str]:
    return frozenset(t.strip() for t in flag.split(",") if t.strip())


def run_options(check: bool, diff: bool, tags: str, skip_tags: str, forks: int) -> RunOptions:
    """The run's options from CLI flags (validated)."""
    if int(forks or 0) < 0:
        raise InputError(f"--forks must be a positive number of hosts, got {forks}")
    return RunOptions(check=check, diff=diff, tags=_split(tags), skip_tags=_split(skip_tags),
                      forks=int(forks) if forks else None)


@task(auto_shortflags=False, iterable=["set_"], help={
    "playbook": "Playbook to run: a file, or the name of a project or built-in playbook (deploy, backup...).",
    **RUN_HELP,
    "skip_tags": "Skip tasks with one of these tags (comma-separated).",
    "forks": "Hosts run in parallel (default: every host of the batch).",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def play(c, playbook, host="", inventory="", project="", check=False, diff=False, tags="",
         skip_tags="", set_=None, forks=0, json_=False, verbose=False):
    """Run any playbook on a host or environment; ends with one recap line per host."""
    if not host:
        raise InputError("--host is required: a host name, an environment name, or all")
    options = run_options(check, diff, tags, skip_tags, forks)
    report = make_report(json_, diff, verbose)
    result = run_playbook(playbook, host, project_from_flags(project, inventory), list(set_ or []), options, report)
    if result.exit_code:
        raise Exit(code=result.exit_code)
