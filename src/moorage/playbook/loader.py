"""Load a playbook and its roles, reporting every problem of every file at once."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moorage import builtin
from moorage.errors import InputError, Location
from moorage.playbook import validated
from moorage.playbook.declarations import declaration_problems
from moorage.playbook.model import Play, Playbook, Role
from moorage.playbook.tasks import (
    build_tasks,
    condition_problems,
    notify_problems,
    sources_problems,
    tasks_problems,
)
from moorage.schema import Problem, error_problems, problems, raise_problems, suggest
from moorage.yamlsrc import LineDict, display_path, format_path, load_yaml, location_of

ROLE_FILES = (("tasks.yml", "role-tasks"), ("handlers.yml", "role-tasks"), ("defaults.yml", "role-defaults"),
              ("variables.yml", "role-variables"))


def default_roles_paths(playbook_dir: Path) -> list[Path]:
    """Where roles are looked up by default: ``PLAYBOOK_DIR/roles``, ``PLAYBOOK_DIR/../roles``, then
    the built-in roles (``moorage.project.Project.roles_paths`` puts the project's roles first)."""
    return list(dict.fromkeys([playbook_dir / "roles", playbook_dir.parent / "roles", builtin.ROLES]))


def find_roles(roles_paths: Sequence[Path]) -> dict[str, Path]:
    """Every role directory in ``roles_paths`` by name (the first path holding a name wins)."""
    found: dict[str, Path] = {}
    for folder in roles_paths:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if entry.is_dir() and not entry.name.startswith("."):
                    found.setdefault(entry.name, entry)
    return found


def load_role(path: Path, source_dirs: Sequence[Path] = ()) -> Role:
    """Load ``roles/NAME/``; ``source_dirs`` are extra folders holding templates/ and files/."""
    role, found = read_role(path, source_dirs)
    raise_problems(found)
    assert role is not None
    return role


def read_role(path: Path, source_dirs: Sequence[Path] = ()) -> tuple[Role | None, list[Problem]]:
    """The role at ``path`` and every problem in its files (``None`` when there are any)."""
    found: list[Problem] = []
    if not (path / "tasks.yml").is_file():
        expected = display_path(path / "tasks.yml")
        found.append(Problem(Location(display_path(path)), "",
                             f"role '{path.name}' has no tasks.yml (expected {expected})"))
    contents: dict[str, Any] = {}
    for name, schema in ROLE_FILES:
        if (path / name).is_file():
            contents[name] = _read_role_file(path / name, schema, [path, *source_dirs], found)
    if found:
        return None, found
    defaults = contents.get("defaults.yml") or LineDict()
    role = Role(path.name, path.resolve(), defaults, contents.get("variables.yml") or LineDict())
    role.tasks = build_tasks(contents.get("tasks.yml"), role)
    role.handlers = build_tasks(contents.get("handlers.yml"), role)
    return role, []


def _read_role_file(file: Path, schema: str, source_dirs: list[Path], found: list[Problem]) -> Any:
    shown = display_path(file)
    try:
        data = load_yaml(file)
    except InputError as exc:
        found += error_problems(exc)
        return None
    if data is None:
        return None
    checked = validated.key(schema, file.read_bytes())
    if validated.passed(checked):  # the same bytes passed the content checks before
        found += sources_problems(data, [], shown, source_dirs) if schema == "role-tasks" else []
        return data
    new = problems(data, schema, shown, templates=schema != "role-tasks")
    if not new and schema == "role-tasks":
        new = tasks_problems(data, [], shown, source_dirs)
    if not new and schema == "role-variables":
        new = declaration_problems(data, shown)
    if not new:
        validated.remember(checked)
    found += new
    return data


def load_playbook(path: str | os.PathLike[str], roles_paths: list[Path] | None = None) -> Playbook:
    """Load and validate the playbook at ``path`` with its roles.

    Roles are looked up in ``roles_paths`` (default: ``default_roles_paths``).  Every
    problem (schema, operations, arguments, roles, handlers, templates) is raised as
    one ``InputError`` whose lines each name ``file:line``.
    """
    path = Path(path)
    file = display_path(path)
    data = load_yaml(path)
    if data is None:
        raise InputError(f"{file} is empty; a playbook is a list of plays")
    playbook_dir = path.parent.resolve()
    paths = list(roles_paths) if roles_paths is not None else default_roles_paths(playbook_dir)
    found = problems(data, "playbook", file, templates=False)
    roles: dict[str, Role | None] = {}
    for index, play in enumerate(data if isinstance(data, list) else []):
        if isinstance(play, Mapping):
            found += _play_problems(play, index, file, playbook_dir, paths, roles)
    raise_problems(found)
    plays = [_build_play(play, data.location(i), playbook_dir, roles) for i, play in enumerate(data)]
    for play in plays:
        found += notify_problems([*play.all_tasks(), *play.all_handlers()], play.all_handlers(),
                                 f"play '{play.name}'")
    raise_problems(found)
    return Playbook(path, plays)


def _play_problems(play: Mapping[str, Any], index: int, file: str, playbook_dir: Path,
                   roles_paths: list[Path], roles: dict[str, Role | None]) -> list[Problem]:
    found: list[Problem] = []
    for key in ("tasks", "handlers"):
        found += tasks_problems(play.get(key), [index, key], file, [playbook_dir])
    entries = play.get("roles")
    for pos, entry in enumerate(entries if isinstance(entries, list) else []):
        name = _role_name(entry)
        if isinstance(entry, Mapping):
            found += condition_problems(entry, [index, "roles", pos], file)
        if isinstance(name, str) and name not in roles:
            where = (location_of(entries, [pos], file), format_path([index, "roles", pos]))
            found += _load_named_role(name, roles_paths, playbook_dir, roles, where)
    return found


def _role_name(entry: Any) -> Any:
    """The role a roles-list entry names: ``NAME`` or ``{role: NAME, when: EXPR}``."""
    return entry.get("role") if isinstance(entry, Mapping) else entry


def _load_named_role(name: str, roles_paths: list[Path], playbook_dir: Path,
                     roles: dict[str, Role | None], where: tuple[Location, str]) -> list[Problem]:
    known = find_roles(roles_paths)
    roles[name] = None
    if name not in known:
        looked = ", ".join(display_path(p) for p in roles_paths)
        return [Problem(*where, f"unknown role '{name}'{suggest(name, known)}; roles are looked up in: "
                                   f"{looked}")]
    role, found = read_role(known[name], [playbook_dir])
    roles[name] = role
    return found


def _build_play(play: Mapping[str, Any], where: Location, playbook_dir: Path,
                roles: Mapping[str, Role | None]) -> Play:
    hosts = play["hosts"]
    hosts = [h.strip() for h in hosts.split(",") if h.strip()] if isinstance(hosts, str) else list(hosts)
    entries = play.get("roles") or []
    play_roles = [roles[_role_name(entry)] for entry in entries]
    role_when = {entry["role"]: (_condition(entry["when"]), location_of(entry, ["when"]))
                 for entry in entries if isinstance(entry, Mapping)}
    return Play(
        name=play.get("name") or f"play on {', '.join(hosts)}", hosts=hosts,
        serial=play.get("serial"), max_fail_percentage=play.get("max_fail_percentage"),
        become=play.get("become"), vars=play.get("vars") or LineDict(),
        roles=[r for r in play_roles if r is not None],
        tasks=build_tasks(play.get("tasks")), handlers=build_tasks(play.get("handlers")),
        location=where, playbook_dir=playbook_dir, role_when=role_when)


def _condition(when: str | bool) -> str:
    return str(when).lower() if isinstance(when, bool) else when
