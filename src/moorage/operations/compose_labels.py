"""The ``compose_labels`` operation: a generated compose override that makes a changed config
file recreate exactly the services that bind-mount it.

A container bind-mounts ``current/nginx.conf`` as the file of the release it was created in;
compose sees no change in the service when only the file behind it changed, so it would keep the
old one.  This override gives each service that bind-mounts a staged file or folder a label
``moorage.config-hash`` (a hash of what it mounts): a new content is a new label, and compose
recreates that service and no other (a rollback too: the old release holds its old labels).
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import Any

import yaml

from moorage.operations.base import Change, FactRequest, Facts, Operation, PlanError, register
from moorage.operations.file_writes import PATH, plan_write

LABEL = "moorage.config-hash"
_HEADER = ("# Written by moorage (compose_labels): one label per service holding a hash of the release files it\n"
           "# bind-mounts, so a changed file recreates that service. Do not edit: every deploy rewrites it.\n")


def _sources(service: dict[str, Any], configs: dict[str, Any]) -> list[str]:
    """The host paths a service bind-mounts, as written (short or long syntax, and top-level
    ``configs`` read from a file)."""
    found = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source = volume.split(":", 1)[0] if ":" in volume else ""
            if source.startswith((".", "/", "~")):
                found.append(source)
        elif isinstance(volume, dict) and volume.get("type") == "bind" and volume.get("source"):
            found.append(str(volume["source"]))
    for config in service.get("configs") or []:
        name = config if isinstance(config, str) else (config or {}).get("source", "")
        file = (configs.get(name) or {}).get("file") if isinstance(configs.get(name), dict) else None
        if file:
            found.append(str(file))
    return found


def bind_sources(root: Path, files: list[str]) -> dict[str, list[str]]:
    """Per service, the relative host paths (relative to ``root``, normalized) it bind-mounts,
    across all ``files`` (compose merges them; a source in any file counts).  Absolute paths,
    ``~`` and interpolated (``$``) sources are left out: they are not part of the release.

    Raises ``PlanError`` naming the file when one can't be read as YAML.
    """
    project = posixpath.dirname(files[0]) if files else ""  # compose's project directory: the first file's
    found: dict[str, list[str]] = {}
    for name in files:
        try:
            data = yaml.safe_load((root / name).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PlanError(f"cannot read the compose file {root / name}: {exc}") from None
        configs = data.get("configs") or {} if isinstance(data, dict) else {}
        for service, body in ((data.get("services") or {}) if isinstance(data, dict) else {}).items():
            for source in _sources(body or {}, configs if isinstance(configs, dict) else {}):
                if source.startswith(("/", "~")) or "$" in source:
                    continue
                rel = posixpath.normpath(posixpath.join(project, source))
                if rel != ".." and not rel.startswith("../") and rel not in found.setdefault(str(service), []):
                    found[str(service)].append(rel)
    return found


def _digest(root: Path, rel: str) -> str:
    """What a bind source holds: a file's bytes, or every file under a folder with its path."""
    path, digest = root / rel, hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{item.relative_to(path).as_posix()}\0".encode())
            digest.update(hashlib.sha256(item.read_bytes()).digest())
    return f"{rel}\0{digest.hexdigest()}\n"


def staged(rel: str, paths: list[str]) -> bool:
    """Whether ``rel`` is one of the staged ``paths`` or inside one of them."""
    return any(rel == p.strip("/") or rel.startswith(p.strip("/") + "/") or p.strip("/") in ("", ".")
               for p in paths)


def _services(text: str) -> dict[str, str]:
    try:
        data = yaml.safe_load(text) or {}
        return {name: body["labels"][LABEL] for name, body in (data.get("services") or {}).items()}
    except (yaml.YAMLError, AttributeError, KeyError, TypeError):
        return {}


@register
class ComposeLabels(Operation):
    """Write the compose override ``path``: for each service that bind-mounts a path of
    ``staged`` (relative to ``src`` on the controller), the label ``moorage.config-hash`` =
    a hash of what it mounts; list ``path`` last among the project's compose files.  The plan
    names the services whose files changed (compose recreates them).  Bind sources outside
    ``staged`` are not in the release and get no label."""

    name = "compose_labels"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "src", "files"],
        "properties": {
            "path": PATH,
            "src": {"type": "string", "minLength": 1,
                    "description": "The controller directory holding the compose files (relative: to the "
                                   "project root)."},
            "files": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                      "description": "The compose files, relative to src (the first one's folder is the "
                                     "project directory bind sources are relative to)."},
            "staged": {"type": "array", "items": {"type": "string", "minLength": 1},
                       "description": "The paths of src the release holds (default: all of src)."},
        },
    }

    def facts_needed(self) -> FactRequest:
        return FactRequest({self.args["path"]}, {self.args["path"]})

    def root(self) -> Path:
        src = Path(self.args["src"]).expanduser()
        inventory_dir = self.context.variables.get("inventory_dir")
        return src if src.is_absolute() else (Path(inventory_dir).parent if inventory_dir else Path.cwd()) / src

    def labels(self) -> dict[str, str]:
        """Service -> the hash of the staged files it bind-mounts (services mounting none left out)."""
        root, paths = self.root(), self.args.get("staged") or ["."]
        labels = {}
        for service, sources in sorted(bind_sources(root, self.args["files"]).items()):
            mine = [s for s in sources if staged(s, paths)]
            if mine:
                labels[service] = hashlib.sha256("".join(_digest(root, s) for s in sorted(mine)).encode()).hexdigest()
        return labels

    def plan(self, facts: Facts) -> Change | None:
        labels = self.labels()
        body = {"services": {s: {"labels": {LABEL: h}} for s, h in labels.items()}}
        text = _HEADER + yaml.safe_dump(body, sort_keys=True, default_flow_style=False)
        change = plan_write(self.args["path"], text.encode(), facts, None, None, None)
        if change is None:
            return None
        old = facts[self.args["path"]].content
        before = _services(old.decode("utf-8", "replace")) if old is not None else {}
        moved = sorted(s for s, h in labels.items() if before.get(s) != h)
        if moved and old is not None:
            change.summary = f"config changed for {', '.join(moved)}: recreated by the next up ({change.summary})"
        change.data = {"changed_services": moved}
        return change
