"""Zero-downtime switch, side by side: failed requests while a release goes live.

    .venv/bin/python -m bench.zero_downtime [--rate 50] [--stack tasklist --stack dm] [--no-change 5]

For each stack of bench/zdt_stacks.py (tasklist: API + worker + PostgreSQL; DM: web + PostgreSQL +
nginx-static; both behind the shared Traefik), on a dockerhost test server of its own: while a
bounded load generator sends ``--rate`` GETs a second to the server's published Traefik port
(tests/testbed/load.py), each way of switching runs three switches: v1 -> v2 (with a migration),
v2 -> v1 (rollback), v1 -> a broken release (and back to v1):

- moorage zero_downtime: ``moorage deploy`` / ``moorage rollback --to previous`` (start-first);
- moorage stop-first: the same with ``--set zero_downtime=false`` (compose recreates the web service);
- plain compose: ``docker compose up -d --wait`` on the server, in a project of its own made of a
  copy of the live release's files (its Traefik routers renamed); migrations with ``compose run``,
  and after the broken release's failed ``up --wait`` the script's own ``up`` of v1 again.

Each moorage row starts with a deploy of v1 as a release of its own (``app_env_extra`` names the
row), so ``rollback --to previous`` goes back to it.  Before each switch a probe must get 200s with
the expected version (a row whose load is not served is refused, never printed), and after each
switch the served version is asserted.  Then ``--no-change`` no-change deploys each with
zero_downtime true and false, alternating: their median seconds.  Prints the tables, writes
bench/results/zero_downtime.md (and, when requests failed, zero_downtime-failures.log with the
containers' events and Traefik's log around them).  Removes its servers.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from testbed import Testbed
from testbed.load import Load

from bench.zdt_probe import BenchInvalid, explain, wait_served
from bench.zdt_stacks import STACKS, Deployed, Release, Stack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
MOORAGE = str(ROOT / ".venv" / "bin" / "moorage")
SWITCHES = ("v1 -> v2 (migration)", "v2 -> v1 (rollback)", "v1 -> broken (auto-rollback)")
ROWS = ("moorage zero_downtime", "moorage stop-first", "docker compose up -d --wait")
PLAIN = "/srv/plain"   # the plain compose project's directory on the server


class Bench:
    """One stack on its server: the rows, each switch measured under load."""

    def __init__(self, stack: Stack, at: Deployed, rate: float) -> None:
        self.stack, self.at, self.rate = stack, at, rate
        self.port = at.server.ports[80]
        self.details: list[str] = []
        self.failures: list[str] = []

    def moorage(self, *args: str) -> tuple[bool, float, str]:
        """(succeeded, seconds, its output)."""
        began = time.monotonic()
        proc = subprocess.run([MOORAGE, *args, *self.at.moorage_args], cwd=self.at.cwd, capture_output=True,
                              text=True, timeout=900, check=False)
        took = time.monotonic() - began
        print(f"[bench] moorage {' '.join(args)}: exit {proc.returncode} in {took:.1f} s: "
              f"{proc.stdout.strip().splitlines()[-1:]}", flush=True)
        return proc.returncode == 0, took, proc.stdout + proc.stderr

    def release_args(self, release: Release, row: str, extra: list[str]) -> list[str]:
        env = json.dumps({**release.env, "BENCH_ROW": row})
        return ["--set", f"{self.stack.image_var}={release.image}", "--set", f"app_env_extra={env}", *extra]

    def measured(self, label: str, before: str, expect: str, action: Callable[[], bool]) -> str:
        """The probe (200s with version ``before``), the action under load (it says whether it went as
        it should: a deploy meant to work worked, the broken one failed), the version after (``expect``)."""
        wait_served(self.stack, self.port, before)
        with Load(self.port, self.stack.path, rate=self.rate, host=self.stack.host, workers=4) as load:
            began, wall = time.monotonic(), time.time()
            as_meant = action()
            took = time.monotonic() - began
        if not as_meant:
            raise BenchInvalid(f"{self.stack.name}, {label}: the switch did not go as meant (see above)")
        wait_served(self.stack, self.port, expect)
        line = f"{label}: {load.report()}, switch {took:.1f} s, serves {expect}"
        print(f"[bench] {line}", flush=True)
        self.details.append(line)
        if load.failed:
            self.failures.append(f"== {self.stack.name}: {line}\n" + explain(self.at.server, load, wall))
        return f"{load.failed} / {load.sent}, {took:.1f} s"

    def moorage_row(self, row: str, extra: list[str]) -> list[str]:
        s = self.stack
        ok, _, out = self.moorage("deploy", *self.release_args(s.v1, row, extra))
        if not ok:
            raise BenchInvalid(f"{row}: the row's v1 deploy failed:\n{out[-3000:]}")
        wait_served(s, self.port, s.v1.version)
        time.sleep(1)   # release ids are to the second
        cells = []
        for label, before, expect, works, args in (
                (SWITCHES[0], s.v1.version, s.v2.version, True, ["deploy", *self.release_args(s.v2, row, extra)]),
                (SWITCHES[1], s.v2.version, s.v1.version, True, ["rollback", "--to", "previous", *extra]),
                (SWITCHES[2], s.v1.version, s.v1.version, False,
                 ["deploy", *self.release_args(s.broken, row, extra)])):
            cells.append(self.measured(f"{row}, {label}", before, expect,
                                       lambda a=args, w=works: self.moorage(*a)[0] == w))
            time.sleep(1)
        return cells

    def no_change(self, runs: int) -> tuple[float, float, str]:
        """Median seconds of ``runs`` no-change deploys with zero_downtime true, and false (alternating)."""
        row = self.release_args(self.stack.v1, "zero_downtime", [])
        self.moorage("deploy", *row)   # the release brought back by the last auto-rollback, settled
        times: dict[bool, list[float]] = {True: [], False: []}
        changed: set[str] = set()
        for _ in range(runs):
            for on in (True, False):
                ok, took, out = self.moorage("deploy", *row, "--set", f"zero_downtime={str(on).lower()}")
                found = re.findall(r"changed=(\d+)", out)
                changed.add(found[-1] if ok and found else "failed")
                times[on].append(took)
        note = "changed=0 each" if changed == {"0"} else f"changed: {sorted(changed)} (not all no-change!)"
        return statistics.median(times[True]), statistics.median(times[False]), note

    def plain_row(self) -> list[str]:
        s, server = self.stack, self.at.server
        down = server.exec(f"cd {self.at.app_dir}/current && docker compose down -t 5", timeout=300)
        if down.returncode != 0:
            raise BenchInvalid(f"compose down of moorage's project failed: {down.stderr.decode()[-2000:]}")
        # The live release's files (compose files, .env, override); its routers renamed: Traefik must
        # not see two routers of one name (moorage's project is down, its labels gone with it).
        copied = server.exec(
            f"rm -rf {PLAIN} && mkdir -p {PLAIN} && cp -rL {self.at.app_dir}/current/. {PLAIN}/ && cd {PLAIN} && "
            "sed -i -e 's/traefik\\.http\\.routers\\./traefik.http.routers.plain-/g' "
            "-e 's/traefik\\.http\\.services\\./traefik.http.services.plain-/g' *.yml")
        if copied.returncode != 0:
            raise BenchInvalid(f"copying the release for plain compose failed: {copied.stderr.decode()}")

        def up(release: Release, migrate: bool = False) -> bool:
            env = {**release.env, s.image_env: release.image}
            run = f"cd {PLAIN} && export {' '.join(shlex.quote(f'{k}={v}') for k, v in env.items())} && "
            if migrate:
                service, command = s.migrate
                run += f"docker compose -p plain run --rm -T {service} {command} && "
            done = server.exec(run + "docker compose -p plain up -d --wait --wait-timeout 60", timeout=300)
            print(f"[bench] plain up of {release.image}: exit {done.returncode}", flush=True)
            return done.returncode == 0

        def broken_then_back() -> bool:
            return not up(s.broken) and up(s.v1)   # what a deploy script does after a failed `up --wait`

        if not up(s.v1, migrate=True):
            raise BenchInvalid("plain compose: the first up of v1 failed")
        wait_served(s, self.port, s.v1.version)
        v1, v2 = s.v1.version, s.v2.version
        return [self.measured(f"plain, {SWITCHES[0]}", v1, v2, lambda: up(s.v2, migrate=True)),
                self.measured(f"plain, {SWITCHES[1]}", v2, v1, lambda: up(s.v1)),
                self.measured(f"plain, {SWITCHES[2]}", v1, v1, broken_then_back)]


def run_stack(testbed: Testbed, stack: Stack, args: argparse.Namespace) -> tuple[dict[str, list[str]], str, Bench]:
    """The stack's rows (row name -> cells) and its no-change line."""
    rate, no_change = args.rate, args.no_change
    with tempfile.TemporaryDirectory() as tmp:
        at = stack.start(testbed, Path(tmp), {"traefik_log_level": "DEBUG"} if args.debug_traefik else {})
        try:
            bench = Bench(stack, at, rate)
            ok, _, out = bench.moorage("deploy", *bench.release_args(stack.v1, "first", []))
            if not ok:
                raise BenchInvalid(f"{stack.name}: the first deploy failed:\n{out[-3000:]}")
            rows = {ROWS[0]: bench.moorage_row("zero_downtime", []),
                    ROWS[1]: bench.moorage_row("stop-first", ["--set", "zero_downtime=false"])}
            on, off, note = bench.no_change(no_change) if no_change else (0.0, 0.0, "")
            ratio = (f"no-change deploy, median of {no_change}: zero_downtime true {on:.2f} s, false {off:.2f} s "
                     f"(ratio {on / off:.2f}; {note})" if no_change else "")
            if stack.plain:
                rows[ROWS[2]] = bench.plain_row()
            return rows, ratio, bench
        finally:
            testbed.stop(at.server)


