"""``sync-media``: push the project's media tree to a host (playbooks/sync-media.yml)."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from moorage.cli.common import RUN_HELP, project_from_flags, reports_errors
from moorage.cli.run_tasks import run_options
from moorage.errors import InputError
from moorage.run import make_report, run_playbook


@task(auto_shortflags=False, iterable=["set_"], help={
    **{k: RUN_HELP[k] for k in ("host", "inventory", "project", "check", "set_", "json_")},
    "delete": "Also remove server files absent locally (with --check: list them, remove nothing).",
    "diff": "With --check: list every file that would be sent or removed.",
    "verbose": "Also say so when the media are already in sync.",
})
@reports_errors
def sync_media(c, host="", inventory="", project="", check=False, delete=False, diff=False, set_=None,
               json_=False, verbose=False):
    """Push media/ to a host, sending only the files that changed (rsync over the SSH connection)."""
    if not host:
        raise InputError("--host is required: a host name, an environment name, or all")
    overrides = [*(set_ or []), *(["media_delete=true"] if delete else [])]
    located = project_from_flags(project, inventory)
    report = make_report(json_, diff, verbose)
    result = run_playbook("sync-media", host, located, overrides, run_options(check, diff, "", "", 0), report)
    if result.exit_code:
        raise Exit(code=result.exit_code)
