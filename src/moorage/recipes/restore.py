"""The restore recipe: short named steps inside the deploy lock, ending with an audit line.

restore:  lock -> list the backups -> choose (a wrong name lists the others) -> the database is
          running (else: how to start it) -> verify the backup again -> the data guard (a fresh
          verified backup exists, typed confirmation) -> safety backup of the live data ->
          playbooks/restore.yml (stop writers, pg_restore in one transaction, start, health gate)
          -> audit -> unlock
rollback --restore-db: the same checks for the backup recorded with the release, before the
          rollback starts; the restore runs once the old release is back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from moorage.connection.base import Connection
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions
from moorage.executor.interrupt import INTERRUPT, asking, catching
from moorage.inventory import Host, Inventory
from moorage.operations import server_state as server
from moorage.operations.backups import catalog, guard, scripts
from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.postgres import PostgresBackup
from moorage.progname import command
from moorage.project import Project
from moorage.recipes.data_settings import DataSettings, of_hosts, one
from moorage.recipes.data_settings import load as settings_load
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.parts import release_scale
from moorage.recipes.play import Request
from moorage.report import Report
from moorage.schema import suggest


@dataclass(frozen=True)
class Confirmation:
    """How a restore inside ``rollback`` was asked for: ``wanted`` (``--restore-db``), confirmed
    with ``yes`` (else ``ask`` shows the prompt), ``destroy`` (drop and recreate the database)."""

    wanted: bool = False
    yes: bool = False
    destroy: bool = False
    ask: guard.Ask = guard.terminal_ask


@dataclass
class Prepared:
    """A restore that passed every check: what goes where, with the guard's permit."""

    settings: DataSettings
    backups: list[catalog.Backup]
    into: str = ""
    recreate: bool = False
    permit: str = ""
    safety: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)  # tables the backup doesn't have, left in place
    interrupted: str | None = None  # where Ctrl-C stopped the restore: "after 'TASK'", "before the restore"

    def describe(self) -> str:
        names = ", ".join(b.name for b in self.backups)
        if self.into:
            return f"{names} restored into the scratch database {self.into}; the live database was not touched"
        safety = f"; the data it replaced is in {', '.join(self.safety)}" if self.safety else ""
        left = (f"; tables the backup doesn't have were left in place: {', '.join(self.leftovers)} (restore with "
                "--destroy-data for an exact copy)") if self.leftovers else ""
        return f"{names} restored{' as a fresh copy' if self.recreate else ''}{safety}{left}"


def list_backups(conn: Connection, settings: DataSettings) -> list[catalog.Backup]:
    """Every backup in the host's backup directory, newest first."""
    result = conn.run(catalog.list_command(settings.backup_dir))
    if not result.ok:
        raise HostError(settings.host.name, f"cannot list {settings.backup_dir}: {result.stderr_tail(3)}")
    return catalog.parse_listing(result.text)


def newest_of_each(backups: list[catalog.Backup], labels: Sequence[str], kind: str, settings: DataSettings,
                   available: str) -> list[catalog.Backup]:
    """The newest verified backup of ``kind`` ("db" or "media") of each label, never the safety copy a
    restore took; ``InputError`` (saying how to make one, and ``available``) when a label has none."""
    chosen = [catalog.newest_verified([b for b in backups if b.meta.get("reason") != "pre-restore"], label,
                                      kind=kind) for label in labels]
    if not all(chosen):
        what = "database" if kind == "db" else kind
        raise InputError(f"no verified {what} backup in {settings.backup_dir} on {settings.host.name} to restore; "
                         f"make one with `{command('backup', '--host', settings.host.name)}` (available: {available})")
    return [b for b in chosen if b is not None]


def choose(backups: list[catalog.Backup], names: Sequence[str], settings: DataSettings,
           labels: Sequence[str] = ()) -> list[catalog.Backup]:
    """The database backups to restore: the named ones, else the newest verified one of each of
    ``labels`` (``restore --database``; a label backup_databases lacks is refused with did-you-mean),
    else of each database."""
    where = f"{settings.backup_dir} on {settings.host.name}"
    dumps = [b for b in backups if b.kind == "db"]
    available = ", ".join(f"{b.name} ({b.state})" for b in dumps[:12]) or "none"
    refuse_unknown_labels(settings, labels)
    if not names:
        return newest_of_each(dumps, list(labels) or settings.labels, "db", settings, available)
    picked = []
    for name in names:
        match = next((b for b in backups if b.name == name), None)
        if match is None:
            raise InputError(f"no backup named {name!r} in {where}; available: {available}")
        if match.kind != "db":
            raise InputError(f"{name} is a media tarball: restore it on the server with "
                             f"`tar -xzf {settings.backup_dir}/{name} -C MEDIA_DIR`; restore takes database dumps")
        if match.state != catalog.VERIFIED:
            raise InputError(f"{name} is {match.state}, not verified: check it with `{command('backup')} --host "
                             f"{settings.host.name} --verify --file {name}`, or choose another: {available}")
        picked.append(match)
    return picked


