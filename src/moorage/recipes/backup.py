"""``backup``: playbooks/backup.yml on the target's hosts, then one sentence per host naming the
verified backups made (``--fetch``: copied here, checked against their sha256).  ``list_backups``
and ``verify`` read a host's backup directory without making anything.

backup:  backup.yml (pg_dump -Fc + pg_restore --list, media tarballs, retention, the daily job)
         -> the backups each host made -> [fetch them] -> recap
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rich.table import Table

from moorage.connection import connect
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunResult
from moorage.operations.backups import catalog
from moorage.progname import command
from moorage.recipes import fetch
from moorage.recipes.console import console
from moorage.recipes.data_settings import DataSettings, load, one
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.recipes.restore import list_backups as listed_backups
from moorage.recipes.restore import verify as verify_backups
from moorage.report import Report
from moorage.yamlsrc import path_kind

STALE_HOURS = 24  # --list warns when the newest verified backup of a database is older


def backup(request: Request, report: Report, *, fetch_new: bool = False, fetch_dir: Path | None = None) -> int:
    """Back up every host of the target; with ``fetch_new``, copy the new backups to ``fetch_dir``
    (default: ``backups/HOST``).  Returns the exit status.

    Raises ``InputError`` before backing anything up when a fetch directory cannot hold the copies.
    """
    inventory = request.inventory()
    hosts = load(inventory, request.target, request.project)
    dirs = fetch_dirs([d.host.name for d in hosts], fetch_dir, create=not request.options.check) if fetch_new else {}
    result = Runner(inventory, request.options, report).run(request.project.load_playbook("backup"),
                                                            [s.host for s in hosts])
    return finish([_outcome(data, result, request.options.check, dirs.get(data.host.name)) for data in hosts],
                  report)


def fetch_dirs(names: list[str], fetch_dir: Path | None, *, create: bool) -> dict[str, Path]:
    """Where ``--fetch`` puts each host's backups (``fetch_dir``, else ``backups/HOST``), made now
    (mode 0700, unless not ``create``: check mode) so that a place that cannot hold them is refused
    before a backup is made, not after.  Raises ``InputError`` naming the directory."""
    dirs = {name: fetch_dir or Path("backups") / name for name in names}
    for path in dict.fromkeys(dirs.values()):
        kind = path_kind(path)
        if kind not in ("a directory", "missing"):
            raise InputError(f"--fetch-dir {path} is {kind}, not a directory: name a directory (created when "
                             "missing) for the fetched backups")
        if not create:
            continue
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--fetch-dir {path}: cannot create it ({exc.strerror or exc}); name a directory "
                             "this user can write") from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"--fetch-dir {path}: this user cannot write in it; name another directory")
    return dirs


def _outcome(data: DataSettings, result: RunResult, check: bool, fetch_dir: Path | None) -> Outcome:
    name = data.host.name
    made = [str(b) for b in result.collected(name, "backups")]
    if name in result.failed_hosts:
        return Outcome(name, False, f"verified backups made: {', '.join(made)}; then a later step failed (above)"
                       if made else "backup failed (above); older backups are kept")
    message = (f"verified backups in {data.backup_dir}: {', '.join(made)}" if made
               else "check mode: nothing made" if check
               else "nothing to back up: backup_databases and backup_media are empty"
               if not data.databases and not data.media else "nothing made")
    if fetch_dir and made:
        message += "; " + _fetch(data, made, fetch_dir)
    message += "".join(f"; {why}" for why in result.collected(name, "unscheduled"))
    return Outcome(name, True, message)


def _fetch(data: DataSettings, names: list[str], dest: Path) -> str:
    conn = connect(data.host.target)
    try:
        listed = {b.name: b for b in listed_backups(conn, data)}
        paths = [fetch.fetch(conn, data.backup_dir, listed[name], dest) for name in names if name in listed]
    finally:
        conn.close()
    return f"fetched to {', '.join(str(p) for p in paths)} (sha256 checked)"


def list_backups(request: Request, *, json_: bool = False) -> int:
    """``backup --list``: one host's backups with age, size and verification state; prints them."""
    data = one(load(request.inventory(), request.target, request.project), request.target)
    conn = connect(data.host.target)
    try:
        backups = listed_backups(conn, data)
    finally:
        conn.close()
    warning = catalog.staleness(backups, STALE_HOURS, labels=data.labels)
    if json_:
        print(json.dumps({"host": data.host.name, "backup_dir": data.backup_dir, "warning": warning,
                          "backups": [catalog.as_json(b) for b in backups]}))
        return 0
    table = Table("backup", "kind", "age", "size", "state", "reason", title=f"{data.host.name}: {data.backup_dir}")
    for b in backups:
        state = b.state if b.verified else f"[red]{b.state}[/]"
        table.add_row(b.name, b.kind, catalog.human_age(b.age()), catalog.human_size(b.size), state,
                      str(b.meta.get("reason", "")))
    out = console()
    out.print(table if backups else f"{data.host.name}: no backup in {data.backup_dir}")
    if warning:
        out.print(f"[yellow]warning[/]: {warning}; back up with `{command('backup', '--host', data.host.name)}`")
    return 0


def verify(request: Request, *, file: str = "", json_: bool = False) -> int:
    """``backup --verify``: check one host's backups again (``file``: only that one); prints each result.

    Raises ``HostError`` (exit 1) when one fails, ``InputError`` when ``file`` is not there.
    """
    data = one(load(request.inventory(), request.target, request.project), request.target)
    conn = connect(data.host.target)
    try:
        backups = listed_backups(conn, data)
        chosen = [b for b in backups if not file or b.name == file]
        if file and not chosen:
            available = ", ".join(b.name for b in backups[:12]) or "none"
            raise InputError(f"no backup named {file!r} in {data.backup_dir} on {data.host.name}; "
                             f"available: {available}")
        results = verify_backups(conn, data, chosen)
    finally:
        conn.close()
    bad = {name: status for name, status in results.items() if status != "ok"}
    if json_:
        print(json.dumps({"host": data.host.name, "results": results}))
    else:
        for name, status in results.items():
            print(f"{name}: " + ("verified" if status == "ok" else status.replace("corrupt:", "CORRUPT:", 1)))
    if bad:
        raise HostError(data.host.name, f"{len(bad)} of {len(results)} backup(s) failed verification: "
                        + "; ".join(f"{n}: {s}" for n, s in bad.items()))
    return 0
