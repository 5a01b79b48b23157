"""First contact: the server's host key, checked against the inventory's known_hosts and its
``fingerprint``, pinned only when the operator vouches for it.

Before the first login moorage reads the key the server proves it holds (no authentication yet)
and decides:

- the known_hosts file already has this key for the host: go on;
- it has another key for the host: refuse (the key changed: reinstalled, or someone in between);
- it has none: pin it when it matches the inventory's ``fingerprint:``, or when the operator
  passed ``--trust-host-key``; otherwise refuse, showing the fingerprint to verify.

Afterwards every SSH connection checks the pinned key (connection/ssh.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import paramiko

from moorage.connection.base import Target
from moorage.connection.ssh import fetch_host_key
from moorage.errors import InputError


@dataclass(frozen=True)
class Decision:
    """What first contact concluded: ``known``, ``pin`` (new, vouched for) or ``refuse``."""

    verdict: str
    key: paramiko.PKey
    message: str

    @property
    def described(self) -> str:
        return f"{self.key.get_name()} {self.key.fingerprint}"


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH and Paramiko name a host in known_hosts: ``addr``, or ``[addr]:port``."""
    return address if port == 22 else f"[{address}]:{port}"


def pinned_keys(known_hosts: Path, address: str, port: int) -> dict[str, paramiko.PKey]:
    """The keys known_hosts holds for the host, by key type (empty when none or no file)."""
    if not known_hosts.exists():
        return {}
    try:
        keys = paramiko.HostKeys(str(known_hosts))
    except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, ValueError) as exc:
        line = getattr(exc, "line", "").strip()
        raise InputError(f"{known_hosts}: a line is not a valid host key ({line or exc}); fix or remove it") from None
    found = keys.lookup(known_hosts_name(address, port))
    return dict(found) if found else {}


def decide(key: paramiko.PKey, pinned: dict[str, paramiko.PKey], expected: str | None, trust: bool,
           where: str) -> Decision:
    """The verdict for ``key`` (what the server offered) — pure, so every case is tested without a server."""
    shown = f"{key.get_name()} {key.fingerprint}"
    if key.get_name() in pinned and pinned[key.get_name()] == key:
        return Decision("known", key, f"host key {shown} is the one pinned in {where}")
    if pinned:
        old = ", ".join(f"{k.get_name()} {k.fingerprint}" for k in pinned.values())
        return Decision("refuse", key, f"host key CHANGED: the server offers {shown} but {where} pins {old}; "
                        "refusing to connect (possible man-in-the-middle). If the server was reinstalled, "
                        f"verify the new key and remove the old line from {where}")
    if expected:
        if expected == key.fingerprint:
            return Decision("pin", key, f"host key {shown} matches the inventory's fingerprint; pinned in {where}")
        return Decision("refuse", key, f"host key {shown} does not match the inventory's fingerprint {expected}; "
                        "refusing to connect (possible man-in-the-middle)")
    if trust:
        return Decision("pin", key, f"host key {shown} trusted (--trust-host-key); pinned in {where}")
    return Decision("refuse", key, f"first contact: the server's host key is {shown}, not pinned yet. Compare "
                    "it with the server's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), "
                    f"then rerun with --trust-host-key, or give the host `fingerprint: {key.fingerprint}` in the "
                    "inventory")


def first_contact(target: Target, known_hosts: Path, expected: str | None, trust: bool) -> Decision:
    """Read the server's host key (asking first for a type already pinned) and decide."""
    pinned = pinned_keys(known_hosts, target.address, target.port)
    key = fetch_host_key(target, tuple(pinned))
    return decide(key, pinned, expected, trust, str(known_hosts))


def pin(known_hosts: Path, address: str, port: int, key: paramiko.PKey) -> None:
    """Append the host's key to known_hosts (created 0644 when missing), in OpenSSH's format."""
    line = f"{known_hosts_name(address, port)} {key.get_name()} {key.get_base64()}\n"
    existing = known_hosts.read_text() if known_hosts.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    with open(known_hosts, "a") as handle:
        handle.write(separator + line)
    os.chmod(known_hosts, 0o644)
