"""What every connection offers, and the data it returns."""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from typing import Protocol

from moorage.target import Target


@dataclass
class CommandResult:
    """The outcome of one command: exit status and both output streams."""

    command: str
    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def stderr_tail(self, lines: int = 10) -> str:
        """The last lines of stderr, which is what a user needs to see on failure."""
        text = self.stderr.decode("utf-8", "replace").rstrip()
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class ConnectionStats:
    """Round-trip accounting: connections opened and commands (exec channels) run."""

    connections: int = 0
    commands: int = 0
    bytes_sent: int = 0


class ByteStream(Protocol):
    """A byte stream a command's stdin is read from to its end: a file, a pipe, a generated tar
    stream.  ``read`` returns ``b""`` at the end; ``fileno`` lets a local command read it directly."""

    def read(self, size: int = -1, /) -> bytes: ...

    def fileno(self) -> int: ...


class Channel(Protocol):
    """A command started on a host whose streams the caller speaks over (``sync`` relays
    rsync's protocol): the subset of ``paramiko.Channel`` the engine uses, with its meaning.

    ``fileno()`` is readable (for ``select``) while output, stderr or the end of output is
    waiting; ``send_ready()`` says ``send`` will not block; ``send`` returns the bytes taken
    (maybe fewer than given).  ``eof_received``: the command closed its output (both streams);
    ``closed``: the channel is gone.  ``status_event`` is set once ``exit_status`` is known.
    """

    @property
    def eof_received(self) -> int: ...  # a truth value (paramiko keeps an int)

    @property
    def closed(self) -> bool: ...

    @property
    def exit_status(self) -> int: ...

    @property
    def status_event(self) -> threading.Event: ...

    def fileno(self) -> int: ...

    def send_ready(self) -> bool: ...

    def send(self, data: bytes, /) -> int: ...

    def shutdown_write(self) -> None:
        """Close the command's stdin (it reads end of file)."""
        ...

    def recv_ready(self) -> bool: ...

    def recv(self, nbytes: int, /) -> bytes: ...

    def recv_stderr_ready(self) -> bool: ...

    def recv_stderr(self, nbytes: int, /) -> bytes: ...

    def close(self) -> None:
        """End the channel (a command still running is stopped)."""
        ...


class Connection(Protocol):
    """One open line of control to one host: every remote action of the engine goes through
    ``run`` or ``open_channel``, so ``stats`` counts every round trip."""

    target: Target
    stats: ConnectionStats

    def run(
        self, command: str, stdin: bytes | ByteStream | None = None, timeout: float | None = None,
        become: bool | None = None,
    ) -> CommandResult:
        """Run ``command`` with ``sh`` on the host (as root via sudo when ``become``,
        which defaults to the target's setting)."""
        ...

    def open_channel(self, command: str, become: bool | None = None) -> Channel:
        """Start ``command`` like ``run`` (counted as one command) and hand over its streams;
        the caller closes the channel."""
        ...

    def command_argv(self, command: str, become: bool | None = None) -> list[str] | None:
        """The argv of a local process that runs ``command`` like ``run`` with the process's
        stdin and stdout as the command's and exits with its status (counted as one command),
        for a bulk stream that should not pass through Python (``sync``'s rsync); None when
        this connection offers none (the caller then uses ``open_channel``)."""
        ...

    def interact(self, command: str, *, tty: bool, stdin: bool = True, become: bool | None = None) -> int:
        """Run ``command`` like ``run`` but with this terminal attached: its output written here as
        it comes, our stdin forwarded (when ``stdin``), a pseudo-terminal that follows our terminal
        (when ``tty``); returns its exit status (``exec``, ``run``, ``logs --follow``)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def wrap_become(command: str, target: Target, become: bool | None = None) -> str:
    """Prefix ``command`` with ``sudo`` when asked to become root (default: the target's
    ``become``) and the user isn't root already."""
    if (target.become if become is None else become) and target.user != "root":
        return f"sudo -n -H sh -c {shlex.quote(command)}"
    return command
