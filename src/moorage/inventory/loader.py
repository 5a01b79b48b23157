"""Read ``hosts.yml`` and the group_vars/host_vars beside it into an ``Inventory``."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moorage.errors import InputError, Location
from moorage.inventory.model import Environment, Host, Inventory, SwarmNode
from moorage.inventory.templates import syntax_problems
from moorage.inventory.variables import MAGIC, Layer
from moorage.scalars import data as as_data
from moorage.schema import Problem, problems, raise_problems, suggest
from moorage.target import Target
from moorage.yamlsrc import LineDict, display_path, format_path, load_yaml

YAML_SUFFIXES = (".yml", ".yaml")


def load_inventory(path: str | os.PathLike[str] = "inventory", overrides: Mapping[str, Any] | None = None) -> Inventory:
    """Load, validate and assemble the inventory at ``path`` (a directory or its hosts.yml).

    ``overrides`` are the level-5 variables: ``--set k=v`` flags as ``parse_overrides`` reads them
    (a ``LineDict`` that names ``--set`` as their origin), or a recipe's own values (data).  Every problem in hosts.yml,
    group_vars/ and host_vars/ is reported at once, as one ``InputError``.
    """
    inv_dir, hosts_file = _locate(Path(path))
    data = load_yaml(hosts_file)
    file = display_path(hosts_file)
    if data is None:
        raise InputError(f"{file} is empty; it needs at least 'project' and 'environments'")
    found = problems(data, "inventory", file, templates=False)  # connection settings are never rendered
    group_vars, gv_problems = _var_files(inv_dir / "group_vars", [*_env_names(data), "all"], "environment")
    host_vars, hv_problems = _var_files(inv_dir / "host_vars", _host_names(data), "host")
    found += gv_problems + hv_problems
    if not found:
        sources = [data, *group_vars.values(), *host_vars.values()]
        found += _name_problems(data) + _swarm_problems(data) + _magic_problems(sources)
        found += syntax_problems(_var_mappings(sources))
    raise_problems(found)
    inventory = _build(data, inv_dir, hosts_file, group_vars, host_vars, _level5(overrides or {}))
    inventory.files += [Path(getattr(d, "file", "")) for d in [*group_vars.values(), *host_vars.values()]]
    raise_problems(inventory.file_problems(present=False))
    return inventory


def _level5(overrides: Mapping[str, Any]) -> LineDict:
    if isinstance(overrides, LineDict):
        return overrides
    values = LineDict(as_data(dict(overrides)))
    values.file = "--set"
    return values


def _locate(path: Path) -> tuple[Path, Path]:
    if os.path.lexists(path) and not path.is_dir():
        return path.parent, path  # a file, or something load_yaml says is not one
    for name in ("hosts.yml", "hosts.yaml"):
        if os.path.lexists(path / name):
            return path, path / name
    raise InputError(f"no inventory at {display_path(path)} (expected {display_path(path / 'hosts.yml')}); "
                     "pass --inventory PATH to use another one")


def _env_names(data: Any) -> list[str]:
    envs = data.get("environments") if isinstance(data, Mapping) else None
    return [str(name) for name in envs] if isinstance(envs, Mapping) else []


def _host_names(data: Any) -> list[str]:
    envs = data.get("environments") if isinstance(data, Mapping) else None
    names: list[str] = []
    for env in envs.values() if isinstance(envs, Mapping) else []:
        hosts = env.get("hosts") if isinstance(env, Mapping) else None
        names += [str(h) for h in hosts] if isinstance(hosts, Mapping) else []
    return names


def _var_files(folder: Path, known: list[str], what: str) -> tuple[dict[str, LineDict], list[Problem]]:
    """The YAML files of ``folder`` keyed by name, and what is wrong with them."""
    found: dict[str, LineDict] = {}
    issues: list[Problem] = []
    if not folder.is_dir():
        return found, issues
    for file in sorted(folder.iterdir()):
        if file.name.startswith(".") or file.suffix not in YAML_SUFFIXES:
            continue
        where = Location(display_path(file))
        if file.stem not in known:
            hint = suggest(file.stem, known) or f"; known: {', '.join(known)}"
            issues.append(Problem(where, "", f"'{file.name}' names no {what}{hint}"))
            continue
        if file.stem in found:
            issues.append(Problem(where, "", f"a second variables file for '{file.stem}'; merge them"))
            continue
        data = _read_vars(file, issues)
        if data is not None:
            found[file.stem] = data
    return found, issues


def _read_vars(file: Path, issues: list[Problem]) -> LineDict | None:
    try:
        data = load_yaml(file)
    except InputError as exc:
        issues.append(Problem(exc.location or Location(display_path(file)), "", exc.message))
        return None
    if data is None:
        if not _has_comments(file):  # comments only: a file kept on purpose; nothing at all: truncated?
            issues.append(Problem(Location(display_path(file)), "", "the file is empty; write its "
                                  "variables (or {} for none), or delete the file"))
            return None
        data = LineDict()
        data.file = display_path(file)
    new = problems(data, "role-defaults", display_path(file), templates=False)  # the file itself is never rendered
    issues += new
    return None if new else data


def _has_comments(file: Path) -> bool:
    return "#" in file.read_text(encoding="utf-8")


def _name_problems(data: Mapping[str, Any]) -> list[Problem]:
    """A host name must be unique, and may only equal its own environment's name."""
    issues: list[Problem] = []
    seen: dict[str, str] = {}
    for env_name, env in data["environments"].items():
        for host in env["hosts"]:
            loc = env["hosts"].location(host)
            path = format_path(["environments", env_name, "hosts", host])
            if host in seen:
                issues.append(Problem(loc, path, f"host '{host}' is already in environment '{seen[host]}'; "
                                                 "a host name is unique across the inventory"))
            elif host in data["environments"] and host != env_name:
                issues.append(Problem(loc, path, f"host '{host}' has the name of environment '{host}'; "
                                                 "rename one of them"))
            seen.setdefault(host, env_name)
    return issues


