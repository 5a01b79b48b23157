"""Jinja2 for task arguments, ``when`` expressions and template files: the rendering rule.

Playbook and role text (task arguments, ``when``, template files, role defaults, play vars,
inventory values) is a template; values from outside it (secrets, ``--set``, registered
results, magic variables) are ``Data`` and never parsed.  Each argument is rendered once: a
variable whose value is template text is rendered when a template uses it (once per render,
cycles are an error naming the chain), and what rendering produces is never rendered again.
Jinja2 runs sandboxed (``ImmutableSandboxedEnvironment``): no template reaches Python
internals.  Undefined variables are errors (StrictUndefined) naming the file:line and the
variable.  A string that is exactly one ``{{ expression }}`` evaluates to the expression's
native value, so ``values: "{{ app_env }}"`` passes a mapping through instead of its text.
Booleans render ``true``/``false``; numbers read from YAML render as written.
"""

from __future__ import annotations

import base64
import functools
import posixpath
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import meta
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from moorage.errors import InputError, Location
from moorage.scalars import Data, as_text, to_json
from moorage.template_lines import KeepBreaks

_SINGLE_EXPRESSION = re.compile(r"^\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\Z", re.S)
_RAW_IN_EXPRESSION = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}(.*?)\{%[-+]?\s*endraw\s*[-+]?%\}", re.S)
_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
_SCOPE = "moorage scope"  # the key holding the render's _Scope: a space, so no template can name it


class _Context(Context):
    """Looks variables up through the render's ``_Scope``, which renders template text once."""

    def resolve_or_missing(self, key: str) -> Any:
        scope = self.parent.get(_SCOPE)
        if scope is not None and key not in self.vars and key in scope.variables:
            return scope.lookup(key)
        return super().resolve_or_missing(key)


@jinja2.pass_eval_context
def _join(eval_ctx: Any, value: Any, separator: str = "", attribute: Any = None) -> str:
    """Jinja2's ``join``, booleans written true/false."""
    items = [as_text(v) if isinstance(v, bool) else v for v in value] if attribute is None else value
    joined: str = do_join(eval_ctx, items, separator, attribute)
    return joined


def path_within(path: Any, directory: Any) -> bool:
    """Whether the server path ``path`` is ``directory`` or lies under it, compared after
    ``posixpath.normpath`` (``/srv/app/`` and ``/srv//app/.`` are ``/srv/app``); the Jinja2 test
    ``within`` (``app_dir is within(media_dir)``).  Symlinks on the server are not followed."""
    inner, outer = posixpath.normpath(str(path)), posixpath.normpath(str(directory))
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _environment() -> jinja2.Environment:
    env = ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        extensions=[KeepBreaks],  # whitespace rules: see moorage.template_lines
        finalize=lambda value: as_text(value) if isinstance(value, bool) else value,
    )
    env.context_class = _Context
    env.filters.update(
        to_json=lambda v, indent=None: to_json(v, indent=indent, sort_keys=True),
        to_yaml=lambda v: yaml.safe_dump(v, default_flow_style=False, sort_keys=False),
        b64encode=lambda v: base64.b64encode(as_text(v).encode()).decode(),
        quote=lambda v: shlex.quote(as_text(v)),
        string=lambda v: as_text(v) if isinstance(v, bool) else str(v),
        join=_join,
        bool=lambda v: str(v).strip().lower() in {"1", "true", "yes", "on", "y"},
        combine=lambda base, *more: {k: v for m in (base, *more) for k, v in (m or {}).items()},
    )
    env.tests["within"] = path_within
    return env


ENV = _environment()


@functools.lru_cache(maxsize=2048)
def _template(text: str) -> jinja2.Template:
    return ENV.from_string(text)


@functools.lru_cache(maxsize=2048)
def _expression(text: str) -> Any:
    return ENV.compile_expression(text, undefined_to_none=False)


def is_templated(text: Any) -> bool:
    """Whether ``text`` is template text: a string with Jinja2 markup that is not ``Data``."""
    return isinstance(text, str) and not isinstance(text, Data) and ("{{" in text or "{%" in text)


class _Scope:
    """One render's variables: template-text values rendered on first use, then remembered."""

    def __init__(self, variables: Mapping[str, Any], location: Location | None = None) -> None:
        self.variables, self.location = variables, location
        self.done: dict[str, Any] = {}
        self.active: list[str] = []

    def lookup(self, name: str) -> Any:
        """The value of variable ``name`` with any template text in it rendered."""
        if name in self.done:
            return self.done[name]
        if name in self.active:
            chain = " -> ".join([*self.active[self.active.index(name):], name])
            raise InputError(f"variable '{name}' is defined in terms of itself ({chain})", self.location)
        self.active.append(name)
        try:
            value = self.resolve(self.variables[name], f"variable '{name}'")
        finally:
            self.active.pop()
        self.done[name] = value
        return value

    def resolve(self, value: Any, what: str) -> Any:
        """``value`` with every template string inside it rendered once (Data left as is)."""
        if isinstance(value, str):
            if not is_templated(value):
                return value
            result = self.render(value, what)
            return Data(result) if isinstance(result, str) and not isinstance(result, Data) else result
        if isinstance(value, Mapping):
            return {k: self.resolve(v, f"{what} '{k}'") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, what) for v in value]
        return value

    def render(self, text: str, what: str) -> Any:
        """Render template ``text``; a lone ``{{ expression }}`` gives its native value."""
        context = {**self.variables, _SCOPE: self}
        try:
            single = _SINGLE_EXPRESSION.match(text)
            if single:
                return _defined(_expression(single.group("expr"))(context))
            return _template(text).render(context)
        except InputError:
            raise  # a variable used here failed; its own message says which
        except Exception as exc:  # jinja2 raises many kinds; each becomes one sentence
            raise _fail(exc, f"{what} {text!r}", self.location) from None


