"""``onboard``: a bare Debian/Ubuntu server becomes a safe deploy target (moorage.recipes.onboard);
``swarm``: the servers of a swarm environment form their Docker Swarm (moorage.recipes.swarm)."""

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
    run_options,
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


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    "check": "Say whether the first manager would initialise the swarm; change nothing.",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def swarm(c: Context, host: str = "", inventory: str = "", project: str = "", json_: bool = False,
          set_: list[str] | None = None, check: bool = False, verbose: bool = False) -> None:
    """Form the Docker Swarm of a swarm environment (orchestrator: swarm): init, joins, node labels.

    The first host with swarm_role: manager initialises it (unless its engine is in a swarm); the
    others join as their swarm_role with a token read from it (never shown); swarm_labels are set.
    Running it again changes nothing.  `deploy` to a swarm environment does this first.
    """
    from moorage.recipes import swarm as swarm_recipe
    from moorage.report import make_report

    asked = request(required_host(host, "the swarm environment (or one of its hosts)"), project, inventory, set_,
                    run_options(check=check))
    exit_with(swarm_recipe.swarm(asked, make_report(json_, False, verbose)))
