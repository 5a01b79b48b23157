"""Real test servers: containers running OpenSSH (and optionally their own dockerd).

A ``Testbed`` owns one test run: one generated ed25519 key pair, a temp dir for
known_hosts files, and every container and volume it started (named
``moorage-test-<runid>-<name>``).  ``close()`` — also run at interpreter exit
and on SIGTERM — removes exactly those, by id.

Every port is published on 127.0.0.1 only, with a port Docker chooses; tests
talk to ``server.address:server.port`` and never to a container's own address.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .images import ensure_image

if TYPE_CHECKING:
    from moorage.connection import Target

KINDS = ("sshd", "dockerhost", "bare", "nginxhost")
# bare: the sshd image (no Docker) started like a dockerhost (capabilities, cgroups, a volume at
# /var/lib/docker), so onboarding can install and run Docker and a firewall in it.
IMAGE_OF = {"bare": "sshd"}
WITH_ENGINE_FLAGS = ("dockerhost", "bare", "nginxhost")
READY_TIMEOUT = 60.0
# What a test server with an inner engine needs (see TESTBED.md: --privileged is refused here).
DOCKERHOST_FLAGS = (
    "--cap-add=ALL", "--cap-drop=SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--tmpfs", "/run", "--tmpfs", "/var/run",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
)


def docker(*args: str, check: bool = True, timeout: float = 120,
           input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI on the controller; raise with its stderr when ``check`` and it fails."""
    proc = subprocess.run(["docker", *args], capture_output=True, timeout=timeout, check=False,
                          input=input)
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                      proc.stderr.decode("utf-8", "replace"))
    if check and proc.returncode != 0:
        raise RuntimeError(f"`docker {' '.join(args[:4])}` failed ({proc.returncode}): {out.stderr.strip()}")
    return out


