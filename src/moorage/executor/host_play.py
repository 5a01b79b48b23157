"""One play on one host: plan every task against the facts, batch, apply, run handlers.

Facts for every path the upcoming tasks touch are gathered in one command; each
planned change updates them, so later tasks plan against the state earlier
tasks will leave.  File changes wait in a batch that is sent in one round trip
just before a task that must really run (a command, an HTTP check) and at the
end.  A command may change anything, so facts are gathered again after it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from moorage import secrets, templating
from moorage.connection.base import ByteStream, Channel, CommandResult, Connection
from moorage.errors import HostError, MoorageError
from moorage.executor import batch
from moorage.executor.interrupt import INTERRUPT
from moorage.executor.options import RunOptions
from moorage.executor.results import TaskRecord
from moorage.executor.tasks import build_operation, registered, search_dirs, should_run, skipped_roles
from moorage.facts import files as file_facts
from moorage.facts.paths import FactRequest, Facts
from moorage.inventory import Host
from moorage.operations import REGISTRY
from moorage.operations.base import Change, OpContext, Operation, PlanError, Request, RunOnce, TaskFailed
from moorage.playbook import Play, Task
from moorage.report import Report


@dataclass
class _Pending:
    task: Task
    change: Change


class HostPlay:
    """Runs one play's tasks, then its notified handlers, on one host."""

    def __init__(self, play: Play, host: Host, conn: Connection, options: RunOptions, report: Report,
                 once: RunOnce | None = None) -> None:
        self.play, self.host, self.conn = play, host, conn
        self.once = once or RunOnce()  # what the play's hosts compute once for all of them
        self.options, self.report = options, report
        self.variables = host.variables(play.defaults())
        self.registered: dict[str, Any] = {}
        self.facts = Facts()
        self.changed_paths: set[str] = set()
        self.queue: list[_Pending | dict[str, Any]] = []  # results waiting behind unsent changes
        self.pending_become: bool | None = None
        self.notified: list[str] = []
        self.failed = False
        self.last_started = ""  # the display name of the last task begun
        self.interrupted: str | None = None  # where Ctrl-C stopped the play: "after 'TASK'" (or "before")
        self.records: list[TaskRecord] = []  # every task's result, in order, for the run's result

    # -- the play --------------------------------------------------------------
    def run(self) -> bool:
        """Run every selected task, then the notified handlers; True when nothing failed."""
        skipped = self._skipped_roles()
        if skipped is None:
            return False
        selected = [t for t in self.play.all_tasks() if self.options.selects(t.all_tags)
                    and (t.role is None or t.role.name not in skipped)]
        previous_interruptible = True
        for index, task in enumerate(selected):
            if INTERRUPT.stops_before(self.host.name, previous_interruptible, task.interruptible):
                self._interrupt(task)
                break
            self.last_started = self._display_name(task)
            INTERRUPT.at(self.host.name, self.last_started, task.interruptible)
            if not self._run_task(task, selected[index + 1:]):
                break
            previous_interruptible = task.interruptible
        else:
            self._flush()
        self._run_handlers()  # also after a failure or Ctrl-C: a notified handler is never lost
        INTERRUPT.at(self.host.name, "", interruptible=True)  # the play is over: no task is running
        return not self.failed

    def _interrupt(self, task: Task) -> None:
        """Stop before ``task`` (Ctrl-C): the changes already decided are sent, the rest doesn't run."""
        if self._flush():
            name = self._display_name(task)
            self.interrupted = f"after '{self.last_started}'" if self.last_started else f"before '{name}'"
            self.report.emit("warning", host=self.host.name, message=f"interrupted (Ctrl-C) {self.interrupted}: "
                             f"the tasks from '{name}' on did not run")

    def _skipped_roles(self) -> set[str] | None:
        """The roles whose ``when`` in the play is false on this host, each reported once as
        skipped (their tasks then don't run, so their handlers are never notified); None when a
        condition can't be evaluated (the host failed)."""
        try:
            skipped = skipped_roles(self.play, self.variables)
        except MoorageError as exc:
            self.failed = True
            self._emit(task="role conditions", status="failed", message=str(exc))
            return None
        for name in skipped:
            self._emit(task=f"role {name}", status="skipped",
                       summary=f"condition is false: {self.play.role_when[name][0]}")
        return set(skipped)

    def _run_handlers(self) -> None:
        done: set[str] = set()
        for handler in self.play.all_handlers():
            if handler.name in self.notified and handler.name not in done:
                done.add(handler.name)
                INTERRUPT.at(self.host.name, self._display_name(handler), interruptible=True)
                if not self._run_task(handler, []):
                    break
        self._flush()

    # -- one task ----------------------------------------------------------------
    def _run_task(self, task: Task, upcoming: list[Task]) -> bool:
        op_class = REGISTRY[task.op]
        become = self._become(task)
        if self.queue and (not op_class.batched or become != self.pending_become) and not self._flush():
            return False
        variables = self._variables()
        try:
            if not should_run(task, variables):
                if task.validation:  # the refused case doesn't hold: a passed check, not a skipped task
                    self._record(task, "ok", summary="check passed", register=registered(False))
                else:
                    self._record(task, "skipped", summary="condition is false", register=registered(
                        False, skipped=True))
                return True
            op = build_operation(task, variables, self._context(task))
            self._ensure_facts(op.facts_needed(), upcoming, become)
            change = op.plan(self.facts)
        except (MoorageError, PlanError) as exc:
            return self._fail(task, _said(exc), unreachable=isinstance(exc, HostError))
        if change is None:
            self._record(task, "ok", register=registered(False))
            return True
        if op_class.batched:
            for after in change.after:
                self.facts.record(after)
                self.changed_paths.add(after.path)
            if self.options.check:
                self._record(task, "changed", change=change, register=registered(True), data=change.data or None)
            else:
                self.pending_become = become
                self.queue.append(_Pending(task, change))
                self._register(task, registered(True))
            return True
        return self._apply_now(task, op, change, become)

    def _apply_now(self, task: Task, op: Operation, change: Change, become: bool) -> bool:
        if self.options.check:
            return self._check_now(task, op, change, become)
        try:
            result = op.apply(change, _RunAs(self.conn, become))
        except TaskFailed as exc:
            return self._task_failed(task, exc)
        except MoorageError as exc:
            return self._fail(task, exc.detail, unreachable=isinstance(exc, HostError))
        if op.invalidates_facts:
            self.facts.forget()
        changed = result.changed
        # a changed task says what it did when the operation tells (bytes shipped, the switch's
        # time), else what the plan said it would do
        self._record(task, "changed" if changed else "ok",
                     summary=(result.message or change.summary) if changed else result.message,
                     register=registered(changed, rc=result.rc, stdout=result.stdout,
                                         stderr=result.stderr, message=result.message, **result.data),
                     data=result.data)
        return True

    def _check_now(self, task: Task, op: Operation, change: Change, become: bool) -> bool:
        """Check mode for a non-batched task, decided here alone: run its read-only steps (a
        ``Check``, a validation, a dry run) and report what its acting steps would do; with no
        read-only step it would change, and a change that only observes (``Request``) is skipped."""
        if change.not_yet or (change.steps and all(isinstance(s, Request) for s in change.steps)):
            summary = change.not_yet or "not asked in check mode: it observes what the run deploys"
            self._record(task, "skipped", summary=summary, register=registered(False, skipped=True))
            return True
        preview = change.read_only()
        changed, data = True, dict(change.data)
        if preview.steps:
            try:
                result = op.apply(preview, _RunAs(self.conn, become))
            except TaskFailed as exc:
                return self._task_failed(task, exc)
            except (MoorageError, PlanError) as exc:
                return self._fail(task, _said(exc), unreachable=isinstance(exc, HostError))
            changed = result.changed and bool(change.acting())
            data.update(preview.data, **result.data)
            change = dataclasses.replace(change, summary=preview.summary, diff=preview.diff)
        if changed:  # what it would change: later read-only checks there can't be asked yet
            self.changed_paths.update(after.path for after in change.after)
        self._record(task, "changed" if changed else "ok", change=change if changed else None,
                     register=registered(changed, **data), data=data)
        return True

    def _task_failed(self, task: Task, exc: TaskFailed) -> bool:
        self._register(task, registered(False, failed=True, rc=exc.exit_code or 1, stderr=exc.stderr,
                                        message=str(exc)))
        return self._fail(task, str(exc), command=exc.command, exit_code=exc.exit_code, stderr=exc.stderr)

    # -- facts and batches ---------------------------------------------------------
    def _ensure_facts(self, request: FactRequest, upcoming: list[Task], become: bool) -> None:
        missing = self.facts.missing(request)
        if missing.empty:
            return
        for task in upcoming:  # one round trip for every task up to the next command
            try:
                ahead = build_operation(task, self._variables(), self._context(task))
                missing.update(self.facts.missing(ahead.facts_needed()))
            except MoorageError:
                pass  # it depends on something not known yet; it will ask again itself
            if REGISTRY[task.op].invalidates_facts:
                break
        result = self.conn.run(file_facts.gather_command(missing), become=become)
        if not result.ok:
            raise HostError(self.host.name, f"gathering facts failed (exit {result.exit_code}): "
                            f"{result.stderr_tail(3)}")
        for facts in file_facts.parse(result.text, missing).values():
            self.facts.record(facts)
        for tree, probe in file_facts.parse_trees(result.text, missing).items():
            self.facts.record_tree(tree, probe)

    def _flush(self) -> bool:
        """Send the pending changes in one round trip; report every queued result in order."""
        queue, self.queue = self.queue, []
        pending = [item for item in queue if isinstance(item, _Pending)]
        done = len(pending)
        failure: HostError | CommandResult | None = None
        if pending:
            payload = batch.build([p.change.steps for p in pending])
            long_step = payload.size > 1_000_000
            if long_step:
                self.report.emit("step", host=self.host.name, summary="upload",
                                 data={"phase": "start", "total": payload.size})
            try:
                result = self.conn.run(payload.command, stdin=payload.stdin, become=self.pending_become)
            except HostError as exc:
                result, failure = None, exc
            if long_step:
                self.report.emit("step", host=self.host.name, summary="upload", data={"phase": "end"})
            if result is not None:
                done = batch.completed(result.text)
                if result.exit_code != 0 or done < len(pending):
                    failure = result
        position = 0
        for item in queue:
            if isinstance(item, dict):
                self._emit(**item)
                continue
            if position < done:  # a batched change's data (e.g. a warning) reaches the records too
                self._record(item.task, "changed", change=item.change, data=item.change.data or None)
            elif position == done:
                return self._batch_failed(item, failure)
            position += 1
        return True

    def _batch_failed(self, item: _Pending, failure: HostError | CommandResult | None) -> bool:
        if isinstance(failure, HostError):
            return self._fail(item.task, str(failure), unreachable=True)
        assert failure is not None, "a batch that stopped short has a failure"
        self._register(item.task, registered(False, failed=True, rc=failure.exit_code))
        return self._fail(item.task, f"{item.change.summary} failed", command=item.change.summary,
                          exit_code=failure.exit_code, stderr=failure.stderr_tail())

    # -- results -------------------------------------------------------------------
    def _record(self, task: Task, status: str, summary: str | None = None, change: Change | None = None,
                register: dict[str, Any] | None = None, data: dict[str, Any] | None = None) -> None:
        if register is not None:
            self._register(task, register)
        if status == "changed":
            self.notified.extend(n for n in task.notify if n not in self.notified)
        fields: dict[str, Any] = {"task": self._display_name(task), "status": status,
                  "summary": summary or (change.summary if change else None),
                  "diff": change.diff if change is not None and self.options.diff else None}
        if data:  # an operation's counts (e.g. what a sync sent) reach --json with its result
            fields["data"] = data
        if self.queue:
            self.queue.append(fields)
        else:
            self._emit(**fields)

    def _emit(self, **fields: Any) -> None:
        self.records.append(TaskRecord(fields["task"], fields["status"], fields.get("message"),
                                       dict(fields.get("data") or {})))
        self.report.emit("task", host=self.host.name, play=self.play.name, **fields)

    def _fail(self, task: Task, message: str, unreachable: bool = False, **data: Any) -> bool:
        self.failed = True
        self.queue = []
        if unreachable:
            self.report.recap_for(self.host.name).unreachable = True
        self._emit(task=self._display_name(task), status="failed", message=message,
                   data={k: v for k, v in data.items() if v not in (None, "")})
        return False

    def _register(self, task: Task, value: dict[str, Any]) -> None:
        if task.register:
            self.registered[task.register] = value

    # -- context -------------------------------------------------------------------
    def _display_name(self, task: Task) -> str:
        """The task's name with its variables filled in (the raw name when they can't be)."""
        if not templating.is_templated(task.name):
            return task.name
        try:
            return str(templating.render_value(task.name, self._variables()))
        except MoorageError:
            return task.name

    def _variables(self) -> dict[str, Any]:
        return {**self.variables, **self.registered}

    def _become(self, task: Task) -> bool:
        for choice in (task.become, self.play.become):
            if choice is not None:
                return bool(choice)
        return self.host.target.become

    def _progress(self, summary: str, data: dict[str, Any]) -> None:
        """A long step's progress (bytes sent...), for the human view's bar."""
        self.report.emit("step", host=self.host.name, summary=summary, data=data)

    def _context(self, task: Task) -> OpContext:
        return OpContext(
            host=self.host.name,
            variables=self._variables(),
            user=self.host.target.user,
            template_dirs=search_dirs(task, self.play.playbook_dir, "templates"),
            file_dirs=search_dirs(task, self.play.playbook_dir, "files"),
            render_file=templating.render_file,
            mask=secrets.mask,
            register_secret=secrets.register_secret,
            diff=self.options.diff,
            changed_paths=frozenset(self.changed_paths),
            progress=self._progress,
            once=self.once,
        )


class _RunAs:
    """The host's connection with this task's ``become`` applied to every command."""

    def __init__(self, conn: Connection, become: bool) -> None:
        self._conn, self._become = conn, become
        self.target, self.stats = conn.target, conn.stats

    def run(self, command: str, stdin: bytes | ByteStream | None = None, timeout: float | None = None,
            become: bool | None = None) -> CommandResult:
        return self._conn.run(command, stdin, timeout, self._become if become is None else become)

    def open_channel(self, command: str, become: bool | None = None) -> Channel:
        """A channel of the same connection, for operations that speak a protocol over it
        (``sync`` runs rsync's)."""
        return self._conn.open_channel(command, self._become if become is None else become)

    def command_argv(self, command: str, become: bool | None = None) -> list[str] | None:
        return self._conn.command_argv(command, self._become if become is None else become)

    def interact(self, command: str, *, tty: bool, stdin: bool = True, become: bool | None = None) -> int:
        return self._conn.interact(command, tty=tty, stdin=stdin, become=self._become if become is None else become)

    def close(self) -> None:
        self._conn.close()


def _said(exc: Exception) -> str:
    """An error's sentence beside the host's name (a HostError's without its own host prefix)."""
    return exc.detail if isinstance(exc, MoorageError) else str(exc)

