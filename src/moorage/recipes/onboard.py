"""``onboard`` as a short recipe of named steps, per host (playbooks/onboard.yml does the work):

1. first contact: read the host key without logging in; go on only when it is pinned already, or
   matches the inventory's ``fingerprint:``, or ``--trust-host-key`` vouches for it (then pin it);
2. log in: as the deploy user when it already has its key and sudo (an onboarded server: root
   login is off by then), else as ``--user`` (root by default);
3. roles base and docker_engine over that connection;
4. prove a second, new connection as the deploy user: key login, ``sudo -n``, ``docker``;
5. role hardening (firewall, sshd) over that second connection;
6. prove a third connection; if it fails, undo sshd's new configuration and the firewall through
   the session still open, so the operator keeps access;
7. audit line in the app's audit log.

Nothing half-done goes unreported: a failure names the step, and the outcome lists what changed.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import paramiko

from moorage.connection import hostkey
from moorage.connection.base import Connection
from moorage.connection.ssh import SSHConnection, missing_key
from moorage.errors import HostError, InputError
from moorage.executor import Runner, RunOptions, TaskRecord
from moorage.executor.tasks import skipped_roles
from moorage.inventory import Host, Inventory
from moorage.operations import server_state as server
from moorage.operations import sshd
from moorage.playbook import Playbook
from moorage.project import Project
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.report import Report
from moorage.target import Target
from moorage.templating import render_value

STEP = "onboard"  # the play name of the recipe's own steps in the report
HARDENING = frozenset({"hardening"})  # the role that waits for the deploy user's proven login
# Playbooks whose directories the deploy user must own (those that exist).
USING_DIRS = ("deploy", "backup")
LOGIN_ATTEMPTS, LOGIN_PAUSE = 6, 0.5  # a new login is retried for ~3 s (sshd re-executes itself on reload)


class Stopped(Exception):
    """A step failed: its sentence becomes the outcome (the report already has the step)."""


def onboard(request: Request, report: Report, *, trust_host_key: bool = False, first_user: str = "root") -> int:
    """Onboard every host of the target, one after another (see the module docstring); returns the
    exit status.  ``trust_host_key`` pins a new host key at first contact; ``first_user`` logs in
    before the deploy user exists."""
    # A refused login (expected: the deploy user is tried first) makes Paramiko's transport thread
    # log a socket error on stderr as it hangs up; the step's own sentence says what happened.
    logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)
    inventory = request.inventory()
    hosts = inventory.select(request.target)
    for host in hosts:
        if host.target.connection != "ssh":
            raise InputError(f"{host.name} is reached with connection: {host.target.connection}; onboard "
                             "prepares SSH servers", host.location)
        if host.target.user == "root":
            raise InputError(f"the inventory reaches {host.name} as root: onboarding creates a deploy user and "
                             "turns root login off, so give the host (or its environment) user: deploy",
                             host.location)
    playbook = request.project.load_playbook("onboard")
    # Input errors (an undefined variable, an unreadable key) come out before any server is touched.
    settings = {host.name: _settings(inventory, host, playbook, request.project) for host in hosts}
    return finish([_onboard_host(report, inventory.with_variables(settings[host.name]), playbook, host,
                                 trust_host_key, first_user) for host in hosts], report)


def _onboard_host(report: Report, onboarding: Inventory, playbook: Playbook, host: Host, trust_host_key: bool,
                  first_user: str) -> Outcome:
    steps = _Steps(report, host.name)
    opened: list[Connection] = []
    try:
        decision = hostkey.establish(host.target, onboarding.known_hosts, host.fingerprint,
                                     lambda _: trust_host_key)
        if decision.refused:
            steps.failed("host key", decision.message)
            raise Stopped(decision.message)
        steps.done("host key", decision.message, changed=decision.verdict == "pin")

        first = _first_login(host, first_user, steps)
        opened.append(first)
        target = [onboarding.hosts[host.name]]
        if not steps.ran(onboarding, playbook, target, first, RunOptions(skip_tags=HARDENING)):
            untouched = "; sshd and the firewall were not touched" if steps.changed_count() else ""
            raise Stopped(f"{steps.last_failure()}{untouched}")

        deploy = _prove_login(host, steps, "second connection as the deploy user (key, sudo, docker)",
                              "hardening was not started: sshd and the firewall are as they were")
        opened.append(deploy)
        hardened = steps.ran(onboarding, playbook, target, deploy, RunOptions(tags=HARDENING))
        try:
            opened.append(_prove_login(host, steps, "new login as the deploy user after hardening", ""))
        except Stopped as exc:
            raise Stopped(f"{exc}; {_undo_hardening(deploy, onboarding.hosts[host.name], steps)}") from None
        if not hardened:
            raise Stopped(f"{steps.last_failure()}; the deploy user can still log in")
        _audit(deploy, onboarding.hosts[host.name])
        return Outcome(host.name, True, f"ready for deploys: {host.target.user}@{host.target.address}:"
                       f"{host.target.port} logs in with its key only, with sudo and docker; "
                       f"{steps.changed_count()} change(s)")
    except (Stopped, HostError) as exc:
        if isinstance(exc, HostError):
            steps.failed("connect", exc.detail)
        said = exc.detail if isinstance(exc, HostError) else str(exc)
        return Outcome(host.name, False, f"{said}. {steps.changed_summary()}")
    finally:
        for conn in opened:
            conn.close()


# -- logging in ---------------------------------------------------------------------------------
def _first_login(host: Host, first_user: str, steps: _Steps) -> Connection:
    """The deploy user when it already logs in with sudo, else ``first_user``.  A refusal is a
    failed step (it counts in the recap) saying which logins were tried and what to fix."""
    deploy = SSHConnection(replace(host.target, become=False))
    deploy_refused = ""
    try:
        if deploy.run("sudo -n true").ok:
            steps.done("log in", f"as {host.target.user} (onboarded before), with sudo")
            return deploy
    except HostError as exc:
        deploy_refused = exc.detail
    deploy.close()
    first = SSHConnection(replace(host.target, user=first_user, become=False))
    try:
        if first_user != "root" and not first.run("sudo -n true").ok:
            raise Stopped(f"{first_user} logs in but can't use sudo without a password; onboard with --user root "
                          "or give it passwordless sudo")
        first.run("true")
    except HostError as exc:
        first.close()
        message = _refused_logins(host.target, first_user, exc.detail, deploy_refused)
        steps.failed("log in", message)
        raise Stopped(message) from None
    except Stopped as exc:
        first.close()
        steps.failed("log in", str(exc))
        raise
    steps.done("log in", f"as {first_user} (first contact)")
    return first


def _refused_logins(target: Target, first_user: str, first_refused: str, deploy_refused: str) -> str:
    """Why neither login worked, and what to do: an onboarded server (root login off) needs the
    deploy user's key fixed, a new one the first user's."""
    key = target.key_file or "from ssh-agent/~/.ssh"
    if "refused key authentication" in deploy_refused:
        return (f"the key {key} was refused both as the deploy user {target.user} and as {first_user}. If this "
                f"server was onboarded before, root login is off and {target.user} is the way in: authorize the "
                f"key's public half in ~{target.user}/.ssh/authorized_keys (from the server's console), or set "
                f"the host's ssh_key: to the key {target.user} has. If it is a new server, authorize the key for "
                f"{first_user} (e.g. ssh-copy-id) or pass --user")
    return (f"{first_refused}: onboarding first logs in as {first_user} (--user) with the inventory's ssh_key; "
            "authorize that key for it (e.g. ssh-copy-id) or pass --user")


def _prove_login(host: Host, steps: _Steps, what: str, consequence: str) -> Connection:
    """A new connection as the deploy user that logs in with its key, sudoes and runs docker."""
    conn = None
    try:
        conn = _new_login(host)
        for command, problem in (("sudo -n true", "sudo -n fails"),
                                 ("docker version --format '{{.Server.Version}}'",
                                  "docker is refused (not in the docker group?)")):
            result = conn.run(command)
            if not result.ok:
                raise Stopped(f"{what}: {host.target.user} logs in but {problem}: {result.stderr_tail(2)}")
    except (HostError, Stopped) as exc:
        if conn is not None:
            conn.close()
        message = (f"{what} failed: {exc.detail}" if isinstance(exc, HostError) else str(exc)) + (
            f"; {consequence}" if consequence else "")
        steps.failed(what, message)
        raise Stopped(message) from None
    steps.done(what, f"{host.target.user}@{host.target.address}:{host.target.port}: key login, sudo, docker")
    return conn


def _new_login(host: Host) -> Connection:
    """Log in as the deploy user, trying a few times: right after a reload sshd re-executes
    itself, and a connection may find nobody listening for a moment."""
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        conn = SSHConnection(replace(host.target, become=False))
        try:
            conn.run("true")
            return conn
        except HostError:
            conn.close()
            if attempt == LOGIN_ATTEMPTS:
                raise
            time.sleep(LOGIN_PAUSE)
    raise AssertionError("LOGIN_ATTEMPTS must be at least 1")


def _undo_hardening(conn: Connection, host: Host, steps: _Steps) -> str:
    """Put sshd's previous configuration back and drop the firewall, through the open session."""
    firewall = str(host.variables().get("firewall", "nftables"))
    undo = [sshd.restore_script(), "nft delete table inet moorage 2>/dev/null || true"]
    if firewall == "ufw":
        undo.append("ufw --force disable >/dev/null 2>&1 || true")
    result = conn.run("\n".join(undo), become=True)
    if result.ok:
        steps.done("undo hardening", "sshd's previous configuration and no firewall", changed=True)
        return "sshd's previous configuration is back and the firewall was removed, so access is kept"
    steps.failed("undo hardening", result.stderr_tail(3))
    return f"undoing it failed too ({result.stderr_tail(2)}): keep your open sessions and check the server"


