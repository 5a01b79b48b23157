"""The production checklist of seed 000, checked before any change to a production host.

Each check reads the host's resolved variables (and the project's files on the controller)
and returns the reason it fails, or None.  ``check --host vps`` runs them too.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from moorage.templating import render_value

Check = Callable[[Mapping[str, Any], Path], str | None]


def _debug_off(v: Mapping[str, Any], _: Path) -> str | None:
    if str(v.get("django_debug", "")).strip().lower() not in ("0", "false", "no", "off"):
        return f"DEBUG must be off in production (django_debug is {v.get('django_debug')!r})"
    return None


def _secret_key(v: Mapping[str, Any], _: Path) -> str | None:
    key = v.get("django_secret_key")
    if isinstance(key, Mapping) and "generate" in key:
        return None if int(key["generate"]) >= 50 else "DJANGO_SECRET_KEY must be generated with 50+ characters"
    text = str(key or "")
    if len(text) < 50 or len(set(text)) < 20:
        return "DJANGO_SECRET_KEY must be long (50+ characters) and random: use {generate: 50}"
    return None


def _allowed_hosts(v: Mapping[str, Any], _: Path) -> str | None:
    domain = v.get("domain")
    hosts = [h.strip() for h in str(v.get("django_allowed_hosts", "")).split(",")]
    if not domain or domain not in hosts:
        return f"ALLOWED_HOSTS must include the domain {domain!r} (django_allowed_hosts is {hosts})"
    return None


def _csrf_https(v: Mapping[str, Any], _: Path) -> str | None:
    origins = [o.strip() for o in str(v.get("django_csrf_trusted_origins", "")).split(",")]
    if f"https://{v.get('domain')}" not in origins:
        return f"CSRF_TRUSTED_ORIGINS must include https://{v.get('domain')} (is {origins})"
    return None


def _tls_on(v: Mapping[str, Any], _: Path) -> str | None:
    if str(v.get("tls", "none")) in ("none", "", "false"):
        return "TLS must be on in production (tls: letsencrypt)"
    return None


def _db_not_published(v: Mapping[str, Any], root: Path) -> str | None:
    if v.get("db_port_exposed"):
        return "the PostgreSQL port must not be exposed in production (db_port_exposed is true)"
    source = Path(str(v.get("compose_source", root / "examples/dm/compose"))) / str(v.get("compose_file", ""))
    if source.is_file():
        services = (yaml.safe_load(source.read_text()) or {}).get("services", {})
        for name, service in services.items():
            ports = [str(p) for p in (service or {}).get("ports", [])]
            if any("5432" in p for p in ports):
                return f"{source}: service '{name}' publishes the PostgreSQL port 5432"
    return None


def _env_not_tracked(_: Mapping[str, Any], root: Path) -> str | None:
    proc = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True, check=False)
    tracked = [f for f in proc.stdout.splitlines() if Path(f).name == ".env"]
    if tracked:
        return f".env files must never be committed to git: {', '.join(tracked)}"
    return None


_READS = ("django_debug", "domain", "django_allowed_hosts", "django_csrf_trusted_origins", "tls",
          "db_port_exposed", "compose_source", "compose_file")

CHECKS: dict[str, Check] = {
    "DEBUG off": _debug_off,
    "secret key long and random": _secret_key,
    "ALLOWED_HOSTS has the domain": _allowed_hosts,
    "CSRF_TRUSTED_ORIGINS over HTTPS": _csrf_https,
    "PostgreSQL port not published": _db_not_published,
    ".env not tracked by git": _env_not_tracked,
    "TLS on": _tls_on,
}


def preflight(variables: Mapping[str, Any], project_root: Path) -> list[tuple[str, str | None]]:
    """Every check's name and its failure reason (None when it passes)."""
    rendered = {k: render_value(v, variables, f"variable '{k}'") for k, v in variables.items()
                if k in _READS}
    values = {**variables, **rendered}
    return [(name, check(values, project_root)) for name, check in CHECKS.items()]


def failures(variables: Mapping[str, Any], project_root: Path) -> list[str]:
    """Only the reasons of the failing checks."""
    return [f"{name}: {reason}" for name, reason in preflight(variables, project_root) if reason]
