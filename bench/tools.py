"""The three tools under test: their working directories, inventories and command lines.

Each tool gets its own working directory (laid out at run time from the committed
workload files), its own inventory of the same servers, and its own folder on the
servers (``/srv/bench-<tool>/<workload>``), so runs of different tools can be
interleaved without touching each other's state.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.workload import BENCH, RELEASE_VAR, SCALE_DIR, SCALE_SIZES, TEMPLATE_VARS, W1_DIR
from tests.testbed.servers import TestServer

REPO = BENCH.parent
VENVS = BENCH / ".venvs"
PEER_PACKAGES = {"ansible": "ansible-core", "pyinfra": "pyinfra"}
WORKLOADS = ("w1", *(f"scale{n}" for n in SCALE_SIZES))


@dataclass
class Outcome:
    """What one run reported: per-host changed counts (None if unknown) and an error, if any."""

    changed: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    extra: dict[str, dict[str, int]] = field(default_factory=dict)  # per-host self-reported round trips


def ensure_venv(tool: str) -> Path:
    """``bench/.venvs/<tool>`` with the peer installed by pip (created on first use); its bin dir."""
    venv = VENVS / tool
    exe = venv / "bin" / ("ansible-playbook" if tool == "ansible" else "pyinfra")
    if not exe.exists():
        print(f"[bench] creating {venv.relative_to(REPO)} with pip install {PEER_PACKAGES[tool]}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", PEER_PACKAGES[tool]], check=True,
                       timeout=1800)
    return venv / "bin"


def _copy_tree(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        if path.is_file():
            shutil.copyfile(path, dest / path.name)


def _playbooks(kind: str) -> dict[str, Path]:
    found = {"w1": W1_DIR / kind / ("deploy.py" if kind == "pyinfra" else "w1.yml")}
    for n in SCALE_SIZES:
        found[f"scale{n}"] = SCALE_DIR / kind / (f"deploy{n}.py" if kind == "pyinfra" else f"tasks{n}.yml")
    return found


class Tool:
    """One tool: lay out its working dir, build a command line, read its outcome."""

    name = ""
    kind = ""  # which committed playbooks it runs (defaults to name)

    def __init__(self, workdir: Path, servers: dict[str, TestServer]) -> None:
        self.dir = workdir / self.name
        self.servers = servers
        self.root = f"/srv/bench-{self.name}"
        self.env = dict(os.environ)
        self.playbooks: dict[str, Path] = {}
        self.dir.mkdir(parents=True)
        _copy_tree(W1_DIR / "files", self.dir / "files")
        _copy_tree(W1_DIR / "templates", self.dir / "templates")
        _copy_tree(SCALE_DIR / "templates", self.dir / "templates")
        for workload, source in _playbooks(self.kind or self.name).items():
            shutil.copyfile(source, self.dir / source.name)
            self.playbooks[workload] = self.dir / source.name
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text("".join(s.known_hosts_file.read_text() for s in servers.values()))
        self.key_file = str(next(iter(servers.values())).key_file)
        self.setup()

    def setup(self) -> None:
        """Write the tool's inventory and config."""

    def version(self) -> str:
        raise NotImplementedError

    def command(self, workload: str, hosts: list[str], release: str | None) -> list[str]:
        """The command line for ``workload`` on ``hosts`` (all, or one), optionally changing the release."""
        raise NotImplementedError

    def outcome(self, proc: subprocess.CompletedProcess[str], hosts: list[str]) -> Outcome:
        raise NotImplementedError

    def before_first_run(self) -> None:
        """Reset anything a first run would not have (ansible's ControlPersist masters)."""

    def close(self) -> None:
        """Release what the tool keeps between runs."""

    def remove(self) -> None:
        """Release everything at the end of the bench."""
        self.close()

    def remote_dir(self, workload: str) -> str:
        return f"{self.root}/{workload}"

    def _all(self, hosts: list[str]) -> bool:
        return len(hosts) == len(self.servers)


