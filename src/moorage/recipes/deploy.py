"""``deploy`` as a short recipe of named steps, per host, inside the deploy lock.

deploy:   preflight (production) -> lock -> run playbooks/deploy.yml with a new release id
          -> on failure after the switch: roll back to the previous release -> audit -> unlock
"""

from __future__ import annotations

from moorage.connection import Connection
from moorage.errors import HostError, InputError
from moorage.executor import Runner
from moorage.inventory import Host, Inventory
from moorage.operations import server_state as server
from moorage.playbook import Playbook
from moorage.recipes import rollback
from moorage.recipes.check import check_before_run
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.recipes.preflight import failures
from moorage.recipes.secrets_check import warn_new_secrets
from moorage.report import Report


def deploy(request: Request, report: Report, *, force: bool = False, break_lock: bool = False) -> int:
    """Deploy every host of the target, one after another; returns the exit status.

    Raises ``InputError`` when a production host fails the preflight and ``force`` is not set.
    """
    release_id = server.new_release_id()
    revision = request.project.revision()
    base = request.inventory()
    # The recipe's variables; a --set of the same name wins (a user may pin release_id).
    inventory = base.with_variables({"release_id": release_id, "deploy_revision": revision,
                                     "deploy_by": server.operator()}, under_set=True)
    hosts = inventory.select(request.target)
    check_before_run(request.project, inventory, request.target, "deploy")  # input errors: exit 2, nothing touched
    playbook = request.project.load_playbook("deploy")
    request.options.check_tags(playbook)  # before the preflight and the lock: a typo runs nothing
    _preflight(request, hosts, playbook, force)
    if request.options.check:
        result = Runner(inventory, request.options, report).run(playbook, hosts)
        warn_new_secrets(result, hosts, playbook, report)
        return finish([Outcome(h.name, h.name not in result.failed_hosts,
                               "check mode: nothing was changed" if h.name not in result.failed_hosts
                               else "check mode found a failure (above); nothing was changed") for h in hosts],
                      report)
    steps = _Deploy(request, report, base, inventory, playbook, release_id, revision, force, break_lock)
    return finish([steps.host(host) for host in hosts], report)


def _preflight(request: Request, hosts: list[Host], playbook: Playbook, force: bool) -> None:
    for host in hosts:
        problems = failures(host.variables(playbook.defaults()), request.project.root) if host.production else []
        if problems and not force:
            raise InputError(f"preflight failed for production host {host.name}: " + "; ".join(problems)
                             + ". Fix them, or deploy with --force (written to the audit log)", host.location)


class _Deploy:
    """One deploy's settings; ``host`` runs the recipe's steps on one host."""

    def __init__(self, request: Request, report: Report, base: Inventory, inventory: Inventory, playbook: Playbook,
                 release_id: str, revision: str, force: bool, break_lock: bool = False) -> None:
        self.request, self.report, self.base, self.inventory = request, report, base, inventory
        self.playbook, self.release_id, self.revision = playbook, release_id, revision
        self.force, self.break_lock = force, break_lock

    def host(self, host: Host) -> Outcome:
        app_dir = rollback.app_dir(host, self.playbook)
        forced = "yes" if self.force and host.production else ""
        try:
            with server.locked(host.target, app_dir, "deploy", self.break_lock) as conn:
                result = Runner(self.inventory, self.request.options, self.report, {host.name: conn}).run(
                    self.playbook, [host])
                warn_new_secrets(result, [host], self.playbook, self.report, {host.name: conn})
                ledger = server.read_ledger(conn, app_dir)
                if not result.failed_hosts:
                    server.audit(conn, app_dir, "deploy", ledger.current or "", "ok", forced=forced,
                                 revision=self.revision)
                    return Outcome(host.name, True, f"release {ledger.current} is live")
                outcome = self._recover(conn, host, ledger)
                server.audit(conn, app_dir, "deploy", self.release_id, "failed", forced=forced,
                             detail=outcome.message)
                return outcome
        except HostError as exc:
            self.report.emit("task", host=host.name, task="deploy lock", status="failed", message=exc.detail)
            return Outcome(host.name, False, exc.detail)

    def _recover(self, conn: Connection, host: Host, ledger: server.Ledger) -> Outcome:
        """After a failed deploy: if the new release went live, bring the previous one back."""
        release_id = self.release_id
        if ledger.current != release_id:
            still = f"release {ledger.current} is still running" if ledger.current else "nothing was running"
            return Outcome(host.name, False, f"deploy failed before the switch: {still}")
        previous = str((ledger.get(release_id) or {}).get("previous") or "")
        if not previous:
            return Outcome(host.name, False, f"deploy of {release_id} failed and there is no previous release")
        self.report.emit("warning", host=host.name, message=f"deploy of {release_id} failed after the switch; "
                         f"rolling back to {previous}")
        if rollback.run_rollback(self.base, self.request, self.report, conn, host.name, previous):
            return Outcome(host.name, False, f"rolled back: deploy of {release_id} failed, release {previous} "
                           "is live again")
        return Outcome(host.name, False, f"rollback failed: deploy of {release_id} failed and bringing back "
                       f"{previous} failed too; see above")
