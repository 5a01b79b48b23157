"""``restore --media``: media tarballs put back, guarded like a database restore.

restore --media:  lock -> list the backups -> choose (the newest verified tarball of each backup_media
                  entry, or the named ones) -> verify them again -> the data guard (typed confirmation)
                  -> safety backup of the media as they are (required) -> playbooks/restore.yml (stop
                  the writers, empty and unpack, start them again, health gate) -> audit -> unlock
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from moorage.connection.base import Connection
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions
from moorage.operations import server_state as server
from moorage.operations.backups import catalog, guard
from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.postgres import PostgresBackup
from moorage.progname import command
from moorage.recipes.data_settings import DataSettings, one
from moorage.recipes.data_settings import load as settings_load
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.recipes.restore import list_backups, newest_of_each, verify
from moorage.report import Report


def _label(entry: dict[str, Any]) -> str:
    return str(entry.get("label") or "media")


def choose(backups: list[catalog.Backup], names: Sequence[str], settings: DataSettings) -> list[catalog.Backup]:
    """The tarballs to restore: the named ones, or the newest verified one of each ``backup_media`` entry."""
    where = f"{settings.backup_dir} on {settings.host.name}"
    tarballs = [b for b in backups if b.kind == "media"]
    available = ", ".join(f"{b.name} ({b.state})" for b in tarballs[:12]) or "none"
    if not settings.media:
        raise InputError(f"{settings.host.name}: backup_media is empty, so there are no media to restore")
    labels = {_label(m) for m in settings.media}
    if not names:
        return newest_of_each(tarballs, sorted(labels), "media", settings, available)
    picked = []
    for name in names:
        match = next((b for b in tarballs if b.name == name), None)
        if match is None or match.label not in labels:
            raise InputError(f"no media backup named {name!r} of {', '.join(sorted(labels))} in {where}; "
                             f"available: {available}")
        if match.state != catalog.VERIFIED:
            raise InputError(f"{name} is {match.state}, not verified: check it with `{command('backup')} --host "
                             f"{settings.host.name} --verify --file {name}`, or choose another: {available}")
        picked.append(match)
    return picked


def _safety(conn: Connection, settings: DataSettings, labels: set[str], report: Report) -> list[str]:
    """A verified tarball of the media about to be replaced; raises ``HostError`` when it can't be made."""
    media = [m for m in settings.media if _label(m) in labels]
    op = PostgresBackup(settings.backup_args(databases=[], media=media, reason="pre-restore", prune=False),
                        OpContext(settings.host.name, {}))
    change = op.plan(Facts())
    assert change is not None, "postgres_backup always plans a backup"
    task = "safety backup of the media before the restore"
    try:
        result = op.apply(change, conn)
    except TaskFailed as exc:
        report.emit("task", host=settings.host.name, task=task, status="failed", message=str(exc))
        raise HostError(settings.host.name, f"could not back up the media before replacing them ({exc}); "
                        "nothing was changed") from None
    report.emit("task", host=settings.host.name, task=task, status="changed", summary=result.message)
    return list(result.data["backups"])


def restore_media(request: Request, report: Report, *, files: Sequence[str] = (), yes: bool = False,
                  break_lock: bool = False, ask: guard.Ask = guard.terminal_ask) -> int:
    """``restore --media`` on one host (see the module docstring); returns the exit status."""
    inventory = request.inventory()
    settings = one(settings_load(inventory, request.target, request.project), request.target)
    host = settings.host
    with server.locked(host.target, settings.app_dir, "restore", break_lock) as conn:
        chosen = choose(list_backups(conn, settings), files, settings)
        problems = {n: s for n, s in verify(conn, settings, chosen).items() if s != "ok"}
        if problems:
            raise HostError(host.name, "the backup failed verification, nothing was changed: "
                            + "; ".join(f"{n}: {s}" for n, s in problems.items()))
        names = ", ".join(f"{b.name} ({catalog.human_age(b.age())} old)" for b in chosen)
        permit = guard.authorize(guard.Destruction(f"replace the media with {names}", host.name, host.environment,
                                                   [], named=True), [], max_age_hours=settings.max_age_hours,
                                 yes=yes, ask=ask)
        safety = _safety(conn, settings, {b.label for b in chosen}, report)
        entries = {_label(m): m for m in settings.media}
        items = [{"file": b.name, **{k: v for k, v in entries[b.label].items() if k in ("path", "volume", "image")}}
                 for b in chosen]
        restoring = inventory.with_variables({"restore_media": items, "restore_permit": permit.token})
        result = Runner(restoring, RunOptions(), report, {host.name: conn}).run(
            request.project.load_playbook("restore"), restoring.select(host.name))
        ok = not result.failed_hosts
        server.audit(conn, settings.app_dir, "restore", server.read_ledger(conn, settings.app_dir).current or "",
                     "ok" if ok else "failed", files=",".join(b.name for b in chosen), media="yes",
                     safety=",".join(safety))
    message = (f"{', '.join(b.name for b in chosen)} restored; the media it replaced are in {', '.join(safety)}"
               if ok else f"the media restore failed (above); the safety backup is {', '.join(safety)}")
    return finish([Outcome(host.name, ok, message)], report)
