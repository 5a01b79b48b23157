"""Operations that ask the host and act in one round trip: a read-only check, then the change.

Some state can't be read from file facts (is a package installed? is a user in a group? is a
daemon running?).  Such an operation plans two shell scripts, built from quoted tokens:

- ``check()``: read-only; exits 0 when the host already is as asked;
- ``script()``: makes it so, printing one ``@@did WHAT`` line per thing it really changed, or a
  sentence on stderr and a non-zero exit when it can't.

``plan`` returns them as the change's ``Check`` and ``Shell`` steps (pure, so table tests compare
them exactly); ``apply`` sends them as one command — the check guards the script — and reports
``changed`` only when the script ran, with the ``@@did`` lines as the task's summary; check mode
hands it the ``Check`` alone.
"""

from __future__ import annotations

from typing import Any

from moorage.connection.base import CommandResult, Connection
from moorage.operations.base import Change, Check, Facts, Operation, OpResult, Shell, TaskFailed
from moorage.operations.shell import guarded, held, sh

DID = "@@did "
# Non-login sessions (and sudo's secure_path elsewhere) may lack the sbin directories.
PATH_PRELUDE = 'PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"; export PATH'

TIMEOUT = {"type": "number", "exclusiveMinimum": 0,
           "description": "Seconds before the task counts as failed."}


class ScriptedOperation(Operation):
    """Base of operations made of a read-only ``check()`` and a ``script()`` that acts."""

    batched = False
    invalidates_facts = True
    default_timeout: float | None = None

    def summary(self) -> str:
        """What the task will make true, in a few words."""
        raise NotImplementedError

    def check(self) -> str:
        """Read-only shell: exit 0 when nothing needs doing."""
        raise NotImplementedError

    def script(self) -> str:
        """Shell that makes it so; prints ``@@did WHAT`` per change, or a sentence on stderr and exits != 0."""
        raise NotImplementedError

    def plan(self, facts: Facts) -> Change | None:
        return Change(self.summary(), [Check(self.check()), Shell(self.script())])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        check = change.check()
        acting = [step.script for step in change.acting() if isinstance(step, Shell)]
        if not acting:  # check mode: the read-only check alone says whether the script would run
            result = conn.run(f"{PATH_PRELUDE}\n( {change.required_check().script}\n) >/dev/null 2>&1")
            return OpResult(changed=result.exit_code != 0)
        command = guarded(check.script, acting[0], PATH_PRELUDE) if check else f"{PATH_PRELUDE}\n{acting[0]}"
        result = conn.run(command, timeout=self.args.get("timeout", self.default_timeout))
        if not result.ok:
            raise TaskFailed(failure_sentence(self.name, result), self.summary(), result.exit_code,
                             result.stderr_tail())
        if held(result.text):
            return OpResult(changed=False, message="already so")
        did = [line[len(DID):] for line in result.text.splitlines() if line.startswith(DID)]
        if did:  # the summary tells what really happened, not what could have
            change.summary = "; ".join(did)
        return OpResult(changed=True, stdout=result.text, stderr=result.stderr.decode("utf-8", "replace"))


def failure_sentence(name: str, result: CommandResult) -> str:
    """The last line the script wrote on stderr (our scripts end with a sentence), or the exit status."""
    lines = [line for line in result.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"{name} failed with exit status {result.exit_code}"


def each(values: Any) -> str:
    """Space-separated, quoted words for a shell ``for`` loop."""
    return sh([str(v) for v in values])


def apply_fed(name: str, change: Change, conn: Connection, unchanged: str) -> OpResult:
    """Apply a change made of a ``Check`` and a ``Shell`` that each read their own ``stdin`` (values
    kept out of command lines) and whose script checks again itself before acting.  In check mode
    (the ``Check`` alone): changed when it fails.  Else the script; changed when it printed ``@@did``
    lines (they become the summary), ``unchanged`` as the message otherwise."""
    act = change.shell()
    if act is None:
        check = change.required_check()
        probe = conn.run(f"{PATH_PRELUDE}\n{check.script}", stdin=check.stdin)
        return OpResult(changed=probe.exit_code != 0)
    result = conn.run(f"{PATH_PRELUDE}\n{act.script}", stdin=act.stdin, timeout=act.timeout)
    if not result.ok:
        raise TaskFailed(failure_sentence(name, result), change.summary, result.exit_code, result.stderr_tail())
    did = [line[len(DID):] for line in result.text.splitlines() if line.startswith(DID)]
    if did:
        change.summary = "; ".join(did)
    return OpResult(changed=bool(did), message="" if did else unchanged)
