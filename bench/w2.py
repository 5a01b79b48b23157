"""W2 side by side: a 2,000-file media tree (~25 MB) synced to real sshd test servers.

    .venv/bin/python -m bench.w2 [-n RUNS] [--peer-runs N] [--hosts 1,10] [--tools moorage,rsync,...]

Tools: moorage (`sync`, rsync tunnelled through its SSH connection), moorage-tar (the same
with `transport: tar`, the fallback for hosts without rsync), plain rsync over ssh with a warm
ControlMaster (the floor; one rsync per host, all in parallel), rsync-fresh (the same over a
new ssh connection each run, as a one-shot command pays), ansible-core with
`ansible.posix.synchronize` (PyPI package `ansible`, venv bench/.venvs/ansible-full) and
pyinfra `files.sync`.  Scenarios: first sync (remote folder removed first), no-change
resync, 20 files changed (rewritten whole, new mtime).  Each cell is the median of N runs,
tools interleaved round by round; ratios are peer time / moorage time.  Bytes sent in the
20-changed case come from rsync's --stats (moorage, rsync) and from the tar stream's size
(moorage-tar).  Controller CPU: user + system
seconds of the tool's process tree (``RUSAGE_CHILDREN`` around the run), plus for the warm floor
what its ControlMaster processes used meanwhile (they carry its bytes outside that tree).
Writes bench/results/w2.md (+ .json); removes its servers.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.floor_cpu import Meter
from bench.report import _ratio, _table
from bench.servers import BenchTestbed, run_in
from bench.tools import VENVS, Ansible, Moorage, Outcome, Pyinfra, Tool
from bench.w1 import environment

W2 = Path(__file__).resolve().parent / "w2"
RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("first", "nochange", "changed20")
FILES, CHANGED, STAMP = 2000, 20, 1_700_000_000
DIRS = ("products", "banners", "avatars/2024", "avatars/2025", "docs")
RUN_TIMEOUT = 1800


def make_media(root: Path) -> int:
    """The W2 tree: 2,000 files of 2-23 kB (random bytes: incompressible), 5 directories, fixed
    mtimes; the same bytes every time (seeded).  Returns the total size."""
    rng = random.Random(2)
    total = 0
    for i in range(FILES):
        path = root / DIRS[i % len(DIRS)] / f"media-{i:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = rng.randbytes(rng.randint(2000, 23000))
        path.write_bytes(data)
        os.utime(path, (STAMP, STAMP))
        total += len(data)
    return total


def change_files(root: Path, round_: int) -> int:
    """Rewrite the same 20 files (every 100th) with new bytes of the same size and a new mtime;
    returns their total size."""
    rng, total = random.Random(1000 + round_), 0
    for i in range(0, FILES, FILES // CHANGED):
        path = root / DIRS[i % len(DIRS)] / f"media-{i:04d}.bin"
        size = path.stat().st_size
        path.write_bytes(rng.randbytes(size))
        os.utime(path, (STAMP + 100 + round_, STAMP + 100 + round_))
        total += size
    return total


def _parallel(argvs: list[list[str]], env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
             for a in argvs]
    done = []
    for argv, proc in zip(argvs, procs, strict=True):
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done


class W2Moorage(Moorage):
    """``moorage play bench/w2/moorage/w2.yml``; bytes sent from the sync task's ``data``."""

    name, kind, transport = "moorage", "moorage", "auto"

    def setup(self) -> None:
        super().setup()
        hosts = self.inventory / "hosts.yml"
        hosts.write_text(hosts.read_text().replace("vars:\n", f"vars:\n  bench_media: {self.media}\n"
                                                   f"  bench_transport: {self.transport}\n", 1))
        shutil.copyfile(W2 / "moorage" / "w2.yml", self.dir / "w2.yml")

    def command(self, hosts: list[str]) -> list[list[str]]:
        target = "bench" if self._all(hosts) and len(hosts) > 1 else hosts[0]
        return [[str(self.exe), "play", str(self.dir / "w2.yml"), "--host", target, "--inventory",
                 str(self.inventory), "--json"]]

    def read(self, procs: list[subprocess.CompletedProcess], hosts: list[str]) -> Outcome:
        out = self.outcome(procs[0], hosts)
        for line in procs[0].stdout.splitlines():
            event = json.loads(line) if line.startswith('{"kind": "task"') else {}
            if event.get("data"):
                out.extra.setdefault(event["host"], {})["wire_bytes"] = event["data"]["wire_bytes"]
        return out