# -- the playbook ---------------------------------------------------------------------------------
def _settings(inventory: Inventory, host: Host, playbook: Playbook, project: Project) -> dict[str, Any]:
    """The recipe's variables for the onboard play (level 5, over ``--set``)."""
    return {"deploy_user": host.target.user, "operator_public_key": operator_public_key(host.target),
            "deploy_dirs": deploy_dirs(inventory, host, playbook, project)}


def operator_public_key(target: Target) -> str:
    """The public half of the key the inventory logs in with: its .pub, else derived from the key."""
    if not target.key_file:
        return ""
    if not Path(target.key_file).is_file():
        raise InputError(f"{target.name}: {missing_key(target)}")
    public = Path(f"{target.key_file}.pub")
    if public.is_file():
        return public.read_text().strip().splitlines()[0]
    try:
        key = paramiko.PKey.from_path(target.key_file)
    except (OSError, paramiko.SSHException) as exc:
        raise InputError(f"cannot read the public half of {target.key_file} ({exc}); put it beside the key "
                         f"as {public.name}") from None
    return f"{key.get_name()} {key.get_base64()} moorage-operator"


def deploy_dirs(inventory: Inventory, host: Host, playbook: Playbook, project: Project) -> list[str]:
    """The directories the deploy roles use for ``host``: the variables named in
    ``deploy_dir_variables`` as the plays of deploy.yml/backup.yml that target it resolve them,
    with their parents inside the deploy user's home (so the user owns the whole way down)."""
    names = host.variables(playbook.defaults()).get("deploy_dir_variables") or []
    found: list[str] = []
    for name in USING_DIRS:
        for play in project.load_playbook(name).plays:
            if host.name not in _targeted(inventory, play.hosts):
                continue
            variables = host.variables(play.defaults())
            skipped = skipped_roles(play, variables)  # e.g. no shared proxy: no traefik_dir
            if skipped:
                variables = host.variables(play.defaults(skipped))
            for var in names:
                if var in variables:
                    value = str(render_value(variables[var], variables, f"variable '{var}'"))
                    if value.startswith("/"):
                        found.append(posixpath.normpath(value))
    return _with_home_parents(list(dict.fromkeys(found)), f"/home/{host.target.user}")