def table(rows: dict[str, list[str]]) -> str:
    return "\n".join([f"| failed / sent, switch time | {' | '.join(SWITCHES)} |", "|---|---|---|---|",
                      *(f"| {name} | {' | '.join(cells)} |" for name, cells in rows.items())])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests a second (default 50)")
    parser.add_argument("--stack", action="append", choices=sorted(STACKS), help="only these (default: all)")
    parser.add_argument("--no-change", type=int, default=5, help="no-change deploys timed per setting (0: none)")
    parser.add_argument("--debug-traefik", action="store_true",
                        help="Traefik's log at DEBUG (its reloads and servers in the failures log)")
    args = parser.parse_args()
    out, failures = [f"Load: {args.rate:g} GET/s on 127.0.0.1 through Traefik; failed = non-2xx or "
                     "connection error.", ""], []
    with Testbed() as testbed:
        for key in args.stack or list(STACKS):
            stack = STACKS[key]
            began = time.monotonic()
            rows, ratio, bench = run_stack(testbed, stack, args)
            section = [f"### {stack.name} ({time.monotonic() - began:.0f} s)", "", table(rows), "",
                       *([ratio, ""] if ratio else []), "Each switch, in order:",
                       *(f"- {line}" for line in bench.details), ""]
            print("\n".join(section), flush=True)
            out += section
            failures += bench.failures
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "zero_downtime.md").write_text("\n".join(out))
    if failures:
        (RESULTS / "zero_downtime-failures.log").write_text("\n\n".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
