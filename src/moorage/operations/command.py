"""The ``command`` operation: run a shell command, guarded by ``creates``/``unless``."""

from __future__ import annotations

import posixpath

from moorage.connection.base import Connection
from moorage.operations.base import (
    Change,
    Check,
    FactRequest,
    Facts,
    Operation,
    OpResult,
    Shell,
    Step,
    TaskFailed,
    register,
)
from moorage.operations.file_writes import changed_under
from moorage.operations.shell import Raw, guarded, held, sh
from moorage.scalars import as_text


@register
class Command(Operation):
    """Run ``cmd`` with ``sh`` on the host; reports changed only when it ran.

    ``creates``: skip when this path exists.  ``unless``: skip when this command
    succeeds (checked on the host in the same round trip).  ``chdir`` and
    ``env`` set the working directory and extra environment; ``env`` values travel on the
    command's stdin (read into the shell before ``cmd`` runs), never in a process's arguments,
    so a token given there is not in the host's process list.  ``cmd`` then reads an empty stdin.
    """

    name = "command"
    batched = False
    invalidates_facts = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["cmd"],
        "properties": {
            "cmd": {"type": "string", "minLength": 1, "description": "Shell command to run."},
            "creates": {"type": "string", "minLength": 1,
                        "description": "Skip when this path exists (relative to chdir)."},
            "unless": {"type": "string", "minLength": 1,
                       "description": "Skip when this command exits 0."},
            "chdir": {"type": "string", "pattern": "^/", "description": "Directory to run in."},
            "env": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "description": "Extra environment variables (names: letters, digits and _); their "
                                   "values travel on stdin, not in the command line."},
            "check_only": {"type": "boolean", "default": False,
                           "description": "The command only checks something (e.g. validates a config): "
                                          "it runs every time, also in check mode, and never counts as a "
                                          "change; its failure still fails the task."},
            "timeout": {"type": "number", "exclusiveMinimum": 0,
                        "description": "Seconds before the command counts as failed (default: none)."},
        },
    }

    def _creates(self) -> str | None:
        creates = self.args.get("creates")
        if creates and not creates.startswith("/"):
            return posixpath.join(self.args.get("chdir") or "/", creates)
        return creates

    def facts_needed(self) -> FactRequest:
        creates = self._creates()
        return FactRequest({creates} if creates else set())

    def plan(self, facts: Facts) -> Change | None:
        """The command (after its environment and directory), behind a ``Check`` of ``unless``;
        a ``check_only`` command reads only, and is not asked yet in check mode when earlier tasks
        change its ``chdir`` (it would check what is there today, or fail in a directory that
        doesn't exist yet)."""
        creates = self._creates()
        if creates and facts[creates].exists:
            return None
        note = f" unless `{self.args['unless']}` succeeds" if self.args.get("unless") else ""
        stdin, prelude = self.environment(), self._prelude()
        steps: list[Step] = []
        command = self.args["cmd"]
        if self.args.get("unless"):  # asked alone in check mode, and again in front of the command
            steps.append(Check("\n".join([*prelude, f"( {self.args['unless']} )"]), stdin))
            command = guarded(self.args["unless"], command)
        steps.append(Shell("\n".join([*prelude, command]), stdin, self.args.get("timeout"),
                           reads_only=bool(self.args.get("check_only"))))
        chdir = (self.args.get("chdir") or "").rstrip("/")
        waits = self.args.get("check_only") and changed_under(self.context.changed_paths, chdir)
        return Change(f"run `{self.args['cmd']}`{note}", steps,
                      not_yet=f"would run in {chdir} once the changes above are made there" if waits else None)

    def environment(self) -> bytes | None:
        """What the command reads first on stdin: ``export NAME='value'`` lines for ``env``."""
        env = self.args.get("env") or {}
        if not env:
            return None
        return "".join(sh("export", Raw(f"{k}={sh(as_text(v))}")) + "\n" for k, v in env.items()).encode()

    def _prelude(self) -> list[str]:
        # The values come in on stdin and stay in this shell's memory: ``$(cat)`` and ``eval``
        # run no program with them as arguments (``cat`` has none), unlike ``env K=V cmd``.
        lines = ['eval "$(cat)"'] if self.args.get("env") else []
        if self.args.get("chdir"):
            lines.append(sh("cd", self.args["chdir"], Raw("|| exit 1")))
        return lines

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The command (its own ``unless`` guard in front); in check mode the guard alone."""
        run = change.shell()
        if run is None:  # check mode: ask the ``unless`` guard alone
            check = change.required_check()
            return OpResult(changed=conn.run(check.script, stdin=check.stdin).exit_code != 0)
        result = conn.run(run.script, stdin=run.stdin, timeout=run.timeout)
        stdout = result.text
        if result.exit_code != 0:
            raise TaskFailed(f"command exited with status {result.exit_code}", self.args["cmd"],
                             result.exit_code, result.stderr_tail())
        if change.check() is not None and held(stdout):
            return OpResult(changed=False, message="unless held: not run")
        if run.reads_only:
            return OpResult(changed=False, rc=0, stdout=stdout, message="check passed")
        return OpResult(changed=True, rc=0, stdout=stdout,
                        stderr=result.stderr.decode("utf-8", "replace"))
