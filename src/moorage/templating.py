"""Jinja2 for task arguments, ``when`` expressions and template files.

Undefined variables are errors (StrictUndefined) that name the file:line and
the variable.  A string that is exactly one ``{{ expression }}`` evaluates to
the expression's native value, so ``values: "{{ app_env }}"`` passes a mapping
through instead of its string form.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml

from moorage.errors import InputError, Location

_SINGLE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.S)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        to_json=lambda v, indent=None: json.dumps(v, indent=indent, sort_keys=True),
        to_yaml=lambda v: yaml.safe_dump(v, default_flow_style=False, sort_keys=False),
        b64encode=lambda v: base64.b64encode(str(v).encode()).decode(),
        quote=lambda v: shlex.quote(str(v)),
        bool=lambda v: str(v).strip().lower() in {"1", "true", "yes", "on", "y"},
        combine=lambda base, *more: {k: v for m in (base, *more) for k, v in (m or {}).items()},
    )
    return env


ENV = _environment()


def _undefined_message(exc: Exception) -> str:
    match = _UNDEFINED_NAME.search(str(exc))
    name = next((g for g in match.groups() if g), None) if match else None
    return f"undefined variable '{name}'" if name else str(exc)


def _fail(exc: Exception, what: str, location: Location | None) -> InputError:
    if isinstance(exc, jinja2.UndefinedError):
        return InputError(f"{_undefined_message(exc)} in {what}", location)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return InputError(f"template syntax error in {what}: {exc.message}", location)
    return InputError(f"cannot evaluate {what}: {exc}", location)


def _defined(value: Any) -> Any:
    """Force a lone expression's StrictUndefined result to raise instead of passing through."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def is_templated(text: str) -> bool:
    """Whether ``text`` contains Jinja2 markup."""
    return "{{" in text or "{%" in text


_MAX_NESTING = 10  # a variable whose value refers to variables is rendered again, this deep


def render_value(value: Any, variables: Mapping[str, Any], what: str = "argument",
                 location: Location | None = None) -> Any:
    """Render every string inside ``value`` (recursively through mappings and lists; a
    variable whose value is itself a template is rendered too)."""
    if isinstance(value, str):
        for _ in range(_MAX_NESTING):
            if not isinstance(value, str):  # a lone expression gave a mapping or list: render inside
                return render_value(value, variables, what, location)
            if not is_templated(value):
                return value
            value = _render_string(value, variables, what, location)
        raise InputError(f"{what} {value!r} still refers to variables after {_MAX_NESTING} "
                         "renderings (a variable defined in terms of itself?)", location)
    if isinstance(value, Mapping):
        return {k: render_value(v, variables, f"{what} '{k}'", location) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, variables, what, location) for v in value]
    return value


def _render_string(value: str, variables: Mapping[str, Any], what: str, location: Location | None) -> Any:
    try:
        single = _SINGLE_EXPRESSION.match(value)
        if single:
            expression = ENV.compile_expression(single.group("expr"), undefined_to_none=False)
            return _defined(expression(**variables))
        return ENV.from_string(value).render(**variables)
    except Exception as exc:  # jinja2 raises many kinds; each becomes one sentence
        raise _fail(exc, f"{what} {value!r}", location) from None


def evaluate(expression: str, variables: Mapping[str, Any], location: Location | None = None) -> Any:
    """Evaluate a ``when:`` expression (with or without surrounding ``{{ }}``)."""
    expr = expression.strip()
    single = _SINGLE_EXPRESSION.match(expr)
    if single:
        expr = single.group("expr")
    try:
        return _defined(ENV.compile_expression(expr, undefined_to_none=False)(**variables))
    except Exception as exc:
        raise _fail(exc, f"when expression {expression!r}", location) from None


def render_keys(variables: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The named variables rendered (a value that is a template is resolved; a missing one is "")."""
    return {key: render_value(variables.get(key, ""), variables, f"variable '{key}'") for key in keys}


def resolved(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The variables with every value that is itself a template rendered (as arguments are), so a
    template file sees ``media_dir: "{{ app_dir }}/media"`` resolved; a value that can't be
    rendered stays as it is (it fails only if the template uses it)."""
    values = dict(variables)
    for name, value in variables.items():
        if isinstance(value, str) and is_templated(value):
            with contextlib.suppress(InputError):
                values[name] = render_value(value, variables, f"variable '{name}'")
    return values


def render_file(path: Path, variables: Mapping[str, Any]) -> str:
    """Render the template file ``path``; errors name ``path:line`` and the variable."""
    source = path.read_text()
    try:
        return ENV.from_string(source).render(**resolved(variables))
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}", Location(str(path), exc.lineno or 0)) \
            from None
    except Exception as exc:
        line = _template_line(exc)
        raise InputError(_undefined_message(exc), Location(str(path), line)) from None


def _template_line(exc: Exception) -> int:
    """The line of the template where rendering failed, from the traceback jinja2 rewrites."""
    line, tb = 0, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
