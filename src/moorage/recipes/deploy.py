"""``deploy`` as a short recipe of named steps, per host, inside the deploy lock.

deploy:   preflight (production) -> lock -> [say so when the current release is live by a rollback]
          -> run playbooks/deploy.yml with a new release id -> success: the current release is live
          -> failure: its release is marked failed; after the switch, the release that was live
             before comes back (a rollback) -> audit -> unlock
--services a,b: the same recorded release, but the role brings up only those services
          (``deploy_services``: ``up --no-deps a b``); names the compose file lacks are refused first
"""

from __future__ import annotations

import re

from moorage.connection import Connection
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunResult
from moorage.executor.interrupt import INTERRUPT, catching
from moorage.inventory import Host, Inventory
from moorage.operations import server_state as server
from moorage.playbook import Playbook
from moorage.progname import command
from moorage.recipes import preflight_server, resume, rollback, swarm
from moorage.recipes.check import check_before_run
from moorage.recipes.compose_services import refuse_unknown
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.recipes.preflight import failures
from moorage.recipes.secrets_check import warn_new_secrets
from moorage.report import Report


def deploy(request: Request, report: Report, *, force: bool = False, break_lock: bool = False,
           services: list[str] | None = None) -> int:
    """Deploy every host of the target, one after another; returns the exit status (130 when Ctrl-C
    stopped it at a safe point, see ``executor.interrupt``).  ``services``: only those compose
    services are (re)created, the others keep their containers.

    Raises ``InputError`` when a production host fails the preflight and ``force`` is not set, or
    when ``services`` names one the compose file lacks.
    """
    with catching():
        return _deploy(request, report, force, break_lock, services)


def _deploy(request: Request, report: Report, force: bool, break_lock: bool, services: list[str] | None) -> int:
    release_id = server.new_release_id()
    revision = request.project.revision()
    base = request.inventory()
    # The recipe's variables; a --set of the same name wins (a user may pin release_id).
    inventory = base.with_variables({"release_id": release_id, "deploy_revision": revision,
                                     "deploy_by": server.operator(), "deploy_services": list(services or [])},
                                    under_set=True)
    hosts = swarm.deploy_targets(inventory, inventory.select(request.target))  # a swarm: its first manager
    playbook = request.project.load_playbook("deploy")
    for host in hosts if services else []:  # first: a wrong name is the flag's, not the inventory's
        refuse_unknown(host, playbook.plays, request.project.root, list(services or []), "--services")
    check_before_run(request.project, inventory, request.target, "deploy")  # input errors: exit 2, nothing touched
    request.options.check_tags(playbook)  # before the preflight and the lock: a typo runs nothing
    _preflight(request, hosts, playbook, force)
    if request.options.check:
        result = Runner(inventory, request.options, report).run(playbook, hosts)
        warn_new_secrets(result, hosts, playbook, report)
        return finish([_checked(h.name, result) for h in hosts], report)
    steps = _Deploy(request, report, base, inventory, playbook, release_id, revision, force, break_lock)
    return finish([swarm.prepared(request, report, inventory, host) or steps.host(host) for host in hosts], report)


def _checked(host: str, result: RunResult) -> Outcome:
    """How ``deploy --check`` ended on ``host``."""
    if host in result.failed_hosts:
        return Outcome(host, False, "check mode found a failure (above); nothing was changed")
    if host in result.interrupted:
        return Outcome(host, False, f"interrupted (Ctrl-C) {result.interrupted[host]}; check mode: "
                       "nothing was changed", interrupted=True)
    return Outcome(host, True, "check mode: nothing was changed")


