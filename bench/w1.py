"""W1 side by side: moorage, ansible-core and pyinfra on the same real sshd test servers.

``bash bench/run.sh`` (or ``.venv/bin/python -m bench.w1``) starts its own test
servers, times first run / no-change rerun / one-variable-changed rerun on 1 and
10 hosts (median of N runs, tools interleaved), counts the SSH work each run
asks of a host (sshd DEBUG1 log), runs the 5-task / 50-task variant, prints the
tables, writes ``bench/results/w1.md`` (+ ``w1.json``) and removes its servers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import report
from bench.servers import BenchTestbed, Counts, SessionCounter, run_in
from bench.tools import TOOLS, Outcome, Tool
from bench.workload import SCALE_SIZES, scale_tasks, w1_tasks

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("first", "nochange", "onevar")
RUN_TIMEOUT = 900
MAX_STREAK = 2  # a cell stops after this many failed runs in a row (one failure may be transient)


@dataclass
class Cell:
    """The samples of one (workload, hosts, scenario, tool), and the runs that failed."""

    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    streak: int = 0  # failures in a row; the cell gives up at MAX_STREAK

    @property
    def median(self) -> float | None:
        """Median of the successful runs (None if none succeeded)."""
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def error(self) -> str | None:
        return self.failures[-1] if self.failures else None

    @property
    def gave_up(self) -> bool:
        return self.streak >= MAX_STREAK

    def fail(self, error: str) -> None:
        self.failures.append(error)
        self.streak += 1

    def add(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.streak = 0


@dataclass
class Results:
    """Everything one bench run measured, keyed by strings so it serialises as JSON."""

    n: int
    tools: list[str]
    hosts: list[int]
    versions: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    cells: dict[str, Cell] = field(default_factory=dict)  # "w1|10|nochange|ansible"
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # "w1|nochange|ansible" -> Counts
    self_reported: dict[str, dict[str, int]] = field(default_factory=dict)  # moorage recap round trips
    # "w1|10|nochange" -> the distinct per-host "connections=1 commands=1" moorage's recaps reported
    recaps: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    command: str = ""

    def cell(self, workload: str, hosts: int, scenario: str, tool: str) -> Cell:
        return self.cells.setdefault(f"{workload}|{hosts}|{scenario}|{tool}", Cell())


def expected_changes(workload: str, scenario: str) -> int:
    """How many tasks each host should report changed."""
    tasks = w1_tasks() if workload == "w1" else scale_tasks(int(workload.removeprefix("scale")))
    return {"first": len(tasks), "nochange": 0, "onevar": 1}[scenario]


class Bench:
    """Runs the tools against the servers and fills ``Results``."""

    def __init__(self, tools: dict[str, Tool], servers: dict, results: Results) -> None:
        self.tools, self.servers, self.results = tools, servers, results
        self.release = itertools.count(2)  # each one-variable run sets a value never used before

    def hosts(self, count: int) -> list[str]:
        return list(self.servers)[:count]

    def wipe(self, tool: Tool, workload: str, hosts: list[str]) -> None:
        for name in hosts:
            run_in(self.servers[name], f"rm -rf {tool.remote_dir(workload)}")

    def run(self, tool: Tool, workload: str, hosts: list[str], scenario: str) -> tuple[float, Outcome]:
        """One run of ``tool`` (preparing the servers for ``scenario`` first, untimed)."""
        release = str(next(self.release)) if scenario == "onevar" else None
        if scenario == "first":
            self.wipe(tool, workload, hosts)
            tool.before_first_run()
        argv = tool.command(workload, hosts, release)
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, cwd=tool.dir, env=tool.env, capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return RUN_TIMEOUT, Outcome(error=f"timed out after {RUN_TIMEOUT}s: {' '.join(argv)}")
        except OSError as exc:
            return 0.0, Outcome(error=f"cannot run {argv[0]}: {exc}")
        seconds = time.perf_counter() - start
        outcome = tool.outcome(proc, hosts)
        want = expected_changes(workload, scenario)
        wrong = {h: c for h, c in outcome.changed.items() if c != want}
        if wrong and not outcome.error:
            self.note(f"{tool.name} {workload} {scenario} on {len(hosts)} host(s): expected {want} changed "
                      f"per host, got {wrong}")
        return seconds, outcome

    def note(self, text: str) -> None:
        if text not in self.results.notes:
            self.results.notes.append(text)
            print(f"[bench] note: {text}", flush=True)

    def measure(self, workload: str, count: int, scenario: str, n: int, warmup: bool = False) -> None:
        """``n`` timed runs of every tool, interleaved (the order rotates each round).

        ``warmup``: one untimed run of each tool first (so ansible's ControlPersist master is up).
        """
        names = list(self.tools)
        hosts = self.hosts(count)
        for name in names if warmup else []:
            self.run(self.tools[name], workload, hosts, scenario)
        for i in range(n):
            for name in names[i % len(names):] + names[:i % len(names)]:
                cell = self.results.cell(workload, count, scenario, name)
                if cell.gave_up:
                    continue
                seconds, outcome = self.run(self.tools[name], workload, hosts, scenario)
                if outcome.error:
                    cell.fail(outcome.error)
                    print(f"[bench] {name} {workload} {scenario} x{count} FAILED: {outcome.error}", flush=True)
                    continue
                cell.add(seconds)
                if outcome.extra:
                    seen = self.results.recaps.setdefault(f"{workload}|{count}|{scenario}", [])
                    for host_counts in outcome.extra.values():
                        text = " ".join(f"{k}={v}" for k, v in sorted(host_counts.items()))
                        if text not in seen:
                            seen.append(text)
                print(f"[bench] {workload} {count:>2} host(s) {scenario:<8} {name:<8} run {i + 1}/{n}: "
                      f"{seconds:6.2f}s", flush=True)

    def count(self, workload: str, scenarios: tuple[str, ...]) -> None:
        """One run per scenario on one host with sshd at DEBUG1; record what it saw."""
        host = self.hosts(1)
        server = self.servers[host[0]]
        with SessionCounter([server]) as counter:
            for name, tool in self.tools.items():
                tool.close()  # connections made before DEBUG1 would not be logged
                if "first" not in scenarios:  # warm-up so ansible's master starts while we log
                    self.run(tool, workload, host, "first")
                for scenario in scenarios:
                    counter.mark()
                    _, outcome = self.run(tool, workload, host, scenario)
                    seen: Counts = counter.read()[server.name]
                    key = f"{workload}|{scenario}|{name}"
                    if outcome.error:
                        self.note(f"counting {key} failed: {outcome.error}")
                        continue
                    self.results.counts[key] = asdict(seen) | {"commands": seen.commands}
                    if outcome.extra.get(host[0]):
                        self.results.self_reported[key] = outcome.extra[host[0]]
                    print(f"[bench] sshd saw for {key}: {seen}", flush=True)
                tool.close()

    def check_same_files(self, workload: str) -> None:
        """The tools must leave identical trees (names, kinds, modes, sizes, contents)."""
        server = self.servers[self.hosts(1)[0]]
        listing = {}
        for name, tool in self.tools.items():
            listing[name] = run_in(server, f"cd {tool.remote_dir(workload)} 2>/dev/null && "
                                   "find . -printf '%m %y %s %p\\n' | sort && "
                                   "find . -type f -exec sha256sum {} + | sort")
        if len(set(listing.values())) > 1:
            first = next(iter(listing))
            differ = [n for n in listing if listing[n] != listing[first]]
            self.note(f"{workload}: files left by {', '.join(differ)} differ from {first}'s")


def environment() -> dict[str, str]:
    def out(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        except OSError:
            return "?"

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {
        "machine": f"{platform.system()} {platform.release()}, {out('nproc')} CPUs ({cpu}), "
                   f"{round(int(out('awk', '/MemTotal/ {print $2}', '/proc/meminfo') or 0) / 2**20)} GiB",
        "controller python": sys.version.split()[0],
        "docker": out("docker", "version", "--format", "{{.Server.Version}}"),
        "ssh client": (subprocess.run(["ssh", "-V"], capture_output=True, text=True, check=False).stderr
                       .strip()),
        "load average at start": _load(),
        "checkout": _checkout(),
    }


def _checkout() -> str:
    """The commit measured, and whether src/ had uncommitted changes (others work in this checkout)."""
    repo = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %s"], capture_output=True,
                          text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return f"{head}" + (f" (+ {len(dirty.splitlines())} uncommitted change(s) in src/)" if dirty else "")


def write_report(out: Path, results: Any, markdown: Callable[[Any], str], started: float) -> None:
    """Note the end (load, wall time since ``started``) in ``results.environment``, print the
    markdown report and write it to ``out``, the results beside it as ``.json``."""
    results.environment["load average at end"] = _load()
    results.environment["wall time"] = f"{time.monotonic() - started:.0f} s"
    text = markdown(results)
    print("\n" + text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(asdict(results), indent=1))
    print(f"[bench] wrote {out} and {out.with_suffix('.json')}")


def _load() -> str:
    """1/5/15-minute load averages: other work on the machine shows up here (and in the noise)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bash bench/run.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--runs", type=int, default=5, help="timed runs per cell; medians are reported")
    p.add_argument("--hosts", default="1,10", help="host counts to measure (comma-separated)")
    p.add_argument("--tools", default=",".join(TOOLS), help="tools to run (comma-separated)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="which runs to time")
    p.add_argument("--no-count", action="store_true", help="skip the sshd-log counting passes")
    p.add_argument("--no-scale", action="store_true", help="skip the 5-task / 50-task variant")
    p.add_argument("--out", type=Path, default=RESULTS / "w1.md", help="where to write the markdown report")
    args = p.parse_args(argv)
    args.hosts = sorted({int(h) for h in args.hosts.split(",")})
    args.tools = [t for t in args.tools.split(",") if t]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [t for t in args.tools if t not in TOOLS] + [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or args.runs < 1 or min(args.hosts) < 1 or max(args.hosts) > 50:
        p.error(f"bad value(s): {unknown or 'runs >= 1 and hosts in 1..50'}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = Results(n=args.runs, tools=args.tools, hosts=args.hosts, environment=environment(),
                      command="bash bench/run.sh " + " ".join(sys.argv[1:] if argv is None else argv))
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="moorage-bench-"))
    tools: dict[str, Tool] = {}
    with BenchTestbed() as testbed:
        try:
            print(f"[bench] starting {max(args.hosts)} sshd test server(s)", flush=True)
            servers = testbed.start_many({f"h{i:02d}": "sshd" for i in range(1, max(args.hosts) + 1)})
            results.environment["sshd"] = run_in(next(iter(servers.values())), "sshd -V 2>&1 || true").strip()
            tools = {name: TOOLS[name](workdir, servers) for name in args.tools}
            results.versions = {name: tool.version() for name, tool in tools.items()}
            bench = Bench(dict(tools), servers, results)
            for name, tool in list(tools.items()):  # warm-up (untimed), and proof that each tool works
                for _attempt in range(MAX_STREAK):
                    _, outcome = bench.run(tool, "w1", bench.hosts(1), "first")
                    if not outcome.error:
                        break
                if outcome.error:
                    results.cell("w1", 1, "first", name).fail(outcome.error)
                    bench.note(f"{name} does not run W1, left out of every measurement: {outcome.error}")
                    del bench.tools[name]
            bench.check_same_files("w1")
            for count in args.hosts:
                for scenario in args.scenarios:
                    # a no-change run must start from converged state, whatever ran before it
                    bench.measure("w1", count, scenario, args.runs, warmup=scenario == "nochange")
            if not args.no_count:
                bench.count("w1", SCENARIOS)
            if not args.no_scale:
                for size in SCALE_SIZES:
                    workload = f"scale{size}"
                    if not args.no_count:
                        bench.count(workload, ("nochange",))
                    else:
                        for tool in tools.values():
                            bench.run(tool, workload, bench.hosts(1), "first")
                    bench.check_same_files(workload)
                    bench.measure(workload, 1, "nochange", args.runs, warmup=True)
        finally:
            for tool in tools.values():
                tool.remove()
            shutil.rmtree(workdir, ignore_errors=True)
    write_report(args.out, results, report.markdown, t0)
    return 1 if any(c.failures for c in results.cells.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
