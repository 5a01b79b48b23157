"""The production preflight: generic checks run before any change to a production host.

The checks know no app.  The inventory variable ``preflight`` maps each one to the project's own
names, or disables it with ``false``::

    preflight:
      debug_off: {env: DEBUG}                    # a key of the rendered app_env (+ app_env_extra)
      secret_strong: {env: SECRET_KEY}
      allowed_hosts: {env: ALLOWED_HOSTS}        # must include the variable ``domain``
      csrf_https: {env: CSRF_TRUSTED_ORIGINS}    # must include https://DOMAIN
      tls_on: {var: tls}                         # or a variable, by name
      db_port_closed: true                       # on unless false: needs no mapping
      env_untracked: true                        # on unless false: needs no mapping
      volume_present: {volume: app_pg_data}      # server checks (preflight_server): off unless set,
      backup_fresh: {hours: 24}                  # run by deploy on the server; check validates them

A check that reads a value and has no mapping fails, saying how to map or disable it.
``moorage check --host H`` runs them too; ``deploy --force`` goes on despite failures (audited).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moorage import secrets
from moorage.recipes import compose_ports, preflight_server
from moorage.recipes.compose_services import compose_paths
from moorage.schema import suggest
from moorage.templating import render_value

OFF = ("0", "false", "no", "off", "none", "")
# A secret counts as long and random with 50+ characters of which 20+ are distinct: 50 is the
# length web frameworks' own deploy checks ask of a signing key, and 20 distinct characters rule
# out a repeated or word-like key.  A {generate: N} secret is random by construction (moorage
# makes it from the system's CSPRNG), so only its length N counts.
SECRET_LENGTH = 50
SECRET_DISTINCT = 20


@dataclass(frozen=True)
class Result:
    """One check's outcome: ``status`` is passed, failed, disabled or server (a server check, set
    right: deploy runs it on the server); ``reason`` says why it failed."""

    name: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Value:
    """A mapped value and how the user named it (``.env key DEBUG``, ``variable tls``)."""

    value: Any
    label: str


def _debug_off(value: Value, _: Mapping[str, Any]) -> str | None:
    if str(value.value).strip().lower() in OFF:
        return None
    return f"debug must be off in production ({value.label} is {_shown(value.value)})"


def _secret_strong(value: Value, _: Mapping[str, Any]) -> str | None:
    key = value.value
    if secrets.is_generated(key):
        if int(key["generate"]) >= SECRET_LENGTH:
            return None
        return f"{value.label} must be generated with {SECRET_LENGTH}+ characters ({{generate: {SECRET_LENGTH}}})"
    text = str(key or "")
    if len(text) < SECRET_LENGTH or len(set(text)) < SECRET_DISTINCT:
        return (f"{value.label} must be long ({SECRET_LENGTH}+ characters) and random: "
                f"use {{generate: {SECRET_LENGTH}}}")
    return None


def _allowed_hosts(value: Value, v: Mapping[str, Any]) -> str | None:
    domain, hosts = v.get("domain"), _items(value.value)
    if not domain:
        return "the variable 'domain' is not set: the allowed hosts must include it"
    if domain not in hosts:
        return f"{value.label} must include the domain {domain!r} (is {_shown(value.value, hosts)})"
    return None


def _csrf_https(value: Value, v: Mapping[str, Any]) -> str | None:
    domain, origins = v.get("domain"), _items(value.value)
    if not domain:
        return "the variable 'domain' is not set: the trusted origins must include https://DOMAIN"
    if f"https://{domain}" not in origins:
        return f"{value.label} must include https://{domain} (is {_shown(value.value, origins)})"
    return None


def _tls_on(value: Value, _: Mapping[str, Any]) -> str | None:
    if str(value.value).strip().lower() in OFF:
        return f"TLS must be on in production ({value.label} is {_shown(value.value)})"
    return None


def _db_port_closed(v: Mapping[str, Any], root: Path) -> str | None:
    """The first database port one of the project's compose files publishes (every file is read)."""
    paths = compose_paths(v, root) or [root / "compose.yml"]
    return next((found for path in paths if (found := compose_ports.published_database(path))), None)


def _env_untracked(_: Mapping[str, Any], root: Path) -> str | None:
    proc = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=False)
    tracked = [f for f in proc.stdout.splitlines() if Path(f).name == ".env"]
    if tracked:
        return f".env files must never be committed to git: {', '.join(tracked)}"
    return None


