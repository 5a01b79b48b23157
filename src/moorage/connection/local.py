"""The local connection: commands run on this machine (``connection: local``)."""

from __future__ import annotations

import subprocess

from moorage.connection.base import CommandResult, ConnectionStats, Target, wrap_become


class LocalConnection:
    """Runs commands with ``sh -c`` on the controller itself (the ``pc`` environment)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stats = ConnectionStats(connections=1)

    def run(
        self, command: str, stdin: bytes | None = None, timeout: float | None = None,
        become: bool | None = None,
    ) -> CommandResult:
        """Run ``command`` locally and collect its output."""
        self.stats.commands += 1
        self.stats.bytes_sent += len(stdin or b"")
        self.stats.commands_run.append(command)
        proc = subprocess.run(
            ["sh", "-c", wrap_become(command, self.target, become)],
            input=stdin or b"",
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return CommandResult(command, proc.returncode, proc.stdout, proc.stderr)

    def close(self) -> None:
        """Nothing to release for a local connection."""
