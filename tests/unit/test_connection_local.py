"""The local connection's channel: a process on this machine behaving like an SSH exec channel
(what ``sync`` relays rsync over with ``connection: local``)."""

from __future__ import annotations

import select
import time

from moorage.connection import LocalConnection, Target


def local() -> LocalConnection:
    return LocalConnection(Target("pc", connection="local"))


def drain(chan, timeout: float = 10) -> tuple[bytes, bytes]:
    """Read both streams to the end, waiting in select on the channel as the tunnel does."""
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        select.select([chan], [], [], 0.5)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        if chan.recv_ready():
            out += chan.recv(65536)
        elif chan.eof_received:
            return bytes(out), bytes(err)
    raise AssertionError("the channel never reached end of output")


def test_a_channel_carries_stdin_stdout_stderr_and_the_exit_status() -> None:
    conn = local()
    chan = conn.open_channel("tr a-z A-Z; echo oops >&2; exit 7")
    data = b"hello\n" * 50_000  # more than a pipe holds: send takes what fits, never blocks
    while data:
        if chan.send_ready():
            data = data[chan.send(data[:65536]):]
        while chan.recv_ready():  # keep the command's output moving meanwhile
            chan.recv(65536)
    chan.shutdown_write()
    drain(chan)
    assert chan.status_event.wait(5) and chan.exit_status == 7
    chan.close()
    assert conn.stats.commands == 1 and chan.closed


def test_output_and_stderr_arrive_apart_and_whole() -> None:
    chan = local().open_channel("cat; printf 'to stderr' >&2")
    chan.send(b"line one\nline two\n")
    chan.shutdown_write()
    out, err = drain(chan)
    chan.close()
    assert (out, err) == (b"line one\nline two\n", b"to stderr")
    assert chan.exit_status == 0


def test_select_on_the_channel_waits_for_output_instead_of_spinning() -> None:
    chan = local().open_channel("sleep 0.3; echo late")
    started = time.monotonic()
    ready, _, _ = select.select([chan], [], [], 5)
    assert ready and time.monotonic() - started >= 0.25
    out, _ = drain(chan)
    chan.close()
    assert out == b"late\n"


def test_closing_stops_a_command_still_running_and_sending_after_its_end_is_harmless() -> None:
    chan = local().open_channel("sleep 30")
    started = time.monotonic()
    chan.close()
    assert chan.closed and time.monotonic() - started < 5
    done = local().open_channel("exit 0")
    drain(done)
    done.send(b"nobody reads this")  # the reader is gone: a broken pipe is no error here
    done.shutdown_write()
    assert not done.send_ready() and done.send(b"more") == 0
    done.close()
