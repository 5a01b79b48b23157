"""Tasks that run playbooks: ``play`` (any playbook) and ``sync-media``."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import RUN_HELP, exit_with, reports_errors, request, required_host, run_options


@task(auto_shortflags=False, iterable=["set_"], help={
    "playbook": "Playbook to run: a file, or the name of a project or built-in playbook (deploy, backup...).",
    **RUN_HELP,
    "skip_tags": "Skip tasks with one of these tags (comma-separated).",
    "forks": "Hosts run in parallel (default: every host of the batch).",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def play(c: Context, playbook: str, host: str = "", inventory: str = "", project: str = "", check: bool = False,
         diff: bool = False, tags: str = "", skip_tags: str = "", set_: list[str] | None = None, forks: int = 0,
         json_: bool = False, verbose: bool = False) -> None:
    """Run any playbook on a host or environment; ends with one recap line per host."""
    from moorage.recipes import play as recipe
    from moorage.report import make_report

    asked = request(required_host(host), project, inventory, set_, run_options(check, diff, tags, skip_tags, forks))
    exit_with(recipe.play(asked, playbook, make_report(json_, diff, verbose)))


@task(auto_shortflags=False, iterable=["set_"], help={
    **{k: RUN_HELP[k] for k in ("host", "inventory", "project", "check", "set_", "json_")},
    "delete": "Also remove server files absent locally (with --check: list them, remove nothing).",
    "diff": "With --check: list every file that would be sent or removed.",
    "verbose": "Also say so when the media are already in sync.",
})
@reports_errors
def sync_media(c: Context, host: str = "", inventory: str = "", project: str = "", check: bool = False,
               delete: bool = False, diff: bool = False, set_: list[str] | None = None, json_: bool = False,
               verbose: bool = False) -> None:
    """Push media/ to a host, sending only the files that changed (rsync over the SSH connection)."""
    from moorage.recipes import play as recipe
    from moorage.report import make_report

    asked = request(required_host(host), project, inventory, set_, run_options(check, diff))
    exit_with(recipe.sync_media(asked, delete, make_report(json_, diff, verbose)))
