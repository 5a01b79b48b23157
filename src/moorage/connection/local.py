"""The local connection: commands run on this machine (``connection: local``)."""

from __future__ import annotations

import subprocess
from typing import BinaryIO

from moorage.connection.base import CommandResult, ConnectionStats, Target, wrap_become


class LocalConnection:
    """Runs commands with ``sh -c`` on the controller itself (the ``pc`` environment)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stats = ConnectionStats(connections=1)

    def run(
        self, command: str, stdin: bytes | BinaryIO | None = None, timeout: float | None = None,
        become: bool | None = None,
    ) -> CommandResult:
        """Run ``command`` locally and collect its output."""
        self.stats.commands += 1
        self.stats.commands_run.append(command)
        argv = ["sh", "-c", wrap_become(command, self.target, become)]
        if stdin is not None and not isinstance(stdin, bytes | bytearray):
            proc = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=timeout, check=False)
        else:
            self.stats.bytes_sent += len(stdin or b"")
            proc = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout,
                                  check=False)
        return CommandResult(command, proc.returncode, proc.stdout, proc.stderr)

    def close(self) -> None:
        """Nothing to release for a local connection."""
