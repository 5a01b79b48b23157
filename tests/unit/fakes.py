"""An in-memory ``Connection`` for unit tests of the executor (no process, no network).

``FakeConnection`` records every command with its stdin and ``become``, and answers:

1. from its scripted table (``answer(pattern, ...)``: the first regex found in the command,
   or in a batch's script, wins);
2. a facts command (``facts.files.gather_command``) from ``paths``, a dict of path -> ``Node``,
   printed exactly as the script's ``stat``/``sha256sum``/``readlink``/``base64`` would;
3. a batch (``executor.batch.RUN_BATCH``): every task of it done (``@@done N`` for each);
4. anything else: exit 0, no output.

It applies nothing: ``paths`` stays as given, so a test states the host's filesystem up front.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import shlex
import sys
import tarfile
import threading
from dataclasses import dataclass, field
from typing import Any

from moorage.connection.base import ByteStream, Channel, CommandResult, ConnectionStats
from moorage.executor.batch import RUN_BATCH
from moorage.report import Event, Report
from moorage.target import Target

_STAT_KINDS = {"file": "regular file", "dir": "directory", "link": "symbolic link"}


@dataclass(frozen=True)
class Node:
    """One path on the fake host: ``kind`` file/dir/link, ``mode`` as four octal digits."""

    kind: str = "file"
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    content: bytes = b""
    target: str = ""  # for links


@dataclass(frozen=True)
class Call:
    """One command the engine ran: its text, what it sent on stdin, and its ``become``."""

    command: str
    stdin: bytes
    become: bool | None

    @property
    def is_facts(self) -> bool:
        return self.command.startswith("set -- ") and "echo @@stat" in self.command

    @property
    def is_batch(self) -> bool:
        return self.command == RUN_BATCH

    @property
    def script(self) -> str:
        """A batch's script (what it does, from the tar on stdin), else the command itself."""
        if not self.is_batch:
            return self.command
        with tarfile.open(fileobj=io.BytesIO(self.stdin)) as tar:
            member = tar.extractfile("script")
            return member.read().decode() if member else ""

    def fact_paths(self) -> list[str]:
        """The paths a facts command asks about."""
        return shlex.split(self.command.splitlines()[0])[2:]


@dataclass
class _Answer:
    pattern: re.Pattern[str]
    exit_code: int
    stdout: str
    stderr: str


@dataclass
class FakeConnection:
    """A ``Connection`` to a pretend host; see the module docstring for what it answers.

    ``log`` (shared between hosts, optional) receives ``(host, command)`` in the order the
    commands ran across all of them, for tests about batches of hosts."""

    name: str = "web1"
    paths: dict[str, Node] = field(default_factory=dict)
    log: list[tuple[str, str]] | None = None
    calls: list[Call] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        self.target = Target(self.name, address="192.0.2.1")
        self.stats = ConnectionStats()
        self._answers: list[_Answer] = []
        self._lock = threading.Lock()

    def answer(self, pattern: str, exit_code: int = 0, stdout: str = "", stderr: str = "") -> FakeConnection:
        """Answer commands (or batch scripts) in which regex ``pattern`` is found."""
        self._answers.append(_Answer(re.compile(pattern), exit_code, stdout, stderr))
        return self

    # -- the Connection interface ------------------------------------------------------
    def run(self, command: str, stdin: bytes | ByteStream | None = None, timeout: float | None = None,
            become: bool | None = None) -> CommandResult:
        data = stdin if isinstance(stdin, bytes | bytearray) else stdin.read() if stdin else b""
        call = Call(command, bytes(data), become)
        with self._lock:
            self.stats.connections = 1  # opened on first use and kept, as SSHConnection does
            self.stats.commands += 1
            self.stats.bytes_sent += len(data)
            self.calls.append(call)
            if self.log is not None:
                self.log.append((self.name, command))
        exit_code, stdout, stderr = self._respond(call)
        return CommandResult(command, exit_code, stdout.encode(), stderr.encode())

    def open_channel(self, command: str, become: bool | None = None) -> Channel:
        raise AssertionError(f"no channel is scripted in the fake connection (asked for: {command!r})")

    def command_argv(self, command: str, become: bool | None = None) -> list[str] | None:
        return None  # no local process: a sync's stream would ask open_channel

    def interact(self, command: str, *, tty: bool, stdin: bool = True, become: bool | None = None) -> int:
        """Like ``run``, the answer's stdout written to ours as it would stream; its exit status."""
        result = self.run(command, become=become)
        sys.stdout.write(result.text)
        return result.exit_code

    def close(self) -> None:
        self.closed = True

    # -- answers -------------------------------------------------------------------------
    def _respond(self, call: Call) -> tuple[int, str, str]:
        text = call.script
        for scripted in self._answers:
            if scripted.pattern.search(text):
                return scripted.exit_code, scripted.stdout, scripted.stderr
        if call.is_facts:
            return 0, self._facts(call), ""
        if call.is_batch:
            return 0, "".join(f"{line[5:]}\n" for line in text.splitlines() if line.startswith("echo @@done ")), ""
        return 0, "", ""

    def _facts(self, call: Call) -> str:
        """What ``gather_command``'s script prints for the paths it names."""
        present = [(p, self.paths[p]) for p in call.fact_paths() if p in self.paths]
        stat = [f"{_STAT_KINDS[n.kind]}|{int(n.mode, 8):o}|{n.owner}|{n.group}|{p}" for p, n in present]
        sha = [f"{hashlib.sha256(n.content).hexdigest()}  {p}" for p, n in present if n.kind == "file"]
        links = [f"{n.target}|{p}" for p, n in present if n.kind == "link"]
        wanted = re.search(r"^for p in (.*); do \[ -f", call.command, re.MULTILINE)
        contents = [f"{p}\n{base64.b64encode(self.paths[p].content).decode()}"
                    for p in shlex.split(wanted.group(1) if wanted else "")
                    if p in self.paths and self.paths[p].kind == "file"]
        return "\n".join(["@@stat", *stat, "@@sha", *sha, "@@link", *links, "@@content", *contents, ""])

    # -- for assertions ----------------------------------------------------------------
    @property
    def commands(self) -> list[str]:
        return [call.command for call in self.calls]

    def acting(self) -> list[Call]:
        """The calls that are not facts gathering (batches and commands)."""
        return [call for call in self.calls if not call.is_facts]


class Silent:
    """A renderer that shows nothing: tests read ``RecordingReport.events``."""

    def render(self, event: object) -> None:
        pass

    def close(self) -> None:
        pass


class RecordingReport(Report):
    """A report that keeps every event it emitted (masked), for tests to read."""

    def __init__(self) -> None:
        super().__init__(Silent())
        self.events: list[Event] = []

    def emit(self, kind: str, **fields: Any) -> Event:
        event = super().emit(kind, **fields)
        self.events.append(event)
        return event


def quiet_report() -> RecordingReport:
    return RecordingReport()
