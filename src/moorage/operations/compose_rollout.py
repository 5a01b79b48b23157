"""The ``compose_rollout`` operation: the start-first switch of a release's web services.

For each start-first service (``compose_strategy``) whose running containers belong to another
config (compose's ``com.docker.compose.config-hash`` label differs from ``config --hash``):
``up -d --no-deps --no-recreate --scale S=OLD+NEW S`` starts the new release's containers beside
the old ones, the readiness gate of ``compose_ready`` judges the new ones, and only then are the
old ones drained — a delay so the proxy routes to the new ones (Traefik's docker provider finds
them; a host nginx's upstream files are rewritten to list them alone and nginx reloaded, see
``nginx_upstream``), then ``docker stop`` with a grace period and ``docker rm``.  All services
switch together: when one new container fails, every new one is removed and the old ones keep
serving (stack-atomic).  The stop-first services are left to the ``compose: up`` that follows (compose's own recreate).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, Shell, TaskFailed, register
from moorage.operations.compose import PROJECT_ARGS, compose_function
from moorage.operations.compose_ready import _FIELDS, LOG_LINES, judge, parse_poll
from moorage.operations.compose_strategy import BREAKING, START, STRATEGIES, decide, describe, local_services
from moorage.operations.file_writes import changed_under
from moorage.operations.names import SERVICE_NAME
from moorage.operations.nginx_upstream import UPSTREAMS, inspect_script, rewrite, texts, upstream_targets, write_script
from moorage.operations.shell import Raw, sh

_SPLIT = "@@moorage-rollout"
_POLL_TIMEOUT = 30.0


def recreated(dry_run: str) -> set[str] | None:
    """The container names ``up --dry-run`` would recreate (``DRY-RUN MODE -  Container NAME
    Recreate``); None when the output has no dry-run lines (a compose without ``--dry-run``)."""
    if "DRY-RUN MODE" not in dry_run:
        return None
    return {m.group(1) for m in re.finditer(r"Container (\S+)\s+Recreate\s*$", dry_run, re.M)}


@register
class ComposeRollout(Operation):
    """Switch the start-first services of the project in ``project_dir`` to its config without
    stopping them first: new containers beside the old, readiness of the new ones (healthy, or
    running ``settle`` seconds without a healthcheck), ``drain_delay`` seconds for the proxy to
    route to them, then the old ones stopped (``stop_grace`` seconds to finish their requests) and
    removed.  When a new container fails or is not ready within ``timeout``, all new containers are
    removed, the old ones keep serving, and the task fails naming the service and its last log
    lines.  Services without running containers, or already on the config, are left alone (a
    no-change deploy changes nothing); stop-first services are left to ``compose: up``.  The plan
    says which strategy each service gets and why (read from ``source``'s compose files); the
    switch decides again from the server's merged config.
    """

    name = "compose_rollout"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir", "project_name"],
        "properties": {
            **PROJECT_ARGS,
            "services": {"type": "array", "items": SERVICE_NAME, "description": "Only these services."},
            "switch_strategy": {"type": "object", "propertyNames": SERVICE_NAME,
                                "additionalProperties": {"enum": list(STRATEGIES)},
                                "description": "Service -> start-first or stop-first (overrides the choice)."},
            "migrations_break_old_code": {"type": "boolean", "default": False,
                                          "description": "Every service stop-first (the old code can't run "
                                                         "beside the new schema)."},
            "scale": {"type": "object", "propertyNames": SERVICE_NAME,
                      "additionalProperties": {"type": "integer", "minimum": 0},
                      "description": "Containers per service once switched (default: as many as run)."},
            "source": {"type": "string", "description": "Controller directory of the compose files the plan "
                                                        "reads (relative: to the project root)."},
            "source_files": {"type": "array", "items": {"type": "string", "minLength": 1},
                             "description": "The compose files in source the plan reads."},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 180,
                        "description": "Seconds the new containers have to be ready (default 180)."},
            "settle": {"type": "number", "minimum": 0, "default": 5,
                       "description": "Seconds a container without healthcheck must run to be ready."},
            "drain_delay": {"type": "number", "minimum": 0, "default": 3,
                            "description": "Seconds between the new containers' readiness and the old ones' "
                                           "stop: the proxy picks up the new ones (default 3)."},
            "stop_grace": {"type": "integer", "minimum": 0, "default": 10,
                           "description": "Seconds an old container has to exit after SIGTERM (docker stop -t)."},
            "upstreams": {**UPSTREAMS, "description": "A host nginx's upstreams ({dir, site, targets}, see "
                                                      "nginx_upstream): their services switch start-first, and "
                                                      "once the new containers are ready each file lists them "
                                                      "alone (nginx tested and reloaded) before the old ones stop."},
        },
    }

    # -- the plan ---------------------------------------------------------------------------
    def plan(self, facts: Facts) -> Change | None:
        """The survey (read-only: merged config, wanted hashes, the project's containers), then the
        scripts the switch runs with their input on stdin: start, poll, drain, undo, logs."""
        summary = "zero-downtime switch: " + (self.local_plan() or "start-first services of the release")
        grace = str(int(self.args.get("stop_grace", 10)))
        return Change(summary, [
            Shell(self.survey(), reads_only=True),
            Shell(self.start()),
            Shell(self.poll(), timeout=_POLL_TIMEOUT),
            Shell(sh(Raw("ids=$(cat) &&"), "docker", "stop", "-t", grace, Raw("$ids"), Raw(">/dev/null &&"),
                     "docker", "rm", Raw("$ids"), Raw(">/dev/null"))),
            Shell(sh(Raw("ids=$(cat);"), "docker", "stop", "-t", grace, Raw("$ids"), Raw(">/dev/null;"),
                     "docker", "rm", "-f", Raw("$ids"), Raw(">/dev/null"))),
            Shell(sh(Raw("for id in $(cat); do"), "docker", "logs", "--tail", str(LOG_LINES), Raw('"$id"'),
                     Raw("2>&1; done"))),
            *([Shell(inspect_script("$(cat)")), Shell(write_script([t["file"] for t in self._upstreams()]))]
              if self._upstreams() else []),
        ], not_yet=(f"{summary} (decided again from {self.args['project_dir']}'s merged config once the changes "
                    "above are made there)" if changed_under(self.context.changed_paths, self.args["project_dir"])
                    else None))

    def local_plan(self) -> str:
        """The strategies as the project's own compose files give them (empty without ``source``)."""
        if self.args.get("migrations_break_old_code"):
            return f"every service stop-first (WARNING: {BREAKING}: requests fail while it switches)"
        if not self.args.get("source"):
            return ""
        src = Path(self.args["source"]).expanduser()
        inventory_dir = self.context.variables.get("inventory_dir")
        root = src if src.is_absolute() else (Path(inventory_dir).parent if inventory_dir else Path.cwd()) / src
        services = local_services(root, self.args.get("source_files") or ["compose.yml"])
        if self.args.get("services"):
            services = {k: v for k, v in services.items() if k in self.args["services"]}
        return describe(decide(services, self.args.get("switch_strategy") or {}, False, self._routed()))

    def _upstreams(self) -> list[dict[str, str]]:
        return upstream_targets(self.args.get("upstreams"))

    def _routed(self) -> set[str]:
        """The services a host nginx reaches through an upstream file."""
        return {str(t["service"]) for t in self._upstreams()}

    def _cd(self) -> list[str]:
        return [sh("cd", self.args["project_dir"], Raw("|| exit 1")), compose_function(self.args)]

    def _listing(self) -> str:
        return sh("docker", "ps", "-a", "--no-trunc", "--filter",
                  f"label=com.docker.compose.project={self.args['project_name']}", "--format",
                  '{{.ID}} {{.State}} {{.Label "com.docker.compose.service"}} '
                  '{{.Label "com.docker.compose.config-hash"}} {{.Names}}')

    def survey(self) -> str:
        """compose's merged config (JSON), the wanted hash per service, the project's containers, and
        what ``up`` would do to each container (``--dry-run``: ``config --hash`` differs from the
        hash ``up`` labels a container with when the service has an ``env_file``, compose v2.40)."""
        dry_run = sh(Raw("compose up -d --dry-run --no-deps --no-build --pull never"), self.args.get("services") or [],
                     Raw("2>&1 || :"))
        return "\n".join([*self._cd(), "compose config --format json || exit 1", f"echo {_SPLIT}",
                          sh(Raw("compose config --hash"), "*", Raw("|| exit 1")), f"echo {_SPLIT}", self._listing(),
                          f"echo {_SPLIT}", dry_run])

    def start(self) -> str:
        """stdin: ``SERVICE COUNT`` lines.  The new containers beside the old, then the listing."""
        return "\n".join([*self._cd(), "set --", 'while read -r service count; do set -- "$@" --scale '
                          '"$service=$count"; names="$names $service"; done',
                          # the listing even when up fails: the containers it did create are removed
                          sh(Raw('compose up -d --no-deps --no-recreate "$@" $names'), Raw("2>&1")), "rc=$?",
                          f"echo {_SPLIT}", self._listing(), "exit $rc"])

    def poll(self) -> str:
        """stdin: container ids.  compose_ready's poll of those containers."""
        return "\n".join(["ids=$(cat)", "date +%s", sh("docker", "inspect", "--format", _FIELDS, Raw("$ids"))])

    # -- the switch -------------------------------------------------------------------------
    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Survey, decide, then (not in check mode) start, gate, drain — or undo and fail."""
        scripts = [step.script for step in change.steps if isinstance(step, Shell)]
        survey = conn.run(scripts[0], timeout=_POLL_TIMEOUT)
        if not survey.ok:
            raise TaskFailed(f"cannot read the compose project in {self.args['project_dir']}", scripts[0],
                             survey.exit_code, survey.stderr_tail())
        config_text, hashes_text, listing, dry_run = ([*survey.text.split(_SPLIT + "\n"), "", "", ""])[:4]
        config = json.loads(config_text or "{}").get("services") or {}
        if self.args.get("services"):
            config = {k: v for k, v in config.items() if k in self.args["services"]}
        decided = decide(config, self.args.get("switch_strategy") or {},
                         bool(self.args.get("migrations_break_old_code")), self._routed())
        wanted = dict(line.split()[:2] for line in hashes_text.splitlines() if len(line.split()) >= 2)
        old = self.outdated(decided, wanted, listing, recreated(dry_run))
        said = describe(decided)
        if len(scripts) == 1:  # check mode: the survey alone, of the release live now (not the one to come)
            return OpResult(changed=True, message=f"zero-downtime switch: {self.local_plan() or said}",
                            data={"strategies": {k: v[0] for k, v in decided.items()}})
        if not old:
            return OpResult(changed=False, message=f"nothing to switch start-first ({said})",
                            data={"strategies": {k: v[0] for k, v in decided.items()}, "switched": []})
        return self.switch(conn, scripts, old, decided)

    def outdated(self, decided: dict[str, tuple[str, str]], wanted: dict[str, str],
                 listing: str, recreate: set[str] | None) -> dict[str, list[str]]:
        """Start-first service -> ids of its running containers on another config: those ``up``
        would recreate (by name, ``recreate``), or without a dry run (an older compose) those
        whose config-hash label differs from ``config --hash``."""
        old: dict[str, list[str]] = {}
        for line in listing.splitlines():
            parts = line.split()
            if len(parts) < 4 or parts[1] != "running" or decided.get(parts[2], ("", ""))[0] != START:
                continue
            if (parts[-1] in recreate) if recreate is not None and len(parts) >= 5 else \
                    bool(wanted.get(parts[2]) and parts[3] != wanted[parts[2]]):
                old.setdefault(parts[2], []).append(parts[0])
        return old

    def switch(self, conn: Connection, scripts: list[str], old: dict[str, list[str]],
               decided: dict[str, tuple[str, str]]) -> OpResult:
        start, poll, drain, undo, logs = scripts[1:6]
        scale = self.args.get("scale") or {}
        counts = {s: int(scale.get(s, len(ids))) or len(ids) for s, ids in old.items()}
        began = time.monotonic()
        stdin = "".join(f"{s} {len(old[s]) + counts[s]}\n" for s in sorted(old)).encode()
        started = conn.run(start, stdin=stdin, timeout=float(self.args.get("timeout", 180)))
        before = {cid for ids in old.values() for cid in ids}
        new = [p.split()[0] for p in ([*started.text.split(_SPLIT + "\n"), ""])[1].splitlines()
               if len(p.split()) >= 3 and p.split()[2] in old and p.split()[0] not in before]
        if not started.ok:
            self._undo(conn, undo, new)
            raise TaskFailed(f"starting the new containers of {', '.join(sorted(old))} failed; the old ones keep "
                             "serving", start, started.exit_code, started.stderr_tail() or started.text[-2000:])
        failure = self._gate(conn, poll, new)
        if failure:
            tail = conn.run(logs, stdin=" ".join(new).encode(), timeout=_POLL_TIMEOUT).text
            self._undo(conn, undo, new)
            raise TaskFailed(f"the new containers were not ready ({failure}): all {len(new)} removed, the old ones "
                             "keep serving", "readiness of the new containers (docker inspect "
                             f"{' '.join(c[:12] for c in new)})", None, f"last {LOG_LINES} log lines:\n{tail.rstrip()}")
        self._route(conn, scripts[6:8], new, undo)
        time.sleep(float(self.args.get("drain_delay", 3)))
        drained = conn.run(drain, stdin=" ".join(sorted(before)).encode(), timeout=self._stop_timeout())
        if not drained.ok:
            raise TaskFailed("stopping the old containers failed (the new ones serve)", drain,
                             drained.exit_code, drained.stderr_tail())
        spent = time.monotonic() - began
        return OpResult(changed=True, message=f"switched start-first in {spent:.0f} s: " + ", ".join(
            f"{s} ({len(old[s])} old -> {counts[s]} new)" for s in sorted(old)) + f" ({describe(decided)})",
            data={"strategies": {k: v[0] for k, v in decided.items()}, "switched": sorted(old)})

    def _route(self, conn: Connection, scripts: list[str], new: list[str], undo: str) -> None:
        """A host nginx's upstream files list the new containers alone (tested, reloaded); when
        that fails the previous files are back, the new containers removed, the old ones serve."""
        if not scripts:
            return
        inspected = conn.run(scripts[0], stdin=" ".join(new).encode(), timeout=_POLL_TIMEOUT)
        contents, wrong = texts(self._upstreams(), inspected.text, self.args["project_name"])
        try:
            if not inspected.ok or wrong:
                raise TaskFailed("; ".join(wrong) or "cannot read their ports", scripts[0], inspected.exit_code,
                                 inspected.stderr_tail())
            rewrite(conn, scripts[1], contents)
        except TaskFailed as failed:
            self._undo(conn, undo, new)
            raise TaskFailed(f"routing host nginx to the new containers failed ({failed}): all {len(new)} "
                             "removed, the old ones keep serving", failed.command, failed.exit_code,
                             failed.stderr) from failed

    def _gate(self, conn: Connection, poll: str, new: list[str]) -> str:
        """Empty when every new container is ready; else why not (compose_ready's verdicts)."""
        if not new:
            return "compose started no new container"
        timeout, interval = float(self.args.get("timeout", 180)), 1.0
        began, first = time.monotonic(), dict[str, int]()
        while True:
            result = conn.run(poll, stdin=" ".join(new).encode(), timeout=_POLL_TIMEOUT)
            if not result.ok:
                return f"cannot inspect them: {result.stderr_tail()}"
            now, containers = parse_poll(result.text)
            verdicts = judge(containers, now, first, float(self.args.get("settle", 5)), set())
            failed = [f"{v.service} {v.why}" for v in verdicts if v.state == "failed"]
            if failed:
                return "; ".join(failed)
            if verdicts and all(v.state == "ready" for v in verdicts):
                return ""
            if time.monotonic() - began + interval >= timeout:
                return f"not ready after {timeout:.0f} s: " + "; ".join(
                    f"{v.service} {v.why}" for v in verdicts if v.state != "ready")
            time.sleep(interval)

    def _undo(self, conn: Connection, undo: str, new: list[str]) -> None:
        if new:
            conn.run(undo, stdin=" ".join(new).encode(), timeout=self._stop_timeout())

    def _stop_timeout(self) -> float:
        """Seconds ``docker stop -t GRACE`` and ``docker rm`` may take."""
        return float(self.args.get("stop_grace", 10)) + 60

