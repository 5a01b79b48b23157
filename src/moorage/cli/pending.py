"""Tasks that are announced but not built yet: real help lines and flags, exit status 2.

Each one says what it will do (``invoke --list``, ``invoke --help TASK``) so the
CLI's shape is settled before its engine exists.  When a module provides the
real task under the same name, the collection uses that one instead.
"""

from __future__ import annotations

from invoke import task

from moorage.cli.common import (
    DEFAULT_INVENTORY,
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    SET_HELP,
    reports_errors,
)
from moorage.errors import InputError

# Which issue builds each announced task.
ISSUES = {"play": "#3", "deploy": "#4", "rollback": "#4", "releases": "#4", "status": "#4", "logs": "#4",
          "sync-media": "#5", "backup": "#6", "restore": "#6", "onboard": "#7"}

RUN_HELP = {
    "host": HOST_HELP,
    "inventory": INVENTORY_HELP,
    "check": "Plan only: show what would change, change nothing.",
    "diff": "Show the diff of every file that changes.",
    "tags": "Only run tasks with one of these tags (comma-separated).",
    "set_": SET_HELP,
    "json_": JSON_HELP,
}


def _not_built(name: str) -> None:
    raise InputError(f"`invoke {name}` is not built yet (issue {ISSUES[name]})")


@task(auto_shortflags=False, iterable=["set_"], help={"playbook": "Playbook file to run.", **RUN_HELP})
@reports_errors
def play(c, playbook, host="", inventory=DEFAULT_INVENTORY, check=False, diff=False, tags="", set_=None,
         json_=False):
    """Run any playbook on a host or environment; ends with one recap line per host."""
    _not_built("play")


@task(auto_shortflags=False, iterable=["set_"],
      help={**RUN_HELP, "yes": "Don't ask before changing production."})
@reports_errors
def deploy(c, host="", inventory=DEFAULT_INVENTORY, check=False, diff=False, tags="", set_=None,
           json_=False, yes=False):
    """Bring a host to the desired state: compose files, .env, proxy config, media, images, health."""
    _not_built("deploy")


@task(auto_shortflags=False, help={
    **{k: RUN_HELP[k] for k in ("host", "inventory", "check", "json_")},
    "delete": "Also remove server files absent locally.",
})
@reports_errors
def sync_media(c, host="", inventory=DEFAULT_INVENTORY, check=False, delete=False, json_=False):
    """Push media/ to a host, sending only the files that changed."""
    _not_built("sync-media")


@task(auto_shortflags=False, help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "json_": JSON_HELP,
    "tag": "Release to go back to (see `releases`); default: the previous one.",
})
@reports_errors
def rollback(c, host="", inventory=DEFAULT_INVENTORY, tag="", json_=False):
    """Go back to a recorded release (files, .env, images); the database is restored separately."""
    _not_built("rollback")


@task(auto_shortflags=False, help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "json_": JSON_HELP,
    "trust_host_key": "Pin the server's host key into the inventory's known_hosts (first contact only).",
    "user": "User to connect as for the first time (default: root).",
})
@reports_errors
def onboard(c, host="", inventory=DEFAULT_INVENTORY, trust_host_key=False, user="root", json_=False):
    """Turn a bare Debian/Ubuntu server into a deploy target: user, key, Docker, dirs, firewall, sshd."""
    _not_built("onboard")


@task(auto_shortflags=False, help={"host": HOST_HELP, "inventory": INVENTORY_HELP, "json_": JSON_HELP})
@reports_errors
def backup(c, host="", inventory=DEFAULT_INVENTORY, json_=False):
    """Dump the database (pg_dump -Fc) on a host, verify it and record it with the release."""
    _not_built("backup")


@task(auto_shortflags=False, help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "json_": JSON_HELP,
    "backup": "Backup to restore (see `releases`); default: the latest.",
    "yes": "Confirm replacing the live database.",
})
@reports_errors
def restore(c, host="", inventory=DEFAULT_INVENTORY, backup="", yes=False, json_=False):
    """Restore the database from a verified backup, after a confirmation."""
    _not_built("restore")


@task(auto_shortflags=False, help={"host": HOST_HELP, "inventory": INVENTORY_HELP, "json_": JSON_HELP})
@reports_errors
def releases(c, host="", inventory=DEFAULT_INVENTORY, json_=False):
    """List a host's recorded releases and backups, marking the current one."""
    _not_built("releases")


@task(auto_shortflags=False, help={"host": HOST_HELP, "inventory": INVENTORY_HELP, "json_": JSON_HELP})
@reports_errors
def status(c, host="", inventory=DEFAULT_INVENTORY, json_=False):
    """Show a host's current release, containers and their health."""
    _not_built("status")


@task(auto_shortflags=False, help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP,
    "service": "Only this compose service (e.g. web, db).",
    "follow": "Keep streaming new lines.",
    "tail": "How many past lines to show (default 100).",
})
@reports_errors
def logs(c, host="", inventory=DEFAULT_INVENTORY, service="", follow=False, tail=100):
    """Show the app's container logs on a host (docker compose logs)."""
    _not_built("logs")


TASKS = [play, deploy, sync_media, rollback, onboard, backup, restore, releases, status, logs]