def refuse_unknown_labels(settings: DataSettings, labels: Sequence[str]) -> None:
    """``InputError`` for a label of ``restore --database`` that backup_databases lacks (did-you-mean)."""
    for label in labels:
        if label not in settings.labels:
            raise InputError(f"--database {label}: {settings.host.name} backs up no database labelled {label!r}"
                             f"{suggest(label, settings.labels)}; its databases (backup_databases): "
                             f"{', '.join(settings.labels) or 'none'}")


def require_running(conn: Connection, settings: DataSettings, services: Sequence[str]) -> None:
    """Fail with how to start the stack when a database service isn't running."""
    for service in dict.fromkeys(services):
        if not conn.run(scripts.running_command(settings.project_name, service)).text.strip():
            raise HostError(settings.host.name, f"the database service {service} of compose project "
                            f"{settings.project_name} is not running, so nothing can be restored into it; start "
                            f"the stack with `{command('deploy', '--host', settings.host.name)}` (or on the server: cd "
                            f"{settings.app_dir}/current && docker compose up -d --wait {service}: the release's "
                            ".env names its compose files and profiles), then restore again; nothing was changed")


def verify(conn: Connection, settings: DataSettings, backups: Sequence[catalog.Backup]) -> dict[str, str]:
    """Check backups again (recorded sha256, read back in full): ``{name: "ok" | problem}``."""
    items = [(b.name, b.label or "media", b.service or settings.service_of(b.label)) for b in backups]
    result = conn.run(scripts.verify_script(backup_dir=settings.backup_dir, project_name=settings.project_name,
                                            items=items))
    outcome = {name: "not checked (the check did not finish)" for name, _, _ in items}
    for line in result.text.splitlines():
        if line.startswith("@@verify "):
            name, _, status = line[len("@@verify "):].partition(" ")
            word, _, why = status.partition(" ")
            outcome[name] = "ok" if word == "ok" else f"{word}: {why}" if why else word
    return outcome


def safety_backup(conn: Connection, settings: DataSettings, labels: Sequence[str], report: Report,
                  required: bool = True) -> list[str]:
    """A verified backup of the live databases about to be replaced.  When it can't be made: raise when
    ``required``, else warn (``--destroy-data``: the guard already saw a fresh verified backup)."""
    databases = [d for d in settings.databases if scripts.database_label(d) in labels]
    op = PostgresBackup(settings.backup_args(databases=databases, reason="pre-restore", prune=False),
                        OpContext(settings.host.name, {}))
    task = "safety backup of the live data before the restore"
    change = op.plan(Facts())
    assert change is not None, "postgres_backup always plans a backup"
    try:
        result = op.apply(change, conn)
    except TaskFailed as exc:
        report.emit("task", host=settings.host.name, task=task, status="failed" if required else "skipped",
                    message=str(exc))
        if not required:
            report.emit("warning", host=settings.host.name, message="no safety backup of the live data (above); "
                        "going on: --destroy-data was asked and a fresh verified backup exists")
            return []
        raise HostError(settings.host.name, f"could not back up the live database before replacing it ({exc}); "
                        "nothing was changed. If the live database is beyond saving, restore with "
                        f"--destroy-data (it needs a verified backup newer than {settings.max_age_hours:g} h)"
                        ) from None
    report.emit("task", host=settings.host.name, task=task, status="changed", summary=result.message)
    return list(result.data["backups"])


def prepare(conn: Connection, settings: DataSettings, chosen: list[catalog.Backup], report: Report, *,
            into: str = "", destroy: bool = False, yes: bool = False, ask: guard.Ask = guard.terminal_ask,
            after: str = "") -> Prepared:
    """Every check before anything changes, the guard (with its prompt) last; then the safety backup."""
    host = settings.host
    require_running(conn, settings, [b.service or settings.service_of(b.label) for b in chosen])
    problems = {n: s for n, s in verify(conn, settings, chosen).items() if s != "ok"}
    if problems:
        listed = "; ".join(f"{n}: {s}" for n, s in problems.items())
        raise HostError(host.name, f"the backup failed verification, nothing was changed: {listed}")
    if into:
        return Prepared(settings, chosen, into=into)
    names = ", ".join(f"{b.name} ({b.meta.get('reason', 'backup')}, {catalog.human_age(b.age())} old)"
                      for b in chosen)
    what = (f"{after}replace the live database{'s' if len(chosen) > 1 else ''} with {names}"
            + (", dropping and recreating it" if destroy else ""))
    request = guard.Destruction(what, host.name, host.environment, sorted({b.label for b in chosen}), named=True)
    permit = guard.authorize(request, list_backups(conn, settings), max_age_hours=settings.max_age_hours,
                             yes=yes, ask=asking(ask))
    safety = safety_backup(conn, settings, [b.label for b in chosen], report, required=not destroy)
    return Prepared(settings, chosen, recreate=destroy, permit=permit.token, safety=safety)