SWARM_KEYS = ("swarm_role", "swarm_labels", "swarm_advertise_addr")


def _swarm_problems(data: Mapping[str, Any]) -> list[Problem]:
    """A swarm environment marks every host manager or worker and has a manager; the swarm keys
    mean nothing elsewhere, so they are refused there (a forgotten ``orchestrator: swarm``)."""
    issues: list[Problem] = []
    for env_name, env in data["environments"].items():
        swarm = env.get("orchestrator") == "swarm"
        hosts = {name: host or LineDict() for name, host in env["hosts"].items()}
        for name, host in hosts.items():
            path = ["environments", env_name, "hosts", name]
            loc = env["hosts"].location(name)
            if swarm and "swarm_role" not in host:
                issues.append(Problem(loc, format_path(path), f"host '{name}' is in swarm environment '{env_name}' "
                                      "and needs swarm_role: manager or swarm_role: worker"))
            for key in SWARM_KEYS if not swarm else ():
                if key in host:
                    issues.append(Problem(host.location(key), format_path([*path, key]), f"{key} needs the "
                                          f"environment to be a swarm: add orchestrator: swarm to '{env_name}'"))
        if swarm and not any((h or {}).get("swarm_role") == "manager" for h in hosts.values()):
            issues.append(Problem(env.location("orchestrator"), format_path(["environments", env_name]),
                                  f"swarm environment '{env_name}' has no manager: mark one host swarm_role: manager"))
    return issues


def _magic_problems(sources: list[Any]) -> list[Problem]:
    """Variables may not redefine the magic variables moorage sets."""
    issues = []
    for mapping in _var_mappings(sources):
        for name in MAGIC:
            if name in mapping:
                issues.append(Problem(mapping.location(name), name,
                                      f"'{name}' is set by moorage and can't be a variable; rename it"))
    return issues