def _tail(proc: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    text = (proc.stdout or "") + (proc.stderr or "")
    return "\n".join(text.strip().splitlines()[-lines:])


class Moorage(Tool):
    """``moorage play PLAYBOOK --host h01|bench --inventory DIR --json``."""

    name = "moorage"

    def setup(self) -> None:
        self.exe = REPO / ".venv" / "bin" / "moorage"
        inventory = self.dir / "inventory"
        inventory.mkdir()
        shutil.copyfile(self.known_hosts, inventory / "known_hosts")
        hosts = {name: {"address": s.address, "port": s.port, "user": s.user, "ssh_key": str(s.key_file)}
                 for name, s in self.servers.items()}
        data = {"project": "bench", "known_hosts": "known_hosts",
                "vars": {"bench_root": self.root, RELEASE_VAR: "1", **TEMPLATE_VARS},
                "environments": {"bench": {"hosts": hosts}}}
        (inventory / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        self.inventory = inventory

    def version(self) -> str:
        proc = subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-c",
                               "import importlib.metadata as m; print(m.version('moorage'))"],
                              capture_output=True, text=True, check=False)
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip()
        return f"moorage {proc.stdout.strip()} (git {head})"

    def command(self, workload: str, hosts: list[str], release: str | None) -> list[str]:
        target = "bench" if self._all(hosts) and len(hosts) > 1 else hosts[0]
        argv = [str(self.exe), "play", str(self.playbooks[workload]), "--host", target,
                "--inventory", str(self.inventory), "--json"]
        return argv + (["--set", f"{RELEASE_VAR}={release}"] if release else [])

    def outcome(self, proc: subprocess.CompletedProcess[str], hosts: list[str]) -> Outcome:
        out = Outcome()
        for line in proc.stdout.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("kind") == "recap":
                data = event.get("data", {})
                out.changed[event["host"]] = int(data.get("changed", 0))
                if data.get("failed") or data.get("unreachable"):
                    out.error = f"{event['host']}: {data}"
                out.extra[event["host"]] = {k: int(data[k]) for k in ("connections", "commands") if k in data}
        if proc.returncode != 0 or set(out.changed) != set(hosts):
            out.error = out.error or f"exit {proc.returncode}, recap for {sorted(out.changed)}:\n{_tail(proc)}"
        return out


