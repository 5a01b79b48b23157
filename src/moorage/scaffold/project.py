"""``moorage init``'s work: read the compose app, propose, write the inventory (see the package)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from moorage.errors import InputError
from moorage.operations.base import PlanError
from moorage.operations.compose_labels import bind_sources
from moorage.scaffold import DEFAULT_ENVIRONMENTS
from moorage.scaffold.compose import ComposeApp, find_compose_file, read_compose
from moorage.scaffold.envvars import env_entries, preflight
from moorage.scaffold.render import Scaffold, group_vars_yml, hosts_yml
from moorage.scaffold.services import propose_services

# Compose's project name rule (https://docs.docker.com/compose/how-tos/project-name/), which the
# inventory schema's `project` pattern repeats.
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ALL = "all"  # `--host all` selects every host: no environment (or host) may be named so
HOSTS = Path("inventory/hosts.yml")
GROUP_VARS = Path("inventory/group_vars/all.yml")
# Files whose presence means a project is already here (locate() reads either hosts file).
_EXISTING = (HOSTS, Path("inventory/hosts.yaml"), GROUP_VARS, Path("inventory/group_vars/all.yaml"))


def init_project(directory: str | Path = ".", compose_file: str = "", environments: Sequence[str] = (),
                 name: str = "") -> tuple[Scaffold, list[Path]]:
    """Write a project for the compose app in ``directory`` (its ``compose_file``, else the one
    compose would find there); returns what was proposed and the files written.

    Raises ``InputError`` (exit 2) when ``directory`` is missing, a file would be overwritten,
    the compose file is missing or invalid, or a name doesn't follow its rule.
    """
    root = Path(directory).resolve()
    if not root.is_dir():
        raise InputError(f"{directory}: no such directory")
    _refuse_existing(root)
    envs = _environments(environments)
    path = Path(compose_file).resolve() if compose_file else find_compose_file(root)
    app = read_compose(path)
    project = project_name(name, app, root)
    scaffold = propose(app, project, envs, root)
    written = [_write_new(root / HOSTS, hosts_yml(scaffold)), _write_new(root / GROUP_VARS, group_vars_yml(scaffold))]
    return scaffold, written


def propose(app: ComposeApp, project: str, environments: Sequence[str], root: Path) -> Scaffold:
    """Every proposal for ``app`` as the project ``project`` rooted at ``root``."""
    compose_dir = _from_root(app.path.parent, root)
    plan = propose_services(app, project, app.path.name if compose_dir == "." else f"{compose_dir}/{app.path.name}")
    entries = env_entries(app, plan.image_vars)
    return Scaffold(project=project, compose_dir=compose_dir, compose_file=app.path.name,
                    environments=list(environments), services=plan, app_env=entries,
                    preflight=preflight(entries, plan.db_ports), release_files=_bind_mounted(app.path))


def _bind_mounted(path: Path) -> list[str]:
    """The files and folders beside the compose file its services bind-mount (those that exist:
    a missing one is a folder compose makes at start, not part of the app)."""
    try:
        found = bind_sources(path.parent, [path.name])
    except PlanError:
        return []
    return sorted({rel + ("/" if (path.parent / rel).is_dir() else "") for sources in found.values()
                   for rel in sources if (path.parent / rel).exists()})


def _from_root(folder: Path, root: Path) -> str:
    """``folder`` relative to the project root (the project stays movable with its app), unless
    they share nothing but the filesystem root: then absolute."""
    if Path(os.path.commonpath([folder, root])) == Path(root.anchor):
        return folder.as_posix()
    return Path(os.path.relpath(folder, root)).as_posix()


def project_name(given: str, app: ComposeApp, root: Path) -> str:
    """``--name``, else the compose file's ``name:``, else the directory's name; raises
    ``InputError`` when it breaks compose's project name rule."""
    name, origin = ((given, "--name") if given else (app.name, f"{app.path.name}'s name:") if app.name
                    else (root.name, f"the directory name of {root}"))
    if not PROJECT_NAME.match(name):
        raise InputError(f"project name {name!r} ({origin}) is not a compose project name: lower-case "
                         "letters, digits, '-' and '_', starting with a letter or digit; choose one with --name")
    return name


def _environments(given: Sequence[str]) -> list[str]:
    names = list(given) or list(DEFAULT_ENVIRONMENTS)
    for env in names:
        if not ENVIRONMENT_NAME.match(env):
            raise InputError(f"--env {env!r}: an environment name is letters, digits, '_', '.' and '-', "
                             "starting with a letter or digit")
        if env == ALL:
            raise InputError("--env all: 'all' is not an environment name (--host all means every host); "
                             "name the environment, e.g. --env production")
    duplicates = sorted({env for env in names if names.count(env) > 1})
    if duplicates:
        raise InputError(f"--env {', '.join(duplicates)} given more than once")
    return names


def _refuse_existing(root: Path) -> None:
    for relative in _EXISTING:
        if (root / relative).exists():
            raise InputError(f"{root / relative} already exists: moorage init never overwrites a file "
                             "(move it away, or init another directory)")


def _write_new(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:   # "x": fails rather than overwrite
        handle.write(text)
    return path
