"""The ``compose`` operation: ``docker compose`` for one project on the host."""

from __future__ import annotations

import re
from typing import Any

from moorage.connection.base import Connection
from moorage.operations.base import Change, Check, Facts, Operation, OpResult, Shell, TaskFailed, register
from moorage.operations.compose_errors import SAID, failure
from moorage.operations.file_writes import changed_under
from moorage.operations.names import PROJECT_NAME, SERVICE_NAME
from moorage.operations.shell import Raw, sh

_CHANGED = "@@moorage-compose-changed"
_STATES = ("up", "restarted", "stopped", "pulled", "built", "down", "checked")

# The arguments that say which project: shared with ``compose_run``.
PROJECT_ARGS = {
    "project_dir": {"type": "string", "pattern": "^/", "description": "Directory of the project."},
    "files": {"type": "array", "items": {"type": "string", "minLength": 1},
              "description": "Compose files (-f), relative to project_dir."},
    "profiles": {"type": "array", "items": {"type": "string", "minLength": 1},
                 "description": "Profiles to enable."},
    "env_file": {"type": "string", "minLength": 1, "description": "The --env-file to read."},
    "project_name": PROJECT_NAME,
    "default_files": {"type": "array", "items": {"type": "string", "minLength": 1},
                      "description": "Compose files (-f) used only when the project's .env names no "
                                     "COMPOSE_FILE (a release recorded before moorage wrote it)."},
}


def compose_tokens(args: dict[str, Any]) -> list[str]:
    """``docker compose`` with the project's name, files, profiles and env file, as tokens."""
    parts = ["docker", "compose"]
    if args.get("project_name"):
        parts += ["-p", args["project_name"]]
    for file in args.get("files") or []:
        parts += ["-f", file]
    for profile in args.get("profiles") or []:
        parts += ["--profile", profile]
    if args.get("env_file"):
        parts += ["--env-file", args["env_file"]]
    return parts


def compose_function(args: dict[str, Any]) -> str:
    """The shell function ``compose`` a script calls: the project's command, or — with
    ``default_files`` and no ``files`` — ``-f`` each of them when the project's ``.env`` names no
    COMPOSE_FILE (a release recorded before moorage wrote it there)."""
    base, fallback = sh(compose_tokens(args)), args.get("default_files")
    if not fallback or args.get("files"):
        return f'compose() {{ {base} "$@"; }}'
    files = sh([token for file in fallback for token in ("-f", file)])
    return (f"compose() {{ if grep -q '^COMPOSE_FILE=' .env 2>/dev/null; then {base} \"$@\"; "
            f'else {base} {files} "$@"; fi; }}')


