"""``Target``: how to reach one host (address, port, user, key, become), as the inventory resolves it.

A leaf module: the inventory builds targets and the connections use them, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """How to reach one host, as resolved from the inventory."""

    name: str
    connection: str = "ssh"  # "ssh" or "local"
    address: str = "127.0.0.1"
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    known_hosts: tuple[str, ...] = ()
    become: bool = False
    connect_timeout: float = 10.0

    @property
    def endpoint(self) -> str:
        """``user@address:port`` for messages."""
        return f"{self.user}@{self.address}:{self.port}"
