"""The floor bench's tables and the issue's targets, as markdown (bench/results/floor.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.report import _table

if TYPE_CHECKING:
    from bench.floor import Cell, Results

LABELS = {"moorage": "moorage", "rsync": "rsync, warm ControlMaster (floor)",
          "rsync-fresh": "rsync, new ssh connection", "ansible": "ansible-core tuned + synchronize",
          "pyinfra": "pyinfra + files.sync"}
SCENARIO_LABELS = {"first": "first run", "nochange": "no-change rerun"}
# (what, hosts, scenario, measure, against, limit): moorage's median / the reference's median <= limit
TARGETS = (("no-change run, 1 host, wall", 1, "nochange", "seconds", "rsync", 1.3),
           ("no-change run, 10 hosts, wall", 10, "nochange", "seconds", "rsync", 1.2),
           ("first run, 10 hosts, wall", 10, "first", "seconds", "rsync", 1.15),
           ("first run, 10 hosts, controller CPU", 10, "first", "cpu", "rsync", 2.0))


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _x(ours: float | None, theirs: float | None) -> str:
    return "-" if ours is None or not theirs else f"{ours / theirs:.2f}x"


def _med(results: Results, key: str, what: str = "seconds") -> float | None:
    cell = results.cells.get(key)
    return cell.median(what) if cell else None


def workload_table(results: Results, hosts: int) -> list[str]:
    header = ["tool"]
    for label in SCENARIO_LABELS.values():
        header += [f"{label}: wall s", "CPU s", "wall / floor", "CPU / floor", "tool / moorage (wall)"]
    rows = []
    for tool in results.tools:
        row = [LABELS[tool]]
        for scenario in SCENARIO_LABELS:
            key = f"floor|{hosts}|{scenario}|"
            cell: Cell | None = results.cells.get(key + tool)
            if cell is None or not cell.seconds:
                row += ["failed" if cell and cell.error else "-", "-", "-", "-", "-"]
                continue
            wall, cpu = cell.median(), cell.median("cpu")
            row += [_num(wall) + ("" if len(cell.seconds) == results.n else f" (n={len(cell.seconds)})"), _num(cpu),
                    _x(wall, _med(results, key + "rsync")), _x(cpu, _med(results, key + "rsync", "cpu")),
                    "" if tool == "moorage" else _x(wall, _med(results, key + "moorage"))]
        rows.append(row)
    return _table(header, rows)


def media_table(results: Results) -> list[str]:
    rows = []
    for hosts in results.hosts:
        key = f"media|{hosts}|nochange|"
        ours, fresh, warm = (_med(results, key + t) for t in ("moorage", "rsync-fresh", "rsync"))
        cpu = [_med(results, key + t, "cpu") for t in ("moorage", "rsync-fresh", "rsync")]
        rows.append([str(hosts), *(f"{_num(w)} s ({_num(c)} s CPU)" for w, c in zip((ours, fresh, warm), cpu,
                                                                                      strict=True)),
                     _x(ours, fresh), _x(ours, warm)])
    return _table(["hosts", "moorage `sync`", "rsync, new ssh connection", "rsync, warm ControlMaster",
                   "moorage / rsync fresh", "moorage / rsync warm"], rows)


def targets(results: Results) -> list[str]:
    checks = [(*t[:4], f"floor|{t[1]}|{t[2]}|", t[4], t[5]) for t in TARGETS]
    checks.append(("media no-change resync, 1 host, wall", 1, "nochange", "seconds", "media|1|nochange|",
                   "rsync-fresh", 1.2))
    lines = []
    for what, _hosts, _scenario, measure, prefix, against, limit in checks:
        ours, theirs = _med(results, prefix + "moorage", measure), _med(results, prefix + against, measure)
        if ours is None or theirs is None:
            lines.append(f"- {what} <= {limit}x {LABELS[against]}: not measured")
            continue
        ratio = ours / theirs
        verdict = "met" if ratio <= limit else "NOT met"
        lines.append(f"- {what} <= {limit}x {LABELS[against]}: **{verdict}** ({ratio:.2f}x: "
                     f"{ours:.2f} s vs {theirs:.2f} s)")
    return lines


def ssh_work(results: Results) -> list[str]:
    lines = [f"- moorage's --json recap, {k.replace('|', ' host(s), ')}: {'; '.join(v)} (distinct per-host values)"
             for k, v in results.recaps.items()]
    for key, c in results.counts.items():
        lines.append(f"- sshd DEBUG1 log, 1 host, {key.replace('|', ', ')}: {c['connections']} connection(s), "
                     f"{c['sessions']} session(s), {c['execs']} exec, {c['sftp']} sftp")
    return lines


def profile(results: Results) -> list[str]:
    p = results.profile
    if not p:
        return ["not run"]
    if "error" in p:
        return [f"failed: {p['error']}"]
    lines = [f"moorage's first run on {p['hosts']} host(s), unprofiled: "
             + ", ".join(f"{k} {v:.2f} s CPU" for k, v in p["rusage"].items()), ""]
    if "categories" not in p:
        return [*lines, str(p.get("py-spy"))]
    lines += [f"py-spy ({p['samples']} samples of the GIL-holding thread of each Python process; "
              f"{p.get('raw', '')}):", ""]
    lines += _table(["where", "share of samples"], [[n, f"{s:.0%}"] for n, s in p["categories"]])
    lines += ["", "\"rest of moorage\" by module (innermost on the stack):", ""]
    lines += _table(["module", "share"], [[f"`{n}`", f"{v:.1%}"] for n, v in p.get("rest of moorage by module", [])])
    lines += ["", "Functions on top of the stack most often:", ""]
    lines += _table(["function", "share"], [[f"`{n}`", f"{s:.1%}"] for n, s in p["top functions"]])
    return lines


def markdown(results: Results) -> str:
    out = [f"# Close to the floor: W1 + the 2,000-file media tree ({results.media_bytes / 1e6:.1f} MB) in one run",
           "", f"Command: `{results.command.strip()}`; medians of {results.n} runs (n= where fewer), tools "
           "interleaved. CPU = controller user + system seconds of the tool's process tree, ssh "
           "ControlMasters included (bench/floor_cpu.py). floor = rsync over a warm ControlMaster.", ""]
    for hosts in results.hosts:
        out += [f"## {hosts} host(s)", "", *workload_table(results, hosts), ""]
    out += ["## Media no-change resync alone (2,000 files)", "", *media_table(results), ""]
    out += ["## Targets (issue 18)", "", *targets(results), ""]
    out += ["## SSH work of a no-change run", "", *ssh_work(results), ""]
    out += ["## Where moorage's controller CPU goes", "", *profile(results), ""]
    if results.notes:
        out += ["## Notes", "", *(f"- {n}" for n in results.notes), ""]
    errors = {k: c.error for k, c in results.cells.items() if c.error}
    if errors:
        out += ["## Failures", "", *(f"- `{k}`: {v}" for k, v in errors.items()), ""]
    out += ["## Environment", "", *(f"- {k}: {v}" for k, v in {**results.versions, **results.environment}.items())]
    out += ["", "## All samples (wall s / CPU s)", ""]
    out += [f"- `{k}`: " + ", ".join(f"{s:.2f}/{c:.2f}" for s, c in zip(cell.seconds, cell.cpu, strict=True))
            for k, cell in results.cells.items()]
    return "\n".join(out) + "\n"