@register
class Compose(Operation):
    """Bring a compose project to a state: ``up`` (``up -d --wait``: the containers'
    healthchecks are a gate), ``restarted``, ``stopped``, ``pulled``, ``built`` or
    ``down`` (containers removed; volumes are never removed by this operation), or
    ``checked``: ``docker compose config --quiet`` validates the project (it runs in check mode
    too and never counts as a change; a broken file fails the task with compose's message).

    Changed only when containers were created, replaced, started, stopped or removed, or
    images changed — compared before and after in the same round trip; the result names the
    containers compose created, recreated, stopped or removed.  In check mode ``up`` lists what it
    would do (``docker compose --dry-run up``, and the containers ``remove_orphans`` would remove).
    When a state fails, the error names compose's own reason (and the service it names); its
    detail is ``docker compose ps`` and the last log lines, then compose's error lines, last.
    """

    name = "compose"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir"],
        "properties": {
            **PROJECT_ARGS,
            "state": {"enum": list(_STATES), "default": "up", "description": "One of: " + ", ".join(_STATES)},
            "services": {"type": "array", "items": SERVICE_NAME, "description": "Limit to these services."},
            "build": {"type": "boolean", "default": False, "description": "Build images before up."},
            "pull": {"enum": ["missing", "always", "never"], "description": "Pull policy for up."},
            "wait": {"type": "boolean", "default": True, "description": "Wait for healthy containers."},
            "wait_timeout": {"type": "integer", "minimum": 1, "default": 180,
                             "description": "Seconds --wait allows (default 180)."},
            "remove_orphans": {"type": "boolean", "default": False,
                               "description": "For up: also stop and remove the project's containers whose "
                                              "service the files and profiles given don't run (services "
                                              "removed, profiles switched off). Off by default: a run on "
                                              "some of a project's files never removes the others'."},
            "no_deps": {"type": "boolean", "default": False,
                        "description": "With services: up those alone (--no-deps), never their dependencies."},
            "scale": {"type": "object", "propertyNames": SERVICE_NAME,
                      "additionalProperties": {"type": "integer", "minimum": 0},
                      "description": "Containers per service for up (--scale SERVICE=N); part of the "
                                     "up-to-date comparison, so a new count is applied."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        """``checked``: the validation alone (read-only).  ``up``: a ``Check`` that the project is
        as the last successful ``up`` left it (asked alone in check mode; the script starts with
        the same test), then the script.  Other states: the script."""
        state = self.args.get("state", "up")
        services = " ".join(self.args.get("services") or [])
        summary = f"docker compose {state} in {self.args['project_dir']}" + (f" ({services})" if services else "")
        if state == "checked":
            command = sh("cd", self.args["project_dir"], Raw("&&"), compose_tokens(self.args), "config", "--quiet")
            waits = changed_under(self.context.changed_paths, self.args["project_dir"])
            return Change(summary, [Shell(command, reads_only=True)], not_yet=(
                f"would run in {self.args['project_dir'].rstrip('/')} once the changes above are made there"
                if waits else None))
        if state == "up" and changed_under(self.context.changed_paths, self.args["project_dir"]):
            # check mode can't ask compose about files not written yet (a new release): it would act
            return Change(f"{summary}: after the changes above (compose lists then what it creates, recreates "
                          "and removes; above, the .env diff shows the files and profiles, the config labels "
                          "the services whose files changed)", [Shell(self.script())])
        check = self.up_to_date_check()
        probe = [Check("\n".join([sh("cd", self.args["project_dir"], Raw("2>/dev/null || exit 1")),
                                   self.compose_function(), *check, "exit 1"]))] if check else []
        preview = [Shell(self.dry_run(), reads_only=True)] if probe else []
        return Change(summary, [*probe, *preview, Shell(self.script())])

    def inactive(self) -> str:
        """Prints the name of each of the project's containers whose service the files and
        profiles don't run (needs the project name: containers found by its label)."""
        listing = sh("docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={self.args['project_name']}",
                     "--format", '{{.Names}} {{.Label "com.docker.compose.service"}}')
        return (f"active=$(compose config --services) || exit 1\n{listing} | while read -r name service; do "
                'printf \'%s\\n\' "$active" | grep -qxF -- "$service" || echo "$name"; done')

    def removes_inactive(self) -> bool:
        return bool(self.args.get("remove_orphans") and self.args.get("project_name"))

    def dry_run(self) -> str:
        """Check mode's listing: compose's own dry run of ``up`` and the containers it would remove."""
        flags = ["-d", "--remove-orphans"] if self.args.get("remove_orphans") else ["-d"]
        flags += (["--no-deps"] if self.args.get("no_deps") else []) + self.scale_flags()
        lines = [sh("cd", self.args["project_dir"], Raw("|| exit 1")), self.compose_function(),
                 sh(Raw("compose --dry-run up"), flags, self.args.get("services") or [], Raw("2>&1"))]
        if self.removes_inactive():
            lines += [self.inactive() + " | sed 's/^/inactive /'"]
        return "\n".join(lines)

    def compose_function(self) -> str:
        """The shell function ``compose`` the scripts call (see ``compose_function``)."""
        return compose_function(self.args)

    def base_command(self) -> str:
        """``docker compose`` with the project's files, profiles, env file and name."""
        return sh(compose_tokens(self.args))

    def action(self) -> tuple[str, str]:
        """The compose subcommand, and the command whose output tells whether anything changed."""
        services = self.args.get("services") or []
        state = self.args.get("state", "up")
        observe = "compose ps -a --format '{{.ID}} {{.State}}' | sort"  # what "changed" compares
        if state == "up":
            flags = ["-d"]
            if self.args.get("wait", True):
                flags += ["--wait", "--wait-timeout", str(self.args.get("wait_timeout", 180))]
            if self.args.get("build"):
                flags.append("--build")
            if self.args.get("pull"):
                flags += ["--pull", self.args["pull"]]
            if self.args.get("remove_orphans"):
                flags.append("--remove-orphans")
            if self.args.get("no_deps"):
                flags.append("--no-deps")
            return sh("up", flags, self.scale_flags(), services), observe
        if state == "pulled":
            return sh("pull", "--quiet", services), "compose images -q | sort"
        if state == "built":
            return sh("build", services), "compose images -q | sort"
        verb = {"restarted": "restart", "stopped": "stop", "down": "down"}[state]
        return sh(verb, services), observe if state != "restarted" else "date +%s%N"

    def scale_flags(self) -> list[str]:
        """``--scale SERVICE=N`` per scaled service (only those ``services`` names, when it names any)."""
        services = self.args.get("services") or []
        return [flag for name, count in sorted((self.args.get("scale") or {}).items())
                if not services or name in services for flag in ("--scale", f"{name}={int(count)}")]

    def up_to_date_check(self) -> list[str]:
        """For ``up``: exit early when the project is exactly as the last successful ``up`` left it.

        After an ``up`` succeeds, ``.moorage-up`` in the project directory records a hash of the
        compose files, the .env (and the files its COMPOSE_FILE names), the command, and the
        containers (id, state, health).  When both are unchanged and every container is running and
        healthy, ``up`` would do nothing, so its health wait is skipped.
        """
        if self.args.get("state", "up") != "up" or self.args.get("build"):
            return []
        files = self.args.get("files") or ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
        read = sh("cat", "--", files, self.args.get("env_file") or ".env", Raw("2>/dev/null"))
        if not self.args.get("files") and not self.args.get("env_file"):  # the files .env's COMPOSE_FILE names
            read = (f"{{ {read}; sed -n 's/^COMPOSE_FILE=//p' .env | tr -d \"'\\\"\" | tr : '\\n' "
                    "| while IFS= read -r f; do cat -- \"$f\"; done; } 2>/dev/null")
        return [
            # the command itself too: the same files brought up with other flags (remove_orphans) may act
            f"config=$({{ {read}; {sh('echo', self.base_command() + ' ' + self.action()[0])}; }}"
            " | sha256sum | cut -c1-64)",
            f"now=$({self._containers()})",
            'if [ -n "$now" ] && [ "$(cat .moorage-up 2>/dev/null)" = "$config',
            '$now" ] && ! printf \'%s\\n\' "$now" | grep -qv \' running \\(healthy\\)\\{0,1\\}$\'; then exit 0; fi',
        ]

    def record_up(self) -> list[str]:
        """After a successful ``up``: what ``up_to_date_check`` compares next time.  Not after an
        ``up`` of some services: the others may still run an older config, which the next full
        ``up`` must apply (their containers then differ from any record, so it runs)."""
        if not self.up_to_date_check() or self.args.get("services"):
            return []
        return [f"if [ $rc -eq 0 ]; then {{ printf '%s\\n' \"$config\"; {self._containers()}; }} > .moorage-up; fi"]

    def _containers(self) -> str:
        """The project's containers with state and health; plain ``docker ps`` (faster than compose
        ps) when the project name is known."""
        if self.args.get("project_name"):
            listing = sh("docker", "ps", "-a", "--no-trunc", "--filter",
                         f"label=com.docker.compose.project={self.args['project_name']}",
                         "--format", "{{.ID}} {{.State}} {{.Status}}")
            return (listing + " "
                    "| sed -e 's/ Up .*(healthy)$/ healthy/' -e 's/ Up [^(]*$/ /' | sort")
        return "compose ps -a --format '{{.ID}} {{.State}} {{.Health}}' | sort"

    def script(self) -> str:
        """One round trip: observe, act, observe again, report the difference."""
        subcommand, observe = self.action()
        return "\n".join([
            sh("cd", self.args["project_dir"], Raw("|| exit 1")),
            self.compose_function(),
            *self.up_to_date_check(),
            f"before=$({observe})",
            *self.remove_debris(),
            *self.remove_inactive(),
            # compose's own stderr kept apart: on failure it is printed last, after the context
            "exec 3>&1",
            f"said=$(compose {subcommand} 2>&1 >&3)",
            "rc=$?",
            f"after=$({observe})",
            f'[ "$before" = "$after" ] || echo {_CHANGED}',
            *self.record_up(),
            "if [ $rc -ne 0 ]; then { compose ps -a; compose logs --no-color --tail 20; "
            f"echo {SAID}; }} >&2; fi",
            'printf \'%s\\n\' "$said" >&2',
            "exit $rc",
        ])

    def remove_debris(self) -> list[str]:
        """For ``up``: remove the containers an interrupted recreate left behind — created, never
        started, under compose's temporary name ``<12 hex>_<name>`` — which make the next ``up``
        fail with "the container name ... is already in use" (a rerun after a cut run)."""
        if self.args.get("state", "up") != "up" or not self.args.get("project_name"):
            return []
        listing = sh("docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={self.args['project_name']}",
                     "--filter", "status=created", "--format", "{{.ID}} {{.Names}}")
        return [f'{listing} | while read -r id name; do case "$name" in {"[0-9a-f]" * 12}_*) '
                'docker rm -f "$id" >/dev/null && echo " Container $name Removed" >&2 '
                f"&& echo {_CHANGED};; esac; done"]

    def remove_inactive(self) -> list[str]:
        """For ``up`` with ``remove_orphans``: before ``up``, stop and remove the containers of
        services the files and profiles no longer run (compose's ``--remove-orphans`` leaves those
        of a profile switched off running)."""
        if self.args.get("state", "up") != "up" or not self.removes_inactive():
            return []
        return [f"gone=$({self.inactive()})",
                'if [ -n "$gone" ]; then printf \'%s\\n\' "$gone" | while read -r name; do '
                'docker rm -f "$name" >/dev/null && echo " Container $name Removed" >&2; done; '
                f"echo {_CHANGED}; fi"]

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The script (or the validation); in check mode the ``Check`` alone."""
        acting = next((s for s in change.steps if isinstance(s, Shell) and not s.reads_only), None)
        if acting is None and change.check() is not None:
            return self._preview(change, conn)
        run = acting or change.shell()  # `checked`: its read-only validation
        if run is None:
            return OpResult(changed=False)
        result = conn.run(run.script)
        if run.reads_only:
            if result.exit_code != 0:
                raise TaskFailed(f"the compose project in {self.args['project_dir']} is not valid", run.script,
                                 result.exit_code, result.stderr_tail())
            return OpResult(changed=False, message="compose config is valid")
        if result.exit_code != 0:
            reason, detail = failure(result.stderr.decode("utf-8", "replace"), self.args.get("project_name"))
            where = f"(exit {result.exit_code}) in {self.args['project_dir']}"
            raise TaskFailed(f"docker compose {self.args.get('state', 'up')} failed {where}"
                             + (f": {reason}" if reason else ""),
                             f"{self.base_command()} {self.action()[0]}", result.exit_code, detail)
        changed = _CHANGED in result.text
        stderr = result.stderr.decode("utf-8", "replace")
        done = containers_listed(stderr, _DONE)
        if changed and done:
            change.summary = f"{change.summary}: {done}"
        return OpResult(changed=changed, stdout=result.text.replace(_CHANGED, "").strip(), stderr=stderr,
                        message="" if changed else "containers already as asked", data={"containers": done})

    def _preview(self, change: Change, conn: Connection) -> OpResult:
        """Check mode: the up-to-date test, then (when ``up`` would act) what it would do."""
        if conn.run(change.required_check().script).exit_code == 0:
            return OpResult(changed=False)
        run = change.shell()
        if run is not None:
            listing = conn.run(run.script)
            would = containers_listed(listing.text, _WOULD) if listing.ok else \
                f"(no preview: {listing.stderr_tail(3) or listing.text.strip()[-200:]})"
            change.summary = f"{change.summary}: {would or 'nothing to create, recreate or remove'}"
        return OpResult(changed=True)


# compose's progress verbs (after an up, and in its --dry-run) -> what the plan says
_DONE = {"Created": "created", "Recreated": "recreated", "Started": "started", "Stopped": "stopped",
         "Removed": "removed"}
_WOULD = {"Creating": "create", "Recreate": "recreate", "Starting": "start", "Stopping": "stop",
          "Removing": "remove", "inactive": "remove"}


def containers_listed(output: str, verbs: dict[str, str]) -> str:
    """``recreate shop-web-1; create shop-nginx-1``: the containers compose's output names, under
    the strongest verb each had (a recreated container is also started: said once)."""
    strongest: dict[str, str] = {}
    order = list(verbs.values())
    for line in output.splitlines():
        words = line.replace("DRY-RUN MODE -", "").split()
        if words[:1] == ["inactive"] and len(words) == 2:
            strongest[words[1]] = verbs["inactive"]
            continue
        if len(words) < 3 or words[0] != "Container" or words[-1] not in verbs:
            continue
        name = re.sub(r"^[0-9a-f]{12}_", "", " ".join(words[1:-1]))
        verb = verbs[words[-1]]
        if name not in strongest or order.index(verb) < order.index(strongest[name]):
            strongest[name] = verb
    grouped: dict[str, list[str]] = {}
    for name, verb in strongest.items():
        grouped.setdefault(verb, []).append(name)
    return "; ".join(f"{verb} {', '.join(sorted(names))}" for verb, names in
                     sorted(grouped.items(), key=lambda item: order.index(item[0])))
