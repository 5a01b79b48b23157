"""The text of the inventory ``init`` writes: ``inventory/hosts.yml`` (where the app runs) and
``inventory/group_vars/all.yml`` (what the app is), each value with the reason for it.

Written as text, not dumped, so that every choice carries its comment; values are JSON
scalars (always valid YAML) so no name or default can change type or meaning on the way.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from moorage.scaffold.envvars import Entry
from moorage.scaffold.services import ServicePlan

PLACEHOLDER_NET = "203.0.113"        # TEST-NET-3 (RFC 5737): documentation addresses, never routed
FIRST_HOST = 10
DEPLOY_USER = "deploy"
PRODUCTION_NAMES = ("production", "prod")
_WIDTH = 100
_COMMENT_AT = 32                     # column of inline comments
_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_./@:+-]*$")


@dataclass(frozen=True)
class Scaffold:
    """Everything rendered: the project name, the compose file (relative to the project root,
    split into directory and name), the environments, and the proposals."""

    project: str
    compose_dir: str
    compose_file: str
    environments: Sequence[str]
    services: ServicePlan
    app_env: Sequence[Entry]
    preflight: Sequence[Entry]
    release_files: Sequence[str] = ()


def is_production(environment: str) -> bool:
    return environment.lower() in PRODUCTION_NAMES


def hosts_yml(s: Scaffold) -> str:
    """``inventory/hosts.yml``: the project and one environment (one placeholder host) per name."""
    lines = _comment(f"The {s.project} project's environments, written by `moorage init` from "
                     f"{s.compose_file}. What the app is (compose file, images, .env, databases, "
                     "health) is in group_vars/all.yml; precedence and secrets: moorage's docs/variables.md. "
                     "Replace the placeholders (addresses, domains, CHANGE-ME), then run `moorage check`.")
    lines += ["", _line("project", s.project, "the compose project name (docker compose -p)"), "",
              "environments:"]
    for number, name in enumerate(s.environments):
        lines += _environment(s, name, FIRST_HOST + number)
    return "\n".join(lines) + "\n"


def group_vars_yml(s: Scaffold) -> str:
    """``inventory/group_vars/all.yml``: the app, for every environment."""
    plan = s.services
    lines = _comment(f"What {s.project} is, for every environment (an environment's vars: in hosts.yml "
                     f"override these). Written by `moorage init` from {s.compose_file}.")
    lines += ["", _line("app_dir", f"/srv/{s.project}", "on the server: releases/, current, config/, backups/"),
              _line("compose_source", s.compose_dir, "holds compose_file (relative: to the project root)"),
              _line("compose_file", s.compose_file, "sent as is; .env is written beside it from app_env")]
    if s.release_files:  # what the compose file bind-mounts from beside it: each release holds it
        lines.append(_line("release_files", list(s.release_files), f"bind-mounted by {s.compose_file}: staged "
                           "with each release, a change recreates the service"))
    lines.append("")
    lines += _comment("Images the stack runs, and how they reach the server: " + plan.images_why[0])
    lines += [f"#   {command}" for command in plan.image_commands]
    lines += _comment(" ".join(plan.images_why[1:]))
    for env_name, default in plan.image_vars.items():
        lines.append(_line(env_name.lower(), default, f"{s.compose_file}'s ${{{env_name}}}: another version is "
                           f"`moorage deploy --set {env_name.lower()}=REF`"))
    lines += [_line("image_source", plan.image_source), "app_images:"]
    lines += [f"  - {_value(image)}" for image in plan.images] or ["  []"]
    lines += ["", *_comment(f"Web service: {plan.web_why}." if plan.web else f"Web service: none ({plan.web_why}).")]
    lines += [*_comment(f"Health gate: {plan.health_why}."), _line("health_url", plan.health_url), ""]
    lines += _comment("Migrations: none seen in the compose file. When a release needs them before it starts, "
                      "name the service whose one-off container runs them and the command; empty: no migration "
                      "step (e.g. the image migrates when it starts).")
    lines += [_line("migrate_service", ""), _line("migrate_command", ""), ""]
    lines += _databases(plan)
    lines += _media(plan)
    lines += ["", *_app_env(s), "", *_preflight(s)]
    return "\n".join(lines) + "\n"


def _environment(s: Scaffold, name: str, host_number: int) -> list[str]:
    domain = s.services.domain if is_production(name) and s.services.domain else _placeholder_domain(name)
    domain_why = ("from the web service's Traefik rule" if domain == s.services.domain
                  else "placeholder: the app's name there (health_url, preflight)")
    lines = ["", f"  {name}:"]
    if is_production(name):
        lines.append(_line("production", True, "the preflight checks run before any change", 4))
    lines += [_line("user", DEPLOY_USER, "the SSH user moorage connects as", 4), "    vars:",
              _line("domain", domain, domain_why, 6), "    hosts:", f"      {name}:",
              _line("address", f"{PLACEHOLDER_NET}.{host_number}",
                    "placeholder (TEST-NET-3, never routed): your server's address", 8)]
    return lines


def _placeholder_domain(environment: str) -> str:
    return "example.com" if is_production(environment) else f"{environment.lower()}.example.com"


def _databases(plan: ServicePlan) -> list[str]:
    if not plan.databases:
        return [*_comment("No PostgreSQL service found: nothing to back up."), _line("backup_databases", []),
                _line("restore_stop_services", [])]
    lines = _comment("PostgreSQL services (by their image): backed up by `moorage backup` and before the "
                     "migrations of each new release.")
    lines += ["backup_databases:", *[f"  - {{service: {_value(db)}}}" for db in plan.databases]]
    users = ", ".join(plan.restore_stop) or "none found"
    lines += _comment(f"Services that use a database (depends_on or a database host in their environment: "
                      f"{users}), stopped while one is restored.")
    lines.append(_line("restore_stop_services", plan.restore_stop))
    return lines


def _media(plan: ServicePlan) -> list[str]:
    """``backup_media`` for the named volumes of services that are not databases (uploads, media)."""
    if not plan.media_volumes:
        return [*_comment("No named volume outside the databases: no media to back up "
                          "(a directory on the server: [{path: /srv/app/media}])."), _line("backup_media", [])]
    users = "; ".join(f"{svc}: {', '.join(vols)}" for svc, vols in plan.media_volumes.items())
    lines = _comment(f"Named volumes of services that are not databases ({users}): saved as verified tarballs "
                     "by `moorage backup`, put back by `moorage restore --media`. Remove the ones that hold "
                     "nothing worth keeping (caches).")
    volumes = list(dict.fromkeys(v for vols in plan.media_volumes.values() for v in vols))
    lines += ["backup_media:", *[f"  - {{volume: {_value(v)}, label: {_value(_label(v))}}}" for v in volumes]]
    return lines


def _label(volume: str) -> str:
    """A backup label for a volume name (the label's pattern: ``[A-Za-z0-9][A-Za-z0-9_.-]*``)."""
    return volume.lstrip("_.-") or "media"


def _app_env(s: Scaffold) -> list[str]:
    text = (f"The app's .env on the server, from the variables {s.compose_file} interpolates and the environment: "
            "keys it leaves to the environment. {generate: N} makes an N-character secret once and keeps it; "
            "a secret you are given (an API key) goes in as {secret: \"env:NAME\"} instead. "
            "app_env_extra adds entries per environment.")
    if s.services.reads_dotenv:
        text += (f" {', '.join(s.services.reads_dotenv)} also read{'s' if len(s.services.reads_dotenv) == 1 else ''}"
                 " .env (env_file): add the keys the app reads there.")
    if not s.app_env:
        return [*_comment(text), _line("app_env", {})]
    return [*_comment(text), "app_env:", *[_entry_line(e, 2) for e in s.app_env]]


def _preflight(s: Scaffold) -> list[str]:
    lines = _comment("Production preflight: each check maps to the app's own .env key ({env: KEY}) or "
                     "variable ({var: NAME}), or is disabled with false.")
    return [*lines, "preflight:", *[_entry_line(e, 2) for e in s.preflight]]


def _entry_line(entry: Entry, indent: int) -> str:
    line = _line(entry.name, entry.value, entry.why, indent)
    if len(line) <= _WIDTH:
        return line
    return "\n".join([*_comment(entry.why, indent), _line(entry.name, entry.value, indent=indent)])


def _line(key: str, value: Any, why: str = "", indent: int = 0) -> str:
    text = f"{' ' * indent}{key}: {_value(value)}"
    return f"{text.ljust(_COMMENT_AT)}  # {why}" if why else text


def _comment(text: str, indent: int = 0) -> list[str]:
    prefix = " " * indent + "# "
    return textwrap.wrap(text, _WIDTH, initial_indent=prefix, subsequent_indent=prefix,
                         break_on_hyphens=False, break_long_words=False)


def _value(value: Any) -> str:
    """``value`` as a YAML flow value: a string plain when YAML reads it back as the same
    string, else JSON-quoted (so ``"0"`` and ``"{{ domain }}"`` stay strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)

