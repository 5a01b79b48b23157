"""The ``stack_deploy`` operation: a release of a swarm environment deployed on its first manager.

One script, in the release directory (``current``):

1. render: ``docker compose config`` with the release's ``.env`` (its COMPOSE_FILE, plus
   ``.moorage-swarm.yml`` making the default network attachable, so a one-off container can join
   it) into ``stack.yml``, in the form ``docker stack deploy`` reads (a ``version``, no ``name``,
   published ports as numbers): the release keeps the exact stack it deployed;
2. migrations, when asked: ``docker compose run --rm --no-deps SERVICE COMMAND`` on the stack's
   network.  Before the update when the stack runs already (the new code meets a migrated
   schema); after creating it on a first deploy (the database is part of the stack), retried
   until the database answers or the timeout;
3. ``docker stack deploy --prune --resolve-image never -c stack.yml STACK``;
4. convergence: every service of the stack with as many tasks running as desired and no update
   in progress, twice in a row, within ``timeout``.  An update Swarm rolled back by itself
   (``failure_action: rollback``: ``UpdateStatus.State`` ``rollback_completed``) or paused fails
   the task, naming the service and Swarm's message.  A service's update status from before this
   deploy (same ``StartedAt``) is not this deploy's and is not judged.

Check mode runs none of it: with ``preview``, the new stack is rendered on the manager and
compared per service with ``current/stack.yml`` (``stack_preview``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, PlanError, Shell, Step, TaskFailed, register
from moorage.operations.scripted import PATH_PRELUDE, failure_sentence
from moorage.operations.shell import Raw, argv, sh
from moorage.operations.stack_preview import NEW, preview_step, service_changes

ATTACHABLE = "networks:\n  default:\n    attachable: true\n"
# docker stack deploy (20.10) reads the compose file format 3: a version, no top-level name, numbers,
# and depends_on only as a list — which Swarm ignores anyway, so a service's depends_on block (compose
# config writes the long form, `db: {condition: ...}`) goes: from its line to the next key of the
# service (4 spaces) or of the file.
TO_STACK = (r's/^( +published: )"([0-9]+)"$/\1\2/; /^name: /d; '
            r'/^    depends_on:/,/^ {0,4}[^ ]/{/^ {0,4}[^ ]/!d; /^    depends_on:/d}')
_NAME = "^[a-z0-9][a-z0-9_-]*$"

_CONVERGE = r"""snapshot() { for s in $(docker stack services -q "$stack"); do
  docker service inspect --format '{{.ID}} {{if .UpdateStatus}}{{.UpdateStatus.StartedAt}}{{end}}' "$s"; done; }
