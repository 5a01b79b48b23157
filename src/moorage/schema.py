"""Validate user files against the JSON Schemas in ``schemas/`` and say what is wrong.

Every problem becomes one sentence with its place: ``file:line: json.path: message``
("unknown key 'hsts' (did you mean 'hosts'?)", "'port' must be an integer, not a
string ('22')", "'connection' is 'sssh'; allowed values: ssh, local").  ``validate``
raises ONE ``InputError`` listing them all (the first ``MAX_SHOWN``).

The static schema of a task only knows the control keys (``CONTROL_KEYS``: name, when,
notify, tags, register, become, validation, interruptible, allow_data_loss);
``playbook/task_checks.py`` checks the operation key and its arguments against
``moorage.operations.REGISTRY`` with ``problems``.
Values that are Jinja2 templates (``"{{ ... }}"``) are not type-checked: they are
only known after rendering.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from moorage import builtin
from moorage.cron import schedule_problem
from moorage.errors import InputError, Location
from moorage.scalars import SOURCE_NUMBERS
from moorage.serverpaths import delete_refusal
from moorage.yamlsrc import format_path, location_of

SCHEMA_DIR = builtin.SCHEMAS
MAX_SHOWN = 25
CONTROL_KEYS = ("name", "when", "notify", "tags", "register", "become", "validation", "interruptible",
                "allow_data_loss")
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "empty"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a user's file."""

    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.location}: " if str(self.location) else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"


def suggest(word: object, candidates: Iterable[object], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate (``difflib`` similarity at least
    ``cutoff``, 0 to 1), or an empty string."""
    names = [str(c) for c in candidates]
    match = difflib.get_close_matches(str(word), names, n=1, cutoff=cutoff)
    return f" (did you mean '{match[0]}'?)" if match else ""


FORMATS = FormatChecker(formats=())


@FORMATS.checks("owned-dir", raises=ValueError)
def _owned_dir(value: object) -> bool:
    """``format: owned-dir``: a directory moorage creates and prunes inside (app_dir, backup_dir):
    what ``operations.bounds.delete_refusal`` allows, so no later delete under it can be refused."""
    reason = delete_refusal(value) if isinstance(value, str) and "{{" not in value else None
    if reason:
        raise ValueError(reason)
    return True


@FORMATS.checks("relative-path", raises=ValueError)
def _relative_path(value: object) -> bool:
    """``format: relative-path``: a file name joined onto a directory (compose_file): relative,
    without a ``..`` component or a line break, so the joined path stays inside the directory."""
    if isinstance(value, str) and "{{" not in value:
        if value.startswith("/"):
            raise ValueError("an absolute path; give it relative to its directory")
        _no_climbing(value)
    return True


@FORMATS.checks("server-path", raises=ValueError)
def _server_path(value: object) -> bool:
    """``format: server-path``: an absolute file path on the server written by a role (a
    script, a cron file), without a ``..`` component or a line break: the path read is the
    path written."""
    if isinstance(value, str) and "{{" not in value:
        if not value.startswith("/"):
            raise ValueError("not an absolute path (it must start with /)")
        _no_climbing(value)
    return True


@FORMATS.checks("command-words", raises=ValueError)
def _command_words(value: object) -> bool:
    """``format: command-words``: a command line split into words the way a shell would (quotes
    closed), so a run never finds out after the release switch that it can't be."""
    if isinstance(value, str) and "{{" not in value:
        try:
            shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"it cannot be split into words ({exc}); give it as a list of words") from None
    return True


