"""The production preflight's server checks: they read the server, so ``deploy`` runs them
(connected, before it takes the lock); ``check --host`` checks only how they are set (it needs no
server).  Generic: the inventory's ``preflight`` mapping names the project's own things::

    preflight:
      volume_present: {volume: shop_pg_data}      # Docker volume(s) by name: {volume: [a, b]}
      backup_fresh: {hours: 24}                   # each backup_databases entry has a verified backup
                                                  # newer than 24 h, read back in full again now

Off unless set (``false`` too): they need the server, and the project must say which volume.
Before a release of the host was ever live (the first deploy, or its rerun after it failed) they
pass: no data to protect yet.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from moorage.connection import Connection, connect
from moorage.errors import HostError
from moorage.inventory import Host
from moorage.operations import server_state as server
from moorage.operations.backups import catalog
from moorage.operations.shell import Raw, sh
from moorage.progname import command
from moorage.project import Project
from moorage.recipes.data_settings import DataSettings, of_hosts

SERVER = {
    "volume_present": "{volume: NAME} (a Docker volume, or a list of them)",
    "backup_fresh": "{hours: N} (a verified backup of each database newer than N hours)",
}
VOLUME_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def setting_problem(name: str, setting: Any) -> str | None:
    """What is wrong with how server check ``name`` is set (``false`` turns it off), or None."""
    if setting is False:
        return None
    if not isinstance(setting, Mapping) or len(setting) != 1:
        return f"set it to {SERVER[name]}, or false"
    key, value = next(iter(setting.items()))
    if name == "volume_present":
        names = value if isinstance(value, list) else [value]
        if key != "volume" or not names or not all(isinstance(v, str) and re.fullmatch(VOLUME_NAME, v)
                                                   for v in names):
            return f"set it to {SERVER[name]}: Docker volume names (letters, digits, _ . -)"
    elif key != "hours" or isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return f"set it to {SERVER[name]}, N a number of hours above 0"
    return None


def wanted(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The server checks the host's ``preflight`` turns on (name -> setting)."""
    mapping = variables.get("preflight")
    if not isinstance(mapping, Mapping):
        return {}
    return {name: mapping[name] for name in SERVER if mapping.get(name) not in (None, False)}


def failures(host: Host, variables: Mapping[str, Any], project: Project) -> list[str]:
    """Connect to ``host`` and run the server checks it turns on: each failing one as
    ``name: reason`` ([] when none is on).  Raises ``HostError`` when the server can't be asked."""
    checks = wanted(variables)
    bad = [f"{n}: {p}" for n, s in checks.items() if (p := setting_problem(n, s))]
    if not checks or bad:
        return bad
    settings = of_hosts([host], project.load_playbook("backup"))[0]
    conn = connect(host.target)
    try:
        if not any(r.get("state") in server.GOOD for r in server.read_ledger(conn, settings.app_dir).releases):
            return []  # no release was ever live (the first deploy, or its rerun after it failed): no data to protect
        found = []
        if "volume_present" in checks and (reason := _volumes_missing(conn, checks["volume_present"]["volume"])):
            found.append(f"volume_present: {reason}")
        if "backup_fresh" in checks and (reason := _backup_stale(conn, settings, checks["backup_fresh"]["hours"])):
            found.append(f"backup_fresh: {reason}")
        return found
    finally:
        conn.close()


def _volumes_missing(conn: Connection, names: str | list[str]) -> str | None:
    volumes = [names] if isinstance(names, str) else list(names)
    script = "; ".join(sh("docker", "volume", "inspect", name, Raw(">/dev/null 2>&1 ||"), "echo", "@@missing", name)
                       for name in volumes)
    result = conn.run(script)
    missing = [line.split(" ", 1)[1] for line in result.text.splitlines() if line.startswith("@@missing ")]
    if not missing:
        return None
    return (f"the Docker volume {', '.join(missing)} is missing on the server (`docker volume ls`): its data is "
            "gone or the volume was renamed; restore it before deploying (see `moorage restore`)")


def _backup_stale(conn: Connection, settings: DataSettings, hours: float) -> str | None:
    """None when each database has a verified backup newer than ``hours`` that reads back in full now."""
    from moorage.recipes.restore import list_backups, verify  # restore's helpers, only when this check is on

    if not settings.labels:
        return "backup_databases is empty: no database is backed up, so no backup can be fresh"
    backups = list_backups(conn, settings)
    make = f"make one with `{command('backup', '--host', settings.host.name)}`"
    stale = catalog.staleness(backups, hours, labels=settings.labels)
    if stale:
        return f"{stale}; {make}"
    newest = [b for label in settings.labels if (b := catalog.newest_verified(backups, label)) is not None]
    bad = {name: why for name, why in verify(conn, settings, newest).items() if why != "ok"}
    if bad:
        return "the newest backup does not read back: " + "; ".join(f"{n}: {w}" for n, w in bad.items()) + f"; {make}"
    return None


def asked(host: Host, variables: Mapping[str, Any], project: Project) -> list[str]:
    """``failures``, a server that cannot be asked counting as one failure (the preflight can't pass)."""
    try:
        return failures(host, variables, project)
    except HostError as exc:
        return [f"server checks: cannot ask {host.name}: {exc.detail}"]
