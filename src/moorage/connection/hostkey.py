"""First contact: the server's host key, checked against the inventory's known_hosts and its
``fingerprint``, pinned only when the operator vouches for it.

Before the first login moorage reads the key the server proves it holds (no authentication yet)
and decides:

- the known_hosts file already has this key for the host: go on;
- it has another key for the host: refuse (the key changed: reinstalled, or someone in between);
- it has none: pin it when it matches the expected fingerprint (the inventory's ``fingerprint:``
  or ``trust --fingerprint``), or when the operator vouches for it (``onboard --trust-host-key``,
  ``trust --yes`` or a "yes" typed at the terminal); otherwise refuse, showing the fingerprint.

``moorage trust`` and ``moorage onboard`` both go through ``establish``.  Afterwards every SSH
connection checks the pinned key (connection/ssh.py).  The file is OpenSSH's known_hosts format,
one key a line: ``[address]:port keytype base64`` (``address keytype base64`` on port 22), as
``ssh-keyscan`` and Paramiko write it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from moorage.connection.ssh import check_known_hosts, fetch_host_key
from moorage.target import Target


@dataclass(frozen=True)
class Decision:
    """What first contact concluded: ``known``, ``pin`` (new, vouched for), ``refuse`` (changed, or
    nobody vouched) or ``mismatch`` (not the expected fingerprint)."""

    verdict: str
    key: paramiko.PKey
    message: str

    @property
    def refused(self) -> bool:
        return self.verdict in ("refuse", "mismatch")

    @property
    def described(self) -> str:
        return f"{self.key.get_name()} {self.key.fingerprint}"


def known_hosts_name(address: str, port: int) -> str:
    """How OpenSSH and Paramiko name a host in known_hosts: ``addr``, or ``[addr]:port``."""
    return address if port == 22 else f"[{address}]:{port}"


def pinned_keys(known_hosts: Path, address: str, port: int) -> dict[str, paramiko.PKey]:
    """The keys known_hosts holds for the host, by key type (empty when none or no file);
    ``InputError`` at ``file:line`` for a line that is not a host key."""
    if not known_hosts.exists():
        return {}
    check_known_hosts(str(known_hosts))
    found = paramiko.HostKeys(str(known_hosts)).lookup(known_hosts_name(address, port))
    return dict(found) if found else {}


@dataclass(frozen=True)
class Vouching:
    """How the operator vouches for an unknown key in this command: the words the pin message
    gives as the reason (``--trust-host-key``), and how to do it, for a refusal."""

    reason: str = "--trust-host-key"
    how: str = "rerun with --trust-host-key"


ONBOARD = Vouching()


def decide(key: paramiko.PKey, pinned: dict[str, paramiko.PKey], expected: str | None, trust: bool,
           where: str, vouching: Vouching = ONBOARD, expected_from: str = "the inventory's") -> Decision:
    """The verdict for ``key`` (what the server offered) — pure, so every case is tested without a server."""
    shown = f"{key.get_name()} {key.fingerprint}"
    if key.get_name() in pinned and pinned[key.get_name()] == key:
        return Decision("known", key, f"host key {shown} is already pinned in {where}; nothing to do")
    if pinned:
        old = ", ".join(f"{k.get_name()} {k.fingerprint}" for k in pinned.values())
        return Decision("refuse", key, f"host key CHANGED: the server offers {shown} but {where} pins {old}; "
                        "refusing to connect (possible man-in-the-middle). If the server was reinstalled, "
                        f"verify the new key and remove the old line from {where}")
    if expected:
        if expected.rstrip("=") == key.fingerprint:
            return Decision("pin", key, f"host key {shown} matches {expected_from} fingerprint; pinned in {where}")
        return Decision("mismatch", key, f"host key {shown} does not match {expected_from} fingerprint {expected}; "
                        "refusing to connect (possible man-in-the-middle); nothing was pinned")
    if trust:
        return Decision("pin", key, f"host key {shown} trusted ({vouching.reason}); pinned in {where}")
    return Decision("refuse", key, f"first contact: the server's host key is {shown}, not pinned yet. Compare "
                    "it with the server's own (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), "
                    f"then {vouching.how}, or give the host `fingerprint: {key.fingerprint}` in the inventory")


def establish(target: Target, known_hosts: Path, expected: str | None, vouch: Callable[[Decision], bool],
              vouching: Vouching = ONBOARD, expected_from: str = "the inventory's") -> Decision:
    """First contact: read the server's host key without logging in (asking first for a type
    already pinned, so the two can be compared), decide, and pin it when the verdict is ``pin``.

    ``vouch(decision)`` is asked only for a key nothing pins or expects (the refusal's message
    shows its fingerprint): True pins it.  Returns the final ``Decision``; its ``verdict`` is
    ``known``, ``pin`` (written to ``known_hosts``), ``refuse`` or ``mismatch`` (not the expected
    fingerprint).  Raises ``HostError`` when no SSH server answers, ``InputError`` for a broken
    known_hosts file.
    """
    pinned = pinned_keys(known_hosts, target.address, target.port)
    key = fetch_host_key(target, tuple(pinned))
    where = str(known_hosts)
    decision = decide(key, pinned, expected, False, where, vouching, expected_from)
    if decision.verdict == "refuse" and not pinned and vouch(decision):
        decision = decide(key, pinned, expected, True, where, vouching, expected_from)
    if decision.verdict == "pin":
        pin(known_hosts, target.address, target.port, key)
    return decision


def pin(known_hosts: Path, address: str, port: int, key: paramiko.PKey) -> None:
    """Append the host's key to known_hosts (created 0644 when missing), in OpenSSH's format."""
    line = f"{known_hosts_name(address, port)} {key.get_name()} {key.get_base64()}\n"
    existing = known_hosts.read_text() if known_hosts.exists() else ""
    separator = "" if not existing or existing.endswith("\n") else "\n"
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    with open(known_hosts, "a") as handle:
        handle.write(separator + line)
    os.chmod(known_hosts, 0o644)
