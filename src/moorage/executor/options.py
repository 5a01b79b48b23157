"""How a run was asked for (the flags of ``invoke play`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass, field

from moorage.errors import InputError
from moorage.playbook import Playbook
from moorage.schema import suggest
from moorage.yamlsrc import display_path

ALWAYS = "always"  # a task tagged always runs whatever --tags says (--skip-tags always skips it)


@dataclass
class RunOptions:
    """Run-wide switches: check/diff mode, tag filters, parallelism."""

    check: bool = False
    diff: bool = False
    tags: frozenset[str] = field(default_factory=frozenset)
    skip_tags: frozenset[str] = field(default_factory=frozenset)
    forks: int | None = None  # parallel hosts; None = every host of the batch

    def selects(self, tags: set[str]) -> bool:
        """Whether a task with ``tags`` runs under ``--tags``/``--skip-tags``."""
        if tags & self.skip_tags:
            return False
        return not self.tags or ALWAYS in tags or bool(tags & self.tags)

    def check_tags(self, playbook: Playbook) -> None:
        """Refuse a ``--tags``/``--skip-tags`` tag no task of ``playbook`` carries (a typo would
        otherwise run nothing, or skip nothing, and report success).  Raises ``InputError``."""
        known = playbook.tags() | {ALWAYS}
        for flag, given in (("--tags", self.tags), ("--skip-tags", self.skip_tags)):
            unknown = sorted(given - known)
            if unknown:
                raise InputError(f"{flag} {','.join(unknown)}: no task of {display_path(playbook.path)} carries "
                                 f"{'this tag' if len(unknown) == 1 else 'these tags'}{suggest(unknown[0], known)}; "
                                 f"its tags: {', '.join(sorted(known))}")