# name -> (check, what the mapping names: None for checks that read the project's files)
MAPPED: dict[str, tuple[Callable[[Value, Mapping[str, Any]], str | None], str]] = {
    "debug_off": (_debug_off, "the app's debug switch"),
    "secret_strong": (_secret_strong, "the app's secret (signing) key"),
    "allowed_hosts": (_allowed_hosts, "the host names the app answers for"),
    "csrf_https": (_csrf_https, "the app's trusted origins (CSRF)"),
    "tls_on": (_tls_on, "whether the app is served over HTTPS"),
}
UNMAPPED: dict[str, Callable[[Mapping[str, Any], Path], str | None]] = {
    "db_port_closed": _db_port_closed,
    "env_untracked": _env_untracked,
}
CHECKS = (*MAPPED, *UNMAPPED)
NAMES = (*CHECKS, *preflight_server.SERVER)  # every name the mapping may hold


def preflight(variables: Mapping[str, Any], project_root: Path) -> list[Result]:
    """Every check's result for a host's resolved ``variables`` (``preflight`` maps them);
    unknown names in the mapping fail as a check of their own."""
    mapping = variables.get("preflight") or {}
    if not isinstance(mapping, Mapping):
        return [Result("preflight", "failed", "the variable 'preflight' must be a mapping of check names "
                                              f"({', '.join(NAMES)}) to {{env: KEY}}, {{var: NAME}}, true or false")]
    results = [Result(name, "failed", f"unknown check{suggest(name, NAMES)}; the checks are: {', '.join(NAMES)}")
               for name in mapping if name not in NAMES]
    rendered = {k: render_value(variables[k], variables, f"variable '{k}'")
                for k in ("domain", "compose_source", "compose_file") if k in variables}
    values = {**variables, **rendered}
    for name in CHECKS:
        setting = mapping.get(name, True if name in UNMAPPED else None)  # only false disables
        if setting is False:
            results.append(Result(name, "disabled"))
            continue
        reason = _run(name, setting, values, project_root)
        results.append(Result(name, "failed" if reason else "passed", reason or ""))
    for name, setting in preflight_server.wanted(variables).items():
        reason = preflight_server.setting_problem(name, setting)
        results.append(Result(name, "failed" if reason else "server", reason or ""))
    return results


def _run(name: str, setting: Any, values: Mapping[str, Any], root: Path) -> str | None:
    if name in UNMAPPED:
        if setting is not True:
            return f"set it to true (on) or false (off), not {_shown(setting)}"
        return UNMAPPED[name](values, root)
    check, what = MAPPED[name]
    if not isinstance(setting, Mapping) or len(setting) != 1 or next(iter(setting)) not in ("env", "var"):
        return (f"no mapping to {what}: map it in the inventory, e.g. `preflight: {{{name}: {{env: KEY}}}}` "
                f"(a key of app_env) or `{{{name}: {{var: NAME}}}}` (a variable), "
                f"or disable it with `preflight: {{{name}: false}}`")
    found = _value(setting, values)
    return found if isinstance(found, str) else check(found, values)


def _value(setting: Mapping[str, Any], values: Mapping[str, Any]) -> Value | str:
    """The mapped value, or the sentence saying it isn't there."""
    kind, key = next(iter(setting.items()))
    if kind == "var":
        if key not in values:
            return f"the variable '{key}' is not set"
        return Value(render_value(values[key], values, f"variable '{key}'"), f"variable '{key}'")
    env = render_value({**(values.get("app_env") or {}), **(values.get("app_env_extra") or {})}, values,
                       "variable 'app_env'")
    if key not in env:
        return f"app_env has no key '{key}'{suggest(key, env)}"
    return Value(env[key], f".env key {key}")


def _items(value: Any) -> list[str]:
    """A list of names: a list, a JSON list, or text separated by commas or spaces."""
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            return [str(v).strip() for v in json.loads(text)]
        except ValueError:
            pass
    return [item for item in re.split(r"[,\s]+", text) if item]


def _shown(value: Any, shown: Any = None) -> str:
    """How a message shows ``value`` (as ``shown`` when given, e.g. split into items):
    ``(a secret)`` when it holds a secret's value, never the value masked in place (a repr
    escapes characters, so masking after formatting can miss a part of it)."""
    if secrets.is_generated(value):
        return secrets.describe_generated(value)
    if secrets.holds_secret(value) or secrets.holds_secret(shown):
        return "(a secret)"
    return repr(value if shown is None else shown)


def failures(variables: Mapping[str, Any], project_root: Path) -> list[str]:
    """Only the failing checks, each as ``name: reason``."""
    return [f"{r.name}: {r.reason}" for r in preflight(variables, project_root) if r.status == "failed"]
