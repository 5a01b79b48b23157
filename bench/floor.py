"""Close to the floor (issue 18): W1 plus the 2,000-file media tree in ONE run per tool.

    .venv/bin/python -m bench.floor [-n RUNS] [--hosts 1,10] [--tools moorage,rsync,...]
                                     [--peer-runs N] [--pyinfra-hosts 1] [--no-count] [--no-profile]

Tools: moorage (one ``moorage play`` of W1 + a ``sync`` task of the media tree), rsync over a
warm ssh ControlMaster (the floor: the same end state rendered locally once, one ``rsync -rlpt``
per host, all hosts at once), rsync-fresh (the same over a new ssh connection each run),
ansible-core tuned (W1 playbook + ``ansible.posix.synchronize``) and pyinfra (W1 deploy +
``files.sync``; minutes per run, so ``--peer-runs`` and 1 host by default).  For 1 and 10 hosts:
first run (remote folder removed first, untimed) and no-change rerun, tools interleaved, medians
of N: wall seconds AND controller CPU seconds (user + system of the tool's process tree, see
``bench.floor_cpu``).  Then the media no-change resync alone (moorage ``sync`` vs rsync fresh vs
warm), the SSH work of a no-change run (sshd DEBUG1 log + moorage's recap), and a profile of
moorage's controller CPU on the largest first run (``bench.floor_profile``).  Prints the tables
and the issue's targets, writes bench/results/floor.md (+ .json), removes its servers.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from bench import floor_report
from bench.floor_cpu import Meter
from bench.floor_profile import profile_first_run
from bench.servers import BenchTestbed, SessionCounter, run_in
from bench.tools import VENVS, Outcome
from bench.w1 import environment, write_report
from bench.w2 import W2, Rsync, RsyncFresh, W2Ansible, W2Moorage, W2Pyinfra, _parallel, build, make_media

RESULTS = Path(__file__).resolve().parent / "results"
TOOLS = ("moorage", "rsync", "rsync-fresh", "ansible", "pyinfra")
SCENARIOS = ("first", "nochange")
MEDIA_TOOLS = ("moorage", "rsync-fresh", "rsync")  # the media no-change resync alone (bench.w2's tools)
SLOW = ("ansible", "pyinfra")  # --peer-runs applies to these
RUN_TIMEOUT = 1800


def _with_media_task(w1_play: Path, w2_play: Path) -> str:
    """W1's play with W2's media task appended (both are one play of tasks)."""
    play = yaml.safe_load(w1_play.read_text())
    play[0]["tasks"] += yaml.safe_load(w2_play.read_text())[0]["tasks"]
    return yaml.safe_dump(play, sort_keys=False)


class FloorMoorage(W2Moorage):
    """One ``moorage play`` of W1 + the media ``sync`` (written where W2Moorage's command looks)."""

    def setup(self) -> None:
        super().setup()
        (self.dir / "w2.yml").write_text(_with_media_task(self.playbooks["w1"], W2 / "moorage" / "w2.yml"))

    def read(self, procs: list[subprocess.CompletedProcess], hosts: list[str]) -> Outcome:
        return self.outcome(procs[0], hosts)  # the recap: changed, connections, commands per host


class FloorAnsible(W2Ansible):
    """ansible-core tuned (pipelining, ControlPersist, forks 10): W1 + ``ansible.posix.synchronize``."""

    def setup(self) -> None:
        super().setup()
        (self.dir / "w2.yml").write_text(_with_media_task(self.playbooks["w1"], W2 / "ansible" / "w2.yml"))


class FloorPyinfra(W2Pyinfra):
    """pyinfra (stock, --parallel 10): W1's deploy followed by W2's ``files.sync``."""

    def setup(self) -> None:
        super().setup()
        (self.dir / "w2.py").write_text(self.playbooks["w1"].read_text() + "\n\n"
                                        + (W2 / "pyinfra" / "deploy.py").read_text())


class FloorRsync(Rsync):
    """The floor: the whole end state (``w1/`` + ``w2/``, rendered once by moorage and copied
    back, see ``render_tree``) sent by one ``rsync -rlpt`` per host over a warm ControlMaster."""

    @property
    def root(self) -> str:
        return f"/srv/bench-{self.name}"

    def command(self, hosts: list[str]) -> list[list[str]]:
        return [["rsync", "-rlpt", "--stats", "--mkpath", "-e", self._ssh(self.servers[h]), f"{self.media}/",
                 f"root@127.0.0.1:{self.root}/"] for h in hosts]


class FloorRsyncFresh(FloorRsync, RsyncFresh):
    """The same over a new ssh connection each run (RsyncFresh's ssh options)."""


def build_floor(name: str, workdir: Path, servers: dict, media: Path, tree: Path):
    if name in ("rsync", "rsync-fresh"):
        return (FloorRsync if name == "rsync" else FloorRsyncFresh)(workdir, servers, tree)
    cls = {"moorage": FloorMoorage, "ansible": FloorAnsible, "pyinfra": FloorPyinfra}[name]
    cls.media = media  # read by setup(), which Tool.__init__ calls (as bench.w2.build does)
    return cls(workdir, servers)


def render_tree(server, source_root: str, tree: Path) -> None:
    """Copy what moorage left in ``source_root`` on ``server`` into ``tree`` (modes kept): the
    floor sends exactly the end state the tools produce."""
    proc = server.exec(f"tar -C {source_root} -cf - w1 w2", timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"cannot read {source_root} on {server.name}: {proc.stderr.decode(errors='replace')}")
    tree.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xpf", "-", "-C", str(tree)], input=proc.stdout, check=True, timeout=120)


@dataclass
class Cell:
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # first host's changed count, each run
    error: str | None = None

    def median(self, what: str = "seconds") -> float | None:
        values = getattr(self, what)
        return statistics.median(values) if values else None


@dataclass
class Results:
    n: int
    hosts: list[int]
    tools: list[str]
    command: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)  # "floor|10|first|moorage", "media|1|nochange|rsync"
    recaps: dict[str, list[str]] = field(default_factory=dict)  # "10|nochange" -> moorage per-host recaps
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # sshd DEBUG1: "nochange|moorage"
    profile: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    media_bytes: int = 0

    def cell(self, key: str) -> Cell:
        return self.cells.setdefault(key, Cell())

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)
            print(f"[floor] note: {text}", flush=True)