class Ansible(Tool):
    """``ansible-playbook`` with pipelining and ControlPersist (its fastest settings), forks 10."""

    name = "ansible"

    def setup(self) -> None:
        self.bin = ensure_venv("ansible")
        self.control_dir = Path(f"/tmp/bench-cp-{os.getpid()}")  # short: unix socket paths max 108 bytes
        self.control_dir.mkdir(exist_ok=True)
        lines = ["[bench]"]
        for name, s in self.servers.items():
            lines.append(f"{name} ansible_host={s.address} ansible_port={s.port} ansible_user={s.user} "
                         f"ansible_ssh_private_key_file={s.key_file}")
        lines += ["", "[all:vars]", f"bench_root={self.root}", f"{RELEASE_VAR}=1"]
        (self.dir / "inventory.ini").write_text("\n".join(lines) + "\n")
        (self.dir / "ansible.cfg").write_text(f"""\
[defaults]
inventory = {self.dir / 'inventory.ini'}
forks = 10
host_key_checking = True
gathering = explicit
interpreter_python = /usr/bin/python3
retry_files_enabled = False
nocows = 1

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={self.known_hosts} \
-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes
control_path_dir = {self.control_dir}
""")
        self.env.update(ANSIBLE_CONFIG=str(self.dir / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_LOCAL_TEMP=str(self.dir / "tmp"))

    def version(self) -> str:
        proc = subprocess.run([str(self.bin / "ansible-playbook"), "--version"], capture_output=True,
                              text=True, check=False)
        return proc.stdout.splitlines()[0].replace("ansible-playbook [core ", "ansible-core ").rstrip("]")

    def command(self, workload: str, hosts: list[str], release: str | None) -> list[str]:
        argv = [str(self.bin / "ansible-playbook"), str(self.playbooks[workload])]
        if not self._all(hosts):
            argv += ["--limit", ",".join(hosts)]
        return argv + (["-e", f"{RELEASE_VAR}={release}"] if release else [])

    def outcome(self, proc: subprocess.CompletedProcess[str], hosts: list[str]) -> Outcome:
        out = Outcome()
        for m in re.finditer(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                             proc.stdout, re.M):
            out.changed[m.group(1)] = int(m.group(3))
            if int(m.group(4)) or int(m.group(5)):
                out.error = f"{m.group(1)} unreachable={m.group(4)} failed={m.group(5)}"
        if proc.returncode != 0 or set(out.changed) != set(hosts):
            out.error = out.error or f"exit {proc.returncode}:\n{_tail(proc)}"
        return out

    def before_first_run(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ControlPersist masters this tool started (by their control sockets)."""
        for sock in self.control_dir.iterdir() if self.control_dir.exists() else []:
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"], capture_output=True,
                           timeout=30, check=False)

    def remove(self) -> None:
        """Stop the masters and remove the control socket directory (end of the bench)."""
        self.close()
        shutil.rmtree(self.control_dir, ignore_errors=True)


class Pyinfra(Tool):
    """``pyinfra -y --parallel 10 inventory.py deploy.py`` (stock settings)."""

    name = "pyinfra"

    def setup(self) -> None:
        self.bin = ensure_venv("pyinfra")
        hosts = []
        for name, s in self.servers.items():
            data = {"ssh_hostname": s.address, "ssh_port": s.port, "ssh_user": s.user,
                    "ssh_key": str(s.key_file), "ssh_known_hosts_file": str(self.known_hosts),
                    "ssh_strict_host_key_checking": "yes", "bench_root": self.root, RELEASE_VAR: "1"}
            hosts.append(f"    ({name!r}, {data!r}),")
        (self.dir / "inventory.py").write_text("bench = [\n" + "\n".join(hosts) + "\n]\n")

    def version(self) -> str:
        proc = subprocess.run([str(self.bin / "pyinfra"), "--version"], capture_output=True, text=True,
                              check=False)
        return proc.stdout.strip().replace(": v", " ")

    def command(self, workload: str, hosts: list[str], release: str | None) -> list[str]:
        argv = [str(self.bin / "pyinfra"), "-y", "--parallel", "10"]
        if not self._all(hosts):
            argv += ["--limit", ",".join(hosts)]
        if release:
            argv += ["--data", f"{RELEASE_VAR}={release}"]
        return [*argv, "inventory.py", self.playbooks[workload].name]

    def outcome(self, proc: subprocess.CompletedProcess[str], hosts: list[str]) -> Outcome:
        out = Outcome()
        text = proc.stdout + proc.stderr
        # After each operation pyinfra logs "[host] Success" (it ran commands) or "[host] No changes".
        for name in hosts:
            statuses = re.findall(rf"^\s*\[{re.escape(name)}\] (Success|No changes)", text, re.M)
            if statuses:
                out.changed[name] = statuses.count("Success")
        if proc.returncode != 0 or set(out.changed) != set(hosts):
            out.error = f"exit {proc.returncode}:\n{_tail(proc)}"
        return out


NODELAY_PATCH = """\
# Loaded by Python at start-up (PYTHONPATH): set TCP_NODELAY on every paramiko transport's socket.
import socket

import paramiko.transport

_init = paramiko.transport.Transport.__init__


def _init_nodelay(self, sock, *args, **kwargs):
    _init(self, sock, *args, **kwargs)
    try:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


paramiko.transport.Transport.__init__ = _init_nodelay
"""


class PyinfraNodelay(Pyinfra):
    """pyinfra with TCP_NODELAY forced on its paramiko sockets (a patch, not a pyinfra setting).

    Not what users get, but it shows pyinfra without the ~40 ms Nagle/delayed-ACK stall
    per round trip, so the comparison is also made against pyinfra at its best.
    """

    name = "pyinfra-nodelay"
    kind = "pyinfra"

    def setup(self) -> None:
        super().setup()
        site = self.dir / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(NODELAY_PATCH)
        self.env["PYTHONPATH"] = str(site)

    def version(self) -> str:
        return super().version() + " + TCP_NODELAY patch"


TOOLS: dict[str, type[Tool]] = {"moorage": Moorage, "ansible": Ansible, "pyinfra": Pyinfra,
                                "pyinfra-nodelay": PyinfraNodelay}
