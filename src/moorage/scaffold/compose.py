"""Read a compose app as ``docker compose`` itself sees it (on the controller).

Two read-only calls of the user's own ``docker compose``:

- ``config --format json --no-interpolate --no-env-resolution --no-path-resolution``: the
  normalised model (services, ports, labels, healthchecks) with ``${VAR}`` left as written.
  Not interpolating means a required variable (``${X:?}``) that is unset, or an ``env_file``
  not present on this machine (a ``.env`` kept out of git), doesn't stop ``init``.
- ``config --variables --format json``: every variable the file interpolates, with its
  default and whether it is required — compose's own parser, ``$$`` escapes and all.

The compose file lookup follows compose's (https://docs.docker.com/compose/intro/compose-application-model/#the-compose-file):
``compose.yaml``, ``compose.yml``, then the legacy ``docker-compose.yaml``/``.yml``.  Override
files are NOT merged: a deploy ships the one compose file, so init reads just that one.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from moorage.errors import InputError
from moorage.scaffold import COMPOSE_NAMES

_MODEL_FLAGS = ("config", "--format", "json", "--no-interpolate", "--no-env-resolution", "--no-path-resolution")
_VARIABLES_FLAGS = ("config", "--variables", "--format", "json")
# ``$$`` (a literal dollar), ``${NAME...}`` or ``$NAME``, as compose interpolates them.
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Variable:
    """A variable the compose file interpolates: its default ("" when none) and whether
    the file requires it (``${NAME:?message}``)."""

    name: str
    default: str = ""
    required: bool = False


@dataclass(frozen=True)
class ComposeApp:
    """The compose file (``path``), its ``name:`` ("" when unset), its services (name ->
    the normalised, uninterpolated service mapping) and its variables by name."""

    path: Path
    name: str
    services: Mapping[str, Mapping[str, Any]]
    variables: Mapping[str, Variable] = field(default_factory=dict)

    def interpolate(self, text: str) -> str:
        """``text`` with each ``${VAR}`` replaced by the variable's default ("" when none):
        what compose would use on a machine that sets none of them."""
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name is None:
                return "$"
            known = self.variables.get(name)
            return known.default if known else ""
        return _REFERENCE.sub(substitute, text)

    def templated(self, text: str, name_of: Callable[[str], str]) -> tuple[str, list[str]]:
        """``text`` with each ``${VAR}`` replaced by the Jinja2 reference ``{{ name_of(VAR) }}``
        (``$$`` by ``$``), and the variables replaced, in order of first use."""
        names: list[str] = []

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name is None:
                return "$"
            if name not in names:
                names.append(name)
            return "{{ " + name_of(name) + " }}"
        return _REFERENCE.sub(substitute, text), names


def find_compose_file(directory: Path) -> Path:
    """The compose file compose itself would pick in ``directory``.

    Raises ``InputError`` naming the directory and the names looked for when there is none.
    """
    for name in COMPOSE_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise InputError(f"no compose file in {directory} (looked for {', '.join(COMPOSE_NAMES)}); "
                     "name yours with --from FILE")


def read_compose(path: Path) -> ComposeApp:
    """Read ``path`` with ``docker compose``.

    Raises ``InputError`` (exit 2) naming the file when it is missing or compose rejects it,
    and when ``docker compose`` can't be run on this machine.
    """
    if not path.is_file():
        raise InputError(f"{path}: no such compose file")
    return app_from_config(path, _compose_json(path, _MODEL_FLAGS), _compose_json(path, _VARIABLES_FLAGS))


def app_from_config(path: Path, model: Mapping[str, Any], variables: Mapping[str, Any] | None) -> ComposeApp:
    """The app from compose's two JSON answers: ``model`` (``config --format json``) and
    ``variables`` (``config --variables --format json``: name -> {DefaultValue, Required})."""
    known = {name: Variable(name, str(v.get("DefaultValue") or ""), bool(v.get("Required")))
             for name, v in (variables or {}).items()}
    return ComposeApp(path=path, name=_declared_name(path), services=model.get("services") or {}, variables=known)


def _compose_json(path: Path, flags: tuple[str, ...]) -> Any:
    command = ["docker", "compose", "-f", str(path), *flags]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        raise InputError(f"{path}: reading it needs `docker compose` on this machine, and `docker` "
                         "was not found on PATH") from None
    if proc.returncode != 0 and "unknown flag" in proc.stderr:
        raise InputError(f"{path}: this docker compose is too old to read it for moorage "
                         f"({_last_line(proc.stderr)}); install a current docker compose v2")
    if proc.returncode != 0:
        reason = _last_line(proc.stderr) or _last_line(proc.stdout) or f"exit status {proc.returncode}"
        raise InputError(f"{path}: not a valid compose file: {reason}")
    try:
        return json.loads(proc.stdout or "null")
    except ValueError:
        raise InputError(f"{path}: `docker compose {' '.join(flags)}` printed no JSON; "
                         "install a current docker compose v2") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _declared_name(path: Path) -> str:
    """The file's top-level ``name:`` as written ("" when absent); compose has validated the
    file already, so a YAML error here is not expected."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    name = data.get("name") if isinstance(data, Mapping) else None
    return str(name) if name else ""
