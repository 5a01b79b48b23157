"""Bulk streams over the controller's OpenSSH client, checked against the key moorage verified.

Paramiko moves bytes in Python: a 26 MB rsync stream costs the controller ~0.3 s of CPU per host
on top of rsync's own, where the ``ssh`` client does the same in C for a tenth of that.  So a
large transfer may ride a second connection made by ``ssh`` — with the same checks as moorage's:

- the host key is the exact key moorage's own connection verified against the inventory's
  known_hosts, written to a private known_hosts file read with ``StrictHostKeyChecking=yes``
  under a fixed ``HostKeyAlias`` (any other key is refused, never learned);
- ``-F /dev/null``: no ``~/.ssh/config`` (moorage's own connection ignores it too), the same
  user, port and identity (``IdentitiesOnly`` with the inventory's ``ssh_key``; otherwise the
  agent and default keys, as Paramiko looks for them); ``BatchMode``: never a prompt.

When ``ssh`` cannot log in (a passphrase, password-only, an agent it doesn't see) the caller
falls back to the Paramiko channel (``verdict``); a host-key refusal is never a reason to.
"""

from __future__ import annotations

import os
import tempfile

import paramiko

from moorage.errors import HostError
from moorage.target import Target

ALIAS = "moorage-verified-host"  # the one name in the private known_hosts file


def known_hosts_line(key: paramiko.PKey) -> str:
    """The private known_hosts file's only line: the verified key under ``ALIAS``."""
    return f"{ALIAS} {key.get_name()} {key.get_base64()}\n"


def write_known_hosts(key: paramiko.PKey) -> str:
    """A new private (0600) known_hosts file holding ``key``; returns its path (the caller removes it)."""
    fd, path = tempfile.mkstemp(prefix="moorage-known-hosts-")
    with os.fdopen(fd, "w") as handle:
        handle.write(known_hosts_line(key))
    return path


def ssh_argv(target: Target, known_hosts: str, command: str) -> list[str]:
    """``ssh`` running ``command`` on ``target`` (stdin/stdout are the command's), trusting only
    the key in ``known_hosts``."""
    options = {"BatchMode": "yes", "StrictHostKeyChecking": "yes", "UserKnownHostsFile": known_hosts,
               "GlobalKnownHostsFile": "/dev/null", "HostKeyAlias": ALIAS, "CheckHostIP": "no",
               "UpdateHostKeys": "no", "Compression": "no", "ConnectTimeout": str(max(1, int(target.connect_timeout))),
               "LogLevel": "ERROR"}
    identity = ["-i", os.path.expanduser(target.key_file), "-o", "IdentitiesOnly=yes"] if target.key_file else []
    argv = ["ssh", "-F", "/dev/null", "-T", "-x", "-a", "-p", str(target.port), "-l", target.user, *identity]
    for name, value in options.items():
        argv += ["-o", f"{name}={value}"]
    return [*argv, "--", target.address, command]


# What OpenSSH prints when the key differs from the pinned one (LogLevel ERROR keeps both).
# ("no matching host key type" is not one: an old key type this OpenSSH no longer speaks.)
_KEY_REFUSED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED")


def verdict(status: int, stderr: str) -> str:
    """What an ``ssh`` run's exit says: ``ok`` (the command ran; its status is ``status``),
    ``hostkey`` (the server showed another key: refuse, as moorage's own connection does) or
    ``fallback`` (ssh itself failed — login refused, no route: use the Paramiko channel)."""
    if status != 255:  # ssh's own failures are 255; rsync's and the guard's statuses are small
        return "ok"
    if any(text in stderr for text in _KEY_REFUSED):
        return "hostkey"
    return "fallback"


def ssh_reason(stderr: str) -> str:
    """ssh's reason, for the task's data (``via``): its last line (before rsync's own, after
    warning banners: ``user@host: Permission denied (publickey).``)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith(("rsync", "@"))]
    return lines[-1][:200] if lines else "ssh exited 255"


def key_changed(target: Target) -> HostError:
    """The refusal when ssh was shown another key than moorage's own connection verified."""
    return HostError(target.name, f"host key of {target.address} CHANGED since moorage's own connection "
                     "verified it (the OpenSSH client was shown another one); refusing to connect "
                     "(possible man-in-the-middle); nothing was sent")

