"""Run moorage's input-reading commands in-process on a project written from data.

``write_project`` writes a small valid project (one SSH host, ``web1``, on a port nothing listens
on) with some files replaced; ``run`` calls a CLI task's body as the program would (same
printing, same exit status) and returns what a user sees, timed.  The commands:
``check``, ``check --host web1``, ``inventory --host web1`` and ``deploy --check --host web1``
(whose input check runs before any connection; ``DEPLOY_INPUTS`` runs only that part).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from invoke.exceptions import Exit

from moorage.cli.deploy_tasks import deploy
from moorage.cli.inventory_tasks import check, inventory
from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.project import Project
from moorage.recipes.check import check_before_run

HOSTS = """\
project: demo
known_hosts: known_hosts
vars:
  app_dir: /srv/demo
environments:
  web:
    connection: ssh
    hosts:
      web1: {address: 127.0.0.1, port: 1}
"""
BASE = {"inventory/hosts.yml": HOSTS, "inventory/known_hosts": ""}
DIR = object()      # a file value: make a directory there
ABSENT = None       # a file value: no file there
COMMANDS = ("check", "check --host", "inventory --host", "deploy --check")
DEPLOY_INPUTS = "deploy inputs"  # check_before_run alone: deploy's input check, never a connection


def write_project(root: Path, files: Mapping[str, object] = (), links: Mapping[str, str] = ()) -> Path:
    """``BASE`` with ``files`` (path -> text, bytes, ``DIR`` or ``ABSENT``) and ``links``
    (path -> symbolic link target) over it, under ``root``."""
    for name, content in {**BASE, **dict(files)}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is DIR:
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
    for name, target in dict(links).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)
    return root


# How long a bad input may take.  The work moorage does for it is measured in CPU time: on a 2-core
# machine shared with test servers and other test runs, wall time measured the machine's load (one
# 1 s check took 4.8 s, three times in a row, with two pytest-xdist workers and load 12).  Wall
# time still has a bound: past it, moorage would be waiting on something (a FIFO, a connection).
SECOND = 1.0  # CPU seconds
HANG_SECONDS = 30.0  # wall seconds


@dataclass
class Outcome:
    """What a user sees: exit status, both streams, and how long the command took (seconds: wall
    time; cpu: this process's CPU time, moorage's work)."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    cpu: float = 0.0

    @property
    def quick(self) -> bool:
        return self.cpu < SECOND and self.seconds < HANG_SECONDS

    @property
    def took(self) -> str:
        return f"{self.cpu:.2f}s of CPU in {self.seconds:.2f}s"

    @property
    def error(self) -> str:
        """The error message printed (without ``error: ``), or ``""``."""
        return self.stderr.split("error: ", 1)[1].strip() if "error: " in self.stderr else ""


@contextlib.contextmanager
def inside(root: Path) -> Iterator[None]:
    """Run with ``root`` as the current directory (messages name paths relative to it)."""
    before = Path.cwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(before)


def run(command: str, root: Path, host: str = "web1") -> Outcome:
    """Run ``command`` (one of ``COMMANDS`` or ``DEPLOY_INPUTS``) on the project at ``root``."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    start, cpu = time.perf_counter(), time.process_time()
    with inside(root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            _call(command, host)
        except Exit as exc:
            code = exc.code
        except InputError as exc:  # DEPLOY_INPUTS: what reports_errors turns into exit 2
            print(f"error: {exc}", file=err)
            code = exc.exit_code
    return Outcome(code, out.getvalue(), err.getvalue(), time.perf_counter() - start, time.process_time() - cpu)


def run_quick(command: str, root: Path, host: str = "web1") -> Outcome:
    """``run``, asked up to three times while it is not ``quick``: a busy machine (garbage
    collection, a CPU shared by other threads) may slow one run, a slow input is slow three times."""
    outcome = run(command, root, host)
    for _ in range(2):
        if outcome.quick:
            break
        outcome = run(command, root, host)
    return outcome


def _call(command: str, host: str) -> None:
    project = str(Path.cwd())
    if command == "check":
        check.body(None, project=project)
    elif command == "check --host":
        check.body(None, project=project, host=host)
    elif command == "inventory --host":
        inventory.body(None, project=project, host=host)
    elif command == "deploy --check":
        deploy.body(None, project=project, host=host, check=True)
    elif command == DEPLOY_INPUTS:
        located = Project(Path(project), Path(project) / "inventory")
        check_before_run(located, load_inventory(located.inventory), host, "deploy")
    else:
        raise ValueError(f"unknown command {command!r}")