@dataclass
class TestServer:
    """One running test server, reachable over SSH on a loopback port."""

    __test__ = False  # not a pytest test class

    name: str
    container_id: str
    address: str
    port: int
    user: str
    key_file: Path
    known_hosts_file: Path
    kind: str = "sshd"
    ports: dict[int, int] = field(default_factory=dict)
    volume: str | None = None  # the inner engine's /var/lib/docker (dockerhost only)
    container_name: str = ""  # moorage-test-<runid>-<name>-<n>
    host_key: str = ""  # "ssh-ed25519 AAAA..."
    network_address: str = ""  # its address on the run's own network (``network=``), as its peers see it

    def exec(self, cmd: str, input: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run ``cmd`` with ``sh -c`` inside the container (for test assertions, not for the engine)."""
        args = ["docker", "exec", *(["-i"] if input is not None else []), self.container_id, "sh", "-c", cmd]
        return subprocess.run(args, input=input, capture_output=True, timeout=timeout, check=False)

    def target(self, **overrides: Any) -> Target:
        """A ``moorage.connection.Target`` for this server; keyword arguments override fields."""
        from moorage.connection import Target

        fields: dict[str, Any] = {
            "name": self.name, "connection": "ssh", "address": self.address, "port": self.port,
            "user": self.user, "key_file": str(self.key_file),
            "known_hosts": (str(self.known_hosts_file),),
        }
        fields.update(overrides)
        return Target(**fields)

    def url(self, container_port: int = 80, path: str = "/", scheme: str = "http") -> str:
        """``http://127.0.0.1:<published port><path>`` for a port published with ``publish=``."""
        return f"{scheme}://{self.address}:{self.ports[container_port]}{path}"

    def stop(self) -> None:
        """Remove the container (and its inner engine's volume) by id; safe to call twice."""
        docker("rm", "-f", "-v", self.container_id, check=False, timeout=120)
        if self.volume:
            docker("volume", "rm", "-f", self.volume, check=False)


_live: weakref.WeakSet[Testbed] = weakref.WeakSet()


def _close_all() -> None:
    for tb in list(_live):
        tb.close()


atexit.register(_close_all)


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind so finalizers and atexit run


class Testbed:
    """Starts test servers for one run and removes exactly what it started."""

    __test__ = False

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or secrets.token_hex(3)
        self.prefix = f"moorage-test-{self.run_id}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{self.prefix}-"))
        self.key_file = self.workdir / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.prefix,
                        "-f", str(self.key_file)], check=True, capture_output=True, timeout=30)
        self.public_key = self.key_file.with_suffix(".pub").read_text().strip()
        self.servers: list[TestServer] = []
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._refs: dict[str, str] = {}
        self.networks: list[str] = []  # ids of the networks this run created (removed after its servers)
        self.closed = False
        _live.add(self)
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
            signal.signal(signal.SIGTERM, _on_sigterm)

    # -- starting ---------------------------------------------------------------
    def start(self, kind: str = "sshd", name: str | None = None,
              publish: Sequence[int] | None = None) -> TestServer:
        """Start one test server and wait until it answers SSH (and ``docker info`` for dockerhost).

        ``publish`` lists extra container ports to publish on loopback (default: 80 and 443
        for ``dockerhost`` and ``bare``, none for ``sshd``); read them back from ``server.ports``.
        """
        return self.start_many({name or kind: kind}, publish=publish)[name or kind]

    def network(self, name: str = "net") -> str:
        """Create a user-defined bridge network for this run (``<prefix>-<name>``) and return its name:
        servers started with ``network=`` it reach each other by ``network_address`` (a swarm's nodes)."""
        full = f"{self.prefix}-{name}"
        net_id = docker("network", "create", "--label", f"moorage-test.run={self.run_id}", full).stdout.strip()
        with self._lock:
            self.networks.append(net_id)
        return full

    def start_many(self, kinds: Mapping[str, str], publish: Sequence[int] | None = None,
                   network: str | None = None) -> dict[str, TestServer]:
        """Start several servers (``{name: kind}``): all containers first, then wait for all.
        ``network``: a network from ``network()`` they join instead of Docker's default bridge."""
        for kind in kinds.values():
            if kind not in KINDS:
                raise ValueError(f"unknown test server kind {kind!r}; use one of {', '.join(KINDS)}")
        refs = {kind: self._image(kind) for kind in set(kinds.values())}
        started = {name: self._run(name, kind, refs[kind], publish, network) for name, kind in kinds.items()}
        try:
            for server in started.values():
                self._wait_ready(server)
        except BaseException:
            for server in started.values():
                self._stop(server)
            raise
        return started

    def _image(self, kind: str) -> str:
        if kind not in self._refs:  # checked once per run: the hash covers a 60 MB binary
            self._refs[kind] = ensure_image(IMAGE_OF.get(kind, kind))
        return self._refs[kind]

    def _run(self, name: str, kind: str, ref: str, publish: Sequence[int] | None,
             network: str | None = None) -> TestServer:
        if self.closed:
            raise RuntimeError("this Testbed is closed")
        if publish is None:
            publish = (80, 443) if kind in WITH_ENGINE_FLAGS else ()
        cname = f"{self.prefix}-{name}-{next(self._names)}"
        args = ["run", "-d", "--name", cname, "--hostname", name[:63],
                "--label", f"moorage-test.run={self.run_id}",
                "-e", f"AUTHORIZED_KEYS={self.public_key}", "-p", "127.0.0.1::22"]
        args += [a for p in publish for a in ("-p", f"127.0.0.1::{int(p)}")]
        args += ["--network", network] if network else []
        volume = None
        if kind in WITH_ENGINE_FLAGS:
            volume = f"{cname}-docker"
            docker("volume", "create", "--label", f"moorage-test.run={self.run_id}", volume)
            args += [*DOCKERHOST_FLAGS, "-v", f"{volume}:/var/lib/docker"]
        try:
            cid = docker(*args, ref).stdout.strip()
        except BaseException:
            if volume:
                docker("volume", "rm", "-f", volume, check=False)
            raise
        server = TestServer(name=name, container_id=cid, address="127.0.0.1", port=0, user="root",
                            key_file=self.key_file, known_hosts_file=self.workdir / f"known_hosts.{cname}",
                            kind=kind, volume=volume, container_name=cname)
        with self._lock:
            self.servers.append(server)
        try:
            bindings = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}",
                                         cid).stdout)
            published = {int(k.split("/")[0]): int(v[0]["HostPort"]) for k, v in bindings.items() if v}
            if network:
                server.network_address = docker(
                    "inspect", "--format", f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}',
                    cid).stdout.strip()
        except BaseException:
            self._stop(server)
            raise
        server.port = published.pop(22)
        server.ports = published
        return server

    # -- waiting ----------------------------------------------------------------
    def _wait_ready(self, server: TestServer, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        for attempt in itertools.count():
            if _ssh_banner(server.address, server.port):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"test server {server.name} did not answer SSH on "
                                   f"{server.address}:{server.port} within {timeout:.0f}s{_logs(server)}")
            if attempt % 10 == 9:
                self._check_running(server)
            time.sleep(0.1)
        proc = server.exec("cat /etc/ssh/ssh_host_ed25519_key.pub", timeout=30)
        if proc.returncode != 0:
            raise RuntimeError(f"cannot read the host key of {server.name}: {proc.stderr.decode()}")
        key_type, key_b64 = proc.stdout.decode().split()[:2]
        server.host_key = f"{key_type} {key_b64}"
        server.known_hosts_file.write_text(f"[{server.address}]:{server.port} {server.host_key}\n")
        if server.kind in ("dockerhost", "nginxhost"):
            left = max(1, int((deadline - time.monotonic()) * 10))
            proc = server.exec(f"i=0; until docker info >/dev/null 2>&1; do i=$((i+1)); "
                               f"[ $i -ge {left} ] && exit 1; sleep 0.1; done", timeout=timeout + 10)
            if proc.returncode != 0:
                log = server.exec("tail -n 30 /var/log/dockerd.log").stdout.decode(errors="replace")
                raise RuntimeError(f"the Docker engine inside test server {server.name} did not answer "
                                   f"`docker info` within {timeout:.0f}s; dockerd.log:\n{log}")

    def _check_running(self, server: TestServer) -> None:
        state = docker("inspect", "--format", "{{.State.Status}}", server.container_id, check=False)
        if state.stdout.strip() not in ("running", "created"):
            raise RuntimeError(f"test server {server.name} exited ({state.stdout.strip() or 'gone'})"
                               f"{_logs(server)}")

    # -- images -----------------------------------------------------------------
    def load_images(self, server: TestServer, refs: Iterable[str], timeout: float = 600) -> None:
        """Load local images into a dockerhost server's engine: one ``docker save | docker load``."""
        refs = list(refs)
        if not refs:
            return
        save = subprocess.Popen(["docker", "save", *refs], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            load = subprocess.run(["docker", "exec", "-i", server.container_id, "docker", "load", "-q"],
                                  stdin=save.stdout, capture_output=True, timeout=timeout, check=False)
        finally:
            assert save.stdout is not None
            save.stdout.close()
            save_err = save.stderr.read() if save.stderr else b""
            save.wait(timeout=60)
        if save.returncode != 0 or load.returncode != 0:
            raise RuntimeError(f"loading {', '.join(refs)} into {server.name} failed: "
                               f"{(save_err or load.stderr).decode(errors='replace').strip()}")

    # -- stopping ---------------------------------------------------------------
    def _stop(self, server: TestServer) -> None:
        server.stop()
        with self._lock:
            if server in self.servers:
                self.servers.remove(server)

    def stop(self, server: TestServer) -> None:
        """Remove one server this testbed started."""
        self._stop(server)

    def close(self) -> None:
        """Remove every container and volume this testbed started, and its temp dir."""
        if self.closed:
            return
        self.closed = True
        with self._lock:
            servers, self.servers = list(self.servers), []
        if servers:
            ids = [s.container_id for s in servers]
            docker("rm", "-f", "-v", *ids, check=False, timeout=300)
            volumes = [s.volume for s in servers if s.volume]
            if volumes:
                docker("volume", "rm", "-f", *volumes, check=False)
        with self._lock:
            networks, self.networks = list(self.networks), []
        if networks:
            docker("network", "rm", *networks, check=False)
        shutil.rmtree(self.workdir, ignore_errors=True)
        _live.discard(self)

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ssh_banner(address: str, port: int) -> bool:
    """True once an SSH server (not just docker-proxy) answers with its banner."""
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=2) as s:
        s.settimeout(2)
        return s.recv(64).startswith(b"SSH-")
    return False


