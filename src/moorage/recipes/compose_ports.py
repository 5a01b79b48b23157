"""Does a compose file publish a database port?  (The preflight's ``db_port_closed``.)

The rule: a service counts as a database when its ``image`` names one of ``DATABASE_IMAGES``
(anywhere in the reference, so ``${DB_IMAGE:-postgres:16}`` and ``bitnami/mariadb`` count), or
when one of its published container ports is one of ``DATABASE_PORTS``.  Any published port of a
database, even on 127.0.0.1 only, fails: a production database is reached over the compose
network, never from the host.  ``expose:`` publishes nothing and is fine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DATABASE_IMAGES = ("postgres", "mysql", "mariadb", "mongo", "redis")
DATABASE_PORTS = {5432: "PostgreSQL", 3306: "MySQL/MariaDB", 27017: "MongoDB", 6379: "Redis"}


def published_database(path: Path) -> str | None:
    """The first database port ``path`` publishes, as a sentence; None when there is none.

    A missing or unreadable file is a sentence too (the deploy would fail on it).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        return f"cannot read the compose file {path}: {exc}"
    services = data.get("services") if isinstance(data, dict) else None
    for name, service in (services or {}).items():
        service = service if isinstance(service, dict) else {}
        image = str(service.get("image") or "").lower()
        kind = next((db for db in DATABASE_IMAGES if db in image), "")
        for port in service.get("ports") or []:
            known = [DATABASE_PORTS[t] for t in _targets(port)]
            if kind or known:
                what = known[0] if known else f"{kind} database"
                return (f"{path}: service '{name}' publishes a {what} port ({_shown(port)}); remove its "
                        "`ports:` in production (the app reaches it over the compose network)")
    return None


def _targets(port: Any) -> list[int]:
    """The database container ports one ``ports:`` entry publishes: ``"[IP:][HOST:]CONTAINER[/proto]"``
    (a range ``A-B`` covers every port in it), a bare number, or the long form ``{target: N, ...}``."""
    text = str(port.get("target", "")) if isinstance(port, dict) else str(port).rsplit(":", 1)[-1]
    bounds = re.fullmatch(r"(\d+)(?:-(\d+))?", text.split("/", 1)[0].strip())
    if not bounds:
        return []
    low, high = int(bounds.group(1)), int(bounds.group(2) or bounds.group(1))
    return [known for known in DATABASE_PORTS if low <= known <= high]


def _shown(port: Any) -> str:
    return str(port) if not isinstance(port, dict) else ", ".join(f"{k}: {v}" for k, v in port.items())
