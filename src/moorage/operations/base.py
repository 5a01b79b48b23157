"""The operation contract.

An operation is a small class that reads top to bottom:

1. ``name`` and ``args_schema`` — its declared arguments (a JSON Schema object,
   validated at ``check`` time and before anything runs; the schema's
   ``description``s and the class docstring are the operation reference);
2. ``facts_needed()`` — which remote paths it must know about;
3. ``plan(facts)`` — pure: compares the desired state with the facts and
   returns a ``Change`` (something to do) or ``None`` (nothing to do).  The
   change holds every step it will take, as data: the exact shell (``Shell``),
   uploads (``Upload``), read-only tests (``Check``), requests (``Request``),
   streams (``Ship``, ``Transfer``) — so a table test pins them;
4. ``apply(change, conn)`` — only for operations that are not ``batched``: runs
   the steps the change holds and reads their results.

A *batched* operation's change is a list of ``Upload``/``Shell`` steps that the
executor joins with other tasks' steps into one round trip.  Operations whose
result can't be predicted (a command, an HTTP check, ``docker compose``) set
``batched = False`` and implement ``apply``; the executor flushes pending steps
before them and re-gathers facts after them when ``invalidates_facts``.

Check mode is decided in one place, the executor: a batched change is reported as
it is; a non-batched change runs only its read-only steps (``Change.read_only()``:
each ``Check``, a ``Shell`` marked ``reads_only``, a dry-run ``Transfer``) through
``apply``, whose ``changed`` then means "the acting steps would run"; a change with
no read-only step is reported as changed, one made only of ``Request``s as skipped.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from moorage.connection.base import Connection
from moorage.facts.paths import FactRequest as FactRequest
from moorage.facts.paths import Facts as Facts
from moorage.facts.paths import PathFacts as PathFacts

T = TypeVar("T")


@dataclass(frozen=True)
class Upload:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + rename)."""

    path: str
    data: bytes
    mode: str | None = None
    owner: str | None = None
    group: str | None = None
    reads_only: ClassVar[bool] = False


@dataclass(frozen=True)
class Shell:
    """A shell snippet (built from quoted tokens): part of the batch script for a batched
    operation, one command of its own otherwise, reading ``stdin`` (bytes, e.g. environment
    values kept out of the command line) and failing after ``timeout`` seconds.  ``reads_only``:
    it changes nothing (a validation), so it runs in check mode too."""

    script: str
    stdin: bytes | None = None
    timeout: float | None = None
    reads_only: bool = False


@dataclass(frozen=True)
class Check:
    """A read-only shell test run before the acting steps (and alone in check mode): exit 0 when
    the host already is as asked, so nothing needs doing.  Its stdout may carry what check mode
    predicts (e.g. the release ``current`` points at)."""

    script: str
    stdin: bytes | None = None
    reads_only: ClassVar[bool] = True


@dataclass(frozen=True)
class Request:
    """An HTTP request from the controller, repeated until it is answered ``status`` (with
    ``contains`` in the body) or ``timeout`` seconds / ``retries`` attempts are spent, one every
    ``interval`` seconds.  ``headers`` as (name, value) pairs.  It only observes, so check mode
    skips it: what it would ask about isn't deployed yet."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    status: int = 200
    contains: str | None = None
    timeout: float = 60
    retries: int | None = None
    interval: float = 1
    validate_certs: bool = True
    follow_redirects: bool = False
    reads_only: ClassVar[bool] = False


@dataclass(frozen=True)
class Ship:
    """``docker save`` of ``images`` on the controller, streamed into ``command`` (``docker
    load``) on the host over the host's connection; ``apply`` sends the subset its ``Check``
    found different on the host."""

    images: tuple[str, ...]
    command: str = "docker load"
    reads_only: ClassVar[bool] = False


@dataclass(frozen=True)
class Transfer:
    """A directory tree sent from ``src`` (controller) to ``dest`` (host): ``rsync`` (its argv,
    without source and destination) through a channel whose host command starts with
    ``guard``, or — when either end lacks rsync — ``manifest`` (lists ``dest``) and one tar
    stream into ``unpack``.  ``dry_run``: only find out what would be sent (read-only)."""

    src: str
    dest: str
    rsync: tuple[str, ...]
    guard: str
    manifest: str
    unpack: str
    dry_run: bool = False

    @property
    def reads_only(self) -> bool:
        return self.dry_run


@dataclass(frozen=True)
class Permit:
    """The data guard's permit ``token`` for ``what`` (a destructive step): checked on the
    controller before the next steps run."""

    token: str
    what: str
    reads_only: ClassVar[bool] = False


Step = Upload | Shell | Check | Request | Ship | Transfer | Permit


@dataclass
class Change:
    """Something an operation has to do: a one-line summary, the steps, an optional diff."""

    summary: str
    steps: list[Step] = field(default_factory=list)
    diff: str | None = None
    after: list[PathFacts] = field(default_factory=list)  # the facts it will leave
    data: dict[str, Any] = field(default_factory=dict)  # what `register` holds in check mode
    # Check mode: why its read-only steps can't be asked yet (they act on what earlier tasks would write
    # first); the executor reports the task as skipped with this sentence, never as a failure.
    not_yet: str | None = None

    def read_only(self) -> Change:
        """The same change holding only its read-only steps: what check mode runs."""
        return dataclasses.replace(self, steps=[s for s in self.steps if s.reads_only],
                                   data=dict(self.data))

    def acting(self) -> list[Step]:
        """The steps that change something."""
        return [s for s in self.steps if not s.reads_only]

    def check(self) -> Check | None:
        """The change's read-only test, if it has one."""
        return next((s for s in self.steps if isinstance(s, Check)), None)

    def required_check(self) -> Check:
        """The change's read-only test, for an operation whose plan always holds one."""
        check = self.check()
        if check is None:
            raise PlanError(f"internal: the plan of '{self.summary}' holds no read-only check")
        return check

    def shell(self) -> Shell | None:
        """The change's first acting shell script, or None (check mode ran the read-only steps alone)."""
        return next((s for s in self.steps if isinstance(s, Shell)), None)


class PlanError(Exception):
    """The desired state can't be reached from what the host has (the task fails)."""


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


class RunOnce:
    """Values computed once for every host of a play: the hosts plan in parallel threads, and
    what only the controller's files decide (a ``sync``'s scan of its source tree) is the same
    for all of them.  ``get(key, compute)`` returns the value of ``key``, calling ``compute`` the
    first time (other threads asking for the same key wait for it); a ``compute`` that raises is
    not remembered, so each host reports the error itself."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            value: T = self._values[key]
            return value


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
    once: RunOnce = field(default_factory=RunOnce)  # shared by every host of the play


class Operation:
    """Base of every operation; subclasses set ``name`` and ``args_schema``."""

    name: ClassVar[str]
    args_schema: ClassVar[dict[str, Any]]
    batched: ClassVar[bool] = True
    invalidates_facts: ClassVar[bool] = False

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

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Run the steps ``change`` holds (non-batched operations only) and read their results.

        In check mode the executor passes ``change.read_only()``: then ``changed`` means the
        acting steps would run.  Raises ``TaskFailed`` when a step fails."""
        raise NotImplementedError(f"{self.name} is batched; the executor applies its steps")


REGISTRY: dict[str, type[Operation]] = {}


def register(cls: type[Operation]) -> type[Operation]:
    """Class decorator: make an operation available to playbooks under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls
