"""The ``compose_ready`` operation: the readiness gate after ``compose: up`` (with ``wait: false``).

``docker compose up --wait`` demands a healthcheck of every service, so a worker with
``healthcheck: {disable: true}`` or a celery-beat failed every deploy, and it waited its whole
timeout for a container that had already exited.  This gate judges each container itself, from
one ``docker inspect`` per poll:

- a healthcheck: ready when ``healthy``; failed at once when ``unhealthy``;
- no healthcheck: ready when running and not restarted for ``settle`` seconds;
- a one-shot service (another waits for it with ``service_completed_successfully``, read from
  the containers' ``com.docker.compose.depends_on`` label, or listed in ``completed``): ready
  when it exited 0;
- failed at once: exited (non-zero, or 0 for a service that is not one-shot), restarting,
  restarted during the gate, dead or paused — the message names the service, why, and its last
  log lines.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, Shell, TaskFailed, register
from moorage.operations.compose import PROJECT_ARGS, compose_function
from moorage.operations.names import SERVICE_NAME
from moorage.operations.shell import Raw, sh

# The state as JSON: a Go template can't test ``.State.Health`` where docker (20.10) has none.
_FIELDS = ("{{.Id}}|{{.RestartCount}}|{{index .Config.Labels \"com.docker.compose.service\"}}|"
           "{{index .Config.Labels \"com.docker.compose.depends_on\"}}|{{json .State}}")
_POLL_TIMEOUT = 30.0  # seconds one poll may take before the gate counts it as failed
LOG_LINES = 20


@dataclass(frozen=True)
class Container:
    """One container as a poll sees it (``started``: seconds since the epoch, server clock)."""

    id: str
    service: str
    status: str
    health: str
    exit_code: int
    restarts: int
    started: float
    depends_on: str


@dataclass(frozen=True)
class Verdict:
    """``state``: ready, waiting or failed; ``why``: a few words for the message."""

    service: str
    state: str
    why: str


# docker inspect's error for an id listed a moment before and removed since
_VANISHED = "No such object"


@register
class ComposeReady(Operation):
    """Wait until every container of the project (or of ``services``) is ready: healthy where
    it has a healthcheck, running and not restarted for ``settle`` seconds where it has none,
    exited 0 where it is a one-shot service (one another service waits for with
    ``service_completed_successfully``, or one listed in ``completed``).  Stops as soon as a
    container is unhealthy, exited (non-zero, or a service that isn't one-shot), restarting or
    restarted during the gate, and fails naming the service, why, and its last log lines; fails
    too after ``timeout`` seconds, naming what was not ready.  One round trip per poll; never
    "changed"; skipped in check mode (it waits for what the run starts).
    """

    name = "compose_ready"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir"],
        "properties": {
            **PROJECT_ARGS,
            "services": {"type": "array", "items": SERVICE_NAME, "description": "Only these services."},
            "completed": {"type": "array", "items": SERVICE_NAME,
                          "description": "One-shot services that must have exited 0 (besides those another "
                                         "service waits for with service_completed_successfully)."},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 180,
                        "description": "Seconds to wait at most (default 180)."},
            "settle": {"type": "number", "minimum": 0, "default": 5,
                       "description": "Seconds a container without a healthcheck must run without a "
                                      "restart to count as ready (default 5)."},
            "interval": {"type": "number", "exclusiveMinimum": 0, "default": 1,
                         "description": "Seconds between polls (default 1)."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        """The poll (the server's time, then one line per container), and the log command the
        failure message quotes (for every service; the gate narrows it to the failing ones)."""
        services = self.args.get("services") or []
        scope = f" ({' '.join(services)})" if services else ""
        return Change(f"wait until the services of {self.args['project_dir']}{scope} are ready",
                      [Shell(self.poll_command(), timeout=_POLL_TIMEOUT), Shell(self.logs_command(services))],
                      not_yet="not asked in check mode: it waits for the containers the run starts")

    def poll_command(self) -> str:
        """``date +%s``, then the project's containers (``docker compose ps -a -q``) inspected."""
        return "\n".join([
            sh("cd", self.args["project_dir"], Raw("|| exit 1")),
            compose_function(self.args),
            sh(Raw("ids=$(compose"), "ps", "-a", "-q", self.args.get("services") or [],
               Raw(") || exit 1")),
            "date +%s",
            sh(Raw('[ -z "$ids" ] ||'), "docker", "inspect", "--format", _FIELDS, Raw("$ids")),
        ])

    def logs_command(self, services: list[str]) -> str:
        """The last log lines of ``services`` (all when empty)."""
        return "\n".join([sh("cd", self.args["project_dir"], Raw("|| exit 1")), compose_function(self.args),
                          sh(Raw("compose"), "logs", "--no-color", "--tail", str(LOG_LINES), services)])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Poll until every container is ready (not "changed"), or raise ``TaskFailed`` naming the
        failing or unready services with their last log lines."""
        poll = change.steps[0]
        assert isinstance(poll, Shell)
        timeout = float(self.args.get("timeout", 180))
        started = time.monotonic()
        first: dict[str, int] = {}
        while True:
            result = conn.run(poll.script, timeout=_POLL_TIMEOUT)
            if not result.ok and _VANISHED in result.stderr.decode("utf-8", "replace") \
                    and time.monotonic() - started < timeout:
                time.sleep(float(self.args.get("interval", 1)))  # a container listed, then removed since
                continue                                         # (compose replacing it): ask again
            if not result.ok:
                raise TaskFailed(f"cannot list the containers of {self.args['project_dir']}", poll.script,
                                 result.exit_code, result.stderr_tail())
            now, containers = parse_poll(result.text)
            verdicts = judge(containers, now, first, float(self.args.get("settle", 5)),
                             set(self.args.get("completed") or []))
            failed = [v for v in verdicts if v.state == "failed"]
            waiting = [v for v in verdicts if v.state == "waiting"]
            spent = time.monotonic() - started
            if failed:
                raise self._failure(conn, failed, f"after {spent:.0f} s")
            if not waiting:
                names = sorted({v.service for v in verdicts})
                return OpResult(changed=False, message=f"{len(names)} service(s) ready after {spent:.0f} s: "
                                                       + ", ".join(names) if names else "no containers to wait for",
                                data={"ready": names})
            if spent + float(self.args.get("interval", 1)) >= timeout:
                raise self._failure(conn, waiting, f"not ready after {timeout:.0f} s")
            time.sleep(float(self.args.get("interval", 1)))

    def _failure(self, conn: Connection, verdicts: list[Verdict], when: str) -> TaskFailed:
        services = sorted({v.service for v in verdicts})
        logs = conn.run(self.logs_command(services), timeout=_POLL_TIMEOUT)
        said = "; ".join(f"{v.service} {v.why}" for v in verdicts)
        return TaskFailed(f"services not ready ({when}): {said}", self.logs_command(services), None,
                          f"last {LOG_LINES} log lines of {', '.join(services)}:\n{logs.text.rstrip()}")


def parse_poll(text: str) -> tuple[float, list[Container]]:
    """The poll's output: the server's epoch seconds, then ``id|restarts|service|depends_on|state
    JSON`` per container."""
    lines = [line for line in text.splitlines() if line.strip()]
    now = float(lines[0]) if lines and lines[0].strip().isdigit() else time.time()
    containers = []
    for line in lines[1:]:
        parts = line.split("|", 4)
        if len(parts) < 5:
            continue
        cid, restarts, service, depends, state_json = parts
        try:
            state = json.loads(state_json)
        except ValueError:
            continue
        health = (state.get("Health") or {}).get("Status", "")
        containers.append(Container(cid, service, str(state.get("Status", "")), str(health),
                                    _int(str(state.get("ExitCode", 0))), _int(restarts),
                                    _epoch(str(state.get("StartedAt", ""))),
                                    "" if depends == "<no value>" else depends))
    return now, containers


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _epoch(stamp: str) -> float:
    """docker's ``2026-11-29T19:40:01.123456789Z`` as epoch seconds (0 when unparseable)."""
    try:
        return datetime.fromisoformat(stamp[:19] + "+00:00").timestamp()
    except ValueError:
        return 0.0


def one_shots(containers: list[Container]) -> set[str]:
    """Services another waits for with ``service_completed_successfully`` (compose's
    ``com.docker.compose.depends_on`` label: ``service:condition:restart`` entries, comma-separated)."""
    found = set()
    for container in containers:
        for entry in filter(None, container.depends_on.split(",")):
            name, _, rest = entry.partition(":")
            if rest.startswith("service_completed_successfully"):
                found.add(name)
    return found


def judge(containers: list[Container], now: float, first: dict[str, int], settle: float,
          completed: set[str]) -> list[Verdict]:
    """Each container's verdict.  ``first``: restart counts as first seen (filled here), so a
    restart during the gate fails it; ``completed``: one-shot services named by the project."""
    oneshot = one_shots(containers) | completed
    return [_verdict(c, now, first.setdefault(c.id, c.restarts), settle, c.service in oneshot) for c in containers]


def _verdict(c: Container, now: float, restarts_seen: int, settle: float, oneshot: bool) -> Verdict:
    def said(state: str, why: str) -> Verdict:
        return Verdict(c.service, state, why)

    if c.status == "restarting" or c.restarts > restarts_seen:
        return said("failed", f"is restarting (restarted {c.restarts} time(s)): it keeps exiting")
    if c.status == "exited":
        if c.exit_code == 0 and oneshot:
            return said("ready", "completed")
        if c.exit_code == 0:
            return said("failed", "exited with status 0 but is not a one-shot service (no service waits for it "
                                  "with service_completed_successfully; name it in `completed` if it is one)")
        return said("failed", f"exited with status {c.exit_code}")
    if c.status in ("created", "") or (c.status == "running" and c.health == "starting"):
        return said("waiting", "health: starting" if c.health == "starting" else "created, not started yet")
    if c.status != "running":
        return said("failed", f"is {c.status}")
    if oneshot:
        return said("waiting", "is running; a one-shot service: waiting for it to exit 0")
    if c.health == "unhealthy":
        return said("failed", "is unhealthy (its healthcheck fails)")
    if c.health == "healthy":
        return said("ready", "healthy")
    up = now - c.started
    if up >= settle:
        return said("ready", f"running for {up:.0f} s")
    return said("waiting", f"running for {max(up, 0):.0f} s, not yet {settle:g} s without a restart")
