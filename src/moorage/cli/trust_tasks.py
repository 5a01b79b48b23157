"""``trust``: pin a server's SSH host key in the inventory's known_hosts (``moorage.recipes.trust``)."""

from __future__ import annotations

import re

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import HOST_HELP, INVENTORY_HELP, PROJECT_HELP, exit_with, reports_errors, request, required_host
from moorage.errors import InputError

FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")  # as `ssh-keygen -lf` prints it


@task(auto_shortflags=False, help={
    "host": HOST_HELP,
    "inventory": INVENTORY_HELP,
    "project": PROJECT_HELP,
    "fingerprint": "The key's fingerprint as the server's console shows it (ssh-keygen -lf "
                   "/etc/ssh/ssh_host_ed25519_key.pub): SHA256:...; pins without asking when it matches, "
                   "refuses (exit 2) when it doesn't.",
    "yes": "Pin a new key without asking (trust on first use: only on a network you trust).",
})
@reports_errors
def trust(c: Context, host: str = "", inventory: str = "", project: str = "", fingerprint: str = "",
          yes: bool = False) -> None:
    """Show a server's SSH host key and pin it in the inventory's known_hosts (no login, nothing installed).

    Already pinned: says so and changes nothing.  Another key pinned for the host: refused (the
    key changed).  Exit 0 when every host's key is pinned, 1 when one was refused or unreachable,
    2 when it doesn't match --fingerprint.
    """
    from moorage.recipes import trust as recipe

    required_host(host, "the host (or environment) whose host key to pin")
    if fingerprint and not FINGERPRINT.match(fingerprint):
        raise InputError(f"--fingerprint {fingerprint!r} is not a SHA256 fingerprint: give it as ssh-keygen -lf "
                         "prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")
    exit_with(recipe.trust(request(host, project, inventory), fingerprint=fingerprint, yes=yes))
