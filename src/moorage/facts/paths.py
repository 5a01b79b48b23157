"""What the executor knows about a host's paths: ``PathFacts`` per path, the ``Facts`` map that
planned changes keep current, and the ``FactRequest`` an operation makes (``facts/files.py`` answers it).
A request may also ask for whole directory trees (``TreeRequest``: a ``sync``'s destination), which
come back as a ``Probe`` with the tree's manifest, gathered in the same command as the paths.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from moorage.facts.sync import Probe, TreeRequest


@dataclass(frozen=True)
class PathFacts:
    """What a host's filesystem says about one path."""

    path: str
    kind: str = "absent"  # file | dir | link | other | absent
    mode: str | None = None  # four octal digits, e.g. "0644"
    owner: str | None = None
    group: str | None = None
    sha256: str | None = None
    target: str | None = None  # for links
    content: bytes | None = None  # only when an operation asked for it

    @property
    def exists(self) -> bool:
        return self.kind != "absent"

    def evolve(self, **changes: Any) -> PathFacts:
        """A copy with some fields changed: how a change predicts the state it leaves."""
        return dataclasses.replace(self, **changes)


@dataclass
class FactRequest:
    """The paths an operation needs facts for; ``contents`` also fetches file bodies; ``trees``
    lists whole directory trees (every entry under them)."""

    paths: set[str] = field(default_factory=set)
    contents: set[str] = field(default_factory=set)
    trees: set[TreeRequest] = field(default_factory=set)

    def update(self, other: FactRequest) -> None:
        self.paths |= other.paths
        self.contents |= other.contents
        self.trees |= other.trees

    @property
    def empty(self) -> bool:
        return not (self.paths or self.contents or self.trees)


class Facts(Mapping[str, PathFacts]):
    """The executor's view of one host's paths, kept current by predicted changes."""

    def __init__(self, known: Mapping[str, PathFacts] | None = None) -> None:
        self._known: dict[str, PathFacts] = dict(known or {})
        self._trees: dict[TreeRequest, Probe] = {}

    def __getitem__(self, path: str) -> PathFacts:
        return self._known[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)

    def record(self, facts: PathFacts) -> None:
        """Store what a path is (gathered) or will be (predicted by a planned change)."""
        self._known[facts.path] = facts

    def record_tree(self, request: TreeRequest, probe: Probe) -> None:
        """Store what a directory tree held when gathered."""
        self._trees[request] = probe

    def tree(self, request: TreeRequest) -> Probe | None:
        """The tree as gathered, or None when it wasn't (check mode with no gather, a unit test)."""
        return self._trees.get(request)

    def forget(self) -> None:
        """Drop everything: after a command ran, nothing gathered before can be trusted."""
        self._known.clear()
        self._trees.clear()

    def missing(self, request: FactRequest) -> FactRequest:
        """The part of ``request`` not yet known."""
        paths = {p for p in request.paths if p not in self._known}
        contents = {p for p in request.contents
                    if p not in self._known or (self._known[p].kind == "file"
                                                and self._known[p].content is None)}
        return FactRequest(paths | contents, contents, {t for t in request.trees if t not in self._trees})
