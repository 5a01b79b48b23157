"""Start-up, side by side: what a moorage command costs over the bare interpreter.

    .venv/bin/python -m bench.startup [-n 15]

No server: ``moorage --help``, ``moorage --list``, ``moorage check`` of a small project (the
examples/todoapp copy, a project of four services and two environments) and, for scale,
``invoke --version`` (the CLI framework alone), each beside ``python -c pass`` of the same
interpreter.  The commands are interleaved round by round so a load change hits them all;
the table gives the median wall time, the median CPU time (user + system, of the child) and
what each adds to the bare interpreter.  Writes bench/results/startup.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
RESULTS = Path(__file__).resolve().parent / "results"


def commands(project: Path) -> dict[str, list[str]]:
    return {
        "python -c pass (the floor)": [str(BIN / "python"), "-c", "pass"],
        "invoke --version (the CLI framework)": [str(BIN / "invoke"), "--version"],
        "moorage --help": [str(BIN / "moorage"), "--help"],
        "moorage --list": [str(BIN / "moorage"), "--list"],
        "moorage check (todoapp example)": [str(BIN / "moorage"), "check", "--project", str(project)],
    }


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system, from the children's times) seconds of one run; exit 0 required."""
    before, began = os.times(), time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120, check=False)
    wall, after = time.perf_counter() - began, os.times()
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15, help="rounds (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "todoapp"
        shutil.copytree(ROOT / "examples" / "todoapp", project)
        runs = commands(project)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for argv in runs.values():  # warm the page cache and .pyc files
            measure(argv)
        for _ in range(args.n):
            for name, argv in runs.items():
                samples[name].append(measure(argv))
    floor_wall = statistics.median(w for w, _ in samples["python -c pass (the floor)"])
    floor_cpu = statistics.median(c for _, c in samples["python -c pass (the floor)"])
    load = os.getloadavg()[0]
    lines = [f"Medians of {args.n} interleaved rounds, load average {load:.1f} at the end.", "",
             "| command | wall | adds to the floor | CPU | adds to the floor |", "|---|---|---|---|---|"]
    for name, got in samples.items():
        wall, cpu = statistics.median(w for w, _ in got), statistics.median(c for _, c in got)
        lines.append(f"| `{name}` | {wall * 1000:.0f} ms | +{(wall - floor_wall) * 1000:.0f} ms | "
                     f"{cpu * 1000:.0f} ms | +{(cpu - floor_cpu) * 1000:.0f} ms |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
