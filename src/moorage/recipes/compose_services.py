"""Do the compose service names the inventory uses exist in the project's compose file?

``migrate_service``, each ``backup_databases[].service``, ``restore_stop_services`` and the keys of
``compose_scale`` name services of the compose file the deploy copies (``compose_source``/
``compose_file``, read here on the controller).  A wrong name fails late on the server: a migration
after the release switch, a restore with the writer still running, an ``up --scale`` refused.
Only the ``services:`` keys are read: plain YAML keys, which compose never interpolates.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from moorage.errors import InputError, Location
from moorage.inventory import Host
from moorage.playbook import Play
from moorage.schema import Problem, suggest
from moorage.templating import render_value
from moorage.yamlsrc import display_path, merge_sourced

USES = ("migrate_service", "backup_databases", "restore_stop_services", "compose_scale")


def service_problems(host: Host, plays: list[Play], root: Path) -> tuple[list[Problem], int]:
    """``(problems, number of names checked)`` for ``host``: each name its variables use that the
    compose file lacks (with did-you-mean), at the ``file:line`` where the variable was set; a
    missing or unreadable compose file when a name needs it.  Values that can't be rendered yet
    are left to the run."""
    defaults = merge_sourced(*(play.defaults() for play in plays))
    variables = host.variables(defaults)
    origin = host.unresolved(defaults)[1]
    used = {name: names for name in USES if (names := _names(name, _rendered(name, variables)))}
    if not used:
        return [], 0

    def where(name: str) -> Location:
        return origin.get(name, (0, None))[1] or host.location
    path = _compose_path(variables, root)
    if path is None:
        return [], 0
    services = _services(path)
    if isinstance(services, str):
        first = next(iter(used))
        return [Problem(where("compose_file"), "", f"host '{host.name}': {services} (checked because {first} "
                        "names one of its services)")], 0
    found = [Problem(where(name), "", f"host '{host.name}': variable '{name}' names the compose service "
                     f"'{service}', which {display_path(path)} does not define{suggest(service, services)}; "
                     f"its services: {', '.join(sorted(services)) or 'none'}")
             for name, names in used.items() for service in names if service not in services]
    return found, sum(len(names) for names in used.values())


def _rendered(name: str, variables: Mapping[str, Any]) -> Any:
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
    if name == "compose_scale" and isinstance(value, Mapping):
        return [str(service) for service in value]
    if name == "backup_databases" and isinstance(value, list):
        return [str(item["service"]) for item in value if isinstance(item, Mapping) and item.get("service")]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _compose_path(variables: Mapping[str, Any], root: Path) -> Path | None:
    """``compose_source``/``compose_file`` on the controller (a relative source is relative to the
    project root, as the deploy's ``file`` task reads it); None when it can't be rendered here."""
    source, file = _rendered("compose_source", variables), _rendered("compose_file", variables)
    if not isinstance(file, str) or not file:
        return None
    base = Path(str(source)) if isinstance(source, str) and source else root
    return (base if base.is_absolute() else root / base) / file


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
    """Raise ``InputError`` (exit 2) naming each of ``names`` (given with ``flag``) that the
    project's compose file for ``host`` does not define, with did-you-mean and the services it
    has; also when the compose file can't be read.  Nothing is checked when the file's path
    can't be rendered on the controller (the server's compose then refuses the name)."""
    variables = host.variables(merge_sourced(*(play.defaults() for play in plays)))
    path = _compose_path(variables, root)
    if path is None:
        return
    services = _services(path)
    if isinstance(services, str):
        raise InputError(f"host '{host.name}': {services} ({flag} names its services)", host.location)
    unknown = [name for name in names if name not in services]
    if unknown:
        raise InputError(f"host '{host.name}': {flag} names " + ", ".join(
            f"'{name}'{suggest(name, services)}" for name in unknown)
            + f", not a service of {display_path(path)}; its services: {', '.join(sorted(services)) or 'none'}")
