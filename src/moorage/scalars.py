"""Values that remember what they are: data (never rendered) and numbers that keep their text.

``Data`` marks a string that came from outside the playbook text (a secret, ``--set``, a
registered result, a magic variable): the renderer returns it as it is and never parses it.
``SourceInt``/``SourceFloat`` are numbers read from YAML whose ``str()`` is the text that was
written (``3.10`` stays ``3.10``, ``0755`` stays ``0755``) while they still compare, sort and
do arithmetic as numbers.  ``as_text`` is the one rule turning a value into text: booleans are
``true``/``false``, numbers their written text, ``None`` the empty string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from yaml.representer import SafeRepresenter


class Data(str):
    """A string that is data, never a template (see docs/variables.md, "The rendering rule")."""

    __slots__ = ()


class SourceInt(int):
    """An integer read from YAML; ``str()`` gives the text written (``0755``, ``0x1F``)."""

    text: str

    def __new__(cls, value: int, text: str) -> SourceInt:
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    def __getnewargs__(self) -> tuple[int, str]:  # type: ignore[override]  # pickling keeps the text
        return int(self), self.text


class SourceFloat(float):
    """A float read from YAML; ``str()`` gives the text written (``3.10``, ``1e3``)."""

    text: str

    def __new__(cls, value: float, text: str) -> SourceFloat:
        number = super().__new__(cls, value)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text

    def __getnewargs__(self) -> tuple[float, str]:  # type: ignore[override]  # pickling keeps the text
        return float(self), self.text


SOURCE_NUMBERS = (SourceInt, SourceFloat)


def as_text(value: Any) -> str:
    """``value`` as text, one way everywhere: ``true``/``false``, a number's written text,
    ``""`` for ``None``, anything else ``str(value)``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_NUMBER_MARK = re.compile(r'"@@moorage-number:([^"@]*)@@"')


def to_json(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` writing each number read from YAML as its written text
    when that text is a JSON number (``3.10`` stays ``3.10``; ``0755`` is written 755)."""
    return _NUMBER_MARK.sub(lambda m: m.group(1), json.dumps(_marked(value), **options))


def _marked(value: Any) -> Any:
    if isinstance(value, SOURCE_NUMBERS) and _JSON_NUMBER.fullmatch(value.text):
        return f"@@moorage-number:{value.text}@@"
    if isinstance(value, Mapping):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(item) for item in value]
    return value


def data(value: Any) -> Any:
    """``value`` with every string inside it (mappings and lists walked) marked ``Data``."""
    if isinstance(value, str):
        return value if isinstance(value, Data) else Data(value)
    if isinstance(value, Mapping):
        return {key: data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [data(item) for item in value]
    return value


# yaml.safe_dump (the to_yaml filter, files written from arguments) knows only exact types;
# these are a str, an int and a float and are written as such (a number as its written text).
SafeRepresenter.add_representer(Data, lambda r, v: r.represent_str(str(v)))
SafeRepresenter.add_representer(SourceInt, lambda r, v: r.represent_scalar("tag:yaml.org,2002:int", v.text))
SafeRepresenter.add_representer(
    SourceFloat, lambda r, v: r.represent_scalar("tag:yaml.org,2002:float", v.text))
