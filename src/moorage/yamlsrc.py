"""YAML that remembers where everything came from.

``load_yaml(path)`` returns plain-looking data whose mappings are ``LineDict``
and whose sequences are ``LineList``: ordinary ``dict``/``list`` subclasses that
also know their file, their own line and the line of every key or item.  That
is what lets every later error say ``file:line``.

Scalars are resolved as YAML 1.2's core schema does, not PyYAML's YAML 1.1: only
``true``/``false`` (any case form the spec lists) are booleans, so ``yes``, ``NO``, ``off``
stay text; ``null`` or nothing is null (``~`` stays the text ``~``: a home directory is a
likelier value than a spelled-out null); dates stay text.  Numbers are ``SourceInt`` /
``SourceFloat``, whose ``str()`` is the text written (``3.10``, ``0755``, ``0x1F``).

Malformed YAML and duplicate keys in a mapping are ``InputError``s naming the
line, and so is what ``moorage.yamlbounds`` refuses (recursive aliases, alias bombs, deep nesting,
huge files or values) and an integer beyond 64 bits or a float that overflows.
``location_of(data, path)`` turns a JSON path (as jsonschema reports it) back into a ``Location``.
"""

from __future__ import annotations

import errno
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from moorage import builtin, yamlbounds
from moorage.errors import InputError, Location
from moorage.scalars import SourceFloat, SourceInt

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
INT_BOUND = 2**64      # integers in (-2**64, 2**64): any int a program or a JSON parser takes
MAX_INT_DIGITS = 20    # 2**64 has 20 decimal digits (and fewer in hex or octal)


class LineDict(dict[Any, Any]):
    """A mapping that knows its file, its line and the line of each key."""

    file: str = ""
    line: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}
        self.key_files: dict[Any, str] = {}

    def location(self, key: Any) -> Location:
        """Where ``key`` was written (the mapping's own line when unknown)."""
        return Location(self.key_files.get(key, self.file), self.key_lines.get(key, self.line))


class LineList(list[Any]):
    """A sequence that knows its file, its line and the line of each item."""

    file: str = ""
    line: int = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def location(self, index: int) -> Location:
        """Where item ``index`` was written (the sequence's own line when unknown)."""
        line = self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line
        return Location(self.file, line)


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the current directory when it lies below it, else as given; a file
    shipped with the engine as ``builtin:roles/NAME/...`` (wherever the package is installed)."""
    path = Path(path)
    try:  # the link itself, not what it points to: that is the name the user wrote
        real = path.parent.resolve() / path.name if path.is_symlink() else path.resolve()
    except (OSError, RuntimeError):  # a symbolic link loop (RuntimeError before Python 3.13)
        real = Path(os.path.abspath(path))
    if real == builtin.ROOT or builtin.ROOT in real.parents:
        return f"builtin:{real.relative_to(builtin.ROOT)}"
    try:
        return str(real.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _LineLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader building ``LineDict``/``LineList`` and refusing duplicate keys."""

    source = "<yaml>"


# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), with `~` left as text.
_CORE = {
    "tag:yaml.org,2002:null": (r"null|Null|NULL|", ["n", "N", ""]),
    "tag:yaml.org,2002:bool": (r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    "tag:yaml.org,2002:int": (r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
    "tag:yaml.org,2002:float": (r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", list("-+.0123456789")),
    _MERGE_TAG: (r"<<", ["<"]),
}
_LineLoader.yaml_implicit_resolvers = {}
for _tag, (_pattern, _first) in _CORE.items():
    _LineLoader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), _first)


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> SourceInt:
    text = str(loader.construct_scalar(node))
    body = text.lstrip("+")
    base = 16 if body.startswith("0x") else 8 if body.startswith("0o") else 10
    digits = body[2:] if base != 10 else body
    # Bounded before int(): Python refuses to convert more than 4300 decimal digits (a ValueError).
    value = int(digits, base) if len(digits.lstrip("-0")) <= MAX_INT_DIGITS else None
    if value is None or not -INT_BOUND <= value < INT_BOUND:
        raise InputError(f"the number {_shorten(text)} is too large: a number is at most 64 bits "
                         "(|n| < 2**64); quote it to keep it as text", Location(loader.source, _line(node)))
    return SourceInt(value, text)


def _construct_float(loader: _LineLoader, node: yaml.ScalarNode) -> SourceFloat:
    text = str(loader.construct_scalar(node))
    lowered = text.lower()
    value = math.nan if lowered == ".nan" else float(lowered.replace(".inf", "inf"))
    if math.isinf(value) and ".inf" not in lowered:
        raise InputError(f"the number {_shorten(text)} is too large for a number (it would be infinite); "
                         "quote it to keep it as text", Location(loader.source, _line(node)))
    return SourceFloat(value, text)


def _shorten(text: str) -> str:
    return text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"


def _construct_bool(loader: _LineLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_LineLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_LineLoader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _check_duplicates(loader: _LineLoader, node: yaml.MappingNode) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        ident = (key_node.tag, key_node.value)
        if ident in seen:
            raise InputError(
                f"duplicate key '{key_node.value}' (first written on line {seen[ident]}); "
                "keep only one", Location(loader.source, _line(key_node)))
        seen[ident] = _line(key_node)


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.file, data.line = loader.source, _line(node)
    yield data
    _check_duplicates(loader, node)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=False)
        if not isinstance(key, str):  # names (variables, hosts, arguments) are text; 443: or true: would not compare
            raise InputError(f"a mapping key must be text, not {_kind(key)}" + (
                f"; quote it: '{key_node.value}':" if isinstance(key_node, yaml.ScalarNode) else ""),
                Location(loader.source, _line(key_node)))
        data[key] = loader.construct_object(value_node, deep=False)
        data.key_lines[key] = _line(key_node)


def _kind(value: Any) -> str:
    if isinstance(value, Mapping | list):
        return "a mapping" if isinstance(value, Mapping) else "a list"
    return "empty" if value is None else f"{type(value).__name__.removeprefix('Source').lower()} {value}"


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.file, data.line = loader.source, _line(node)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=False))
        data.item_lines.append(_line(item))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def parse_yaml(text: str, source: str) -> Any:
    """Parse ``text`` (named ``source`` in messages) into line-aware data."""
    loader = _LineLoader(text)
    loader.source = source
    try:
        yamlbounds.check_text(text, source, _BaseLoader)
        node = loader.get_single_node()
        yamlbounds.check_graph(node, source)
        return None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "unreadable"
        raise InputError(f"invalid YAML: {problem}",
                         Location(source, mark.line + 1 if mark else 0)) from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids (NUL, other control characters)
        raise InputError(f"invalid YAML: unacceptable character #x{exc.character:04x} ({exc.reason}); remove it",
                         Location(source, text.count("\n", 0, exc.position) + 1)) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", Location(source)) from None
    finally:
        loader.dispose()


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """Read and parse the YAML file at ``path``; messages name it relative to the cwd."""
    source = display_path(path)
    try:
        kind = path_kind(path)
        if kind == "missing":
            raise FileNotFoundError
        if kind != "file":
            raise InputError(f"{source} is {kind}, not a file")
        if Path(path).stat().st_size > 4 * yamlbounds.MAX_BYTES:  # UTF-8: up to 4 bytes a character
            raise InputError(f"{source} is {Path(path).stat().st_size} bytes long; moorage reads files of "
                             f"at most {yamlbounds.MAX_BYTES} characters (is it the right file?)")
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{source} does not exist") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{source} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror}") from None
    return parse_yaml(text, source)


def path_kind(path: str | os.PathLike[str]) -> str:
    """What is at ``path``, as a phrase: ``file``, ``a directory``, ``a symbolic link loop``,
    ``a symbolic link to nothing``, ``missing``, or ``not a regular file`` (a device, a pipe)."""
    path = Path(path)
    try:
        path.stat()
    except FileNotFoundError:
        return "a symbolic link to nothing" if path.is_symlink() else "missing"
    except OSError as exc:
        return "a symbolic link loop" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})"
    if path.is_dir():
        return "a directory"
    return "file" if path.is_file() else "not a regular file"


def location_of(data: Any, path: Iterable[Any], file: str | None = None) -> Location:
    """The ``Location`` of the value at JSON ``path`` inside ``data`` (closest known line)."""
    loc = Location(file or getattr(data, "file", "") or "", getattr(data, "line", 0))
    node = data
    for part in path:
        in_dict = isinstance(node, LineDict) and part in node
        in_list = isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        loc = node.location(part)
        node = node[part]
    if file and not loc.file:
        loc = Location(file, loc.line)
    return loc


def format_path(path: Iterable[Any]) -> str:
    """A JSON path as users read it: ``environments.vps.hosts.vps.port``, ``[0].tasks[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = str(part) if str(part).isprintable() else repr(part)  # a line break stays on its line
            text += f".{part}" if text else part
    return text or "(top level)"


def merge_sourced(*mappings: Mapping[str, Any]) -> LineDict:
    """Merge mappings per top-level key (later wins), keeping where each key came from."""
    merged = LineDict()
    for mapping in mappings:
        for key, value in mapping.items():
            merged[key] = value
            if isinstance(mapping, LineDict):
                loc = mapping.location(key)
                merged.key_lines[key], merged.key_files[key] = loc.line, loc.file
            else:
                merged.key_lines.pop(key, None)
                merged.key_files.pop(key, None)
    return merged


def plain(data: Any) -> Any:
    """A deep copy of ``data`` as ordinary ``dict``/``list`` (for JSON output, comparisons)."""
    if isinstance(data, Mapping):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return [plain(item) for item in data]
    return data
