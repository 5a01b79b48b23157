"""Do the compose service names the inventory uses exist in the project's compose file?

``migrate_service``, each ``backup_databases[].service`` and ``smoke_tests[].service``,
``restore_stop_services``, the keys of ``compose_scale``, the services of each of ``parts`` and of
``host_nginx_locations`` name
services of the compose files the deploy copies (``compose_source``/``compose_files``, read here on
the controller).  A wrong name fails late on the server: a migration or a smoke test after the
release switch, a restore with the writer still running, an ``up --scale`` refused, a ``--part``
that stops nothing.  Only the ``services:`` keys are read: plain YAML keys, which compose never
interpolates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from moorage.errors import InputError, Location
from moorage.inventory import Host
from moorage.operations.base import PlanError
from moorage.operations.compose_labels import bind_sources, staged
from moorage.operations.compose_strategy import IGNORED, START, container_ports, decide, fixed_ports, local_services
from moorage.playbook import Play
from moorage.schema import Problem, suggest
from moorage.templating import render_value
from moorage.yamlsrc import display_path, merge_sourced

USES = ("migrate_service", "backup_databases", "restore_stop_services", "compose_scale", "compose_one_shot",
        "smoke_tests", "parts", "switch_strategy", "host_nginx_locations")
PROFILES = "compose_profiles"  # names a profile some service of the files declares (``profiles: [...]``)


def service_problems(host: Host, plays: list[Play], root: Path) -> tuple[list[Problem], int]:
    """``(problems, number of names checked)`` for ``host``: each name its variables use that the
    compose file lacks (with did-you-mean), at the ``file:line`` where the variable was set; a
    missing or unreadable compose file when a name needs it.  Values that can't be rendered yet
    are left to the run."""
    defaults = merge_sourced(*(play.defaults() for play in plays))
    variables = host.variables(defaults)
    origin = host.unresolved(defaults)[1]
    used = {name: names for name in (*USES, PROFILES) if (names := _names(name, rendered(name, variables)))}
    if not used:
        return [], 0

    def where(name: str) -> Location:
        return origin.get(name, (0, None))[1] or host.location
    paths = compose_paths(variables, root)
    if not paths:
        return [], 0
    services: set[str] = set()
    profiles: set[str] = set()
    for path in paths:  # compose merges the files: a service defined in any of them exists
        found_here = _services(path)
        profiles |= _profiles(path)
        if isinstance(found_here, str):
            first = next(iter(used))
            setting = next((n for n in ("compose_files", "compose_file")
                            if not str(where(n).file).startswith("builtin:")), "compose_file")
            return [Problem(where(setting), "", f"host '{host.name}': {found_here} (checked because {first} "
                            "names one of its services)")], 0
        services |= found_here
    shown = display_path(paths[0]) if len(paths) == 1 else f"{display_path(paths[0])} (and {len(paths) - 1} more)"
    part_of = _part_of(rendered("parts", variables))
    found = [Problem(where(name), "", f"host '{host.name}': variable '{name}'"
                     f"{f' (part {part_of[service]!r})' if name == 'parts' else ''} names the compose service "
                     f"'{service}', which {shown} does not define{suggest(service, services)}; "
                     f"its services: {', '.join(sorted(services)) or 'none'}")
             for name, names in used.items() if name != PROFILES for service in names if service not in services]
    found += [Problem(where(PROFILES), "", f"host '{host.name}': variable '{PROFILES}' names the profile "
                      f"'{profile}', which no service of {shown} declares{suggest(profile, profiles)} (compose "
                      f"would start none and the deploy would remove the profiled containers); its profiles: "
                      f"{', '.join(sorted(profiles)) or 'none'}")
              for profile in used.get(PROFILES, []) if profile not in profiles]
    found += [Problem(where("switch_strategy"), "", f"host '{host.name}': {problem}")
              for problem in ignored_overrides(variables, root)]
    return found, sum(len(names) for names in used.values())


def ignored_overrides(variables: Mapping[str, Any], root: Path) -> list[str]:
    """Each ``switch_strategy`` start-first the switch would not honour (a fixed host port, a
    ``container_name``, a named volume of a service the proxy doesn't route), saying why: two such
    containers can't run side by side, or must not (two databases on one volume corrupt it)."""
    overrides, files = rendered("switch_strategy", variables), rendered("compose_files", variables)
    if not isinstance(overrides, Mapping) or not isinstance(files, list) or not compose_paths(variables, root):
        return []
    services = local_services(compose_base(rendered("compose_source", variables), root), files)
    starts = {str(s): START for s, v in overrides.items() if v == START and str(s) in services}
    locations = rendered("host_nginx_locations", variables) if rendered("proxy", variables) == "host_nginx" else []
    upstreams = {str(loc["service"]) for loc in locations or [] if isinstance(loc, Mapping) and loc.get("service")}
    decided = decide({s: services[s] for s in starts}, starts, False, upstreams)
    return [f"switch_strategy makes {name} start-first, which it can't be: {why.removesuffix(IGNORED)}; "
            f"remove the entry ({name} switches stop-first)"
            for name, (strategy, why) in decided.items() if strategy != START]


def rendered(name: str, variables: Mapping[str, Any]) -> Any:
    if name not in variables:
        return None
    try:
        return render_value(variables[name], variables, f"variable '{name}'")
    except InputError:
        return None


def _names(name: str, value: Any) -> list[str]:
    """The service names in one variable's rendered value (wrong shapes are the declarations')."""
    if name == "migrate_service":
        return [value] if isinstance(value, str) and value else []
    if name == "parts" and isinstance(value, Mapping):
        return [str(s) for services in value.values() if isinstance(services, list) for s in services if s]
    if name in ("compose_scale", "switch_strategy") and isinstance(value, Mapping):
        return [str(service) for service in value]
    if name in ("backup_databases", "smoke_tests", "host_nginx_locations") and isinstance(value, list):
        return [str(item["service"]) for item in value if isinstance(item, Mapping) and item.get("service")]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _part_of(parts: Any) -> dict[str, str]:
    """``{service: the (first) part naming it}`` of the rendered ``parts``."""
    if not isinstance(parts, Mapping):
        return {}
    owners: dict[str, str] = {}
    for part, members in parts.items():
        for service in members if isinstance(members, list) else []:
            owners.setdefault(str(service), str(part))
    return owners


def compose_paths(variables: Mapping[str, Any], root: Path) -> list[Path]:
    """``compose_source``/each of ``compose_files`` on the controller (a relative source is relative
    to the project root, as the deploy's staging reads it); [] when they can't be rendered here."""
    source, files = rendered("compose_source", variables), rendered("compose_files", variables)
    if files is None:  # an inventory of the single-file days, or a playbook without compose_app's defaults
        file = rendered("compose_file", variables)
        files = [file] if isinstance(file, str) and file else []
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        return []
    return [compose_base(source, root) / file for file in files]


def compose_base(source: Any, root: Path) -> Path:
    """``compose_source`` (rendered) on the controller: a relative one is relative to the project root."""
    base = Path(str(source)) if isinstance(source, str) and source else root
    return base if base.is_absolute() else root / base


def _profiles(path: Path) -> set[str]:
    """The profiles the services of the compose file at ``path`` declare (``profiles: [...]``);
    none when it can't be read (``_services`` says why)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    services = data.get("services") if isinstance(data, dict) else None
    return {str(p) for svc in (services.values() if isinstance(services, dict) else [])
            if isinstance(svc, dict) and isinstance(svc.get("profiles"), list) for p in svc["profiles"]}


def _services(path: Path) -> set[str] | str:
    """The service names of the compose file at ``path``, or the sentence saying why not."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"the compose file {display_path(path)} does not exist"
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f":{mark.line + 1}" if mark is not None else ""
        return f"the compose file {display_path(path)}{at} is not valid YAML: {exc.problem or exc.context}"
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"cannot read the compose file {display_path(path)}: {exc}"
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return f"the compose file {display_path(path)} has no services: mapping"
    return {str(name) for name in services}


def refuse_unknown(host: Host, plays: list[Play], root: Path, names: list[str], flag: str) -> None:
    """Raise ``InputError`` (exit 2) naming each of ``names`` (given with ``flag``) that none of the
    project's compose files for ``host`` defines, with did-you-mean and the services they have;
    also when a compose file can't be read.  Nothing is checked when the files' paths can't be
    rendered on the controller (the server's compose then refuses the name)."""
    variables = host.variables(merge_sourced(*(play.defaults() for play in plays)))
    paths = compose_paths(variables, root)
    if not paths:
        return
    services: set[str] = set()
    for path in paths:  # compose merges the files: a service defined in any of them exists
        found = _services(path)
        if isinstance(found, str):
            raise InputError(f"host '{host.name}': {found} ({flag} names its services)", host.location)
        services |= found
    unknown = [name for name in names if name not in services]
    if unknown:
        raise InputError(f"host '{host.name}': {flag} names " + ", ".join(
            f"'{name}'{suggest(name, services)}" for name in unknown)
            + f", not a service of {', '.join(display_path(p) for p in paths)}; its services: "
            + (", ".join(sorted(services)) or "none"))


def unstaged_binds(host: Host, plays: list[Play], root: Path) -> list[str]:
    """Warnings for the relative bind mounts of the compose files that the release does not hold
    (not under ``compose_files`` + ``release_files``): on the server compose would mount an empty
    folder made in its place.  Nothing when the values can't be rendered here."""
    variables = host.variables(merge_sourced(*(play.defaults() for play in plays)))
    files, extra = rendered("compose_files", variables), rendered("release_files", variables)
    if not isinstance(files, list) or not isinstance(extra, list) or not compose_paths(variables, root) \
            or any(Path(f).is_absolute() or ".." in Path(f).parts for f in files):
        return []  # not renderable here, or refused by its own check
    try:
        found = bind_sources(compose_base(rendered("compose_source", variables), root), files)
    except PlanError:
        return []  # an unreadable file: the deploy's own check says it
    return [f"host '{host.name}': service {service} bind-mounts ./{rel}, which the release does not hold: add it "
            "to release_files (on the server compose would mount an empty folder in its place)"
            for service, sources in found.items() for rel in sources if not staged(rel, [*files, *extra])]


def upstream_warnings(host: Host, plays: list[Play], root: Path) -> list[str]:
    """Warnings for the ``host_nginx_locations`` naming a compose service that publishes the port at
    a fixed host port (it can't run twice: stop-first) or not at all (nginx would find no server).
    Nothing when the values can't be rendered here or a service is unknown (``service_problems``)."""
    variables = host.variables(merge_sourced(*(play.defaults() for play in plays)))
    locations, files = rendered("host_nginx_locations", variables), rendered("compose_files", variables)
    if not isinstance(locations, list) or not isinstance(files, list) or not compose_paths(variables, root):
        return []
    services = local_services(compose_base(rendered("compose_source", variables), root), files)
    warnings = []
    for loc in locations:
        service = services.get(str(loc.get("service"))) if isinstance(loc, Mapping) else None
        if service is None:
            continue
        name, port = loc["service"], str(loc.get("port"))
        if port not in container_ports(service):
            warnings.append(f"host '{host.name}': host_nginx_locations sends {loc.get('path')} to service {name} "
                            f"port {port}, which it does not publish: nginx would find no server; add "
                            f'ports: ["127.0.0.1::{port}"] to {name}')
        elif fixed_ports(service):
            warnings.append(f"host '{host.name}': host_nginx_locations sends {loc.get('path')} to service {name}, "
                            f"which publishes the fixed host port {', '.join(fixed_ports(service))}: two of its "
                            "containers cannot run side by side, so it switches stop-first; publish "
                            f'"127.0.0.1::{port}" (an ephemeral host port) for a zero-downtime switch')
    return warnings
