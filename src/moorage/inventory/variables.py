"""Merge a host's variables in the one documented order, resolve secrets, explain sources.

Levels, lowest first (a higher level replaces a whole top-level value; no deep merge):
1 role defaults, then the play's ``vars:``  2 inventory ``vars`` then group_vars/all.yml
3 environment ``vars`` then group_vars/ENV.yml  4 host ``vars`` then host_vars/HOST.yml
5 ``--set k=v``.  The magic variables come last and can't be redefined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from moorage import secrets
from moorage.errors import InputError, Location
from moorage.scalars import Data, data, to_json
from moorage.yamlsrc import LineDict, LineList, parse_yaml

MAGIC = ("inventory_hostname", "environment_name", "project", "inventory_dir", "project_dir", "orchestrator")
LEVELS = {1: "1 defaults", 2: "2 inventory", 3: "3 environment", 4: "4 host", 5: "5 --set"}
MAGIC_LEVEL = "magic"


Origin = tuple[int, "Location | None"]  # a value's level and where it was written (None: no file)


class VarSource(NamedTuple):
    """Where a variable's value came from: masked display value, level and ``file:line``."""

    name: str
    value: str
    level: str
    source: str


class Layer(NamedTuple):
    """One mapping of variables at one precedence level."""

    level: int
    values: Mapping[str, Any]


def parse_overrides(flags: Sequence[str]) -> LineDict:
    """``--set k=v`` flags as a mapping of data (never rendered as templates).

    The value is the text written, except: a YAML 1.2 number, ``true``/``false`` or ``null``
    (a number keeps its text: ``--set app_version=1.10`` is ``1.10`` wherever it becomes text,
    and a number where one is required); a quoted YAML string (``--set 'k="0"'``); a flow
    mapping or list (``--set 'extra={A: "1"}'``).  So ``NO``, ``a: b``, ``a #b``, ``{{ x }}``
    and ``  spaced  `` stay exactly as typed.  Every string is ``Data``.
    """
    result = LineDict()
    result.file = "--set"
    for flag in flags:
        key, sep, text = flag.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {flag!r}: expected KEY=VALUE, e.g. --set replicas=3")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise InputError(f"--set {flag!r}: '{key}' is not a variable name "
                             "(letters, digits and underscores, not starting with a digit)")
        if key in MAGIC:
            raise InputError(f"--set {flag!r}: '{key}' is set by moorage and can't be changed")
        result[key] = _value(flag, text)
    return result


_NULLS = ("null", "Null", "NULL")


def _value(flag: str, text: str) -> Any:
    stripped = text.strip()
    quoted, collection = stripped[:1] in ("'", '"'), stripped[:1] in ("{", "[")
    if not stripped or (not (quoted or collection) and "#" in text):
        return Data(text)  # YAML would drop what follows a `#` as a comment
    try:
        value = parse_yaml(text, "--set")
    except InputError as exc:
        if not quoted:
            return Data(text)  # not YAML: the text as typed (`{{ x }}`, `[x`)
        problem = exc.message.removeprefix("invalid YAML: ")
        raise InputError(f"--set {flag!r}: the value is not valid YAML ({problem}); "
                         "quote it for the shell, e.g. --set 'k=\"text\"'") from None
    typed = isinstance(value, bool | int | float) or (value is None and stripped in _NULLS)
    if (quoted and isinstance(value, str)) or (collection and isinstance(value, dict | list)) or typed:
        return data(value)
    return Data(text)


def merge_layers(layers: Sequence[Layer]) -> tuple[dict[str, Any], dict[str, Origin]]:
    """Merge per top-level key: ``(values, {name: (level, location)})``."""
    values: dict[str, Any] = {}
    origin: dict[str, Origin] = {}
    for layer in layers:
        for name, value in layer.values.items():
            loc = layer.values.location(name) if isinstance(layer.values, LineDict) else None
            if name in MAGIC:
                raise InputError(f"'{name}' is set by moorage and can't be a variable; rename it", loc)
            values[name] = value
            origin[name] = (layer.level, loc)
    return values, origin


def resolve(values: Mapping[str, Any], origin: Mapping[str, Origin],
            base_dir: Path) -> dict[str, Any]:
    """Every value with its secrets read (and registered with the masker), as plain data."""
    return {name: _resolve(value, name, origin[name][1], base_dir) for name, value in values.items()}


def _resolve(value: Any, name: str, loc: Location | None, base_dir: Path) -> Any:
    if secrets.is_secret_ref(value):
        ref = value["secret"]
        found, hint = secrets.resolve_secret(ref, base_dir)
        if found is None:
            raise InputError(f"secret '{ref}' for variable '{name}' is not set ({hint})", loc)
        return Data(found)
    if secrets.is_generated(value):
        return dict(value)
    if isinstance(value, Mapping):
        return {k: _resolve(v, name, _child(value, k, loc), base_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, name, _child(value, i, loc), base_dir) for i, v in enumerate(value)]
    return value


def _child(container: Any, key: Any, loc: Location | None) -> Location | None:
    if isinstance(container, LineDict | LineList) and container.file:
        return container.location(key)
    return loc


def display(value: Any) -> str:
    """How a (not yet resolved) value is shown: JSON, secrets as ``********``, masked everywhere."""
    if secrets.is_secret_ref(value):
        return secrets.MASK
    if secrets.is_generated(value):
        return secrets.describe_generated(value)
    return secrets.mask(to_json(_display(value), ensure_ascii=False, default=str))


def _display(value: Any) -> Any:
    if secrets.is_secret_ref(value):
        return secrets.MASK
    if secrets.is_generated(value):
        return secrets.describe_generated(value)
    if isinstance(value, Mapping):
        return {str(k): _display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_display(v) for v in value]
    return value


def explain(values: Mapping[str, Any], origin: Mapping[str, Origin],
            magic: Mapping[str, str]) -> list[VarSource]:
    """One ``VarSource`` per variable, in name order, magic variables included."""
    rows = []
    for name in sorted(values):
        level, loc = origin[name]
        source = str(loc) if loc and str(loc) else ("--set" if level == 5 else "(defaults)")
        rows.append(VarSource(name, display(values[name]), LEVELS[level], source))
    rows += [VarSource(name, secrets.mask(json.dumps(value)), MAGIC_LEVEL, "moorage")
             for name, value in magic.items()]
    return rows