class W2MoorageTar(W2Moorage):
    name, transport = "moorage-tar", "tar"


class W2Ansible(Ansible):
    """ansible-playbook with ansible.posix.synchronize, at its fastest stock settings (bench.tools)."""

    name, kind = "ansible", "ansible"

    def setup(self) -> None:
        super().setup()
        self.bin = VENVS / "ansible-full" / "bin"
        if not (self.bin / "ansible-playbook").exists():
            print("[bench] creating bench/.venvs/ansible-full with pip install ansible (ansible.posix)", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(self.bin.parent)], check=True, timeout=300)
            subprocess.run([str(self.bin / "pip"), "install", "-q", "ansible"], check=True, timeout=3600)
        ini = self.dir / "inventory.ini"
        ini.write_text(ini.read_text() + f"bench_media={self.media}\n")
        shutil.copyfile(W2 / "ansible" / "w2.yml", self.dir / "w2.yml")

    def command(self, hosts: list[str]) -> list[list[str]]:
        limit = [] if self._all(hosts) else ["--limit", ",".join(hosts)]
        return [[str(self.bin / "ansible-playbook"), str(self.dir / "w2.yml"), *limit]]

    def read(self, procs: list[subprocess.CompletedProcess], hosts: list[str]) -> Outcome:
        out = self.outcome(procs[0], hosts)
        if out.error:
            out.error += "\n" + "\n".join(procs[0].stdout.strip().splitlines()[-12:])
        return out


class W2Pyinfra(Pyinfra):
    """pyinfra files.sync (stock settings, --parallel 10)."""

    name, kind = "pyinfra", "pyinfra"

    def setup(self) -> None:
        super().setup()
        shutil.copyfile(W2 / "pyinfra" / "deploy.py", self.dir / "w2.py")
        self.env["BENCH_W2_MEDIA"] = str(self.media)

    def command(self, hosts: list[str]) -> list[list[str]]:
        limit = [] if self._all(hosts) else ["--limit", ",".join(hosts)]
        return [[str(self.bin / "pyinfra"), "-y", "--parallel", "10", *limit, "inventory.py", "w2.py"]]

    def read(self, procs: list[subprocess.CompletedProcess], hosts: list[str]) -> Outcome:
        return self.outcome(procs[0], hosts)


class Rsync:
    """The floor: ``rsync -rlpt --stats`` over ssh with a ControlMaster per host, one rsync per
    host, all at once."""

    name = "rsync"

    def __init__(self, workdir: Path, servers: dict, media: Path) -> None:
        self.servers, self.media, self.env = servers, media, dict(os.environ)
        self.dir = workdir / self.name
        self.dir.mkdir(parents=True)
        self.control = Path(tempfile.mkdtemp(prefix="w2cm-", dir="/tmp"))  # short: socket paths <= 108 bytes
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text("".join(s.known_hosts_file.read_text() for s in servers.values()))

    def remote_dir(self, workload: str = "w2") -> str:
        return f"/srv/bench-{self.name}/{workload}"

    def _ssh(self, server) -> str:
        return (f"ssh -p {server.port} -i {server.key_file} -o UserKnownHostsFile={self.known_hosts} "
                f"-o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o ControlMaster=auto "
                f"-o ControlPath={self.control}/%p -o ControlPersist=120")

    def command(self, hosts: list[str]) -> list[list[str]]:
        return [["rsync", "-rlpt", "--stats", "--mkpath", "-e", self._ssh(self.servers[h]), f"{self.media}/",
                 f"root@127.0.0.1:{self.remote_dir()}/"] for h in hosts]

    def read(self, procs: list[subprocess.CompletedProcess], hosts: list[str]) -> Outcome:
        out = Outcome()
        for host, proc in zip(hosts, procs, strict=True):
            if proc.returncode != 0:
                out.error = f"{host}: rsync exit {proc.returncode}: {proc.stderr[-500:]}"
            sent = [ln for ln in proc.stdout.splitlines() if ln.startswith("Total bytes sent:")]
            files = [ln for ln in proc.stdout.splitlines() if ln.startswith("Number of regular files transferred")]
            out.extra[host] = {"wire_bytes": int(sent[0].split(":")[1].replace(",", "")) if sent else -1}
            out.changed[host] = int(files[0].split(":")[1].replace(",", "")) if files else -1
        return out

    def before_first_run(self) -> None:
        self.close()

    def close(self) -> None:
        for sock in self.control.iterdir():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"], capture_output=True,
                           timeout=30, check=False)

    def version(self) -> str:
        return subprocess.run(["rsync", "--version"], capture_output=True, text=True, check=False).stdout.split(
            "\n")[0].strip() + " + " + subprocess.run(["ssh", "-V"], capture_output=True, text=True,
                                                      check=False).stderr.strip()


