"""Where moorage's controller CPU goes on a first run (W1 + the media tree) on every host.

Two extra runs after the measurements, neither of them timed for the tables:

1. plain, under a wrapper that writes ``getrusage`` at exit: the CPU seconds of moorage's own
   process (all its threads) and of the children it waited for (the local rsync per host and
   its ``_RSH`` relay, ``python -I -S``);
2. under py-spy (``bench/.venvs/pyspy``: ``pip install py-spy``; skipped if absent) with
   ``--subprocesses --gil``, 100 samples/s of the thread holding each Python process's GIL
   (so a thread blocked in a read, which releases it, is not counted as busy): each sample
   is put in the first category its stack matches (``CATEGORIES``), and
   the functions that were on top of the most samples are listed.  The shares are of py-spy's
   samples of Python processes (rsync itself is C: it is in (1), not here).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.servers import run_in

WRAPPER = """\
import atexit, json, os, resource, sys
from moorage.cli.program import main
def _report():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.environ["FLOOR_RUSAGE"], "w") as f:
        json.dump({"moorage process": me.ru_utime + me.ru_stime,
                   "its children (local rsync, ssh client or _RSH relay)": kids.ru_utime + kids.ru_stime}, f)
atexit.register(_report)
sys.argv[0] = "moorage"
sys.exit(main())
"""

# (label, regex on the whole sample: process line + stack), first match wins
CATEGORIES = (
    # the relay runs its code with exec(): its frames are "<module> (<string>)"; py-spy may not
    # read the command line of so short-lived a process
    ("_RSH relay process (python -I -S, one per host)", r"^process \d+:\"[^\"]*-I -S -c|<module> \(<string>"),
    ("imports (start-up and lazy)", r"_find_and_load"),
    ("paramiko handshake (kex, host key, auth)", r"paramiko/(kex_|auth_handler|ecdsakey|ed25519key|rsakey|pkey)"
     r"|_parse_kex|_activate_(in|out)bound|_negotiate_keys"),
    ("rsync stream relay (sync_transport Tunnel._pump)", r"sync_transport\.py[^;]*;.*_pump|_pump \(moorage"),
    ("paramiko transport thread (packets, cipher, MAC)", r"paramiko/(transport|packet|channel|buffered_pipe)"),
    ("jsonschema", r"jsonschema/"),
    ("jinja2 (templates)", r"jinja2/"),
    ("yaml parsing", r"yaml/"),
    ("rsync's output reader (sync_transport _follow)", r"_follow"),
    ("local tree scan (sync facts and planning)", r"moorage/(facts/sync|operations/sync\.py)"),
    ("rest of moorage", r"\(moorage/"),
)


def _parse_raw(path: Path) -> tuple[Counter, Counter, Counter, int]:
    """py-spy's raw (collapsed) output -> samples per category, per moorage module (of "rest of
    moorage"), per leaf function, and the total."""
    cats: Counter = Counter()
    modules: Counter = Counter()
    leaves: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        label = next((name for name, rx in CATEGORIES if re.search(rx, stack)), "other (stdlib, threads)")
        cats[label] += n
        if label == "rest of moorage":  # which of moorage's modules, innermost on the stack
            modules[re.findall(r"\((moorage/[^:]+)", stack)[-1]] += n
        leaves[re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])] += n
    return cats, modules, leaves, total


def profile_first_run(tool, servers: dict, hosts: list[str], workdir: Path, venvs: Path) -> dict:
    """The two runs described above; the figures as a dict for the report."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = tool.command(hosts)[0]
    python = str(Path(argv[0]).with_name("python"))
    (workdir / "wrap.py").write_text(WRAPPER)
    env = dict(tool.env, FLOOR_RUSAGE=str(workdir / "rusage.json"))

    def first_run(prefix: list[str]) -> subprocess.CompletedProcess:
        for host in hosts:
            run_in(servers[host], f"rm -rf {tool.root}")
        return subprocess.run([*prefix, python, str(workdir / "wrap.py"), *argv[1:]], env=env, cwd=tool.dir,
                              capture_output=True, text=True, timeout=900, check=False)

    out: dict = {"hosts": len(hosts)}
    proc = first_run([])
    if proc.returncode != 0:
        return {"error": f"moorage exit {proc.returncode}: {proc.stderr[-800:]}"}
    out["rusage"] = json.loads((workdir / "rusage.json").read_text())
    spy = venvs / "pyspy" / "bin" / "py-spy"
    if not spy.exists():
        out["py-spy"] = f"not installed ({spy}); only the split above"
        return out
    raw = workdir / "profile.raw"
    proc = first_run([str(spy), "record", "-r", "100", "--subprocesses", "--gil", "--format", "raw",
                      "-o", str(raw), "--"])
    if proc.returncode != 0 or not raw.exists():
        out["py-spy"] = f"py-spy run failed (exit {proc.returncode}): {proc.stderr[-500:]}"
        return out
    cats, modules, leaves, total = _parse_raw(raw)
    out["samples"] = total
    out["categories"] = [[name, n / total] for name, n in cats.most_common()] if total else []
    out["rest of moorage by module"] = [[name, n / total] for name, n in modules.most_common(8)] if total else []
    out["top functions"] = [[name, n / total] for name, n in leaves.most_common(12)] if total else []
    keep = Path(__file__).resolve().parent / "results" / "floor-profile.raw"
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_bytes(raw.read_bytes())
    out["raw"] = str(keep.relative_to(keep.parent.parent.parent))
    return out


if __name__ == "__main__":  # re-read a kept profile: python -m bench.floor_profile bench/results/floor-profile.raw
    c, mod, leaf, t = _parse_raw(Path(sys.argv[1]))
    for name, n in [*c.most_common(), ("---", 0), *mod.most_common(8), ("---", 0), *leaf.most_common(15)]:
        print(f"{n / t:6.1%}  {name}" if t else name)