def _targeted(inventory: Inventory, patterns: list[str]) -> set[str]:
    """The hosts a play targets in this inventory (names it doesn't know are no hosts of it)."""
    names: set[str] = set()
    for pattern in patterns:
        with contextlib.suppress(InputError):
            names |= {h.name for h in inventory.select(pattern)}
    return names


def _with_home_parents(paths: list[str], home: str) -> list[str]:
    """``paths`` preceded by their ancestors strictly inside ``home`` (created for the user too)."""
    result: list[str] = []
    for path in paths:
        if path.startswith(home + "/"):
            parts = path[len(home) + 1:].split("/")
            result += [posixpath.join(home, *parts[:i]) for i in range(1, len(parts))]
        result.append(path)
    return list(dict.fromkeys(result))


def _audit(conn: Connection, host: Host) -> None:
    """One line in the app's audit log (when onboarding made its directory), as the deploy user."""
    variables = host.variables()
    if "app_dir" in variables:
        app_dir = str(render_value(variables["app_dir"], variables, "variable 'app_dir'"))
        if app_dir in (variables.get("deploy_dirs") or []):
            server.audit(conn, app_dir, "onboard", "", "ok")


# -- the recipe's own steps in the report ---------------------------------------------------------
class _Steps:
    """Emits the recipe's steps as task events (they count in the recap), runs the play's phases,
    and keeps every task's result on the host to sum up what changed and what failed."""

    def __init__(self, report: Report, host: str) -> None:
        self.report, self.host = report, host
        self.records: list[TaskRecord] = []

    def done(self, task: str, summary: str, changed: bool = False) -> None:
        status = "changed" if changed else "ok"
        self.records.append(TaskRecord(task, status))
        self.report.emit("task", host=self.host, play=STEP, task=task, status=status, summary=summary)

    def failed(self, task: str, message: str) -> None:
        self.records.append(TaskRecord(task, "failed", message))
        self.report.emit("task", host=self.host, play=STEP, task=task, status="failed", message=message)

    def ran(self, inventory: Inventory, playbook: Playbook, hosts: list[Host], conn: Connection,
            options: RunOptions) -> bool:
        """Run the play's tasks selected by ``options`` over ``conn``; True when none failed."""
        result = Runner(inventory, options, self.report, {hosts[0].name: conn}).run(playbook, hosts)
        self.records += result.tasks.get(self.host, [])
        return not result.failed_hosts

    def last_failure(self) -> str:
        """The failed task and its sentence (a check's sentence is the last line of its stderr)."""
        failed = [r for r in self.records if r.status == "failed"]
        if not failed:
            return "a task failed"
        record = failed[-1]
        lines = [line for line in str(record.data.get("stderr", "")).splitlines() if line.strip()]
        return f"'{record.task}' failed: {lines[-1].strip() if lines else record.message}"

    def _changed(self) -> list[str]:
        return [r.task for r in self.records if r.status == "changed"]

    def changed_count(self) -> int:
        return len(self._changed())

    def changed_summary(self) -> str:
        changed = self._changed()
        if not changed:
            return "Nothing was changed on the server."
        return f"Changed before stopping ({len(changed)}): " + "; ".join(changed) + "."
