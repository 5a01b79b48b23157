"""How each service of a release is switched: start-first (the new containers start beside the
old ones, pass their readiness, then the old ones are drained) or stop-first (compose's own
recreate: the old container stops, then the new one starts).

A service can run twice only when nothing about it is unique on the host: no fixed published
host port (the second container could not bind it) and no ``container_name`` (a name is taken
once).  Start-first is chosen for the services the proxy finds by itself (``traefik.enable``
label) — the proxy then routes to whichever containers run — and for those a host nginx reaches
through an upstream moorage rewrites (``upstreams``: their containers publish the port on an
ephemeral host port, ``127.0.0.1::8000``); every other service (a worker, a
database) keeps stop-first, as two of them at once may do the work twice.  ``switch_strategy``
overrides per service; ``migrations_break_old_code`` makes every service stop-first.

The same decision reads the project's compose files on the controller (the plan) and compose's
merged ``config --format json`` on the server (the switch itself).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

START, STOP = "start-first", "stop-first"
STRATEGIES = (START, STOP)
BREAKING = "migrations_break_old_code is true: the old code can't run beside the new schema"
IGNORED = " (switch_strategy start-first ignored)"


def _labels(service: dict[str, Any]) -> dict[str, str]:
    """Labels as a mapping, from the list (``k=v``) or mapping form."""
    labels = service.get("labels") or {}
    if isinstance(labels, list):
        return dict(([*str(item).split("=", 1), ""])[:2] for item in labels)
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def fixed_ports(service: dict[str, Any]) -> list[str]:
    """The host ports a service publishes at a fixed number (``"80:8000"``, ``"127.0.0.1:80:8000"``,
    ``{published: 80}``); a container port without a host port (``"8000"``, ``"127.0.0.1::8000"``,
    ``{target: 8000, host_ip: 127.0.0.1}``) gets an ephemeral host port, which two containers can share."""
    found = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            host = str(port.get("published") or "")
        else:
            host = str(port).rsplit(":", 1)[0].split(":")[-1] if ":" in str(port) else ""
        if host:
            found.append(host)
    return found


def container_ports(service: dict[str, Any]) -> list[str]:
    """The container ports a service publishes on the host (``"127.0.0.1::8000"`` -> 8000)."""
    found = []
    for port in service.get("ports") or []:
        target = port.get("target") if isinstance(port, dict) else str(port).rsplit(":", 1)[-1].split("/")[0]
        found.append(str(target))
    return found


def named_volumes(service: dict[str, Any]) -> list[str]:
    """The named volumes a service mounts (``"dbdata:/var/lib/postgresql/data"``, ``{type: volume,
    source: dbdata}``); an anonymous volume or a bind mount is not one (compose's volume syntax:
    a source that is a path — ``/``, ``.``, ``~`` — is a bind mount)."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type", "volume") == "volume" and volume.get("source"):
                found.append(str(volume["source"]))
        elif ":" in str(volume) and not str(volume).startswith(("/", ".", "~", "$")):
            found.append(str(volume).split(":", 1)[0])
    return found


def decide(services: dict[str, dict[str, Any]], overrides: dict[str, str],
           breaking: bool, upstreams: Collection[str] = ()) -> dict[str, tuple[str, str]]:
    """Service -> (strategy, why).  An override can't make start-first what can't run twice.
    ``upstreams``: the services a host nginx reaches through an upstream moorage rewrites."""
    decided = {}
    for name, service in sorted(services.items()):
        ports, volumes = fixed_ports(service), named_volumes(service)
        routed = _labels(service).get("traefik.enable", "").lower() == "true" or name in upstreams
        ignored = IGNORED if overrides.get(name) == START else ""
        if breaking:
            decided[name] = (STOP, BREAKING)
        elif service.get("container_name"):
            decided[name] = (STOP, f"container_name {service['container_name']}: a name is taken once{ignored}")
        elif ports:
            decided[name] = (STOP, f"publishes host port {', '.join(ports)}: two containers can't bind it{ignored}")
        elif ignored and volumes and not routed:
            # a web service the proxy routes shares its volume (uploads) by design; a database must not
            decided[name] = (STOP, f"mounts volume {', '.join(volumes)}: two of its containers would write it "
                                   f"at once (a database's files would be corrupted){ignored}")
        elif name in overrides:
            decided[name] = (overrides[name], "switch_strategy sets it")
        elif _labels(service).get("traefik.enable", "").lower() == "true":
            decided[name] = (START, "routed by the proxy: traefik.enable, no fixed host port")
        elif name in upstreams:
            decided[name] = (START, "routed by host nginx (upstream), no fixed host port")
        else:
            decided[name] = (STOP, "not routed by the proxy: it may not run twice")
    return decided


def local_services(root: Path, files: list[str]) -> dict[str, dict[str, Any]]:
    """The services of the compose ``files`` under ``root`` as the decision reads them, merged in
    order (ports added, labels and container_name overridden); unreadable files count as empty
    (``check`` and the compose ``checked`` task name them)."""
    merged: dict[str, dict[str, Any]] = {}
    for name in files:
        try:
            data = yaml.safe_load((root / name).read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for service, spec in ((data.get("services") or {}) if isinstance(data, dict) else {}).items():
            if not isinstance(spec, dict):
                continue
            into = merged.setdefault(str(service), {"ports": [], "labels": {}, "volumes": []})
            into["ports"] += list(spec.get("ports") or [])
            into["volumes"] += list(spec.get("volumes") or [])
            into["labels"].update(_labels(spec))
            if spec.get("container_name"):
                into["container_name"] = spec["container_name"]
    return merged


def describe(decided: dict[str, tuple[str, str]]) -> str:
    """``api start-first (why); worker stop-first (why)``."""
    return "; ".join(f"{name} {strategy} ({why})" for name, (strategy, why) in decided.items())