def _logs(server: TestServer) -> str:
    proc = docker("logs", "--tail", "20", server.container_id, check=False)
    text = (proc.stdout + proc.stderr).strip()
    return f"; container log:\n{text}" if text else ""


def write_inventory(directory: str | os.PathLike[str], servers: Mapping[str, TestServer],
                    environments: Mapping[str, Sequence[str]] | None = None,
                    extra_vars: Mapping[str, Any] | None = None, *, project: str = "test",
                    env_vars: Mapping[str, Mapping[str, Any]] | None = None,
                    host_fields: Mapping[str, Mapping[str, Any]] | None = None,
                    env_fields: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write ``<directory>/hosts.yml`` (and ``known_hosts``) for these servers; return its path.

    ``servers`` maps inventory host names to servers.  ``environments`` maps environment
    names to host names (default: one environment per host, named like it).  ``extra_vars``
    become the top-level ``vars``; ``env_vars`` an environment's ``vars``; ``host_fields``
    extra keys of a host entry (e.g. ``{"web1": {"become": True}}``); ``env_fields`` extra keys of an
    environment (e.g. ``{"prod": {"orchestrator": "swarm"}}``).
    """
    import yaml

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    environments = environments or {name: [name] for name in servers}
    for env, hosts in environments.items():
        unknown = [h for h in hosts if h not in servers]
        if unknown:
            raise KeyError(f"environment {env!r} names hosts with no server: {', '.join(unknown)}")
    known = "".join(s.known_hosts_file.read_text() for s in servers.values())
    (directory / "known_hosts").write_text(known)
    data = {
        "project": project,
        "known_hosts": "known_hosts",
        "vars": dict(extra_vars or {}),
        "environments": {
            env: {
                **dict((env_fields or {}).get(env, {})),
                "vars": dict((env_vars or {}).get(env, {})),
                "hosts": {
                    h: {"address": servers[h].address, "port": servers[h].port, "user": servers[h].user,
                        "ssh_key": str(servers[h].key_file), **dict((host_fields or {}).get(h, {}))}
                    for h in hosts
                },
            }
            for env, hosts in environments.items()
        },
    }
    path = directory / "hosts.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    return path
