"""Shipping shows a progress bar per host in bytes (issue #18): the archive's bytes sent of the
total, as ``step`` events (start, advance, end), while the host reads the stream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from moorage.connection.base import CommandResult
from moorage.operations.base import Ship, TaskFailed
from moorage.operations.image import _Bar, _stream
from moorage.operations.image_layers import copy_whole


class SlowHost:
    """Reads its stdin 64 KB every 20 ms (a slow link), then answers ``exit_code``."""

    def __init__(self, exit_code: int = 0) -> None:
        self.exit_code, self.received = exit_code, 0

    def run(self, command: str, stdin: Any = None) -> CommandResult:
        while data := stdin.read(65536):
            self.received += len(data)
            time.sleep(0.02)
        return CommandResult(command, self.exit_code, b"", b"no space left on device" if self.exit_code else b"")


def test_the_bar_follows_the_bytes_sent(tmp_path: Path) -> None:
    archive = tmp_path / "saved.tar"
    archive.write_bytes(b"\0" * (3 << 20))  # 48 reads of 64 KB: about a second
    events: list[tuple[str, dict[str, Any]]] = []
    bar = _Bar(lambda summary, data: events.append((summary, data)), "ship web:2 whole")
    host = SlowHost()
    sent = _stream(host, Ship(("web:2",)), lambda sink: copy_whole(archive, sink, bar), bar)  # type: ignore[arg-type]
    assert sent == host.received == 3 << 20
    phases = [data["phase"] for _, data in events]
    assert phases[0] == "start" and phases[-1] == "end" and "advance" in phases
    assert {summary for summary, _ in events} == {"ship web:2 whole"}
    done = [data["done"] for _, data in events if "done" in data]
    assert done == sorted(done) and all(data["total"] == 3 << 20 for _, data in events if "total" in data)


def test_a_failed_load_ends_the_bar_and_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "saved.tar"
    archive.write_bytes(b"\0" * (3 << 20))
    events: list[str] = []
    bar = _Bar(lambda summary, data: events.append(data["phase"]), "ship web:2 whole")
    with pytest.raises(TaskFailed, match="docker load failed on the host"):
        _stream(SlowHost(exit_code=1), Ship(("web:2",)),  # type: ignore[arg-type]
                lambda sink: copy_whole(archive, sink, bar), bar)
    assert events[-1] == "end"


def test_an_engine_that_does_not_answer_is_said_before_anything_is_shipped() -> None:
    """With dockerd down every image reads "missing", and the ship used to fail half-way with
    docker load's error (or "connection lost"): the check's own ``docker info`` says it first."""
    from moorage.operations.base import Change, Check, OpContext, Shell
    from moorage.operations.image import Image

    class EngineDown:
        commands: list[str] = []

        def run(self, command: str, stdin: Any = None) -> CommandResult:
            self.commands.append(command)
            out = b"app:2 missing differs\n@@moorage-layers\n@@moorage-no-engine\n"
            return CommandResult(command, 1, out, b"Cannot connect to the Docker daemon at unix:///var/run/docker.sock")

    op = Image({"images": ["app:2"], "source": "ship"}, OpContext("vps", {}))
    host = EngineDown()
    change = Change("ship app:2", [Check("the check"), Ship(("app:2",)), Shell("the ids")])
    with pytest.raises(TaskFailed, match="the Docker engine on vps does not answer") as failed:
        op.apply(change, host)  # type: ignore[arg-type]
    assert "Cannot connect to the Docker daemon" in failed.value.stderr and host.commands == ["the check"]
