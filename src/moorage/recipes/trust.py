"""``trust``: pin a server's SSH host key in the inventory's known_hosts, and nothing else.

For servers that are already set up (no onboarding wanted): the key is read before any login,
exactly as onboarding's first contact reads it (``connection.hostkey.establish``), and pinned after a
"yes" typed at the terminal, with ``yes``, or when it matches ``fingerprint`` (or the host's
``fingerprint:`` in the inventory).
"""

from __future__ import annotations

import sys
from pathlib import Path

from moorage.connection import hostkey
from moorage.errors import HostError, InputError
from moorage.inventory import Host
from moorage.operations.backups.guard import Ask, terminal_ask
from moorage.progname import command
from moorage.recipes.play import Request


def trust(request: Request, *, fingerprint: str = "", yes: bool = False, ask: Ask = terminal_ask) -> int:
    """Pin each selected host's key; prints each outcome.  Returns the exit status: 0 when every
    key is pinned, 1 when one was refused or unreachable, 2 when one doesn't match ``fingerprint``."""
    loaded = request.inventory()
    hosts = loaded.select(request.target)
    if fingerprint and len(hosts) > 1:
        raise InputError(f"--fingerprint is one server's key, and '{request.target}' selects {len(hosts)} hosts: "
                         "name one host, or give each its `fingerprint:` in the inventory")
    return max((_trust_host(loaded.known_hosts, h, fingerprint, yes, ask) for h in hosts), default=0)


def _trust_host(known_hosts: Path, host: Host, fingerprint: str, yes: bool, ask: Ask) -> int:
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
            host.target, known_hosts, fingerprint or host.fingerprint,
            lambda found: yes or _confirmed(ask, host, found, known_hosts), vouching,
            "--fingerprint's" if fingerprint else "the inventory's")
    except HostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if decision.refused:
        print(f"error: {host.name}: {decision.message}", file=sys.stderr)
        return 2 if decision.verdict == "mismatch" else 1
    print(f"{host.name}: {decision.message}")
    return 0


def _confirmed(ask: Ask, host: Host, decision: hostkey.Decision, known_hosts: Path) -> bool:
    """A "yes" typed at the terminal; False without one (no TTY: nobody was asked)."""
    target = host.target
    answer = ask(f"{host.name} ({target.address}:{target.port}) offers the host key {decision.described}.\n"
                 "Compare it with the server's own (on its console: ssh-keygen -lf "
                 f"/etc/ssh/ssh_host_ed25519_key.pub). Pin it in {known_hosts}? Type yes: ")
    return (answer or "").strip().lower() == "yes"