def run_once(tool, servers: dict, hosts: list[str], scenario: str) -> tuple[float, float, Outcome]:
    """One run (its folders removed first, untimed, for a first run): wall s, controller CPU s, outcome."""
    if scenario == "first":
        root = getattr(tool, "root", None) or f"/srv/bench-{tool.name}"
        for host in hosts:
            run_in(servers[host], f"rm -rf {root}")
        tool.before_first_run()
    meter = Meter(tool)
    meter.start()
    start = time.perf_counter()
    try:
        procs = _parallel(tool.command(hosts), tool.env, tool.dir)
    except subprocess.TimeoutExpired:
        return RUN_TIMEOUT, 0.0, Outcome(error=f"timed out after {RUN_TIMEOUT}s")
    seconds = time.perf_counter() - start
    cpu = meter.stop()
    return seconds, cpu, tool.read(procs, hosts)


def measure(tools: dict, servers: dict, results: Results, prefix: str, count: int, scenario: str,
            n: int, peer_runs: int) -> None:
    """``n`` rounds, every tool once per round, the order rotating (slow peers: ``peer_runs``)."""
    names, hosts = list(tools), list(servers)[:count]
    for i in range(n):
        for name in names[i % len(names):] + names[:i % len(names)]:
            cell = results.cell(f"{prefix}|{count}|{scenario}|{name}")
            if cell.error or (name in SLOW and i >= peer_runs):
                continue
            seconds, cpu, outcome = run_once(tools[name], servers, hosts, scenario)
            if outcome.error:
                cell.error = outcome.error[-1500:]
                print(f"[floor] {prefix} {count} {scenario} {name} FAILED: {cell.error}", flush=True)
                continue
            cell.seconds.append(seconds)
            cell.cpu.append(cpu)
            cell.changed.append(outcome.changed.get(hosts[0], -1))
            if scenario == "nochange" and any(c != 0 for c in outcome.changed.values()):
                results.note(f"{prefix} {name} no-change on {count} host(s) changed {outcome.changed}")
            if name == "moorage" and prefix == "floor":
                seen = results.recaps.setdefault(f"{count}|{scenario}", [])
                for data in outcome.extra.values():
                    text = " ".join(f"{k}={v}" for k, v in sorted(data.items()) if k != "wire_bytes")
                    if text and text not in seen:
                        seen.append(text)
            print(f"[floor] {prefix} {count:>2} host(s) {scenario:<8} {name:<11} run {i + 1}/{n}: "
                  f"{seconds:6.2f} s wall {cpu:6.2f} s cpu changed={outcome.changed.get(hosts[0])}", flush=True)