def run(prepared: Prepared, conn: Connection, inventory: Inventory, project: Project, report: Report) -> bool:
    """Run playbooks/restore.yml for a prepared restore on its host's open connection; True when it passed
    (False when Ctrl-C stopped it: ``prepared.interrupted`` then says where: "after 'TASK'")."""
    settings = prepared.settings
    items = [{"file": b.name, "service": b.service or settings.service_of(b.label),
              **({"database": b.meta["database"]} if b.meta.get("database") else {})} for b in prepared.backups]
    restoring = inventory.with_variables({"restore_backups": items, "restore_into": prepared.into,
                                          "restore_recreate": prepared.recreate,
                                          "restore_permit": prepared.permit,
                                          "compose_scale": release_scale(conn, settings.app_dir)})
    name = settings.host.name
    result = Runner(restoring, RunOptions(), report, {name: conn}).run(project.load_playbook("restore"),
                                                                       restoring.select(name))
    prepared.leftovers = [str(table) for table in result.collected(name, "leftovers")]
    prepared.interrupted = None if result.failed_hosts else result.interrupted.get(name)
    return not result.failed_hosts and prepared.interrupted is None


def release_backups(ledger: server.Ledger, release_id: str) -> list[str]:
    """The files of the newest backup recorded as the data of ``release_id`` (taken while it was live,
    before the next release's migrations)."""
    for release in ledger.releases:  # newest first
        record = release.get("backup") or {}
        if record.get("data_of") == release_id and record.get("files"):
            return [f for f in record["files"] if f.endswith(".dump")]
    return []


def audit(conn: Connection, prepared: Prepared, ok: bool, ledger_current: str | None) -> None:
    """The restore's line in the server's audit log."""
    result = "ok" if ok else "interrupted" if prepared.interrupted is not None else "failed"
    server.audit(conn, prepared.settings.app_dir, "restore", ledger_current or "", result,
                 files=",".join(b.name for b in prepared.backups), into=prepared.into,
                 recreated="yes" if prepared.recreate else "", safety=",".join(prepared.safety))


def outcome_message(prepared: Prepared, ok: bool) -> str:
    """One sentence for the user."""
    if ok:
        return prepared.describe()
    if prepared.interrupted is not None:
        safety = f"; the safety backup is {', '.join(prepared.safety)}" if prepared.safety else ""
        return (f"interrupted (Ctrl-C) {prepared.interrupted}: the database was not touched; any service "
                f"the restore stopped was started again{safety}")
    if prepared.into:
        return "the restore into the scratch database failed (above); the live database was not touched"
    return ("the restore failed (above); it ran in one transaction, so the database is as it was"
            + (f"; the safety backup is {', '.join(prepared.safety)}" if prepared.safety else ""))


def for_release(conn: Connection, inventory: Inventory, project: Project, report: Report, host: Host,
                ledger: server.Ledger, release_id: str, confirm: Confirmation) -> Prepared:
    """``rollback --restore-db``: the checks of a restore of the backup recorded as ``release_id``'s data,
    done before the rollback starts (so a refusal changes nothing)."""
    settings = of_hosts([inventory.hosts[host.name]], project.load_playbook("backup"))[0]
    names = release_backups(ledger, release_id)
    if not names:
        raise InputError(f"{host.name}: no backup is recorded as the data of release {release_id} (a deploy records "
                         "one before running the migrations of the release that follows it); restore one by name "
                         f"with `{command('restore', '--host', host.name)} --file NAME` "
                         f"(`{command('backup', '--host', host.name, '--list')}` shows them)")
    chosen = choose(list_backups(conn, settings), names, settings)
    return prepare(conn, settings, chosen, report, destroy=confirm.destroy, yes=confirm.yes, ask=confirm.ask,
                   after=f"roll back to release {release_id} and ")


def restore(request: Request, report: Report, *, files: Sequence[str] = (), into: str = "", destroy: bool = False,
            yes: bool = False, break_lock: bool = False, ask: guard.Ask = guard.terminal_ask,
            labels: Sequence[str] = ()) -> int:
    """The restore recipe on one host (see the module docstring); returns the exit status.

    ``files``: the backups to restore (default: the newest verified one of each of ``labels``, or
    of each database);
    ``into``: a scratch database instead of the live one; ``destroy``: drop and recreate it.
    """
    with catching():
        inventory = request.inventory()
        settings = one(settings_load(inventory, request.target, request.project), request.target)
        refuse_unknown_labels(settings, labels)  # before any connection
        INTERRUPT.repair[settings.host.name] = command("restore", "--host", settings.host.name, "--break-lock")
        with server.locked(settings.host.target, settings.app_dir, "restore", break_lock, report) as conn:
            chosen = choose(list_backups(conn, settings), files, settings, labels)
            prepared = prepare(conn, settings, chosen, report, into=into, destroy=destroy, yes=yes, ask=ask)
            if INTERRUPT.requested:  # Ctrl-C during the checks: the restore itself never started
                prepared.interrupted = "before the restore"
                ok = False
            else:
                ok = run(prepared, conn, inventory, request.project, report)
            audit(conn, prepared, ok, server.read_ledger(conn, settings.app_dir).current)
        return finish([Outcome(settings.host.name, ok, outcome_message(prepared, ok),
                               interrupted=prepared.interrupted is not None)], report)