def _preflight(request: Request, hosts: list[Host], playbook: Playbook, force: bool) -> None:
    """The production preflight: the checks of the project's files and variables, then (when those
    pass and some are set) the server checks (``preflight_server``: a connection)."""
    for host in hosts:
        if not host.production or force:
            continue
        variables = host.variables(playbook.defaults())
        problems = failures(variables, request.project.root) or preflight_server.asked(host, variables,
                                                                                       request.project)
        if problems:
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
        if INTERRUPT.requested:
            return Outcome(host.name, False, "not started: interrupted (Ctrl-C) before this host", interrupted=True)
        INTERRUPT.repair[host.name] = command("deploy", "--host", host.name)  # a stale lock is taken over
        try:
            with server.locked(host.target, app_dir, "deploy", self.break_lock, self.report) as conn:
                pending = self._before(conn, host, server.read_ledger(conn, app_dir), app_dir)
                result = Runner(self.inventory, self.request.options, self.report, {host.name: conn}).run(
                    self.playbook, [host])
                warn_new_secrets(result, [host], self.playbook, self.report, {host.name: conn})
                ledger = server.read_ledger(conn, app_dir)
                if host.name in result.interrupted and not result.failed_hosts:
                    if ledger.current == self.release_id:  # its switch-to-gate window ran through: it passed
                        server.mark_live(conn, ledger, app_dir, self.release_id)
                    outcome = self._interrupted(host, ledger, result.interrupted[host.name])
                    server.audit(conn, app_dir, "deploy", ledger.current or "", "interrupted", forced=forced,
                                 revision=self.revision, detail=outcome.message)
                    return outcome
                finished = pending is not None and ledger.current == pending.release
                if not result.failed_hosts:
                    server.mark_live(conn, ledger, app_dir, ledger.current or "")
                    server.audit(conn, app_dir, "deploy", ledger.current or "", "ok", forced=forced,
                                 revision=self.revision, detail="finished an interrupted deploy" if finished else "")
                    said = " (it finished the deploy an interruption had left after the switch)" if finished else ""
                    return Outcome(host.name, True, f"release {ledger.current} is live{said}")
                outcome = self._recover(conn, host, ledger, app_dir, _failure(result, host.name))
                server.audit(conn, app_dir, "deploy", (ledger.current or "") if finished else self.release_id, "failed",
                             forced=forced, detail=outcome.message)
                return outcome
        except HostError as exc:
            self.report.emit("task", host=host.name, task="deploy lock", status="failed", message=exc.detail)
            return Outcome(host.name, False, exc.detail)

    def _before(self, conn: Connection, host: Host, ledger: server.Ledger, app_dir: str) -> resume.Unfinished | None:
        """Before the playbook: a current release recorded before states existed is the live one
        (written, so a failure after the switch knows where to return); a current one still pending
        is an interrupted deploy this run finishes (said, returned); and when the current one is
        live by a rollback, say that this deploy replaces it."""
        if ledger.current and ledger.current in ledger.inferred:
            server.set_states(conn, app_dir, {ledger.current: "live"})
        pending = resume.unfinished(ledger)
        if pending is not None:
            self.report.emit("warning", host=host.name, message=pending.announce())
            return pending
        undone = ledger.rolled_back_from()
        if undone:
            self.report.emit("warning", host=host.name, message=(
                f"release {ledger.current} is live because a rollback replaced {undone['id']}; this deploy "
                "replaces it with the project as it is now"))
        return None


    def _interrupted(self, host: Host, ledger: server.Ledger, where: str) -> Outcome:
        """Ctrl-C stopped the deploy at a safe point: which release is live, truthfully."""
        if ledger.current == self.release_id:
            live = f"release {self.release_id} is live (it passed its health gate)"
        elif ledger.current and ledger.state(ledger.current) == "pending":
            live = f"release {ledger.current} is current but has not passed its health gate yet"
        else:
            new = (f"release {self.release_id} was recorded but not switched to" if ledger.get(self.release_id)
                   else "the new release was not recorded")  # its id would name nothing on the server
            live = (f"release {ledger.current} is still live" if ledger.current else "no release is live") + \
                   f"; {new}"
        return Outcome(host.name, False, f"interrupted (Ctrl-C) {where}: {live}; the rest of the deploy did not "
                       "run (deploy again to finish it)", interrupted=True)

    def _recover(self, conn: Connection, host: Host, ledger: server.Ledger, app_dir: str, why: str = "") -> Outcome:
        """After a failed deploy (``resume.after_failure``): its release, and a current one that never
        passed its gates, are marked failed (never rollback targets); when the current one had not
        passed them, the last live release comes back (a rollback).  ``why``: the failed task and
        the first line of its failure (`` at 'TASK': ...``), said in the rollback's outcome."""
        decision = resume.after_failure(ledger, self.release_id)
        server.set_states(conn, app_dir, dict.fromkeys(decision.failed, "failed"))
        if not decision.roll_back:
            still = f"release {decision.still} is still live" if decision.still else "nothing was running"
            return Outcome(host.name, False, f"deploy failed before the switch: {still}")
        release_id = ledger.current or self.release_id
        good = ledger.live_besides(release_id)
        if good is None:
            return Outcome(host.name, False, f"deploy of {release_id} failed (marked failed) and no earlier release "
                           "passed its deploy, so there is none to roll back to")
        previous = str(good["id"])
        self.report.emit("warning", host=host.name, message=f"deploy of {release_id} failed after it became current "
                         f"(marked failed); rolling back to {previous}")
        with INTERRUPT.shielded():  # the way back runs to its gate whatever Ctrl-C says
            rolled_back = rollback.run_rollback(self.base, self.request, self.report, conn, host.name, previous,
                                                ledger.get(previous))
        if rolled_back:
            return Outcome(host.name, False, f"rolled back: deploy of {release_id} failed{why}, release {previous} "
                           "is live again")
        return Outcome(host.name, False, f"rollback failed: deploy of {release_id} failed and bringing back "
                       f"{previous} failed too; see above")


def _failure(result: RunResult, host: str) -> str:
    """`` at 'TASK': FIRST LINE`` of the task that failed on ``host``, or ``""`` when none is recorded."""
    failed = next((r for r in result.tasks.get(host, []) if r.status == "failed"), None)
    if failed is None:
        return ""
    line = (failed.message or "").strip().splitlines()[:1]
    # a first line that introduces the lines below it ("...; its output ends:") ends at its last clause
    first = re.sub(r"[;,]\s*[^;,]*:$", "", line[0]).rstrip(":") if line else ""
    return f" at '{failed.task}'" + (f": {first}" if first else "")
