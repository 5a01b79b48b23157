"""``rollback`` as a short recipe of named steps, per host, inside the deploy lock.

rollback: lock -> find the release (refused when it never was live: failed or pending)
          -> [--restore-db: the checks of a restore for the backup recorded with it, confirmation]
          -> run playbooks/rollback.yml (no rebuild) -> [restore] -> mark it live, the one it
          replaced rolled-back -> audit -> unlock
"""

from __future__ import annotations

from typing import Any

from moorage.connection import Connection
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions, RunResult
from moorage.executor.interrupt import INTERRUPT, catching
from moorage.inventory import Host, Inventory
from moorage.operations import server_state as server
from moorage.operations.backups import guard
from moorage.playbook import Playbook
from moorage.progname import command
from moorage.recipes import restore, swarm
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.report import Report
from moorage.templating import render_keys


def app_dir(host: Host, playbook: Playbook) -> str:
    """The host's ``app_dir`` as ``playbook``'s defaults and the inventory resolve it."""
    return str(render_keys(host.variables(playbook.defaults()), ("app_dir",))["app_dir"])


def run_rollback(inventory: Inventory, request: Request, report: Report, conn: Connection, host: str,
                 release: str, record: dict[str, Any] | None = None) -> bool:
    """playbooks/rollback.yml with ``rollback_to=release`` on ``host``'s open connection; True when it passed.
    ``record``: the release's release.json; the ``compose_scale`` it recorded comes back with it."""
    return not _run(inventory, request, report, conn, host, release, record).failed_hosts


def _run(inventory: Inventory, request: Request, report: Report, conn: Connection, host: str,
         release: str, record: dict[str, Any] | None) -> RunResult:
    scale = ((record or {}).get("meta") or {}).get("scale")
    rolling = inventory.with_variables({"rollback_to": release,
                                        **({"compose_scale": scale} if isinstance(scale, dict) else {})})
    options = RunOptions(check=request.options.check, diff=request.options.diff)
    return Runner(rolling, options, report, {host: conn}).run(request.project.load_playbook("rollback"),
                                                              rolling.select(host))


def rollback(request: Request, tag: str, report: Report, *, break_lock: bool = False, restore_db: bool = False,
             yes: bool = False, destroy_data: bool = False, ask: guard.Ask = guard.terminal_ask) -> int:
    """Bring back a recorded release (``tag``: release id, unique id prefix, revision, or ``previous``);
    never a release that failed its deploy; with ``restore_db``, then restore the backup recorded as that
    release's data.  Returns the exit status."""
    with catching():
        return _rollback(request, tag, report, break_lock, restore.Confirmation(restore_db, yes, destroy_data, ask))


def _rollback(request: Request, tag: str, report: Report, break_lock: bool, confirm: restore.Confirmation) -> int:
    inventory = request.inventory()
    playbook = request.project.load_playbook("rollback")
    outcomes = []
    for host in swarm.deploy_targets(inventory, inventory.select(request.target)):  # a swarm: its first manager
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
            known = ", ".join(f"{r['id']} ({r.get('state')})" for r in ledger.releases) or "none"
            what = ("no release before the current one was live and kept (a release a rollback replaced is chosen "
                    "by its id)") if tag == "previous" else f"no release matches '{tag}'"
            raise InputError(f"{host.name}: {what}; recorded: {known}")
        release = str(chosen["id"])
        if chosen.get("state") not in server.GOOD:
            good = ", ".join(r["id"] for r in ledger.releases if r.get("state") in server.GOOD) or "none"
            raise InputError(f"{host.name}: release {release} is {chosen.get('state')}: it never passed its "
                             f"deploy, so it is no rollback target; releases that were live: {good}")
        data = restore.for_release(conn, inventory, request.project, report, host, ledger, release,
                                   confirm) if confirm.wanted else None
        result = _run(inventory, request, report, conn, host.name, release, chosen)
        ok = not result.failed_hosts
        message = f"release {release} is live" if ok else f"rollback to {release} failed; see above"
        if ok and (host.name in result.interrupted or (INTERRUPT.requested and data is not None)):
            now = server.read_ledger(conn, where).current
            if now == release:  # the switch and its gate passed before the stop
                _mark(conn, ledger, where, release)
            return _interrupted(conn, where, host.name, release, (ledger.current, now), data is not None,
                                result.interrupted.get(host.name, ""))
        marked = _mark(conn, ledger, where, release) if ok else ""
        if ok and data is not None:
            restored = restore.run(data, conn, inventory, request.project, report)
            restore.audit(conn, data, restored, release)
            message += f"; {restore.outcome_message(data, restored)}"
            ok = restored
        server.audit(conn, where, "rollback", release, "ok" if ok else "failed",
                     previous=ledger.current, restore_db="yes" if data else "")
        return Outcome(host.name, ok, message + marked)


def _mark(conn: Connection, ledger: server.Ledger, app_dir: str, release: str) -> str:
    """After a rollback to ``release``: it is live; the release it replaced is ``rolled-back`` when
    newer (``superseded`` when the rollback went forward, still ``failed`` when it had failed).
    Returns what the outcome adds."""
    replaced = ledger.current or ""
    if replaced == release:  # a cut run of this rollback switched already: it replaces what was live
        replaced = str((ledger.live_besides(release) or {}).get("id") or "")
    state = ledger.state(replaced)
    server.mark_live(conn, ledger, app_dir, release)
    if not replaced or replaced == release or state == "failed":
        return ""
    if not ledger.newer(replaced, release):
        server.set_states(conn, app_dir, {replaced: "superseded"})
        return ""
    server.set_states(conn, app_dir, {replaced: "rolled-back"})
    return (f"; {replaced} is marked rolled-back: the next deploy deploys the project as it is now and "
            "replaces this rollback")


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
