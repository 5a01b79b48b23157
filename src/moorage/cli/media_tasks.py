"""``sync-media``: push the project's media tree to a host (playbooks/sync-media.yml)."""

from __future__ import annotations

from invoke import task
from invoke.exceptions import Exit

from moorage.cli.common import DEFAULT_INVENTORY, RUN_HELP, reports_errors
from moorage.cli.run_tasks import run_options
from moorage.deploy.recipe import Request, playbooks_dir
from moorage.errors import InputError
from moorage.run import make_report, run_playbook


@task(auto_shortflags=False, iterable=["set_"], help={
    **{k: RUN_HELP[k] for k in ("host", "inventory", "check", "set_", "json_")},
    "delete": "Also remove server files absent locally (with --check: list them, remove nothing).",
    "diff": "With --check: list every file that would be sent or removed.",
    "verbose": "Also say so when the media are already in sync.",
})
@reports_errors
def sync_media(c, host="", inventory=DEFAULT_INVENTORY, check=False, delete=False, diff=False, set_=None,
               json_=False, verbose=False):
    """Push media/ to a host, sending only the files that changed (rsync over the SSH connection)."""
    if not host:
        raise InputError("--host is required: a host name, an environment name, or all")
    overrides = [*(set_ or []), *(["media_delete=true"] if delete else [])]
    playbook = playbooks_dir(Request(inventory, host)) / "sync-media.yml"
    if not playbook.is_file():
        raise InputError(f"no playbook {playbook}: sync-media runs playbooks/sync-media.yml beside the inventory")
    report = make_report(json_, diff, verbose)
    result = run_playbook(playbook, host, inventory, overrides, run_options(check, diff, "", "", 0), report)
    if result.exit_code:
        raise Exit(code=result.exit_code)
