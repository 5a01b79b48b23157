"""A loaded playbook: plays, their roles, and tasks (arguments still unrendered)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage import templating
from moorage.errors import Location
from moorage.yamlsrc import LineDict, merge_sourced


@dataclass
class Task:
    """One step: an operation with raw (unrendered) arguments, plus its control keys."""

    name: str
    op: str
    args: dict[str, Any]
    when: str | None = None
    notify: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    register: str | None = None
    become: bool | None = None
    validation: bool = False  # a check: `when` false means the check passed (ok), not skipped
    interruptible: bool = True  # false: part of a window Ctrl-C never stops inside (executor/interrupt.py)
    location: Location = field(default_factory=lambda: Location(""))
    role: Role | None = field(default=None, repr=False)

    @property
    def all_tags(self) -> set[str]:
        """What ``--tags``/``--skip-tags`` match: the task's ``tags`` and its role's name."""
        return set(self.tags) | ({self.role.name} if self.role is not None else set())


@dataclass
class Role:
    """A reusable unit: ``roles/NAME/`` with tasks.yml, and optionally defaults.yml, handlers.yml,
    variables.yml (``variables``: name -> declaration, see ``moorage.playbook.declarations``)."""

    name: str
    path: Path
    defaults: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)


@dataclass
class Play:
    """Which hosts, how many at a time, and the roles then tasks to apply to them."""

    name: str
    hosts: list[str]
    serial: int | str | None = None
    max_fail_percentage: float | None = None
    become: bool | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    roles: list[Role] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)
    location: Location = field(default_factory=lambda: Location(""))
    playbook_dir: Path = field(default_factory=Path)
    # role name -> its ``when`` in the play's roles list (``{role: NAME, when: EXPR}``) and where
    # it is written; the executor evaluates it once per host when the play starts.
    role_when: dict[str, tuple[str, Location]] = field(default_factory=dict)

    def defaults(self, skipped: Collection[str] = ()) -> LineDict:
        """Level 1 variables: the roles' defaults in order (but those of the ``skipped`` roles),
        then the play's ``vars``."""
        return merge_sourced(*(role.defaults for role in self.roles if role.name not in skipped), self.vars)

    def role_skipped(self, name: str, variables: Mapping[str, Any]) -> bool:
        """Whether role ``name``'s condition in this play's roles list is false for ``variables``.

        Raises ``InputError`` (naming the condition's file:line) when it can't be evaluated.
        """
        when, location = self.role_when[name]
        return not templating.evaluate(when, variables, location)

    def all_tasks(self) -> list[Task]:
        """The roles' tasks then the play's own, in run order."""
        return [task for role in self.roles for task in role.tasks] + list(self.tasks)

    def all_handlers(self) -> list[Task]:
        """The roles' handlers then the play's own."""
        return [task for role in self.roles for task in role.handlers] + list(self.handlers)


@dataclass
class Playbook:
    """A playbook file: its plays in order."""

    path: Path
    plays: list[Play]

    def defaults(self) -> LineDict:
        """Level 1 variables of the whole playbook: every play's defaults, later plays winning.

        Recipes read their settings (``app_dir``, backup settings...) from this, whatever play
        of the playbook names the role that declares them.
        """
        return merge_sourced(*(play.defaults() for play in self.plays))

    def tags(self) -> set[str]:
        """Every tag a task of the playbook carries (``Task.all_tags``; handlers run when notified)."""
        return {tag for play in self.plays for task in play.all_tasks() for tag in task.all_tags}