class RsyncFresh(Rsync):
    """rsync over a new ssh connection each run (no ControlMaster): a one-shot command's floor,
    since moorage, like any CLI run, opens its connection anew."""

    name = "rsync-fresh"

    def _ssh(self, server) -> str:
        return super()._ssh(server).replace("-o ControlMaster=auto", "-o ControlMaster=no")


TOOLS = {"moorage": W2Moorage, "moorage-tar": W2MoorageTar, "rsync": Rsync, "rsync-fresh": RsyncFresh,
         "ansible": W2Ansible, "pyinfra": W2Pyinfra}


def build(name: str, workdir: Path, servers: dict, media: Path) -> Tool | Rsync:
    if name in ("rsync", "rsync-fresh"):
        return TOOLS[name](workdir, servers, media)
    cls = TOOLS[name]
    cls.media = media  # read by setup(), which Tool.__init__ calls
    return cls(workdir, servers)


@dataclass
class Results:
    n: int
    hosts: list[int]
    tools: list[str]
    seconds: dict[str, list[float]] = field(default_factory=dict)  # "hosts|scenario|tool"
    cpu: dict[str, list[float]] = field(default_factory=dict)  # "hosts|scenario|tool": controller user+sys
    wire: dict[str, list[int]] = field(default_factory=dict)  # "scenario|tool" -> bytes sent per host run
    changed_bytes: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    media_bytes: int = 0
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))


def run_round(tools: dict, servers: dict, hosts: list[str], scenario: str, results: Results, order: list[str]) -> None:
    for name in order:
        tool, key = tools[name], f"{len(hosts)}|{scenario}|{name}"
        if key in results.errors:
            continue
        if scenario == "first":
            for host in hosts:
                run_in(servers[host], f"rm -rf {tool.remote_dir('w2')}")
            tool.before_first_run()
        argvs = tool.command(hosts)
        meter = Meter(tool)  # the run's process tree + its ssh ControlMasters (bench.floor_cpu)
        meter.start()
        start = time.perf_counter()
        try:
            procs = _parallel(argvs, tool.env, tool.dir)
        except subprocess.TimeoutExpired:
            results.errors[key] = f"timed out after {RUN_TIMEOUT}s"
            continue
        seconds = time.perf_counter() - start
        cpu = meter.stop()
        outcome = tool.read(procs, hosts)
        if outcome.error:
            results.errors[key] = outcome.error[-1500:]
            print(f"[bench] {key} FAILED: {outcome.error[-1500:]}", flush=True)
            continue
        results.seconds.setdefault(key, []).append(seconds)
        results.cpu.setdefault(key, []).append(cpu)
        for host in hosts[:1]:
            if "wire_bytes" in outcome.extra.get(host, {}):
                results.wire.setdefault(f"{scenario}|{name}", []).append(outcome.extra[host]["wire_bytes"])
        print(f"[bench] w2 {len(hosts):>2} host(s) {scenario:<9} {name:<11} {seconds:7.2f}s "
              f"cpu={cpu:.2f}s changed={outcome.changed.get(hosts[0])}", flush=True)


