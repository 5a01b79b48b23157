"""``onboard``: a bare Debian/Ubuntu server becomes a safe deploy target (moorage.onboard.recipe)."""

from __future__ import annotations

from invoke import task

from moorage.cli.common import (
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    PROJECT_HELP,
    SET_HELP,
    project_from_flags,
    reports_errors,
)
from moorage.cli.deploy_tasks import _finish
from moorage.errors import InputError
from moorage.onboard import recipe
from moorage.run import make_report


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    "trust_host_key": "Pin the server's host key into the inventory's known_hosts at first contact (verify "
                      "the fingerprint it shows first); not needed when the inventory gives the host's fingerprint.",
    "user": "User to log in as before the deploy user exists (default: root; another user needs passwordless "
            "sudo).",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def onboard(c, host="", inventory="", project="", trust_host_key=False, user="root", json_=False, set_=None,
            verbose=False):
    """Turn a bare Debian/Ubuntu server into a deploy target: user, key, Docker, dirs, firewall, sshd.

    The deploy user is the inventory's user for the host; it gets the inventory's ssh_key (public
    half), passwordless sudo and the docker group.  sshd is hardened (no passwords, no root) only
    after a second login as that user worked.  Running it again changes nothing.
    """
    if not host:
        raise InputError("--host is required: the host (or environment) to onboard")
    located = project_from_flags(project, inventory)
    request = recipe.Request(str(located.inventory), host, trust_host_key=trust_host_key, first_user=user,
                             overrides=list(set_ or []), project=located)
    report = make_report(json_, False, verbose)
    _finish(recipe.onboard(request, report), report)
