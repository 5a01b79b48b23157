"""``trust``: pin a server's SSH host key in the inventory's known_hosts, and nothing else.

For servers that are already set up (no onboarding wanted): the key is read before any login,
exactly as onboarding's first contact reads it (``connection.hostkey.establish``), and pinned after a
"yes" typed at the terminal, with ``--yes``, or when it matches ``--fingerprint`` (or the host's
``fingerprint:`` in the inventory).
"""

from __future__ import annotations

import re
import sys

from invoke import task
from invoke.exceptions import Exit

from moorage.cli.common import HOST_HELP, INVENTORY_HELP, PROJECT_HELP, inventory_from_flags, reports_errors
from moorage.connection import hostkey
from moorage.errors import HostError, InputError
from moorage.operations.backups.guard import Ask, terminal_ask
from moorage.progname import command

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
def trust(c, host="", inventory="", project="", fingerprint="", yes=False):
    """Show a server's SSH host key and pin it in the inventory's known_hosts (no login, nothing installed).

    Already pinned: says so and changes nothing.  Another key pinned for the host: refused (the
    key changed).  Exit 0 when every host's key is pinned, 1 when one was refused or unreachable,
    2 when it doesn't match --fingerprint.
    """
    if not host:
        raise InputError("--host is required: the host (or environment) whose host key to pin")
    if fingerprint and not FINGERPRINT.match(fingerprint):
        raise InputError(f"--fingerprint {fingerprint!r} is not a SHA256 fingerprint: give it as ssh-keygen -lf "
                         "prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")
    loaded = inventory_from_flags(project, inventory)
    hosts = loaded.select(host)
    if fingerprint and len(hosts) > 1:
        raise InputError(f"--fingerprint is one server's key, and '{host}' selects {len(hosts)} hosts: "
                         "name one host, or give each its `fingerprint:` in the inventory")
    codes = [_trust_host(loaded, h, fingerprint, yes, terminal_ask) for h in hosts]
    if max(codes, default=0):
        raise Exit(code=max(codes))


def _trust_host(inventory, host, fingerprint: str, yes: bool, ask: Ask) -> int:
    """Pin one host's key; prints the outcome; returns the exit status it asks for."""
    if host.target.connection != "ssh":
        print(f"{host.name}: reached with connection: {host.target.connection}, no host key to pin")
        return 0
    vouching = hostkey.Vouching(
        reason="--yes" if yes else "confirmed at the terminal",
        how=f"confirm it at a terminal, or run `{command('trust')} --host {host.name} --fingerprint "
            "SHA256:...` with the fingerprint you verified")
    try:
        decision = hostkey.establish(
            host.target, inventory.known_hosts, fingerprint or host.fingerprint,
            lambda found: yes or _confirmed(ask, host, found, inventory.known_hosts), vouching,
            "--fingerprint's" if fingerprint else "the inventory's")
    except HostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if decision.refused:
        print(f"error: {host.name}: {decision.message}", file=sys.stderr)
        return 2 if decision.verdict == "mismatch" else 1
    print(f"{host.name}: {decision.message}")
    return 0


def _confirmed(ask: Ask, host, decision: hostkey.Decision, known_hosts) -> bool:
    """A "yes" typed at the terminal; False without one (no TTY: nobody was asked)."""
    target = host.target
    answer = ask(f"{host.name} ({target.address}:{target.port}) offers the host key {decision.described}.\n"
                 "Compare it with the server's own (on its console: ssh-keygen -lf "
                 f"/etc/ssh/ssh_host_ed25519_key.pub). Pin it in {known_hosts}? Type yes: ")
    return (answer or "").strip().lower() == "yes"