def count_ssh(tools: dict, servers: dict, results: Results) -> None:
    """sshd's DEBUG1 log on one host during one no-change run of moorage and of the warm floor."""
    server = next(iter(servers.values()))
    with SessionCounter([server]) as counter:
        for name in ("moorage", "rsync"):
            if name in tools:
                run_once(tools[name], servers, [server.name], "nochange")  # warm (the floor's master)
                counter.mark()
                run_once(tools[name], servers, [server.name], "nochange")
                seen = counter.read()[server.name]
                results.counts[f"nochange|{name}"] = asdict(seen) | {"commands": seen.commands}
                print(f"[floor] sshd saw for {name} nochange: {seen}", flush=True)


def same_end_state(tools: dict, servers: dict, results: Results) -> None:
    """Every tool must leave the same files (names, kinds, modes, sizes, contents) on a host."""
    server = next(iter(servers.values()))
    listings = {}
    for name, tool in tools.items():
        root = getattr(tool, "root", None) or f"/srv/bench-{tool.name}"
        listings[name] = run_in(server, f"cd {root} && find w1 w2 -printf '%m %y %s %p\\n' | sort && "
                                "find w1 w2 -type f -exec sha256sum {} + | sort", timeout=120)
    differ = [n for n in listings if listings[n] != listings["moorage"]]
    if differ:
        results.note(f"files left by {', '.join(differ)} differ from moorage's")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--runs", type=int, default=5, help="timed runs per cell; medians are reported")
    p.add_argument("--peer-runs", type=int, default=0, help="runs for ansible and pyinfra (default: --runs)")
    p.add_argument("--hosts", default="1,10")
    p.add_argument("--pyinfra-hosts", type=int, default=1,
                   help="largest host count pyinfra runs on (its files.sync takes minutes per host)")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--no-count", action="store_true", help="skip the sshd DEBUG1 counting pass")
    p.add_argument("--no-profile", action="store_true", help="skip profiling moorage's largest first run")
    p.add_argument("--out", type=Path, default=RESULTS / "floor.md")
    args = p.parse_args(argv)
    args.hosts = sorted({int(h) for h in args.hosts.split(",")})
    args.tools = [t for t in args.tools.split(",") if t]
    if any(t not in TOOLS for t in args.tools) or "rsync" not in args.tools or args.runs < 1:
        p.error(f"tools are {', '.join(TOOLS)} (rsync, the floor, is required); runs >= 1")
    args.peer_runs = args.peer_runs or args.runs
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = Results(args.runs, args.hosts, args.tools, environment=environment(),
                      command="python -m bench.floor " + " ".join(sys.argv[1:] if argv is None else argv))
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="moorage-floor-"))
    media, tree = workdir / "media", workdir / "tree"
    results.media_bytes = make_media(media)
    tools: dict = {}
    media_tools: dict = {}
    with BenchTestbed() as testbed:
        try:
            servers = testbed.start_many({f"h{i:02d}": "sshd" for i in range(1, max(args.hosts) + 1)})
            ordered = ["moorage", *(t for t in args.tools if t != "moorage")]  # moorage renders the tree
            tools = {name: build_floor(name, workdir / "floor", servers, media, tree) for name in ordered}
            results.versions = {name: tool.version() for name, tool in tools.items()}
            results.versions["ansible"] = results.versions.get("ansible", "") + " + ansible.posix"
            _, _, proof = run_once(tools["moorage"], servers, list(servers)[:1], "first")
            if proof.error:
                raise RuntimeError(f"moorage does not run the workload: {proof.error}")
            render_tree(next(iter(servers.values())), tools["moorage"].root, tree)
            for count in args.hosts:
                run_tools = {k: v for k, v in tools.items() if k != "pyinfra" or count <= args.pyinfra_hosts}
                for scenario in SCENARIOS:  # a first round leaves every tool converged for the next
                    measure(run_tools, servers, results, "floor", count, scenario, args.runs, args.peer_runs)
            same_end_state(tools, servers, results)
            media_tools = {name: build(name, workdir / "media", servers, media) for name in MEDIA_TOOLS}
            for count in args.hosts:
                for tool in media_tools.values():  # warm-up: converged, and the floor's master up
                    run_once(tool, servers, list(servers)[:count], "nochange")
                measure(media_tools, servers, results, "media", count, "nochange", args.runs, args.runs)
            if not args.no_count:
                count_ssh(tools, servers, results)
            if not args.no_profile:
                results.profile = profile_first_run(tools["moorage"], servers, list(servers)[:max(args.hosts)],
                                                    workdir / "profile", VENVS)
        finally:
            for tool in [*tools.values(), *media_tools.values()]:
                tool.close()
            shutil.rmtree(workdir, ignore_errors=True)
    write_report(args.out, results, floor_report.markdown, t0)
    return 1 if any(c.error for c in results.cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