def _undefined_message(exc: Exception) -> str:
    match = _UNDEFINED_NAME.search(str(exc))
    name = next((g for g in match.groups() if g), None) if match else None
    return f"undefined variable '{name}'" if name else str(exc)


def _fail(exc: Exception, what: str, location: Location | None) -> InputError:
    if isinstance(exc, SecurityError):
        return InputError(f"unsafe template in {what}: {exc} (templates cannot reach Python internals)",
                          location)
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


def render_value(value: Any, variables: Mapping[str, Any], what: str = "argument",
                 location: Location | None = None) -> Any:
    """``value`` with every template string inside it (mappings and lists walked) rendered once.

    Raises ``InputError`` (at ``location``) for syntax errors, undefined variables, unsafe
    attribute access and variables defined in terms of themselves.
    """
    return _Scope(variables, location).resolve(value, what)


def _when_source(expression: str) -> str:
    """The expression a ``when`` holds: without a surrounding ``{{ }}``, ``{% raw %}x{% endraw %}``
    standing for ``x``."""
    expr = expression.strip()
    single = _SINGLE_EXPRESSION.match(expr)
    if single:
        expr = single.group("expr")
    return _RAW_IN_EXPRESSION.sub(lambda m: m.group(1), expr)


def evaluate(expression: str, variables: Mapping[str, Any], location: Location | None = None) -> Any:
    """Evaluate a ``when:`` expression (with or without surrounding ``{{ }}``)."""
    scope = _Scope(variables, location)
    try:
        return _defined(_expression(_when_source(expression))({**variables, _SCOPE: scope}))
    except InputError:
        raise
    except Exception as exc:
        raise _fail(exc, f"when expression {expression!r}", location) from None


def syntax_error(text: str) -> str | None:
    """Why the argument template ``text`` can't be compiled (None when it can), exactly as a
    run compiles it: ``check`` and ``play`` agree."""
    single = _SINGLE_EXPRESSION.match(text)
    return _compile_error(lambda: _expression(single.group("expr")) if single else _template(text))


def when_syntax_error(expression: str) -> str | None:
    """Why the ``when`` expression can't be compiled (None when it can), as ``evaluate`` does."""
    return _compile_error(lambda: _expression(_when_source(expression)))


def _compile_error(compile_it: Any) -> str | None:
    try:
        compile_it()
    except jinja2.TemplateSyntaxError as exc:
        return exc.message or str(exc)
    return None


def render_keys(variables: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The named variables rendered (a value that is a template is resolved; a missing one is "")."""
    scope = _Scope(variables)
    return {key: scope.lookup(key) if key in variables else "" for key in keys}


def file_syntax_error(path: Path) -> tuple[int, str] | None:
    """``(line, reason)`` when the template file can't be compiled as ``render_file`` compiles
    it (line 0 when it can't be read), None when it can."""
    try:
        _template(path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        return exc.lineno or 0, f"Jinja2 syntax error: {exc.message}"
    except (OSError, UnicodeDecodeError) as exc:
        return 0, f"cannot read template: {exc}"
    return None


def render_file(path: Path, variables: Mapping[str, Any]) -> str:
    """Render the template file ``path``; errors name ``path:line`` and the variable."""
    try:
        template = _template(path.read_text())
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}", Location(str(path), exc.lineno or 0)) \
            from None
    try:
        return template.render({**variables, _SCOPE: _Scope(variables)})
    except InputError as exc:  # a variable the file uses failed to render
        raise InputError(exc.message, Location(str(path), _template_line(exc))) from None
    except SecurityError as exc:
        raise _fail(exc, f"template {path.name}", Location(str(path), _template_line(exc))) from None
    except Exception as exc:
        raise InputError(_undefined_message(exc), Location(str(path), _template_line(exc))) from None


def _template_line(exc: Exception) -> int:
    """The line of the file where rendering failed, from the traceback jinja2 rewrites (the
    first template frame: later ones are variables the file uses)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            return tb.tb_lineno
        tb = tb.tb_next
    return 0


def names_in(value: Any) -> set[str]:
    """The variables the templates inside ``value`` (strings, recursively) refer to."""
    if isinstance(value, str):
        return template_names(value) if is_templated(value) else set()
    if isinstance(value, Mapping):
        return set().union(*(names_in(k) | names_in(v) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return set().union(*(names_in(item) for item in value))
    return set()


def template_names(source: str) -> set[str]:
    """The variables a template (source text) refers to; none when it doesn't parse."""
    try:
        return set(meta.find_undeclared_variables(ENV.parse(source)))
    except jinja2.TemplateSyntaxError:
        return set()  # check reports the syntax error where the template is used
