"""Shared fixtures: real test servers (Docker containers running sshd, optionally dockerd).

Session-scoped: ``testbed``, ``ssh_key``, ``sshd_server``, ``docker_server`` (started only
when a test asks for it).  Function-scoped factories: ``fresh_server``, ``fresh_servers``.
Helper: ``write_inventory`` (also a fixture returning the function).

Every test under ``tests/integration`` is marked ``integration``; without a working Docker
engine those tests FAIL (they are never skipped: CI must really run them).
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
INTEGRATION_DIR = TESTS_DIR / "integration"
if str(TESTS_DIR) not in sys.path:  # `testbed` is imported by its own name in every layout
    sys.path.insert(0, str(TESTS_DIR))

from testbed import Testbed, TestServer, write_inventory  # noqa: E402

__all__ = ["TestServer", "Testbed", "write_inventory"]


def pytest_configure(config: pytest.Config) -> None:
    """A pytest-xdist worker starts with SIGINT ignored, and a child inherits an ignored signal
    across exec: a `moorage logs --follow` a test stops with Ctrl-C never stopped, and Ctrl-C tests
    found SIG_IGN where Python's handler belongs.  Give the worker Python's usual SIGINT handler."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration with ``integration``; run the modules marked ``long``
    first (stable: the rest keep their order).  Under pytest-xdist (``--no-loadscope-reorder``, as
    scripts/test.sh runs it) a long module started last would end the run alone on one worker."""
    for item in items:
        if INTEGRATION_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@functools.cache
def docker_problem() -> str | None:
    """Why the Docker engine can't be used, or None when ``docker info`` answers."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30s"
    if proc.returncode != 0:
        return f"`docker info` failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
    return None


def _require_docker() -> None:
    problem = docker_problem()
    if problem:
        pytest.fail(f"integration tests need a running Docker engine, and {problem}. "
                    "Run `bash scripts/bootstrap.sh` (installs and starts dockerd), "
                    "or run only the unit tests with `-m 'not integration'`.", pytrace=False)


@pytest.fixture(autouse=True)
def _integration_needs_docker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("integration"):
        _require_docker()


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    """The run's Testbed: one key pair, every server it starts removed at session end."""
    _require_docker()
    tb = Testbed()
    try:
        yield tb
    finally:
        tb.close()


@pytest.fixture(scope="session")
def ssh_key(testbed: Testbed) -> Path:
    """Path of the run's private ed25519 key (authorized as root on every test server)."""
    return testbed.key_file


@pytest.fixture(scope="session")
def sshd_server(testbed: Testbed) -> TestServer:
    """One plain sshd server shared by the session: don't leave state other tests would trip on."""
    return testbed.start("sshd", name="sshd")


@pytest.fixture(scope="session")
def docker_server(testbed: Testbed) -> TestServer:
    """One server with its own Docker engine + compose, shared by the session (80/443 published).

    Tests must remove the compose projects/containers they create on it.
    """
    return testbed.start("dockerhost", name="docker")


@pytest.fixture
def fresh_server(testbed: Testbed) -> Iterator[Callable[..., TestServer]]:
    """Factory ``fresh_server(kind="sshd", name=None, publish=None) -> TestServer``.

    Each call starts a new server of its own; all are removed when the test ends.
    """
    started: list[TestServer] = []

    def factory(kind: str = "sshd", name: str | None = None,
                publish: Sequence[int] | None = None) -> TestServer:
        server = testbed.start(kind, name=name, publish=publish)
        started.append(server)
        return server

    yield factory
    for server in started:
        testbed.stop(server)


@pytest.fixture
def fresh_servers(testbed: Testbed) -> Iterator[Callable[..., dict[str, TestServer]]]:
    """Factory ``fresh_servers({name: kind, ...}, publish=None) -> {name: TestServer}``.

    Starts all containers first, then waits for all (faster than one by one); removed at test end.
    """
    started: list[TestServer] = []

    def factory(kinds: Mapping[str, str], publish: Sequence[int] | None = None) -> dict[str, TestServer]:
        servers = testbed.start_many(kinds, publish=publish)
        started.extend(servers.values())
        return servers

    yield factory
    for server in started:
        testbed.stop(server)


@pytest.fixture(name="write_inventory")
def _write_inventory_fixture() -> Callable[..., Path]:
    """The ``write_inventory(dir, servers, environments=None, extra_vars=None) -> Path`` helper."""
    return write_inventory


@pytest.fixture(scope="session")
def installed_moorage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``moorage`` console script of a fresh venv holding only the wheel built from this
    checkout and its dependencies: moorage as a user installs it (``pip install moorage``).

    Under pytest-xdist the workers share one venv: the first to ask builds it (``pip wheel`` builds
    in the checkout's build/, which two builds at once would trample), the others wait on a lock.
    """
    where = _run_dir(tmp_path_factory) / "wheel"
    where.mkdir(exist_ok=True)
    script = where / "venv" / "bin" / "moorage"
    with open(where / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (where / ".done").exists():
            _build_venv(where)
            (where / ".done").touch()
    return script


def _run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temp dir: shared by its xdist workers (each has its own basetemp below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _build_venv(where: Path) -> None:
    repo = TESTS_DIR.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(where), str(repo)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = where.glob("moorage-*.whl")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", str(wheel)], check=True, capture_output=True,
                   timeout=900)