def markdown(results: Results) -> str:
    lines = [f"# W2: a 2,000-file media tree ({results.media_bytes / 1e6:.1f} MB), median of {results.n} run(s)", ""]
    peers = [t for t in results.tools if t != "moorage"]
    for count in results.hosts:
        rows = []
        for scenario in results.scenarios:
            med = {t: statistics.median(results.seconds[k]) if (k := f"{count}|{scenario}|{t}") in results.seconds
                   else None for t in results.tools}
            cells = [f"{med[t]:.2f} s" if med[t] is not None else "failed" for t in results.tools]
            ratios = [_ratio(med[p], med.get("moorage")) for p in peers]
            rows.append([scenario, *cells, *ratios])
        header = ["scenario", *results.tools, *[f"{p}/moorage" for p in peers]]
        lines += [f"## {count} host(s)", "", *_table(header, rows), ""]
        cpu_rows = []
        for scenario in results.scenarios:
            med = {t: statistics.median(results.cpu[k]) if (k := f"{count}|{scenario}|{t}") in results.cpu
                   else None for t in results.tools}
            cpu_rows.append([scenario, *[f"{med[t]:.2f} s" if med[t] is not None else "failed"
                                         for t in results.tools],
                             *[_ratio(med.get("moorage"), med[p]) for p in peers]])
        lines += [f"Controller CPU (user + system), {count} host(s):", "",
                  *_table(["scenario", *results.tools, *[f"moorage/{p}" for p in peers]], cpu_rows), ""]
    changed = statistics.median(results.changed_bytes) if results.changed_bytes else 0
    rows = []
    for tool in ("moorage", "moorage-tar", "rsync", "rsync-fresh"):
        sent = results.wire.get(f"changed20|{tool}")
        idle = results.wire.get(f"nochange|{tool}")
        if sent:
            s, i = statistics.median(sent), statistics.median(idle) if idle else 0
            rows.append([tool, f"{s:,.0f}", f"{s / changed:.3f}", f"{i:,.0f}", f"{(s - i) / changed:.3f}"])
    lines += [f"## Bytes sent, {CHANGED} files changed ({changed:,.0f} bytes of file data), one host", "",
              *_table(["tool", "bytes sent", "sent / changed", "no-change run sent (file list)",
                       "(sent - no-change) / changed"], rows), ""]
    lines += ["Errors: " + "; ".join(f"{k}: {v[:300]}" for k, v in results.errors.items()) if results.errors else "",
              "", "Versions: " + "; ".join(f"{k}: {v}" for k, v in results.versions.items()), "",
              "Machine: " + "; ".join(f"{k}: {v}" for k, v in results.environment.items())]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.w2", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--runs", type=int, default=5)
    p.add_argument("--peer-runs", type=int, default=0,
                   help="runs for ansible and pyinfra (default: --runs; pyinfra takes minutes per run)")
    p.add_argument("--hosts", default="1,10")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--out", type=Path, default=RESULTS / "w2.md")
    args = p.parse_args(argv)
    hosts = sorted({int(h) for h in args.hosts.split(",")})
    names = [t for t in args.tools.split(",") if t]
    if any(t not in TOOLS for t in names) or args.runs < 1 or min(hosts) < 1:
        p.error(f"tools are {', '.join(TOOLS)}; runs >= 1; hosts >= 1")
    scenarios = [s for s in args.scenarios.split(",") if s]
    if any(s not in SCENARIOS for s in scenarios):
        p.error(f"scenarios are {', '.join(SCENARIOS)}")
    results = Results(args.runs, hosts, names, environment=environment(), scenarios=scenarios)
    workdir = Path(tempfile.mkdtemp(prefix="moorage-w2-"))
    media = workdir / "media"
    results.media_bytes = make_media(media)
    tools: dict = {}
    with BenchTestbed() as testbed:
        try:
            servers = testbed.start_many({f"h{i:02d}": "sshd" for i in range(1, max(hosts) + 1)})
            tools = {name: build(name, workdir, servers, media) for name in names}
            results.versions = {name: tool.version() for name, tool in tools.items()}
            for count in hosts:
                chosen = list(servers)[:count]
                for scenario in scenarios:
                    if scenario != "first":  # start from converged state, whatever ran before
                        run_round(tools, servers, chosen, "warmup", Results(1, [], []), names)
                    for i in range(args.runs):
                        if scenario == "changed20":
                            results.changed_bytes.append(change_files(media, len(results.changed_bytes)))
                        order = [t for t in names[i % len(names):] + names[:i % len(names)]
                                 if i < (args.peer_runs or args.runs) or t not in ("ansible", "pyinfra")]
                        run_round(tools, servers, chosen, scenario, results, order)
        finally:
            for tool in tools.values():
                tool.close()
            shutil.rmtree(workdir, ignore_errors=True)
    results.environment["load average at end"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    text = markdown(results)
    print("\n" + text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(asdict(results), indent=1))
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
