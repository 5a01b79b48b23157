"""File operations: ``dir``, ``file``, ``template``, ``link``.

All are batched: their changes are uploads and short shell steps the executor
sends together.  Writes are atomic (temp file in the same directory + rename).
"""

from __future__ import annotations

from pathlib import Path

from moorage.errors import InputError
from moorage.operations.base import (
    Change,
    FactRequest,
    Facts,
    Operation,
    PathFacts,
    PlanError,
    Shell,
    register,
)
from moorage.operations.bounds import guarded_rm
from moorage.operations.file_writes import (
    ATTRIBUTES,
    PATH,
    attribute_changes,
    normalize_mode,
    owner_spec,
    plan_write,
    q,
)


class _PathOperation(Operation):
    """An operation on one path (``path`` or ``dest``), with optional mode/owner/group."""

    path_arg = "path"

    @property
    def path(self) -> str:
        return str(self.args[self.path_arg])

    @property
    def mode(self) -> str | None:
        return normalize_mode(self.args.get("mode"))

    def facts_needed(self) -> FactRequest:
        contents = {self.path} if self.context.diff else set()
        return FactRequest({self.path}, contents)


@register
class Dir(_PathOperation):
    """Ensure a directory exists (with parents) with the given mode and owner, or is absent.

    ``state: absent`` removes the directory and everything in it; use it only
    for paths that hold nothing you need.  It refuses ``/``, system directories, the
    connecting user's home, and a path with an empty part (``//``, a trailing ``/``) or ``..``,
    naming the variable that rendered empty.
    """

    name = "dir"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "properties": {
            "path": PATH,
            **ATTRIBUTES,
            "state": {"enum": ["present", "absent"], "default": "present",
                      "description": "present (default) or absent."},
        },
    }

    def deleted_paths(self) -> dict[str, str]:
        return {"path": self.path} if self.args.get("state") == "absent" else {}

    def plan(self, facts: Facts) -> Change | None:
        current = facts[self.path]
        if self.args.get("state", "present") == "absent":
            if not current.exists:
                return None
            return Change(f"remove {self.path}", [Shell(guarded_rm(self.path))],
                          after=[PathFacts(self.path)])
        if current.exists and current.kind != "dir":
            raise PlanError(f"{self.path} exists and is a {current.kind}, not a directory")
        owner, group = self.args.get("owner"), self.args.get("group")
        if not current.exists:
            mode = self.mode or "0755"
            steps = [f"mkdir -p -- {q(self.path)}", f"chmod {mode} {q(self.path)}"]
            if owner or group:
                steps.append(f"chown {q(owner_spec(owner, group))} {q(self.path)}")
            return Change(f"create directory {self.path} ({mode})", [Shell("\n".join(steps))],
                          after=[PathFacts(self.path, "dir", mode, owner, group)])
        commands, described = attribute_changes(current, self.mode, owner, group)
        if not commands:
            return None
        after = current.evolve(mode=self.mode or current.mode, owner=owner or current.owner,
                               group=group or current.group)
        return Change(f"{self.path}: {', '.join(described)}", [Shell("\n".join(commands))], after=[after])


@register
class File(_PathOperation):
    """Ensure a file has exactly the given content (inline ``content`` or a local ``src``).

    A relative ``src`` is looked up in ``base`` when given (e.g. the project root), else in the
    role's ``files/`` then the playbook's ``files/``; an absolute one is read as it is.
    """

    name = "file"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path"],
        "oneOf": [{"required": ["content"]}, {"required": ["src"]}],
        "properties": {
            "path": PATH,
            "content": {"type": "string", "description": "The file's content."},
            "src": {"type": "string", "minLength": 1,
                    "description": "A file on the controller to copy: absolute, or relative to base, "
                                   "else to the role's or playbook's files/."},
            "base": {"type": "string", "pattern": "^/",
                     "description": "The controller directory a relative src is read from "
                                    "(e.g. \"{{ project_dir }}\"), instead of files/."},
            **ATTRIBUTES,
        },
    }

    def data(self) -> bytes:
        if "content" in self.args:
            return str(self.args["content"]).encode()
        dirs = [Path(self.args["base"])] if self.args.get("base") else self.context.file_dirs
        return find_source(self.args["src"], dirs, "files").read_bytes()

    def plan(self, facts: Facts) -> Change | None:
        return plan_write(self.path, self.data(), facts, self.mode, self.args.get("owner"),
                          self.args.get("group"), mask=self.context.mask)


@register
class Template(_PathOperation):
    """Render a Jinja2 template (role's then playbook's ``templates/``) to ``dest``.

    Undefined variables are errors naming the template file:line and the variable.
    """

    name = "template"
    path_arg = "dest"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["src", "dest"],
        "properties": {
            "src": {"type": "string", "minLength": 1,
                    "description": "Template file name in the role's or playbook's templates/."},
            "dest": PATH,
            **ATTRIBUTES,
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        source = find_source(self.args["src"], self.context.template_dirs, "templates")
        text = self.context.render_file(source, self.context.variables)
        return plan_write(self.path, text.encode(), facts, self.mode, self.args.get("owner"),
                          self.args.get("group"), mask=self.context.mask)


@register
class Link(_PathOperation):
    """Ensure ``path`` is a symbolic link to ``target`` (switched atomically)."""

    name = "link"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "target"],
        "properties": {
            "path": PATH,
            "target": {"type": "string", "minLength": 1, "description": "What the link points to."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        current, target = facts[self.path], self.args["target"]
        if current.kind == "link" and current.target == target:
            return None
        if current.kind in ("file", "dir", "other"):
            raise PlanError(f"{self.path} exists and is a {current.kind}, not a link; "
                            "refusing to replace it")
        temp = f"{self.path}.moorage-link"
        script = f"ln -sfn -- {q(target)} {q(temp)}\nmv -fT -- {q(temp)} {q(self.path)}"
        before = f" (was -> {current.target})" if current.kind == "link" else ""
        return Change(f"link {self.path} -> {target}{before}", [Shell(script)],
                      after=[PathFacts(self.path, "link", target=target)])


def find_source(name: str, directories: list[Path], kind: str) -> Path:
    """``name`` itself when absolute, else the first ``directories/name`` that exists; an
    InputError listing where we looked."""
    if Path(name).is_absolute():
        directories = [Path("/")]
    for directory in directories:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(d) for d in directories) or "(no directories)"
    raise InputError(f"{kind[:-1]} '{name}' not found; looked in: {looked}")
