"""Pieces the file operations share: argument schemas, modes, ownership, content writes."""

from __future__ import annotations

import difflib
import hashlib
import shlex
from collections.abc import Callable
from typing import Any

from moorage.operations.base import Change, Facts, PathFacts, PlanError, Shell, Upload

PATH = {"type": "string", "minLength": 1, "pattern": "^/[^\n]*$",
        "description": "Absolute path on the host."}
MODE = {"type": "string", "pattern": "^0?[0-7]{3,4}$",
        "description": "Octal permissions, e.g. \"0644\" (a bare 0644 is taken as written, the text 0644)."}
OWNER = {"type": "string", "minLength": 1, "description": "User that owns it (default: unchanged)."}
GROUP = {"type": "string", "minLength": 1, "description": "Group that owns it (default: unchanged)."}
ATTRIBUTES = {"mode": MODE, "owner": OWNER, "group": GROUP}


def normalize_mode(mode: Any) -> str | None:
    """``"644"`` and ``"0644"`` both become ``"0644"``; None stays None."""
    if mode is None:
        return None
    return str(mode).zfill(4)[-4:]


def sha256(data: bytes) -> str:
    """Hex digest, as ``sha256sum`` prints it."""
    return hashlib.sha256(data).hexdigest()


def q(value: str) -> str:
    """Quote one token for the remote shell."""
    return shlex.quote(value)


def owner_spec(owner: str | None, group: str | None) -> str:
    """``chown``'s argument for an owner and/or group."""
    return f"{owner or ''}:{group}" if group else str(owner)


def attribute_changes(current: PathFacts, mode: str | None, owner: str | None,
                      group: str | None) -> tuple[list[str], list[str]]:
    """Commands that bring mode/owner/group to what is asked, and a description of each."""
    commands, described = [], []
    if mode and current.mode != mode:
        commands.append(f"chmod {mode} {q(current.path)}")
        described.append(f"mode {current.mode} -> {mode}")
    if (owner and current.owner != owner) or (group and current.group != group):
        who = owner_spec(owner, group)
        commands.append(f"chown -h {q(who)} {q(current.path)}")
        described.append(f"owner {current.owner}:{current.group} -> {who}")
    return commands, described


def content_diff(path: str, old: bytes | None, new: bytes, mask: Callable[[str], str] | None = None) -> str:
    """A unified diff of a file's content (``mask`` hides secrets in each line)."""
    def lines(data: bytes | None) -> list[str]:
        if data is None:
            return []
        text = data.decode("utf-8", "replace")
        return [mask(line) if mask else line for line in text.splitlines(keepends=True)]
    if b"\0" in new[:8192] or (old and b"\0" in old[:8192]):
        return f"binary file {path} changed ({len(old or b'')} -> {len(new)} bytes)\n"
    before = lines(old)
    return "".join(difflib.unified_diff(before, lines(new), f"{path} (before)", f"{path} (after)"))


def plan_write(path: str, data: bytes, facts: Facts, mode: str | None, owner: str | None,
               group: str | None, default_mode: str = "0644",
               mask: Callable[[str], str] | None = None) -> Change | None:
    """The change that makes ``path`` hold ``data`` with the given attributes, or None."""
    current = facts[path]
    if current.kind in ("dir", "other"):
        raise PlanError(f"{path} exists and is a {current.kind}, not a file; remove it first")
    digest = sha256(data)
    if current.kind == "file" and current.sha256 == digest:
        commands, described = attribute_changes(current, mode, owner, group)
        if not commands:
            return None
        after = current.evolve(mode=mode or current.mode, owner=owner or current.owner,
                               group=group or current.group)
        return Change(f"{path}: {', '.join(described)}", [Shell("\n".join(commands))], after=[after])
    final_mode = mode or (current.mode if current.kind == "file" else default_mode)
    upload = Upload(path, data, final_mode, owner or (current.owner if current.kind == "file" else None),
                    group or (current.group if current.kind == "file" else None))
    verb = "update" if current.kind == "file" else "create"
    after = PathFacts(path, "file", final_mode, upload.owner or current.owner,
                      upload.group or current.group, digest, content=data)
    diff = content_diff(path, current.content, data, mask) if current.kind == "file" else \
        content_diff(path, None, data, mask)
    return Change(f"{verb} {path} ({len(data)} bytes, {final_mode})", [upload], diff=diff, after=[after])


def changed_under(paths: frozenset[str], directory: str) -> bool:
    """Whether one of ``paths`` (those earlier tasks change) is ``directory`` or inside it: a
    read-only check run there in check mode would see today's files, not the planned ones."""
    directory = directory.rstrip("/")
    return bool(directory) and any(p == directory or p.startswith(directory + "/") for p in paths)
