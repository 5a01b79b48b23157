"""Bounds on what a YAML file may make the loader do: the input boundary of every user file.

YAML's aliases let a small file describe a huge or endless value: ``&v {x: *v}`` contains itself,
and nine lines of aliases of aliases ("billion laughs") expand to 387 million strings.  PyYAML
builds both without complaint (the first as a cyclic ``dict`` that later code recurses into
forever, the second in minutes of CPU and gigabytes of memory), so every file moorage reads goes
through these checks first, each failing as an ``InputError`` naming ``file:line``:

- the text is at most ``MAX_BYTES`` long;
- collections nest at most ``MAX_DEPTH`` deep, counted on the parser's events before any node is
  built (libyaml's composer recurses on the C stack) and again through aliases;
- no alias refers to a collection that contains it (recursion is refused);
- the document, aliases expanded, holds at most ``MAX_NODES`` values; a scalar is at most
  ``MAX_SCALAR`` characters.

A project's inventory or playbook is a few hundred values nested less than ten deep: the limits
are two to three orders of magnitude above that.
"""

from __future__ import annotations

from typing import Any

import yaml

from moorage.errors import InputError, Location

MAX_BYTES = 2 * 1024 * 1024   # a whole file
MAX_SCALAR = 256 * 1024       # one string (a certificate chain or a key fits many times over)
MAX_DEPTH = 64                # nested mappings/lists
MAX_NODES = 200_000           # values in a document, aliases expanded

_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def check_text(text: str, source: str, loader_class: Any) -> None:
    """Refuse ``text`` (named ``source``) when it is too long, nests too deep or holds a too long
    scalar; parse errors are left to the loader that reads it next (they carry their own line)."""
    if len(text) > MAX_BYTES:
        raise InputError(f"the file is {len(text)} characters long; moorage reads files of at most "
                         f"{MAX_BYTES} (is it the right file?)", Location(source))
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader_class):
            if isinstance(event, _OPENING):
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(f"values nest more than {MAX_DEPTH} levels deep here; "
                                     "flatten the data", _at(source, event))
            elif isinstance(event, _CLOSING):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR:
                raise InputError(f"a value of {len(event.value)} characters starts here; moorage reads "
                                 f"values of at most {MAX_SCALAR} (read a big file with a secret "
                                 "'file:PATH' or a template instead)", _at(source, event))
    except yaml.YAMLError:
        return  # the loader reports it with its line


def check_graph(root: yaml.Node | None, source: str) -> None:
    """Refuse a composed document whose aliases recurse, nest too deep or expand too much."""
    if root is not None:
        _Walk(source).visit(root, 1, _line(root))


class _Walk:
    """A depth-first walk that counts each shared node once (memoised), so a bomb costs its size
    as written, not as expanded."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: dict[int, tuple[int, int]] = {}  # id(node) -> (values expanded, height)
        self.active: set[int] = set()

    def visit(self, node: yaml.Node, depth: int, line: int) -> tuple[int, int]:
        key = id(node)
        if key in self.active:
            raise InputError("this alias refers to a value that contains it (a recursive alias); "
                             "YAML data must be finite", Location(self.source, line))
        if key not in self.seen:
            self.seen[key] = self._measure(node, depth, line)
        count, height = self.seen[key]
        if depth + height > MAX_DEPTH:
            raise InputError(f"values nest more than {MAX_DEPTH} levels deep here (through aliases); "
                             "flatten the data", Location(self.source, line))
        return count, height

    def _measure(self, node: yaml.Node, depth: int, line: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            raise InputError(f"values nest more than {MAX_DEPTH} levels deep here (through aliases); "
                             "flatten the data", Location(self.source, line))
        count, height = 1, 0
        self.active.add(id(node))
        for child, child_line in _children(node):
            sub_count, sub_height = self.visit(child, depth + 1, child_line)
            count, height = count + sub_count, max(height, sub_height + 1)
            if count > MAX_NODES:
                raise InputError(f"the aliases here expand to more than {MAX_NODES} values (an alias "
                                 "bomb?); write the data out, or alias less", Location(self.source, child_line))
        self.active.discard(id(node))
        return count, height


def _children(node: yaml.Node) -> list[tuple[yaml.Node, int]]:
    """A collection's nodes, each with the line to blame for it: a value's key line (an alias
    node carries its anchor's line, which may be far away)."""
    if isinstance(node, yaml.MappingNode):
        return [pair for key, value in node.value for pair in ((key, _line(key)), (value, _line(key)))]
    if isinstance(node, yaml.SequenceNode):
        return [(item, _line(node) if item.start_mark.index < node.start_mark.index else _line(item))
                for item in node.value]
    return []


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _at(source: str, event: yaml.Event) -> Location:
    return Location(source, event.start_mark.line + 1 if event.start_mark is not None else 0)
