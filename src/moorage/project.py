"""A moorage project: the user's directory, and where its playbooks and roles come from.

A project is a directory holding ``inventory/`` (required: ``hosts.yml`` and optionally
``group_vars/``, ``host_vars/``, ``known_hosts``) and optionally ``playbooks/``, ``roles/``,
``templates/``, compose files and media.  It is found like git finds its repository: from the
current directory upward, the first directory with ``inventory/hosts.yml``; or given with
``--project DIR``; or implied by ``--inventory PATH`` (the project is the inventory's parent).

The engine ships built-in roles and the standard playbooks (``moorage/builtin/``, read through
``importlib.resources``).  Lookups, first match wins:

- a playbook name (``deploy``): ``PROJECT/playbooks/deploy.yml``, then the built-in one;
- a role name: ``PLAYBOOK_DIR/roles``, ``PROJECT/roles``, then the built-in roles;
- a template or file of a role: the role's own ``templates/``/``files/``, then the playbook's
  directory, then ``PROJECT/templates``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from moorage import builtin
from moorage.errors import InputError
from moorage.playbook import Playbook, find_roles, load_playbook

BUILTIN_ROLES = builtin.ROLES
BUILTIN_PLAYBOOKS = builtin.PLAYBOOKS
HOSTS_FILES = ("hosts.yml", "hosts.yaml")
PLAYBOOK_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Project:
    """A project directory (``root``) and its inventory (a directory, or a hosts.yml file in it)."""

    root: Path
    inventory: Path

    @property
    def playbooks_dir(self) -> Path:
        return self.root / "playbooks"

    @property
    def roles_dir(self) -> Path:
        return self.root / "roles"

    def playbook(self, name: str) -> Path:
        """The playbook ``name`` (``deploy`` or ``deploy.yml``): the project's, else the built-in one.

        Raises ``InputError`` when neither exists, listing what does.
        """
        stem = name[: -len(Path(name).suffix)] if Path(name).suffix in PLAYBOOK_SUFFIXES else name
        for folder in (self.playbooks_dir, BUILTIN_PLAYBOOKS):
            for suffix in PLAYBOOK_SUFFIXES:
                if (folder / f"{stem}{suffix}").is_file():
                    return folder / f"{stem}{suffix}"
        known = ", ".join(sorted(self.playbooks())) or "none"
        raise InputError(f"no playbook named '{stem}' in {self.playbooks_dir} or the built-in playbooks; "
                         f"known: {known}")

    def playbooks(self) -> dict[str, Path]:
        """Every playbook by name (project files replace built-in ones of the same name)."""
        found: dict[str, Path] = {}
        for folder in (self.playbooks_dir, BUILTIN_PLAYBOOKS):
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.suffix in PLAYBOOK_SUFFIXES and path.is_file():
                        found.setdefault(path.stem, path)
        return found

    def roles_paths(self, playbook: Path | None = None) -> list[Path]:
        """Where roles are looked up, in order, for ``playbook`` (a path) or for none."""
        paths = [playbook.resolve().parent / "roles"] if playbook is not None else []
        paths += [self.roles_dir, BUILTIN_ROLES]
        return list(dict.fromkeys(paths))

    def roles(self) -> dict[str, Path]:
        """Every role by name, from the project's ``roles/`` then the built-in roles (the same scan
        the playbook loader resolves role names with)."""
        return find_roles([self.roles_dir, BUILTIN_ROLES])

    def resolve_playbook(self, given: str | Path) -> Path:
        """A playbook file path as given (``playbooks/site.yml``), or a playbook name (``deploy``)."""
        path = Path(given)
        if path.is_file():
            return path
        if len(path.parts) > 1:
            raise InputError(f"no playbook file {given}")
        return self.playbook(str(given))

    def load_playbook(self, given: str | Path) -> Playbook:
        """Load a playbook by name or path, its roles looked up as ``roles_paths`` says."""
        path = self.resolve_playbook(given)
        return load_playbook(path, self.roles_paths(path))

    def revision(self) -> str:
        """The project's git revision (``abc1234``, ``abc1234-dirty``), or ``none`` outside a repository."""
        def git(*args: str) -> str:
            try:
                proc = subprocess.run(["git", "-C", str(self.root), *args], capture_output=True, text=True,
                                      check=False, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                return ""
            return proc.stdout.strip() if proc.returncode == 0 else ""
        head = git("rev-parse", "--short", "HEAD")
        if not head:
            return "none"
        return f"{head}-dirty" if git("status", "--porcelain", "--untracked-files=no", "--", ".") else head


def locate(project: str | Path = "", inventory: str | Path = "", start: Path | None = None) -> Project:
    """The project the user means (see the module docstring for the rules).

    ``project``: ``--project DIR``; ``inventory``: ``--inventory PATH`` (a directory or its
    hosts.yml); ``start``: where the upward search begins (default: the current directory).
    Raises ``InputError`` (exit 2) when no project is found or a given path does not exist.
    """
    if project:
        root = Path(project).expanduser()
        if not root.is_dir():
            raise InputError(f"--project {project}: no such directory")
        inv = Path(inventory) if inventory else root / "inventory"
        return Project(root.resolve(), inv)
    if inventory:
        inv = Path(inventory).expanduser()
        folder = inv.parent if inv.is_file() else inv
        return Project(folder.resolve().parent, inv)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any(os.path.lexists(folder / "inventory" / name) for name in HOSTS_FILES):  # a broken one: say why
            return Project(folder, folder / "inventory")
    raise InputError(f"no moorage project in {here} or any directory above it (a project is a directory "
                     "with inventory/hosts.yml): run `moorage init` there, or pass --project DIR or "
                     "--inventory PATH")
