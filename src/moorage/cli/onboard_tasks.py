"""``onboard``: a bare Debian/Ubuntu server becomes a safe deploy target (moorage.recipes.onboard)."""

from __future__ import annotations

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import (
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    PROJECT_HELP,
    SET_HELP,
    exit_with,
    reports_errors,
    request,
    required_host,
)


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    "trust_host_key": "Pin the server's host key into the inventory's known_hosts at first contact (verify "
                      "the fingerprint it shows first); not needed when the inventory gives the host's fingerprint.",
    "user": "User to log in as before the deploy user exists (default: root; another user needs passwordless "
            "sudo).",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def onboard(c: Context, host: str = "", inventory: str = "", project: str = "", trust_host_key: bool = False,
            user: str = "root", json_: bool = False, set_: list[str] | None = None, verbose: bool = False) -> None:
    """Turn a bare Debian/Ubuntu server into a deploy target: user, key, Docker, dirs, firewall, sshd.

    The deploy user is the inventory's user for the host; it gets the inventory's ssh_key (public
    half), passwordless sudo and the docker group.  sshd is hardened (no passwords, no root) only
    after a second login as that user worked.  Running it again changes nothing.
    """
    from moorage.recipes import onboard as recipe
    from moorage.report import make_report

    asked = request(required_host(host, "the host (or environment) to onboard"), project, inventory, set_)
    exit_with(recipe.onboard(asked, make_report(json_, False, verbose), trust_host_key=trust_host_key,
                             first_user=user))
