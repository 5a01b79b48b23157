"""The operation contract.

An operation is a small class that reads top to bottom:

1. ``name`` and ``args_schema`` — its declared arguments (a JSON Schema object,
   validated at ``check`` time and before anything runs; the schema's
   ``description``s and the class docstring are the operation reference);
2. ``facts_needed()`` — which remote paths it must know about;
3. ``plan(facts)`` — pure: compares the desired state with the facts and
   returns a ``Change`` (something to do) or ``None`` (nothing to do);
4. ``apply(change, conn)`` — only for operations that are not ``batched``.

A *batched* operation's change is a list of ``Upload``/``Shell`` steps that the
executor joins with other tasks' steps into one round trip.  Operations whose
result can't be predicted (a command, an HTTP check, ``docker compose``) set
``batched = False`` and implement ``apply``; the executor flushes pending steps
before them and re-gathers facts after them when ``invalidates_facts``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from moorage.connection.base import Connection
from moorage.facts.paths import FactRequest as FactRequest
from moorage.facts.paths import Facts as Facts
from moorage.facts.paths import PathFacts as PathFacts


@dataclass(frozen=True)
class Upload:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + rename)."""

    path: str
    data: bytes
    mode: str | None = None
    owner: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class Shell:
    """A shell snippet (built from quoted tokens) run inside the batch script."""

    script: str


Step = Upload | Shell


@dataclass
class Change:
    """Something an operation has to do: a one-line summary, the steps, an optional diff."""

    summary: str
    steps: list[Step] = field(default_factory=list)
    diff: str | None = None
    after: list[PathFacts] = field(default_factory=list)  # the facts it will leave
    data: dict[str, Any] = field(default_factory=dict)  # what `register` holds in check mode


class PlanError(Exception):
    """The desired state can't be reached from what the host has (the task fails)."""


class NotYet(Exception):
    """Check mode: the task can't be asked yet because it acts on what earlier tasks would
    write first (a check run in a directory the plan creates).  The message says when it would
    run; the executor reports the task as skipped with it, never as a failure."""


class TaskFailed(Exception):
    """A task's apply failed on the host: carries the command, exit code and stderr tail."""

    def __init__(self, message: str, command: str = "", exit_code: int | None = None,
                 stderr: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr


@dataclass
class OpResult:
    """The outcome of a non-batched ``apply``; becomes the ``register``ed value."""

    changed: bool
    rc: int = 0
    stdout: str = ""
    stderr: str = ""
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class OpContext:
    """What an operation may know about where it runs (no connection: plans are pure)."""

    host: str
    variables: Mapping[str, Any]
    user: str = ""  # the user moorage connects as (recursive deletes never remove its home)
    template_dirs: list[Path] = field(default_factory=list)
    file_dirs: list[Path] = field(default_factory=list)
    render_file: Callable[[Path, Mapping[str, Any]], str] = lambda path, variables: path.read_text()
    mask: Callable[[str], str] = lambda text: text  # hides registered secrets in diffs
    register_secret: Callable[[str], None] = lambda value: None
    diff: bool = False  # fetch old contents so changes carry a diff
    changed_paths: frozenset[str] = frozenset()  # paths earlier tasks of the play changed (or would)
    # A long step's progress: ``progress(summary, {"phase": "start"|"advance"|"end", "total", "done"})``
    # becomes a ``step`` event (a progress bar in the human view).
    progress: Callable[[str, dict[str, Any]], None] = lambda summary, data: None


class Operation:
    """Base of every operation; subclasses set ``name`` and ``args_schema``."""

    name: ClassVar[str]
    args_schema: ClassVar[dict[str, Any]]
    batched: ClassVar[bool] = True
    invalidates_facts: ClassVar[bool] = False
    probe: ClassVar[bool] = False  # only observes (e.g. wait_http): never "changed", skipped in check mode

    def __init__(self, args: Mapping[str, Any], context: OpContext) -> None:
        self.args = dict(args)
        self.context = context

    def validate(self) -> None:
        """Refuse argument values the schema can't express: raise ``ValueError`` whose message
        names the argument and the reason (the executor adds the task's file:line).  Runs before
        anything else, in check mode too."""

    def deleted_paths(self) -> dict[str, str]:
        """Argument name -> path of each tree this task removes with all it holds; the executor
        refuses the task when one is ``/``, a system directory, a home, or has an empty part
        (``moorage.operations.bounds``)."""
        return {}

    def facts_needed(self) -> FactRequest:
        """The remote paths whose facts ``plan`` reads."""
        return FactRequest()

    def plan(self, facts: Facts) -> Change | None:
        """Compare desired state with ``facts``; return what to do, or None. No side effects."""
        raise NotImplementedError

    def would_change(self, change: Change, conn: Connection) -> bool:
        """Check mode, non-batched operations: whether ``apply`` would change anything.

        May ask the host with a read-only command (a ``command``'s ``unless``);
        by default it assumes the change happens.  Raises ``NotYet`` when the question can only
        be asked after earlier changes, ``TaskFailed`` when the read-only check itself fails.
        """
        return True

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Carry out ``change`` (non-batched operations only)."""
        raise NotImplementedError(f"{self.name} is batched; the executor applies its steps")


REGISTRY: dict[str, type[Operation]] = {}


def register(cls: type[Operation]) -> type[Operation]:
    """Class decorator: make an operation available to playbooks under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls
