"""``interactive.relay`` without a server: a local process seen as a channel (``LocalChannel``)
gets our stdin to its end, its stdout and stderr reach ours apart, its exit status comes back."""

from __future__ import annotations

import io
import os
import sys

from moorage.connection.interactive import relay
from moorage.connection.local import LocalChannel


def _attached(monkeypatch, stdin: bytes) -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    read, write = os.pipe()
    os.write(write, stdin)
    os.close(write)
    monkeypatch.setattr(sys, "stdin", os.fdopen(read, "r"))
    out, err = io.TextIOWrapper(io.BytesIO()), io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def test_stdin_is_forwarded_to_its_end_and_the_status_comes_back(monkeypatch):
    out, err = _attached(monkeypatch, b"line one\nline two\n")
    channel = LocalChannel(["sh", "-c", "tr a-z A-Z; echo done >&2; exit 4"])
    try:
        status = relay(channel, tty=False, forward_stdin=True)
    finally:
        channel.close()
    assert status == 4
    assert out.buffer.getvalue() == b"LINE ONE\nLINE TWO\n"
    assert err.buffer.getvalue() == b"done\n"


def test_without_stdin_the_command_reads_nothing(monkeypatch):
    out, _ = _attached(monkeypatch, b"never read\n")
    channel = LocalChannel(["sh", "-c", "echo out; exit 0"])
    try:
        assert relay(channel, tty=False, forward_stdin=False) == 0
    finally:
        channel.close()
    assert out.buffer.getvalue() == b"out\n"
