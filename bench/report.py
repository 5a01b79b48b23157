"""The bench's tables, as markdown (printed and written to ``bench/results/w1.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.workload import SCALE_SIZES

if TYPE_CHECKING:
    from bench.w1 import Cell, Results

LABELS = {"moorage": "moorage", "ansible": "ansible-core", "pyinfra": "pyinfra",
          "pyinfra-nodelay": "pyinfra+NODELAY"}
SCENARIO_LABELS = {"first": "first run", "nochange": "no-change rerun", "onevar": "one variable changed"}
TARGETS = {"ansible": 5.0, "pyinfra": 2.0}  # no-change rerun on 10 hosts: peer_time / moorage_time >=


def _secs(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f} s"


def _cell(cell: Cell | None) -> str:
    """A cell's median, with how many of its runs failed if any did."""
    if cell is None:
        return "-"
    text = _secs(cell.median)
    if cell.failures and cell.seconds:
        text += f" ({len(cell.failures)} of {len(cell.failures) + len(cell.seconds)} runs failed)"
    return text


def _ratio(peer: float | None, ours: float | None) -> str:
    return "-" if peer is None or not ours else f"{peer / ours:.1f}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _peers(results: Results) -> list[str]:
    return [t for t in results.tools if t != "moorage"] if "moorage" in results.tools else []


def timing_table(results: Results) -> list[str]:
    peers = _peers(results)
    header = ["hosts", "run", *(LABELS[t] for t in results.tools),
              *(f"{LABELS[p]} / moorage" for p in peers)]
    rows = []
    for hosts in results.hosts:
        for scenario, label in SCENARIO_LABELS.items():
            cells = {t: results.cells.get(f"w1|{hosts}|{scenario}|{t}") for t in results.tools}
            if not any(cells.values()):
                continue
            med = {t: (c.median if c else None) for t, c in cells.items()}
            rows.append([str(hosts), label, *(_cell(cells[t]) for t in results.tools),
                         *(_ratio(med[p], med.get("moorage")) for p in peers)])
    return _table(header, rows)


def targets(results: Results) -> list[str]:
    hosts = max(results.hosts)
    ours = results.cells.get(f"w1|{hosts}|nochange|moorage")
    lines = []
    for peer, want in TARGETS.items():
        theirs = results.cells.get(f"w1|{hosts}|nochange|{peer}")
        if not ours or not theirs or ours.median is None or theirs.median is None:
            lines.append(f"- no-change rerun on {hosts} hosts, >= {want:g}x faster than {LABELS[peer]}: "
                         "not measured")
            continue
        ratio = theirs.median / ours.median
        verdict = "MET" if ratio >= want else "NOT MET"
        lines.append(f"- no-change rerun on {hosts} hosts, >= {want:g}x faster than {LABELS[peer]}: "
                     f"**{verdict}** ({ratio:.1f}x: {theirs.median:.2f} s vs {ours.median:.2f} s)")
    return lines


def _count(results: Results, key: str) -> str:
    c = results.counts.get(key)
    if not c:
        return "-"
    return f"{c['connections']} / {c['sessions']} / {c['execs']} / {c['sftp']}"


def counts_table(results: Results) -> list[str]:
    header = ["W1, 1 host", *(f"{LABELS[t]} (conn / sessions / exec / sftp)" for t in results.tools)]
    if "moorage" in results.tools:
        header.append("moorage recap (connections / commands)")
    rows = []
    for scenario, label in SCENARIO_LABELS.items():
        keys = {t: f"w1|{scenario}|{t}" for t in results.tools}
        if not any(k in results.counts for k in keys.values()):
            continue
        row = [label, *(_count(results, keys[t]) for t in results.tools)]
        if "moorage" in results.tools:
            own = results.self_reported.get(keys["moorage"], {})
            row.append(f"{own.get('connections', '-')} / {own.get('commands', '-')}")
        rows.append(row)
    return _table(header, rows)


def scale_table(results: Results) -> list[str]:
    header = ["no-change rerun, 1 host", *(f"{LABELS[t]} commands/host" for t in results.tools),
              *(f"{LABELS[t]} median" for t in results.tools)]
    rows = []
    for size in SCALE_SIZES:
        workload = f"scale{size}"
        commands = []
        for t in results.tools:
            c = results.counts.get(f"{workload}|nochange|{t}")
            own = results.self_reported.get(f"{workload}|nochange|{t}", {})
            text = "-" if not c else f"{c['commands']} ({c['sessions']} sessions)"
            if own.get("commands") is not None:
                text += f"; recap: {own['commands']}"
            commands.append(text)
        medians = [_cell(results.cells.get(f"{workload}|1|nochange|{t}")) for t in results.tools]
        rows.append([f"{size} tasks", *commands, *medians])
    return _table(header, rows)


def markdown(results: Results) -> str:
    out = ["# W1 benchmark: moorage vs ansible-core vs pyinfra", ""]
    out += [f"Command: `{results.command.strip()}`; median of {results.n} runs per cell, tools interleaved.",
            "Ratios are peer time / moorage time (higher = moorage faster).", ""]
    out += ["## W1 (3 dirs, 15-variable .env 0600, 10 config files, compose.yml): medians", ""]
    out += timing_table(results)
    out += ["", "## Targets", "", *targets(results), ""]
    if results.counts:
        out += ["## SSH work per host (sshd LogLevel DEBUG1 on the test server)", "",
                "conn = TCP connections authenticated; sessions = channels opened; exec = remote commands; "
                "sftp = SFTP sessions. Ansible reuses its ControlPersist master (0 new connections on reruns).",
                ""]
        out += counts_table(results)
        out += [""]
    if results.recaps:
        out += ["moorage's own recap events, every host of every timed run (distinct values):", ""]
        out += [f"- {key.replace('|', ', ')} host(s): {'; '.join(values)}"
                for key, values in results.recaps.items()]
        out += [""]
    if any(k.startswith("scale") for k in results.cells):
        out += ["## Same SSH work whether the play has 5 tasks or 50?", "",
                "commands/host = exec requests + SFTP sessions sshd saw on the no-change rerun "
                "(recap: what moorage itself reports in its --json recap event).", ""]
        out += scale_table(results)
        out += [""]
    if results.notes:
        out += ["## Notes", "", *(f"- {n}" for n in results.notes), ""]
    failed = {k: c for k, c in results.cells.items() if c.failures}
    if failed:
        out += ["## Failures", ""]
        for key, cell in failed.items():
            out += [f"- `{key}`: {len(cell.failures)} run(s) failed; the last one said:", "",
                    "```", cell.failures[-1], "```", ""]
    out += ["## Environment", ""]
    out += [f"- {k}: {v}" for k, v in {**results.versions, **results.environment}.items()]
    out += ["", "## All samples (seconds)", ""]
    out += [f"- `{k}`: {', '.join(f'{s:.2f}' for s in c.seconds) or '-'}" for k, c in results.cells.items()]
    return "\n".join(out) + "\n"
