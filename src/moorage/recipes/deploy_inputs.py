"""Values a deploy would refuse only at run time, found on the controller by ``check`` (and so by
a deploy's input check) at the ``file:line`` where the variable was set:

- ``app_images`` listing one ref with two different sources (the image task refuses it);
- a ``release_files`` entry missing from ``compose_source`` (the release sync fails on it);
- ``compose_scale`` above 1 for a service with a fixed host port or a ``container_name`` (compose
  refuses the second container after the switch: a failed deploy and a rollback);
- a smoke test whose host command destroys Docker volumes (``operations.data_loss``): a
  ``docker compose down -v`` there deleted every volume and the deploy said success.  Inside a
  service's container (``service:``) the command can't reach the host's volumes.

Values that can't be rendered here, and compose values compose interpolates (``${PORT}``), are
left to the run.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from moorage.inventory import Host
from moorage.operations.data_loss import destroys_volumes
from moorage.operations.image import image_sources
from moorage.playbook import Play
from moorage.recipes.compose_services import compose_base, compose_paths, rendered
from moorage.schema import Problem
from moorage.yamlsrc import display_path, merge_sourced


def input_problems(host: Host, plays: list[Play], root: Path) -> list[Problem]:
    """Every problem above for ``host`` under ``plays`` (none when they don't use the variables)."""
    defaults = merge_sourced(*(play.defaults() for play in plays))
    variables = host.variables(defaults)
    origin = host.unresolved(defaults)[1]

    def at(name: str, message: str) -> Problem:
        return Problem(origin.get(name, (0, None))[1] or host.location, "", f"host '{host.name}': {message}")
    return ([at("app_images", m) for m in _image_problems(variables)]
            + [at("release_files", m) for m in _release_file_problems(variables, root)]
            + [at("compose_scale", m) for m in _scale_problems(variables, root)]
            + [at("smoke_tests", m) for m in _smoke_problems(variables)])


def _smoke_problems(variables: Mapping[str, Any]) -> list[str]:
    tests = rendered("smoke_tests", variables)
    found = []
    for test in tests if isinstance(tests, list) else []:
        command = test.get("command") if isinstance(test, Mapping) and not test.get("service") else None
        if isinstance(command, list):
            command = shlex.join(str(word) for word in command)
        if isinstance(command, str):
            reason = destroys_volumes(command)
            if reason:
                found.append(f"smoke test {str(test.get('name', ''))!r} would destroy data on the host: {reason}; "
                             "a smoke test checks the release, it must not change it")
    return found


def _image_problems(variables: Mapping[str, Any]) -> list[str]:
    images, default = rendered("app_images", variables), rendered("image_source", variables)
    if not isinstance(images, list) or not all(isinstance(i, str) or (isinstance(i, Mapping) and "ref" in i)
                                               for i in images):
        return []  # absent, or a shape the declarations refuse
    try:
        image_sources(images, default if isinstance(default, str) else "pull")
    except ValueError as exc:
        return [f"app_images: {exc}"]
    return []


def _release_file_problems(variables: Mapping[str, Any], root: Path) -> list[str]:
    entries = rendered("release_files", variables)
    if not isinstance(entries, list) or not compose_paths(variables, root) or rendered("rollback_to", variables):
        return []
    base = compose_base(rendered("compose_source", variables), root)
    return [f"release_files names {entry!r}: {display_path(base / entry.strip('/'))} does not exist (the "
            "release sync would fail on it)" for entry in entries
            if isinstance(entry, str) and entry.strip("/") and not entry.startswith("/")
            and ".." not in Path(entry).parts and not _exists(base / entry.strip("/"))]


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _scale_problems(variables: Mapping[str, Any], root: Path) -> list[str]:
    scale = rendered("compose_scale", variables)
    if not isinstance(scale, Mapping):
        return []
    scaled = {str(name): count for name, count in scale.items() if isinstance(count, int) and count > 1}
    found: dict[str, str] = {}  # one sentence per service, from the first file saying why
    for path in compose_paths(variables, root) if scaled else []:
        services = _services(path)
        for name, count in scaled.items():
            why = _single(services.get(name))
            if why and name not in found:
                found[name] = (f"compose_scale {{{name}: {count}}}: {name} {why} ({display_path(path)}): "
                               f"{count} containers can't both {'bind it' if 'port' in why else 'use it'}")
    return list(found.values())


def _services(path: Path) -> Mapping[str, Any]:
    """The ``services:`` of a compose file ({} when it can't be read: its own check says why)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    services = data.get("services") if isinstance(data, Mapping) else None
    return services if isinstance(services, Mapping) else {}


def _single(service: Any) -> str:
    """Why a service's definition allows one container: ``publishes host port 8080`` or ``has
    container_name web``; "" when nothing does (or compose interpolates it: ``${PORT}``)."""
    if not isinstance(service, Mapping):
        return ""
    name = service.get("container_name")
    if isinstance(name, str) and name and "$" not in name:
        return f"has container_name {name}"
    for port in service.get("ports") or []:
        host = _host_port(port)
        if host:
            return f"publishes host port {host}"
    return ""


def _host_port(port: Any) -> str:
    """The one fixed host port of a ``ports:`` entry (``8080:80``, ``127.0.0.1:8080:80/tcp``,
    ``{published: 8080, target: 80}``); "" for none, a range, or a value compose interpolates."""
    if isinstance(port, Mapping):
        host = str(port.get("published") or "")
    elif isinstance(port, str):
        parts = port.split("/", 1)[0].rsplit(":", 2)
        host = parts[-2] if len(parts) >= 2 else ""
    else:
        return ""
    return host if host.isdigit() else ""
