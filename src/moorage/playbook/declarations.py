"""Role variable declarations (``roles/NAME/variables.yml``) and a host's values checked against them.

A declaration is a JSON Schema (draft 2020-12) for the variable's RESOLVED value (rendered as a
run renders it), with a required ``description`` and an optional ``required: true`` (the variable
has no default: every host must set it).  The file's own shape is
``schemas/role-variables.schema.json``; each declaration must also be a valid JSON Schema.

``value_problems`` is what ``moorage check --host H`` reports: each wrong value with the
``file:line`` where it was set, what was expected and what was read.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from moorage import secrets
from moorage.errors import InputError, Location
from moorage.inventory import Host
from moorage.playbook.model import Play, Role
from moorage.schema import Problem, problems
from moorage.templating import is_templated, names_in, render_value
from moorage.yamlsrc import location_of

_ANNOTATIONS = ("description",)


def schema_of(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of a declaration: without ``description`` (messages add it once) and
    without a boolean ``required`` (moorage's "must be set", not JSON Schema's key list)."""
    return {k: v for k, v in declaration.items()
            if k not in _ANNOTATIONS and not (k == "required" and isinstance(v, bool))}


def is_required(declaration: Mapping[str, Any]) -> bool:
    """Whether every host must set the variable (``required: true``)."""
    return declaration.get("required") is True


def declaration_problems(data: Mapping[str, Any], file: str) -> list[Problem]:
    """Declarations (already valid against role-variables.schema.json) that are not valid JSON
    Schemas, each at the ``file:line`` of its variable."""
    found = []
    for name, declaration in data.items():
        error = _schema_error(json.dumps(schema_of(declaration), sort_keys=True, default=str))
        if error is not None:
            found.append(Problem(location_of(data, [name], file), str(name), error))
    return found


@functools.lru_cache(maxsize=4096)
def _schema_error(schema: str) -> str | None:
    """Why the JSON text ``schema`` is not a valid JSON Schema, or None.  Cached: a check reads
    each role once per playbook using it, and validating a schema is the slow part."""
    try:
        Draft202012Validator.check_schema(json.loads(schema))
    except SchemaError as exc:
        return f"not a valid JSON Schema{_at(exc.absolute_path)}: {exc.message}"
    return None


def _at(path: Sequence[Any]) -> str:
    return f" (at {'.'.join(map(str, path))})" if path else ""


def value_problems(host: Host, plays: Sequence[Play]) -> tuple[list[Problem], int]:
    """Every declared variable of the roles of ``plays`` checked for ``host``:
    ``(problems, number of declarations checked)``.

    A value is rendered as the run renders it (``host.variables(play.defaults())``); one that
    can't be rendered yet (it refers to a registered result or another runtime-only variable)
    and a ``{generate: N}`` value are not checked.  A value built from a variable that is
    itself wrong is not reported again.  Only the first problem of each variable is kept.
    """
    wrong: dict[str, tuple[Any, Problem]] = {}  # the first problem of each variable, and its raw value
    checked: set[tuple[str, str]] = set()
    for play in plays:
        skipped = skipped_roles(play, host.variables(play.defaults()))
        defaults = play.defaults(skipped)
        variables = host.variables(defaults)
        raw, origin = host.unresolved(defaults)
        for role in [r for r in play.roles if r.name not in skipped]:
            for name, declaration in role.variables.items():
                checked.add((role.name, name))
                if name not in wrong:
                    problem = _check_one(name, declaration, role, variables, origin, host) \
                        or _in_clear(name, declaration, raw.get(name), origin, host)
                    if problem is not None:
                        wrong[name] = (raw.get(name), problem)
    kept = [problem for name, (value, problem) in wrong.items() if not _refers_to(value, set(wrong) - {name})]
    return kept, len(checked)


def skipped_roles(play: Play, variables: Mapping[str, Any]) -> set[str]:
    """The roles the host will skip (``{role: R, when: ...}`` false): their variables don't apply.
    A condition that can't be evaluated here keeps its role (the run reports the condition)."""
    skipped = set()
    for name in play.role_when:
        try:
            if play.role_skipped(name, variables):
                skipped.add(name)
        except InputError:
            pass
    return skipped


def _check_one(name: str, declaration: Mapping[str, Any], role: Role, variables: Mapping[str, Any],
               origin: Mapping[str, tuple[int, Location | None]], host: Any) -> Problem | None:
    expects = f"role {role.name}: {declaration['description']}"
    if name not in variables:
        if is_required(declaration):
            return Problem(host.location, "", f"host '{host.name}': variable '{name}' is not set; {expects}")
        return None
    value = variables[name]
    if secrets.is_generated(value):
        return None
    try:
        value = render_value(value, variables, f"variable '{name}'")
    except InputError:
        return None  # refers to something only the run defines (a registered result...)
    errors = problems(value, schema_of(declaration), base_path=[name])
    if not errors:
        return None
    first = errors[0]
    sentence = first.message if first.path == name else f"{first.path}: {first.message}"
    where = origin.get(name, (0, None))[1] or host.location
    return Problem(where, "", f"variable {sentence}; {expects}")


def _in_clear(name: str, declaration: Mapping[str, Any], raw: Any,
              origin: Mapping[str, tuple[int, Location | None]], host: Any) -> Problem | None:
    """A key its declaration marks ``secret: true`` (a moorage annotation, e.g. a registry token)
    written in clear instead of ``{secret: ...}`` (or a template naming a variable that is one):
    a clear value is no registered secret, so nothing would mask it in the output."""
    found = _clear_paths(declaration, raw, [name])
    if not found:
        return None
    where = origin.get(name, (0, None))[1] or host.location
    return Problem(where, "", f"variable {'.'.join(map(str, found[0]))}: written in clear; a token must come "
                   'from a secret ({secret: "env:NAME"} or {secret: "file:PATH"}) so that no output shows it')


def _clear_paths(schema: Mapping[str, Any], raw: Any, path: list[Any]) -> list[list[Any]]:
    if isinstance(raw, list):
        items = schema.get("items")
        return [p for i, item in enumerate(raw) if isinstance(items, Mapping)
                for p in _clear_paths(items, item, [*path, i])]
    if not isinstance(raw, Mapping) or secrets.is_secret_ref(raw):
        return []
    found = []
    for key, sub in (schema.get("properties") or {}).items():
        if key not in raw or not isinstance(sub, Mapping):
            continue
        value = raw[key]
        if sub.get("secret") is True:
            if not (secrets.is_secret_ref(value) or (isinstance(value, str) and is_templated(value))):
                found.append([*path, key])
        else:
            found += _clear_paths(sub, value, [*path, key])
    return found


def _refers_to(value: Any, names: set[str]) -> bool:
    """Whether ``value`` is a template using one of ``names``."""
    return bool(names) and isinstance(value, str) and is_templated(value) and bool(names_in(value) & names)