def _var_mappings(sources: list[Any]) -> list[LineDict]:
    inv, *files = sources
    found = [inv.get("vars") or LineDict(), *files]
    for env in inv["environments"].values():
        found.append(env.get("vars") or LineDict())
        found += [(h or {}).get("vars") or LineDict() for h in env["hosts"].values()]
    return found


def _build(data: LineDict, inv_dir: Path, hosts_file: Path, group_vars: dict[str, LineDict],
           host_vars: dict[str, LineDict], overrides: LineDict) -> Inventory:
    known_hosts = _absolute(inv_dir / data.get("known_hosts", "known_hosts"))
    inventory = Inventory(project=data["project"], path=inv_dir, environments={}, hosts={},
                          known_hosts=known_hosts, files=[hosts_file],
                          known_hosts_at=data.location("known_hosts") if "known_hosts" in data
                          else Location(display_path(hosts_file)))
    top = [Layer(2, data.get("vars") or {}), Layer(2, group_vars.get("all", {}))]
    for env_name, env in data["environments"].items():
        env_layers = [*top, Layer(3, env.get("vars") or {}), Layer(3, group_vars.get(env_name, {}))]
        inventory.environments[env_name] = Environment(
            env_name, env.get("connection", "ssh"), env.get("production", False),
            list(env["hosts"]), data["environments"].location(env_name), env.get("orchestrator", "compose"))
        for host_name, host in env["hosts"].items():
            host = host or LineDict()
            layers = [*env_layers, Layer(4, host.get("vars") or {}), Layer(4, host_vars.get(host_name, {})),
                      Layer(5, overrides)]
            inventory.hosts[host_name] = Host(
                name=host_name, environment=env_name, production=env.get("production", False),
                target=_target(host_name, host, env, data, inv_dir, known_hosts),
                location=env["hosts"].location(host_name), project=data["project"],
                fingerprint=host.get("fingerprint"), layers=layers, inventory_dir=inv_dir.resolve(),
                key_location=_where_set("ssh_key", host, env, data),
                swarm=_swarm_node(host, env, str(host.get("address", host_name))))
    return inventory


def _swarm_node(host: Mapping[str, Any], env: Mapping[str, Any], address: str) -> SwarmNode | None:
    """The host's part in its environment's swarm (None outside a swarm environment)."""
    if env.get("orchestrator") != "swarm":
        return None
    return SwarmNode(str(host["swarm_role"]), str(host.get("swarm_advertise_addr", address)),
                     {str(k): str(v) for k, v in (host.get("swarm_labels") or {}).items()})


def _target(name: str, host: Mapping[str, Any], env: Mapping[str, Any], data: Mapping[str, Any],
            inv_dir: Path, known_hosts: Path) -> Target:
    """How to reach a host: its own settings, else its environment's, else the inventory's."""
    def pick(key: str, default: Any) -> Any:
        return host.get(key, env.get(key, default))

    connection = env.get("connection", "ssh")
    key = pick("ssh_key", data.get("ssh_key"))
    user = pick("user", getpass.getuser() if connection == "local" else "root")
    return Target(name=name, connection=connection, address=host.get("address", name),
                  port=int(pick("port", 22)),  # a plain int: socket.getaddrinfo refuses subclasses
                  user=user, key_file=_key_path(key, inv_dir),
                  known_hosts=(str(known_hosts),), become=pick("become", False))


def _where_set(key: str, *levels: Any) -> Location | None:
    """Where ``key`` is written: in the first of ``levels`` (host, environment, inventory) that has it."""
    return next((level.location(key) for level in levels if isinstance(level, LineDict) and key in level), None)


def _key_path(key: str | None, inv_dir: Path) -> str | None:
    if not key:
        return None
    return str(_absolute(inv_dir / os.path.expanduser(key)))


def _absolute(path: Path) -> Path:
    """``path`` made absolute without following links (``resolve`` raises on a link loop)."""
    return Path(os.path.abspath(path))
