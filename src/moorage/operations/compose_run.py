"""The ``compose_run`` operation: a one-off command in a service of a compose project."""

from __future__ import annotations

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, Shell, TaskFailed, register
from moorage.operations.compose import PROJECT_ARGS, compose_tokens
from moorage.operations.names import SERVICE_NAME
from moorage.operations.shell import Raw, argv, sh


@register
class ComposeRun(Operation):
    """Run ``command`` once in a new container of ``service`` (``docker compose run --rm -T``),
    e.g. database migrations.  ``command`` is a list of words (each item one argument, never
    split: the form for a command holding variables' values), or a string split into words the
    way a shell would (quotes group, nothing is expanded or executed; a value inserted into it is
    split with it, a quote in it included); each word reaches docker as one argument.  Always
    "changed" when it ran; not run in check mode.
    """

    name = "compose_run"
    batched = False
    invalidates_facts = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir", "service", "command"],
        "properties": {
            **PROJECT_ARGS,
            "service": SERVICE_NAME,
            "command": {"type": ["string", "array"], "items": {"type": "string"}, "minLength": 1, "minItems": 1,
                        "description": "The command: a list of words, or a string split like a shell would "
                                       "(without expanding anything)."},
            "timeout": {"type": "number", "exclusiveMinimum": 0,
                        "description": "Seconds before the command counts as failed (default: none)."},
        },
    }

    def validate(self) -> None:
        try:
            argv(self.args["command"])
        except ValueError as exc:
            raise ValueError(f"command {self.args['command']!r} cannot be split into words: {exc}; a value "
                             "inserted into a command line is split with it: give the command as a list "
                             "of words (each item one argument, never split)") from None

    def command(self) -> str:
        """The shell line sent to the host: every word quoted."""
        return sh("cd", self.args["project_dir"], Raw("&&"), compose_tokens(self.args),
                  "run", "--rm", "-T", self.args["service"], argv(self.args["command"]))

    def plan(self, facts: Facts) -> Change | None:
        return Change(f"run {' '.join(argv(self.args['command']))!r} in {self.args['service']}",
                      [Shell(self.command(), timeout=self.args.get("timeout"))])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        run = change.shell()
        if run is None:
            return OpResult(changed=True)  # check mode: nothing read-only to ask
        result = conn.run(run.script, timeout=run.timeout)
        if result.exit_code != 0:
            raise TaskFailed(f"the one-off command in {self.args['service']} exited with status {result.exit_code}",
                             run.script, result.exit_code, result.stderr_tail())
        return OpResult(changed=True, stdout=result.text, stderr=result.stderr.decode("utf-8", "replace"))
