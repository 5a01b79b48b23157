"""``deploy`` and ``rollback`` as short recipes of named steps, per host, inside the deploy lock.

deploy:   preflight (production) -> lock -> run playbooks/deploy.yml with a new release id
          -> on failure after the switch: roll back to the previous release -> audit -> unlock
rollback: lock -> find the release -> [--restore-db: the checks of a restore for the backup recorded
          with it, confirmation] -> run playbooks/rollback.yml (no rebuild) -> [restore] -> audit -> unlock
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moorage.connection import Connection
from moorage.data import restore as data_restore
from moorage.deploy.preflight import failures
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions
from moorage.inventory import load_inventory
from moorage.operations import server_state as server
from moorage.operations.backups import guard
from moorage.project import Project, locate
from moorage.report import Report
from moorage.templating import render_keys


@dataclass
class Request:
    """What the user asked for on the command line."""

    inventory: str
    target: str
    overrides: list[str] = field(default_factory=list)
    options: RunOptions = field(default_factory=RunOptions)
    force: bool = False
    break_lock: bool = False
    project: Project | None = None  # default: the project of ``inventory``

    def located(self) -> Project:
        """The project whose playbooks and roles the recipe runs."""
        return self.project or locate(inventory=self.inventory)


@dataclass
class Outcome:
    """How one host's recipe ended, in one sentence for the user."""

    host: str
    ok: bool
    message: str


def _app_dir(host: Any, defaults: Any) -> str:
    return str(render_keys(host.variables(defaults), ("app_dir",))["app_dir"])


def deploy(request: Request, report: Report) -> list[Outcome]:
    """Deploy every host of the target, one after another; see the module docstring."""
    release_id = server.new_release_id()
    project = request.located()
    revision = project.revision()
    settings = [f'release_id="{release_id}"', f'deploy_revision="{revision}"', f'deploy_by="{server.operator()}"']
    inventory = load_inventory(request.inventory, [*settings, *request.overrides])
    hosts = inventory.select(request.target)
    playbook = project.load_playbook("deploy")
    for host in hosts:
        problems = failures(host.variables(playbook.defaults()), project.root) if host.production else []
        if problems and not request.force:
            raise InputError(f"preflight failed for production host {host.name}: " + "; ".join(problems)
                             + ". Fix them, or deploy with --force (written to the audit log)", host.location)
    if request.options.check:
        result = Runner(inventory, request.options, report).run(playbook, hosts)
        return [Outcome(h.name, h.name not in result.failed_hosts,
                        "check mode: nothing was changed" if h.name not in result.failed_hosts
                        else "check mode found a failure (above); nothing was changed") for h in hosts]
    return [_deploy_host(request, report, inventory, playbook, host, release_id, revision) for host in hosts]


def _deploy_host(request: Request, report: Report, inventory: Any, playbook: Any, host: Any,
                 release_id: str, revision: str) -> Outcome:
    app_dir = _app_dir(host, playbook.defaults())
    forced = "yes" if request.force and host.production else ""
    try:
        with server.locked(host.target, app_dir, "deploy", request.break_lock) as conn:
            result = Runner(inventory, request.options, report, {host.name: conn}).run(playbook, [host])
            ledger = server.read_ledger(conn, app_dir)
            if not result.failed_hosts:
                server.audit(conn, app_dir, "deploy", ledger.current or "", "ok", forced=forced,
                             revision=revision)
                return Outcome(host.name, True, f"release {ledger.current} is live")
            outcome = _recover(request, report, conn, host, ledger, release_id)
            server.audit(conn, app_dir, "deploy", release_id, "failed", forced=forced, detail=outcome.message)
            return outcome
    except HostError as exc:
        report.emit("task", host=host.name, task="deploy lock", status="failed", message=exc.detail)
        return Outcome(host.name, False, exc.detail)


def _recover(request: Request, report: Report, conn: Connection, host: Any, ledger: server.Ledger,
             release_id: str) -> Outcome:
    """After a failed deploy: if the new release went live, bring the previous one back."""
    if ledger.current != release_id:
        still = f"release {ledger.current} is still running" if ledger.current else "nothing was running"
        return Outcome(host.name, False, f"deploy failed before the switch: {still}")
    previous = (ledger.get(release_id) or {}).get("previous")
    if not previous:
        return Outcome(host.name, False, f"deploy of {release_id} failed and there is no previous release")
    report.emit("warning", host=host.name, message=f"deploy of {release_id} failed after the switch; "
                f"rolling back to {previous}")
    if _run_rollback(request, report, conn, host, previous):
        return Outcome(host.name, False, f"rolled back: deploy of {release_id} failed, release {previous} "
                       "is live again")
    return Outcome(host.name, False, f"rollback failed: deploy of {release_id} failed and bringing back "
                   f"{previous} failed too; see above")


def _run_rollback(request: Request, report: Report, conn: Connection, host: Any, release: str) -> bool:
    inventory = load_inventory(request.inventory, [*request.overrides, f'rollback_to="{release}"'])
    playbook = request.located().load_playbook("rollback")
    options = RunOptions(check=request.options.check, diff=request.options.diff)
    result = Runner(inventory, options, report, {host.name: conn}).run(playbook, inventory.select(host.name))
    return not result.failed_hosts


def rollback(request: Request, tag: str, report: Report, restore_db: bool = False, yes: bool = False,
             destroy_data: bool = False, ask: guard.Ask = guard.terminal_ask) -> list[Outcome]:
    """Bring back a recorded release (``tag``: release id, unique id prefix, revision, or previous);
    with ``restore_db``, then restore the backup recorded as that release's data (data/restore.py)."""
    inventory = load_inventory(request.inventory, request.overrides)
    project = request.located()
    playbook = project.load_playbook("rollback")
    outcomes = []
    for host in inventory.select(request.target):
        app_dir = _app_dir(host, playbook.defaults())
        try:
            with server.locked(host.target, app_dir, "rollback", request.break_lock) as conn:
                ledger = server.read_ledger(conn, app_dir)
                chosen = ledger.find(tag)
                if chosen is None:
                    known = ", ".join(r["id"] for r in ledger.releases) or "none"
                    raise InputError(f"{host.name}: no release matches '{tag}'; recorded: {known}")
                data = data_restore.for_release(conn, request.inventory, request.overrides, project,
                                                report, host, ledger, chosen["id"], yes=yes, ask=ask,
                                                destroy=destroy_data) if restore_db else None
                ok = _run_rollback(request, report, conn, host, chosen["id"])
                message = f"release {chosen['id']} is live" if ok else f"rollback to {chosen['id']} failed; see above"
                if ok and data is not None:
                    restored = data_restore.run(data, conn, request.inventory, request.overrides,
                                                project, report)
                    data_restore.audit(conn, data, restored, chosen["id"])
                    message += f"; {data_restore.outcome_message(data, restored)}"
                    ok = restored
                server.audit(conn, app_dir, "rollback", chosen["id"], "ok" if ok else "failed",
                             previous=ledger.current, restore_db="yes" if data else "")
                outcomes.append(Outcome(host.name, ok, message))
        except HostError as exc:
            report.emit("task", host=host.name, task="rollback", status="failed", message=exc.detail)
            outcomes.append(Outcome(host.name, False, exc.detail))
    return outcomes
