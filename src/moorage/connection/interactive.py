"""A remote command with this terminal attached (``exec``, ``run``, ``logs --follow``).

``relay`` moves bytes both ways until the command's output ends: the channel's stdout and stderr
to ours as they come (never collected: a shell or a followed log has no end), our stdin to the
channel (its end of file forwarded, so ``psql < dump.sql`` ends).  With a pseudo-terminal
(``tty``) our terminal is put in raw mode, so Ctrl-C, Ctrl-D and arrow keys reach the remote
program as bytes, and its size follows ours (SIGWINCH); the terminal's own mode is restored on
every way out, an exception included.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import termios
import tty as ttymode
from collections.abc import Iterator
from typing import Any, Protocol

from moorage.connection.base import Channel

NO_STATUS = 255  # what ssh reports when the remote command ended without an exit status (killed)


class PtyChannel(Channel, Protocol):
    """A channel whose pseudo-terminal can follow our terminal's size."""

    def resize_pty(self, width: int = 80, height: int = 24, width_pixels: int = 0, height_pixels: int = 0) -> None: ...


def terminal_size() -> tuple[int, int]:
    """``(columns, lines)`` of our terminal, 80x24 when there is none."""
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except (OSError, ValueError):
        return 80, 24
    return size.columns, size.lines


@contextlib.contextmanager
def raw_terminal(fd: int | None) -> Iterator[None]:
    """Our terminal in raw mode for the block (``fd`` None: nothing to do), restored after."""
    if fd is None:
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        ttymode.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def following_size(chan: PtyChannel | None) -> Iterator[None]:
    """Resize the remote pseudo-terminal whenever ours changes size (SIGWINCH), for the block."""
    if chan is None:
        yield
        return

    def resize(signum: int, frame: Any) -> None:
        chan.resize_pty(*terminal_size())

    previous = signal.signal(signal.SIGWINCH, resize)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def relay(chan: PtyChannel, *, tty: bool, forward_stdin: bool) -> int:
    """Move bytes between ``chan`` and our stdin/stdout/stderr until the command's output ends;
    its exit status (``NO_STATUS`` when it gave none).  A ``KeyboardInterrupt`` (Ctrl-C without a
    tty) propagates; the caller closes the channel, which ends the remote command."""
    stdin_fd = sys.stdin.fileno() if forward_stdin and sys.stdin is not None else None
    sys.stdout.flush()
    sys.stderr.flush()
    with raw_terminal(stdin_fd if tty else None), following_size(chan if tty else None):
        while not (chan.eof_received or chan.closed) or chan.recv_ready() or chan.recv_stderr_ready():
            ready = _wait([chan.fileno(), *([stdin_fd] if stdin_fd is not None else [])])
            _drain(chan)
            if stdin_fd is not None and stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if data:
                    _send_all(chan, data)
                else:  # our end of file is the command's
                    chan.shutdown_write()
                    stdin_fd = None
    status = chan.exit_status if chan.status_event.wait(10) else -1
    return NO_STATUS if status < 0 else status


def _wait(fds: list[int]) -> list[int]:
    """The readable ones of ``fds`` (an interrupted wait, a resize: none)."""
    try:
        return select.select(fds, [], [], 0.5)[0]
    except InterruptedError:
        return []


def _drain(chan: Channel) -> None:
    """Whatever output waits on ``chan``, written to our stdout and stderr now."""
    for ready, receive, stream in ((chan.recv_ready, chan.recv, sys.stdout),
                                   (chan.recv_stderr_ready, chan.recv_stderr, sys.stderr)):
        while ready():
            stream.buffer.write(receive(65536))
            stream.buffer.flush()


def _send_all(chan: Channel, data: bytes) -> None:
    view = memoryview(data)
    while view:
        if not chan.send_ready():
            select.select([], [], [], 0.01)
            continue
        view = view[chan.send(bytes(view)):]