@FORMATS.checks("unique-names", raises=ValueError)
def _unique_names(value: object) -> bool:
    """``format: unique-names``: a list of mappings whose ``name`` keys differ (messages name them)."""
    names = [item.get("name") for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
    twice = sorted({str(name) for name in names if name is not None and names.count(name) > 1})
    if twice:
        raise ValueError(f"two entries are named {twice[0]!r}; each needs its own name")
    return True


@FORMATS.checks("cron-schedule", raises=ValueError)
def _cron_schedule(value: object) -> bool:
    """``format: cron-schedule``: five cron fields cron would run (``moorage.cron``); "" is no job."""
    problem = schedule_problem(value) if isinstance(value, str) and value and "{{" not in value else ""
    if problem:
        raise ValueError(problem)
    return True


_FORMAT_NAMES = {"owned-dir": "a directory moorage owns", "relative-path": "a path inside its directory",
                 "server-path": "a file path on the server", "command-words": "a command split into words",
                 "unique-names": "entries with distinct names", "cron-schedule": "a cron schedule"}


def _no_climbing(value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ValueError("it holds a line break")
    if ".." in value.split("/"):
        raise ValueError("it climbs out of its directory with '..'")


@functools.cache
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        resources.append((path.name, Resource.from_contents(json.loads(path.read_text()))))
    return Registry().with_resources(resources)


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.schema.json`` (``name`` may include the suffix)."""
    file = name if name.endswith(".schema.json") else f"{name}.schema.json"
    try:
        schema: dict[str, Any] = json.loads((SCHEMA_DIR / file).read_text())
    except FileNotFoundError:
        raise ValueError(f"no schema named {name!r} in {SCHEMA_DIR}") from None
    return schema


def problems(data: Any, schema: str | Mapping[str, Any], file: str = "",
             base_path: Sequence[Any] = (), noun: str = "key", owner: str = "",
             numbers_as_text: bool = False, templates: bool = True) -> list[Problem]:
    """Every way ``data`` breaks ``schema`` (a schema name or a schema), sorted by line.

    ``base_path`` prefixes the JSON paths shown (for data nested in a larger file);
    ``noun`` names what unknown properties are ("key", "argument"), ``owner`` whose they are.
    ``templates``: a template string is not type-checked (it stands for a value known after
    rendering); False where nothing is rendered (a playbook's plays and tasks themselves).
    ``numbers_as_text``: a number where text is declared is checked as the text written (task
    arguments, which ``executor.tasks.as_declared`` converts the same way before a run).
    """
    schema = load_schema(schema) if isinstance(schema, str) else schema
    validator = Draft202012Validator(schema, registry=_registry(), format_checker=FORMATS)
    found: list[Problem] = []
    for error in validator.iter_errors(data):
        if templates and _is_template(error.instance) and error.validator != "additionalProperties":
            continue
        if numbers_as_text and _number_as_text(error):  # `mode: 0755` where text is wanted: the text written is used
            for sub in Draft202012Validator(error.schema, registry=_registry()).iter_errors(str(error.instance)):
                sub.path.extendleft(reversed(error.absolute_path))
                found.extend(_explain(sub, data, file, list(base_path), noun + owner))
            continue
        found.extend(_explain(error, data, file, list(base_path), noun + owner))
    return _unique_sorted(found)


def validate(data: Any, schema_name: str, file: str) -> None:
    """Raise one ``InputError`` listing every way ``data`` (read from ``file``) breaks the schema."""
    raise_problems(problems(data, schema_name, file))


def raise_problems(found: Sequence[Problem]) -> None:
    """Raise one ``InputError`` for ``found`` (nothing when empty); ``.problems`` keeps the list."""
    if not found:
        return
    found = _unique_sorted(list(found))
    if len(found) == 1:
        error = InputError(f"{found[0].path}: {found[0].message}" if found[0].path else found[0].message,
                           found[0].location if str(found[0].location) else None)
    else:
        lines = [str(p) for p in found[:MAX_SHOWN]]
        if len(found) > MAX_SHOWN:
            lines.append(f"... and {len(found) - MAX_SHOWN} more problems")
        error = InputError("\n".join(lines))
    error.problems = list(found)  # type: ignore[attr-defined]
    raise error


def error_problems(error: InputError) -> list[Problem]:
    """The problems an ``InputError`` carries (one built from its message when it has no list)."""
    found = getattr(error, "problems", None)
    return list(found) if found else [Problem(error.location or Location(""), "", error.message)]


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    """The (sub)schema that refused the value; ``{}`` for a boolean schema."""
    return error.schema if isinstance(error.schema, Mapping) else {}


def _expected(error: ValidationError) -> Any:
    """The refusing keyword's value in the schema (``"string"`` for ``type: string``)."""
    return error.validator_value


def _number_as_text(error: ValidationError) -> bool:
    """A number read from YAML where only text is declared (it is used as the text written)."""
    wanted = _expected(error) if error.validator == "type" else None
    wanted = {wanted} if isinstance(wanted, str) else set(wanted or ())
    return isinstance(error.instance, SOURCE_NUMBERS) and "string" in wanted


def _unique_sorted(found: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda p: (p.location.file, p.location.line))


def _explain(error: ValidationError, root: Any, file: str, base: list[Any], what: str) -> list[Problem]:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        return _unknown_keys(error, root, file, base, path, what)
    if "propertyNames" in error.relative_schema_path:
        key = error.instance
        desc = _schema_of(error).get("description", "")
        return [Problem(location_of(root, [*path, key], file), format_path([*base, *path, key]),
                        f"name {_quoted(key)} is not valid: {desc}" if desc else error.message)]
    if error.validator == "required":
        match = re.match(r"^'(.*)' is a required property$", error.message)
        missing = match.group(1) if match else error.message
        return [Problem(location_of(root, path, file), format_path([*base, *path]),
                        f"missing required key '{missing}'")]
    message = _sentence(error, _subject([*base, *path]))
    return [Problem(location_of(root, path, file), format_path([*base, *path]), message)]


def _unknown_keys(error: ValidationError, root: Any, file: str, base: list[Any],
                  path: list[Any], what: str) -> list[Problem]:
    allowed = list(_schema_of(error).get("properties", {}))
    patterns = list(_schema_of(error).get("patternProperties", {}))
    found = []
    instance: Any = error.instance
    for key in instance:
        if key in allowed or any(re.search(p, str(key)) for p in patterns):
            continue
        hint = suggest(key, allowed)
        tail = "" if hint or not allowed else f"; expected one of: {', '.join(allowed)}"
        found.append(Problem(location_of(root, [*path, key], file), format_path([*base, *path, key]),
                             f"unknown {_name(what, key)}{hint}{tail}"))
    return found


def _name(what: str, key: Any) -> str:
    noun, _, owner = what.partition(" of ")
    return f"{noun} {_quoted(key)} of {owner}" if owner else f"{noun} {_quoted(key)}"


def _quoted(key: Any) -> str:
    """``'key'``, escaped when it holds a line break or another unprintable character."""
    return f"'{key}'" if str(key).isprintable() else repr(str(key))


def _subject(path: list[Any]) -> str:
    if not path:
        return "the file's content"
    last = path[-1]
    return f"item {last + 1}" if isinstance(last, int) else _quoted(last)   # a key with a line break: one line


def _sentence(error: ValidationError, subject: str) -> str:
    kind, expected, value = error.validator, _expected(error), error.instance
    desc = _schema_of(error).get("description", "")
    if kind == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return f"{subject} must be {names}, not {type_of(value)}{_quoting_hint(wanted, value)}"
    if kind == "enum":
        hint = suggest(value, expected) if isinstance(value, str) else ""
        return f"{subject} is {_short(value)}; allowed values: {', '.join(map(str, expected))}{hint}"
    if kind == "const":
        return f"{subject} must be {_short(expected)}, not {_short(value)}"
    if kind in ("minimum", "maximum"):
        return f"{subject} must be at {'least' if kind == 'minimum' else 'most'} {expected}, not {value}"
    if kind in ("exclusiveMinimum", "exclusiveMaximum"):
        return f"{subject} must be {'more' if kind == 'exclusiveMinimum' else 'less'} than {expected}, not {value}"
    if kind == "minLength":
        return f"{subject} must not be empty" if expected == 1 else f"{subject} needs at least {expected} characters"
    if kind == "maxLength":
        return f"{subject} has {len(str(value))} characters; at most {expected} are allowed"
    if kind == "format" and error.cause is not None:
        what = _FORMAT_NAMES.get(str(expected), "valid")
        return f"{subject} is {_short(value)}, which can't be {what}: {error.cause}"
    if kind in ("minItems", "minProperties"):
        return f"{subject} must not be empty (at least {expected} needed)"
    if kind == "uniqueItems":
        return f"{subject} lists the same item twice"
    if kind in ("oneOf", "anyOf") and all(set(sub) == {"required"} for sub in expected):
        names = ", ".join(f"'{name}'" for sub in expected for name in sub["required"])
        return f"{subject} needs {'exactly' if kind == 'oneOf' else 'at least'} one of: {names}"
    if kind == "pattern":
        return f"{subject} is {_short(value)}, which is not valid: {desc or 'expected ' + expected}"
    return f"{subject}: {error.message}" + (f" ({desc})" if desc else "")


def _quoting_hint(wanted: list[str], value: Any) -> str:
    """How to write ``value`` so YAML 1.2 reads the type wanted (moorage.yamlsrc)."""
    if not isinstance(value, str):
        return ""
    if "boolean" in wanted and value.strip().lower() in {"yes", "no", "on", "off", "y", "n"}:
        return f"; YAML 1.2 reads {value} as text: write true or false"
    if {"integer", "number"} & set(wanted) and re.fullmatch(r"\s*[-+]?[0-9][0-9_.eE+-]*\s*", value):
        return "; write it without quotes to make it a number"
    return ""


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    kind = next((name for cls, name in _VALUE_NAMES if isinstance(value, cls)), type(value).__name__)
    return f"{kind} ({_short(value)})"


_VALUE_NAMES = ((str, "a string"), (int, "an integer"), (float, "a number"))


def _short(value: Any) -> str:
    text = repr(str(value)) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
