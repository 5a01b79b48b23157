"""``rollback`` as a short recipe of named steps, per host, inside the deploy lock.

rollback: lock -> find the release -> [--restore-db: the checks of a restore for the backup recorded
          with it, confirmation] -> run playbooks/rollback.yml (no rebuild) -> [restore] -> audit -> unlock
"""

from __future__ import annotations

from moorage.connection import Connection
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions, RunResult
from moorage.executor.interrupt import INTERRUPT, catching
from moorage.inventory import Host, Inventory
from moorage.operations import server_state as server
from moorage.operations.backups import guard
from moorage.playbook import Playbook
from moorage.progname import command
from moorage.recipes import restore
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.report import Report
from moorage.templating import render_keys


def app_dir(host: Host, playbook: Playbook) -> str:
    """The host's ``app_dir`` as ``playbook``'s defaults and the inventory resolve it."""
    return str(render_keys(host.variables(playbook.defaults()), ("app_dir",))["app_dir"])


def run_rollback(inventory: Inventory, request: Request, report: Report, conn: Connection, host: str,
                 release: str) -> bool:
    """playbooks/rollback.yml with ``rollback_to=release`` on ``host``'s open connection; True when it passed."""
    return not _run(inventory, request, report, conn, host, release).failed_hosts


def _run(inventory: Inventory, request: Request, report: Report, conn: Connection, host: str,
         release: str) -> RunResult:
    rolling = inventory.with_variables({"rollback_to": release})
    options = RunOptions(check=request.options.check, diff=request.options.diff)
    return Runner(rolling, options, report, {host: conn}).run(request.project.load_playbook("rollback"),
                                                              rolling.select(host))


def rollback(request: Request, tag: str, report: Report, *, break_lock: bool = False, restore_db: bool = False,
             yes: bool = False, destroy_data: bool = False, ask: guard.Ask = guard.terminal_ask) -> int:
    """Bring back a recorded release (``tag``: release id, unique id prefix, revision, or ``previous``);
    with ``restore_db``, then restore the backup recorded as that release's data.  Returns the exit status."""
    with catching():
        return _rollback(request, tag, report, break_lock, restore.Confirmation(restore_db, yes, destroy_data, ask))


def _rollback(request: Request, tag: str, report: Report, break_lock: bool, confirm: restore.Confirmation) -> int:
    inventory = request.inventory()
    playbook = request.project.load_playbook("rollback")
    outcomes = []
    for host in inventory.select(request.target):
        if INTERRUPT.requested:
            outcomes.append(Outcome(host.name, False, "not started: interrupted (Ctrl-C) before this host",
                                    interrupted=True))
            continue
        INTERRUPT.repair[host.name] = command("rollback", "--host", host.name, "--tag", tag, "--break-lock")
        try:
            outcomes.append(_host(request, report, inventory, playbook, host, tag, break_lock, confirm))
        except HostError as exc:
            report.emit("task", host=host.name, task="rollback", status="failed", message=exc.detail)
            outcomes.append(Outcome(host.name, False, exc.detail))
    return finish(outcomes, report)


def _host(request: Request, report: Report, inventory: Inventory, playbook: Playbook, host: Host, tag: str,
          break_lock: bool, confirm: restore.Confirmation) -> Outcome:
    where = app_dir(host, playbook)
    with server.locked(host.target, where, "rollback", break_lock, report) as conn:
        ledger = server.read_ledger(conn, where)
        chosen = ledger.find(tag)
        if chosen is None:
            known = ", ".join(r["id"] for r in ledger.releases) or "none"
            raise InputError(f"{host.name}: no release matches '{tag}'; recorded: {known}")
        release = str(chosen["id"])
        data = restore.for_release(conn, inventory, request.project, report, host, ledger, release,
                                   confirm) if confirm.wanted else None
        result = _run(inventory, request, report, conn, host.name, release)
        ok = not result.failed_hosts
        message = f"release {release} is live" if ok else f"rollback to {release} failed; see above"
        if ok and (host.name in result.interrupted or (INTERRUPT.requested and data is not None)):
            now = server.read_ledger(conn, where).current
            return _interrupted(conn, where, host.name, release, (ledger.current, now), data is not None,
                                result.interrupted.get(host.name, ""))
        if ok and data is not None:
            restored = restore.run(data, conn, inventory, request.project, report)
            restore.audit(conn, data, restored, release)
            message += f"; {restore.outcome_message(data, restored)}"
            ok = restored
        server.audit(conn, where, "rollback", release, "ok" if ok else "failed",
                     previous=ledger.current, restore_db="yes" if data else "")
        return Outcome(host.name, ok, message)


def _interrupted(conn: Connection, where: str, host: str, release: str, currents: tuple[str | None, str | None],
                 restore_db: bool, before: str) -> Outcome:
    """Ctrl-C stopped the rollback at a safe point (``currents``: the live release before it, and now):
    say which release is live, audit it."""
    previous, current = currents
    live = f"release {current} is live" if current else "no release is live"
    rest = ("" if current == release else f"; nothing was rolled back to {release}") + \
           ("; the database restore did not run" if restore_db else "")
    where_said = f" {before}" if before else ""
    server.audit(conn, where, "rollback", release, "interrupted", previous=previous)
    return Outcome(host, False, f"interrupted (Ctrl-C){where_said}: {live}{rest}", interrupted=True)
