"""How a run was asked for (the flags of ``invoke play`` and friends)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
        return not self.tags or "always" in tags or bool(tags & self.tags)
