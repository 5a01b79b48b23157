"""Connections to hosts: one per host for the whole run.

``connect(target)`` returns an object with the ``Connection`` interface
(``base.py``): ``run(command, stdin=None)`` runs one shell command and returns a
``CommandResult``; ``open_channel(command)`` starts one and hands over its
streams as a ``Channel`` (``sync`` relays rsync's protocol over it);
``close()`` ends the connection.  Every remote action of the engine — fact
gathering, batched file changes, commands, transfers — goes through these two,
so ``stats`` counts exactly the round trips a run made.
"""

from __future__ import annotations

from moorage.connection.base import Channel, CommandResult, Connection, ConnectionStats
from moorage.connection.local import LocalConnection
from moorage.connection.ssh import SSHConnection
from moorage.target import Target


def connect(target: Target) -> Connection:
    """Open the connection a host's inventory entry asks for (local or SSH)."""
    if target.connection == "local":
        return LocalConnection(target)
    return SSHConnection(target)


__all__ = [
    "Channel",
    "CommandResult",
    "Connection",
    "ConnectionStats",
    "LocalConnection",
    "SSHConnection",
    "Target",
    "connect",
]
