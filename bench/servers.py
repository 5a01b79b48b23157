"""Test servers for the benchmark, and counting the SSH work each tool asks of them.

The servers are the test suite's sshd containers (``tests/testbed``) with one
addition: the full ``python3`` package.  The test image only has
``python3-minimal``, which lacks ``json`` and ``shutil``, and every Ansible
module needs those; moorage and pyinfra do not use Python on the target.

Counting: ``LogLevel DEBUG1`` makes sshd log every channel request (``exec``,
``subsystem`` for SFTP) and every new connection.  ``SessionCounter`` switches it on
(``sshd_config.d`` + SIGHUP, which makes sshd re-exec itself with the new config)
and reads ``docker logs`` between two marks.  Timed runs keep the default
``LogLevel INFO``.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from dataclasses import dataclass

from tests.testbed.images import ensure_image
from tests.testbed.servers import Testbed, TestServer, docker

IMAGE = "moorage-bench/sshd-python3:latest"
LABEL = "moorage.bench.inputs"
DOCKERFILE = """\
ARG PARENT
FROM ${PARENT}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 \\
 && rm -rf /var/lib/apt/lists/*
"""
DEBUG_CONF = "/etc/ssh/sshd_config.d/zz-bench-debug.conf"


def ensure_bench_image() -> str:
    """The sshd test image plus ``python3``; rebuilt only when the parent image or recipe changes."""
    parent = ensure_image("sshd")
    parent_id = docker("image", "inspect", "--format", "{{.Id}}", parent).stdout.strip()
    inputs = hashlib.sha256(f"{parent_id}\0{DOCKERFILE}".encode()).hexdigest()
    current = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}"}}}}', IMAGE,
                     check=False)
    if current.returncode == 0 and current.stdout.strip() == inputs:
        return IMAGE
    print(f"[bench] building {IMAGE} (sshd test image + python3)", flush=True)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    proc = subprocess.run(["docker", "build", "--quiet", "--build-arg", f"PARENT={parent}",
                           "--label", f"{LABEL}={inputs}", "-t", IMAGE, "-"],
                          input=DOCKERFILE.encode(), capture_output=True, env=env, timeout=900, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"building {IMAGE} failed:\n{proc.stderr.decode(errors='replace')[-3000:]}")
    return IMAGE


class BenchTestbed(Testbed):
    """A ``Testbed`` whose ``sshd`` servers run the bench image (with python3)."""

    def _image(self, kind: str) -> str:
        if kind == "sshd":
            return ensure_bench_image()
        return super()._image(kind)


def run_in(server: TestServer, command: str, timeout: float = 60) -> str:
    """Run a shell command in the server container (not over SSH: it is not part of any timing)."""
    proc = server.exec(command, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"`{command}` in {server.name} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode(errors="replace")


def _reload_sshd(server: TestServer, conf: str | None) -> None:
    write = f"printf '%s\\n' '{conf}' > {DEBUG_CONF}" if conf else f"rm -f {DEBUG_CONF}"
    run_in(server, f"{write} && /usr/sbin/sshd -t && kill -HUP 1")
    for _ in range(50):  # bounded: sshd re-execs in a few ms
        time.sleep(0.1)
        if "Server listening" in _log_tail(server):
            break
    time.sleep(0.2)


def _log_tail(server: TestServer) -> str:
    proc = docker("logs", "--tail", "3", server.container_id, check=False)
    return proc.stdout + proc.stderr


@dataclass
class Counts:
    """What one host's sshd saw during one tool run."""

    connections: int  # TCP connections authenticated
    sessions: int  # session channels opened
    execs: int  # exec requests (one remote command each)
    sftp: int  # SFTP subsystem requests

    @property
    def commands(self) -> int:
        """Remote commands: exec requests plus SFTP sessions."""
        return self.execs + self.sftp


_PATTERNS = {
    "connections": re.compile(r"Accepted publickey for"),
    "sessions": re.compile(r"session_new: session \d+"),
    "execs": re.compile(r"server_input_channel_req: channel \d+ request exec\b"),
    "sftp": re.compile(r"Starting session: subsystem .sftp."),
}


def count_log(text: str) -> Counts:
    """Count connections, sessions, exec and SFTP requests in sshd DEBUG1 output."""
    return Counts(**{name: len(p.findall(text)) for name, p in _PATTERNS.items()})


class SessionCounter:
    """Counts, per server, what sshd saw between ``mark()`` and ``read()`` (DEBUG1 while enabled)."""

    def __init__(self, servers: list[TestServer]) -> None:
        self.servers = servers
        self._marks: dict[str, int] = {}

    def __enter__(self) -> SessionCounter:
        for server in self.servers:
            _reload_sshd(server, "LogLevel DEBUG1")
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            _reload_sshd(server, None)

    def _log(self, server: TestServer) -> str:
        proc = docker("logs", server.container_id, check=False, timeout=120)
        return proc.stdout + proc.stderr

    def mark(self) -> None:
        self._marks = {s.container_id: len(self._log(s)) for s in self.servers}

    def read(self) -> dict[str, Counts]:
        """Counts per server name since the last ``mark()``."""
        time.sleep(0.3)  # let sshd's last lines (session close) reach the log
        return {s.name: count_log(self._log(s)[self._marks.get(s.container_id, 0):]) for s in self.servers}