fmt='{{.Spec.Name}}|{{if .UpdateStatus}}{{.UpdateStatus.State}}|{{.UpdateStatus.StartedAt}}|'
fmt="$fmt{{.UpdateStatus.Message}}{{end}}"
converged() {
  pending=""
  for s in $(docker stack services -q "$stack"); do
    line=$(docker service inspect --format "$fmt" "$s") || return 1
    name=${line%%|*}; rest=${line#*|}; state=${rest%%|*}; rest=${rest#*|}; started=${rest%%|*}; message=${rest#*|}
    if [ -n "$state" ] && ! printf '%s\n' "$before" | grep -qxF "$s $started"; then
      case "$state" in
        rollback_completed) echo "Swarm rolled the update of $name back by itself: $message" >&2; exit 3 ;;
        paused|rollback_paused) echo "the update of $name is $state: $message" >&2; exit 3 ;;
        updating|rollback_started) pending="$pending $name(updating)"; continue ;;
      esac
    fi
  done
  lagging=$(docker stack services --format '{{.Name}} {{.Replicas}}' "$stack" \
    | awk '{split($2, r, "/"); if (r[1] + 0 < r[2] + 0) printf " %s(%s)", $1, $2}')
  pending="$pending$lagging"
  [ -z "$pending" ]
}
wait_converged() {
  end=$(( $(date +%s) + timeout )); good=0
  while :; do
    if converged; then good=$((good + 1)); [ "$good" -ge 2 ] && return 0; else good=0; fi
    if [ "$(date +%s)" -ge "$end" ]; then echo "the stack did not converge within ${timeout}s:$pending" >&2; exit 1; fi
    sleep 1
  done
}"""


@register
class StackDeploy(Operation):
    """Deploy the release in ``project_dir`` as swarm stack ``stack`` (see the module docstring):
    render ``stack.yml``, migrations when ``migrate_command`` is set, ``docker stack deploy``, then
    wait until the stack converged.  Always a change (the task runs when the release changed)."""

    name = "stack_deploy"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir", "stack"],
        "properties": {
            "project_dir": {"type": "string", "pattern": "^/", "description": "The release directory (current)."},
            "stack": {"type": "string", "pattern": _NAME, "maxLength": 63, "description": "The stack's name."},
            "migrate_service": {"type": "string", "description": "The service whose image runs the migrations."},
            "migrate_command": {"type": ["string", "array"], "items": {"type": "string"},
                                "description": "The migrations' command (empty: none)."},
            "preview": {
                "type": "object", "additionalProperties": False,
                "description": "Check mode: the project's files (src, relative to the inventory's project "
                               "root; staged: the release's paths in it; compose_files) and the new .env "
                               "values, rendered on the manager and compared per service with the running "
                               "release's stack.yml (variable names only, never values).",
                "properties": {"src": {"type": "string", "minLength": 1},
                               "staged": {"type": "array", "items": {"type": "string"}},
                               "compose_files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                               "env": {"type": "object"}},
            },
            "timeout": {"type": "number", "exclusiveMinimum": 0,
                        "description": "Seconds the stack has to converge (and a first deploy's migrations "
                                       "to find the database), default 300."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        """One ``Shell``: the script of the module docstring."""
        stack, timeout = self.args["stack"], int(self.args.get("timeout", 300))
        command = self.args.get("migrate_command") or ""
        words = argv(command) if isinstance(command, str) else list(command)
        migrate = ""
        if words:
            run = sh("docker", "compose", "-p", stack, "-f", "stack.yml", "-f", ".moorage-migrate.yml", "run",
                     "--rm", "--no-deps", "-T", self.args.get("migrate_service", ""), words)
            migrate = "\n".join([
                sh(Raw("printf '%s'"), f"networks:\n  default:\n    name: {stack}_default\n    external: true\n",
                   Raw("> .moorage-migrate.yml")),
                f"migrate() {{ {run} || return 1; echo '@@did migrations ran'; }}",
            ])
        script = "\n".join(line for line in [
            sh("cd", self.args["project_dir"]),
            f"stack={sh(stack)}; timeout={timeout}",
            sh(Raw("printf '%s'"), ATTACHABLE, Raw("> .moorage-swarm.yml")),
            "files=$(sed -n 's/^COMPOSE_FILE=//p' .env | tail -n 1); files=${files:-compose.yml}",
            "COMPOSE_FILE=\"$files:.moorage-swarm.yml\" docker compose config > stack.yml.moorage-tmp || exit 1",
            sh(Raw("{ echo 'version: \"3.9\"'; sed -E"), TO_STACK, Raw("stack.yml.moorage-tmp; } > stack.yml"),
               Raw("&& rm -f stack.yml.moorage-tmp")),
            _CONVERGE,
            migrate,
            "before=$(snapshot)",
            "exists=$before",
            *(["if [ -n \"$exists\" ]; then migrate || exit 1; fi"] if migrate else []),
            "docker stack deploy --prune --resolve-image never -c stack.yml \"$stack\" >/dev/null || exit 1",
            "echo \"@@did stack $stack deployed\"",
            *([_FIRST_MIGRATION] if migrate else []),
            "sleep 2",
            "wait_converged",
            "echo \"@@did stack $stack converged\"",
        ] if line)
        steps: list[Step] = [Shell(script, timeout=timeout * 2 + 120)]
        if self.args.get("preview", {}).get("compose_files"):
            steps.append(self._preview())
        return Change(f"stack {stack} deployed and converged", steps)

    def _preview(self) -> Shell:
        """Check mode's read-only step (``stack_preview``); ``PlanError`` when the files can't be read."""
        preview = self.args["preview"]
        src = Path(preview.get("src") or ".").expanduser()
        inventory_dir = self.context.variables.get("inventory_dir")
        root = src if src.is_absolute() else (Path(inventory_dir).parent if inventory_dir else Path.cwd()) / src
        try:
            return preview_step(root, preview.get("staged") or preview["compose_files"], preview["compose_files"],
                                preview.get("env") or {},
                                self.args["project_dir"], self.args["stack"], ATTACHABLE, TO_STACK)
        except (OSError, ValueError) as exc:
            raise PlanError(f"cannot preview stack {self.args['stack']}: {exc}") from None

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The script; its ``@@did`` lines are the summary."""
        act = change.shell()
        assert act is not None  # the plan always holds the deploy's script
        if act.reads_only:  # check mode: the preview step alone
            return self._compare(change, conn)
        result = conn.run(f"{PATH_PRELUDE}\n{act.script}", timeout=act.timeout)
        if not result.ok:
            raise TaskFailed(failure_sentence(self.name, result), change.summary, result.exit_code,
                             result.stderr_tail())
        did = [line[6:] for line in result.text.splitlines() if line.startswith("@@did ")]
        change.summary = "; ".join(did) or change.summary
        return OpResult(changed=True)

    def _compare(self, change: Change, conn: Connection) -> OpResult:
        """Runs the preview and says per service what the deploy would change."""
        step = next(s for s in change.steps if isinstance(s, Shell))
        result = conn.run(step.script, stdin=step.stdin)
        if not result.ok:  # stderr may quote the .env: only its last lines, as every failure
            raise TaskFailed(failure_sentence(self.name, result), "docker compose config (check mode)",
                             result.exit_code, result.stderr_tail())
        old, _, new = result.text.partition(NEW + "\n")
        try:
            lines = service_changes(old, new)
        except yaml.YAMLError:
            raise TaskFailed(f"the stack file of {self.args['project_dir']} is not YAML", "stack.yml") from None
        changed = any(not line.endswith(": unchanged") for line in lines)
        change.summary = f"stack {self.args['stack']}: " + "; ".join(lines)
        return OpResult(changed=changed, message=change.summary)


# A first deploy creates the database with the stack: the migrations wait for it (retried).
_FIRST_MIGRATION = """if [ -z "$exists" ]; then
  end=$(( $(date +%s) + timeout ))
  until migrate 2>.moorage-migrate.err; do
    if [ "$(date +%s)" -ge "$end" ]; then cat .moorage-migrate.err >&2; echo "the migrations failed" >&2; exit 1; fi
    sleep 2
  done
fi"""
