"""Template text in inventory variables, checked on the controller before any run.

A variable's value may be template text (``site_url: "https://{{ domain }}"``), rendered when a
task uses it.  Two mistakes are visible before that, and ``check`` reports them at the
``file:line`` where the variable is set instead of letting the run fail half-way:

- a syntax error (``"{{ oops"``): any host, no variables needed (``syntax_problems``);
- a name that no level defines (``"{{ nope }}"``), or a filter that fails on the values at hand:
  per host, rendered with the defaults of the plays aimed at it (``render_problems``).  A value
  that refers to a name only a run defines (a task's ``register``) is left to the run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

import jinja2

from moorage.errors import InputError, Location
from moorage.schema import Problem
from moorage.templating import ENV, is_templated, names_in, render_value
from moorage.yamlsrc import LineDict, LineList

INVENTORY_LEVELS = (2, 3, 4, 5)  # inventory, environment, host, --set: what the user writes per host


def syntax_problems(mappings: Collection[Mapping[str, Any]]) -> list[Problem]:
    """Every template string inside ``mappings`` (variables as read) that Jinja2 can't parse."""
    found = []
    for mapping in mappings:
        for name, value in mapping.items():
            for text, where in _strings(value, _where(mapping, name)):
                try:
                    ENV.parse(text)
                except jinja2.TemplateSyntaxError as exc:
                    found.append(Problem(where, "", f"variable '{name}': template syntax error in "
                                                    f"{_short(text)}: {exc.message}"))
    return found


def render_problems(host: Any, defaults: Mapping[str, Any], runtime: Collection[str],
                    secrets: bool = True) -> list[Problem]:
    """The inventory variables of ``host`` (a ``Host``) whose templates don't render over
    ``defaults``; ``runtime``: names only a run defines (registered results), not reported.
    ``secrets``: read them (a missing one raises ``InputError``), else render with the references."""
    values, origin = host.unresolved(defaults)
    variables = host.variables(defaults) if secrets else {**values, **host.magic}
    found = []
    for name, value in values.items():
        level, where = origin[name]
        if level not in INVENTORY_LEVELS or not _templated(value) or _needs(name, values, set(runtime)):
            continue
        try:
            render_value(variables[name], variables, f"variable '{name}'", where)
        except InputError as exc:
            found.append(Problem(exc.location or where or host.location, "", exc.message))
    return found


def _needs(name: str, values: Mapping[str, Any], runtime: set[str]) -> bool:
    """Whether ``name``'s value refers, directly or through other variables, to a ``runtime`` name."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in runtime:
            return True
        if current not in seen:
            seen.add(current)
            todo += [n for n in names_in(values.get(current)) if n not in seen]
    return False


def _templated(value: Any) -> bool:
    return any(True for _ in _strings(value, None))


def _strings(value: Any, where: Location | None) -> Iterator[tuple[str, Location]]:
    """The template strings inside ``value``, each with the closest known place."""
    if is_templated(value):
        yield value, where or Location("")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, _where(value, key) or where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, value.location(index) if isinstance(value, LineList) else where)


def _where(container: Any, key: Any) -> Location | None:
    return container.location(key) if isinstance(container, LineDict) and container.file else None


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")
