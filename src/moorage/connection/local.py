"""The local connection: commands run on this machine (``connection: local``)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
from typing import IO

from moorage.connection.base import ByteStream, CommandResult, ConnectionStats, wrap_become
from moorage.target import Target


class LocalConnection:
    """Runs commands with ``sh -c`` on the controller itself (the ``pc`` environment)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stats = ConnectionStats(connections=1)

    def run(
        self, command: str, stdin: bytes | ByteStream | None = None, timeout: float | None = None,
        become: bool | None = None,
    ) -> CommandResult:
        """Run ``command`` locally and collect its output."""
        self.stats.commands += 1
        argv = ["sh", "-c", wrap_become(command, self.target, become)]
        # Its own process group: a Ctrl-C at the terminal reaches moorage alone, which stops at a safe
        # point, instead of killing the command half way (an SSH command never sees it either).
        if stdin is not None and not isinstance(stdin, bytes | bytearray):
            proc = subprocess.run(argv, stdin=stdin.fileno(), capture_output=True, timeout=timeout, check=False,
                                  process_group=0)
        else:
            self.stats.bytes_sent += len(stdin or b"")
            proc = subprocess.run(argv, input=stdin or b"", capture_output=True, timeout=timeout,
                                  check=False, process_group=0)
        return CommandResult(command, proc.returncode, proc.stdout, proc.stderr)

    def open_channel(self, command: str, become: bool | None = None) -> LocalChannel:
        """Start ``command`` with ``sh -c`` and hand over its streams as a channel (what
        ``sync`` relays rsync's protocol over, as on an SSH exec channel).  Counted like ``run``."""
        self.stats.commands += 1
        return LocalChannel(["sh", "-c", wrap_become(command, self.target, become)])

    def command_argv(self, command: str, become: bool | None = None) -> list[str] | None:
        """``sh -c command``: rsync's stream then goes straight to the local command."""
        self.stats.commands += 1
        return ["sh", "-c", wrap_become(command, self.target, become)]

    def interact(self, command: str, *, tty: bool, stdin: bool = True, become: bool | None = None) -> int:
        """Run ``command`` with this terminal attached (it inherits our stdin, stdout and stderr:
        a terminal stays one, so ``tty`` has nothing to add); its exit status."""
        self.stats.commands += 1
        return subprocess.run(["sh", "-c", wrap_become(command, self.target, become)],
                              stdin=None if stdin else subprocess.DEVNULL, check=False).returncode

    def close(self) -> None:
        """Nothing to release for a local connection."""


class LocalChannel:
    """A local process seen through the ``Channel`` interface (paramiko's channel semantics):
    two threads move its stdout and stderr into buffers, and a pipe is kept readable while
    something waits in them or the output has ended, so ``select`` on the channel works."""

    def __init__(self, argv: list[str]) -> None:
        # Its own process group, so ``close`` can stop what ``sh`` started too (the children
        # hold the pipes open).
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, bufsize=0, process_group=0)
        assert self._proc.stdin is not None
        self._stdin: IO[bytes] | None = self._proc.stdin
        os.set_blocking(self._stdin.fileno(), False)
        self.eof_received = self.closed = False
        self.exit_status = -1
        self.status_event = threading.Event()
        self._out, self._err = bytearray(), bytearray()
        self._lock = threading.Lock()
        self._wake_read, self._wake_write = os.pipe()
        self._awake, self._streams_open = False, 2
        self._readers = [threading.Thread(target=self._read, args=(stream, buffer), daemon=True)
                         for stream, buffer in ((self._proc.stdout, self._out), (self._proc.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    # -- output ----------------------------------------------------------------------
    def _read(self, stream: IO[bytes], buffer: bytearray) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            with self._lock:
                buffer += chunk
                self._signal()
        with self._lock:
            self._streams_open -= 1
            last = not self._streams_open
            if last:
                self.eof_received = True
                self._signal()
        if last:  # both streams ended: the exit status follows
            self.exit_status = self._proc.wait()
            self.status_event.set()

    def _signal(self) -> None:
        """Make the pipe readable or not to match the buffers (called holding the lock)."""
        ready = bool(self._out or self._err or self.eof_received)
        if ready and not self._awake:
            os.write(self._wake_write, b"x")
        elif not ready and self._awake:
            os.read(self._wake_read, 1)
        self._awake = ready

    def fileno(self) -> int:
        return self._wake_read

    def recv_ready(self) -> bool:
        return bool(self._out)

    def recv_stderr_ready(self) -> bool:
        return bool(self._err)

    def recv(self, nbytes: int) -> bytes:
        return self._take(self._out, nbytes)

    def recv_stderr(self, nbytes: int) -> bytes:
        return self._take(self._err, nbytes)

    def _take(self, buffer: bytearray, nbytes: int) -> bytes:
        with self._lock:
            data = bytes(buffer[:nbytes])
            del buffer[:nbytes]
            self._signal()
        return data

    # -- input -----------------------------------------------------------------------
    def send_ready(self) -> bool:
        if self._stdin is None:
            return False
        return bool(select.select([], [self._stdin], [], 0)[1])

    def send(self, data: bytes) -> int:
        """Write what the pipe takes now (never blocks); 0 once the command stopped reading."""
        if self._stdin is None:
            return 0
        try:
            return os.write(self._stdin.fileno(), data)
        except BlockingIOError:
            return 0
        except BrokenPipeError:
            self.shutdown_write()
            return 0

    def shutdown_write(self) -> None:
        if self._stdin is not None:
            stdin, self._stdin = self._stdin, None
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def close(self) -> None:
        """Stop the command if it still runs (the process group this channel started), then
        release the pipes."""
        if self.closed:
            return
        self.shutdown_write()
        if self._proc.poll() is None or not self.eof_received:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.join(timeout=10)
        self._proc.wait()
        self.closed = True
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()
