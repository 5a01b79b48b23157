"""The ``compose`` operation: ``docker compose`` for one project on the host."""

from __future__ import annotations

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, TaskFailed, register
from moorage.operations.common import q

_CHANGED = "@@moorage-compose-changed"
_STATES = ("up", "restarted", "stopped", "pulled", "built", "down")


@register
class Compose(Operation):
    """Bring a compose project to a state: ``up`` (``up -d --wait``: the containers'
    healthchecks are a gate), ``restarted``, ``stopped``, ``pulled``, ``built`` or
    ``down`` (containers removed; volumes are never removed by this operation).

    Changed only when containers were created, replaced, started or stopped, or
    images changed — compared before and after in the same round trip.  When
    ``up`` fails, the error carries ``docker compose ps`` and the last log lines.
    """

    name = "compose"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir"],
        "properties": {
            "project_dir": {"type": "string", "pattern": "^/", "description": "Directory of the project."},
            "files": {"type": "array", "items": {"type": "string", "minLength": 1},
                      "description": "Compose files (-f), relative to project_dir."},
            "profiles": {"type": "array", "items": {"type": "string", "minLength": 1},
                         "description": "Profiles to enable."},
            "env_file": {"type": "string", "minLength": 1, "description": "The --env-file to read."},
            "project_name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$",
                             "description": "Compose project name (-p)."},
            "state": {"enum": list(_STATES), "default": "up", "description": "One of: " + ", ".join(_STATES)},
            "services": {"type": "array", "items": {"type": "string", "minLength": 1},
                         "description": "Limit to these services."},
            "build": {"type": "boolean", "default": False, "description": "Build images before up."},
            "pull": {"enum": ["missing", "always", "never"], "description": "Pull policy for up."},
            "wait": {"type": "boolean", "default": True, "description": "Wait for healthy containers."},
            "wait_timeout": {"type": "integer", "minimum": 1, "default": 180,
                             "description": "Seconds --wait allows (default 180)."},
            "remove_orphans": {"type": "boolean", "default": True,
                               "description": "Remove containers of services no longer defined."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        state = self.args.get("state", "up")
        services = " ".join(self.args.get("services") or [])
        return Change(f"docker compose {state} in {self.args['project_dir']}"
                      + (f" ({services})" if services else ""))

    def base_command(self) -> str:
        """``docker compose`` with the project's files, profiles, env file and name."""
        parts = ["docker", "compose"]
        if self.args.get("project_name"):
            parts += ["-p", q(self.args["project_name"])]
        for file in self.args.get("files") or []:
            parts += ["-f", q(file)]
        for profile in self.args.get("profiles") or []:
            parts += ["--profile", q(profile)]
        if self.args.get("env_file"):
            parts += ["--env-file", q(self.args["env_file"])]
        return " ".join(parts)

    def action(self) -> tuple[str, str]:
        """The compose subcommand, and the command whose output tells whether anything changed."""
        services = " ".join(q(s) for s in self.args.get("services") or [])
        state = self.args.get("state", "up")
        observe = "compose ps -a --format '{{.ID}} {{.State}}' | sort"
        if state == "up":
            flags = ["-d"]
            if self.args.get("wait", True):
                flags += ["--wait", "--wait-timeout", str(self.args.get("wait_timeout", 180))]
            if self.args.get("build"):
                flags.append("--build")
            if self.args.get("pull"):
                flags += ["--pull", self.args["pull"]]
            if self.args.get("remove_orphans", True):
                flags.append("--remove-orphans")
            return f"up {' '.join(flags)} {services}", observe
        if state == "pulled":
            return f"pull --quiet {services}", "compose images -q | sort"
        if state == "built":
            return f"build {services}", "compose images -q | sort"
        verb = {"restarted": "restart", "stopped": "stop", "down": "down"}[state]
        return f"{verb} {services}", observe if state != "restarted" else "date +%s%N"

    def script(self) -> str:
        """One round trip: observe, act, observe again, report the difference."""
        subcommand, observe = self.action()
        return "\n".join([
            f"cd {q(self.args['project_dir'])} || exit 1",
            f'compose() {{ {self.base_command()} "$@"; }}',
            f"before=$({observe})",
            f"compose {subcommand}",
            "rc=$?",
            f"after=$({observe})",
            f'[ "$before" = "$after" ] || echo {_CHANGED}',
            "if [ $rc -ne 0 ]; then compose ps -a >&2; compose logs --no-color --tail 20 >&2; fi",
            "exit $rc",
        ])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        result = conn.run(self.script())
        if result.exit_code != 0:
            raise TaskFailed(f"docker compose {self.args.get('state', 'up')} failed "
                             f"(exit {result.exit_code}) in {self.args['project_dir']}",
                             f"{self.base_command()} {self.action()[0]}", result.exit_code,
                             result.stderr_tail(30))
        changed = _CHANGED in result.text
        return OpResult(changed=changed, stdout=result.text.replace(_CHANGED, "").strip(),
                        stderr=result.stderr.decode("utf-8", "replace"),
                        message="" if changed else "containers already as asked")
