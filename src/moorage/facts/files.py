"""Path facts for many paths in one remote command.

``gather_command(request)`` builds a POSIX sh script (coreutils only: servers
need no Python) that prints, for every requested path, its type, mode, owner,
group, link target and sha256 — the base64 body of the paths whose
content was asked for, and for each requested tree its probe (``facts.sync``:
the manifest of every entry under it), base64 on one line so any file name
survives.  ``parse(output, request)`` turns that into ``PathFacts``,
``parse_trees`` into one ``Probe`` per tree.  One command answers for every
task of a play.
"""

from __future__ import annotations

import base64
import shlex
from typing import Any

from moorage.facts.paths import FactRequest, PathFacts
from moorage.facts.sync import Probe, TreeRequest, parse_probe

_KINDS = {"regular file": "file", "regular empty file": "file", "directory": "dir",
          "symbolic link": "link"}


def _trees(request: FactRequest) -> list[TreeRequest]:
    return sorted(request.trees, key=lambda t: (t.dest, t.checksum, t.delete))


def gather_command(request: FactRequest) -> str:
    """The single shell command that reports on every path and tree of ``request``."""
    paths = sorted(request.paths | request.contents)
    quoted = " ".join(shlex.quote(p) for p in paths)
    contents = " ".join(shlex.quote(p) for p in sorted(request.contents))
    trees = "".join(f"( {tree.command()}\n) | base64 -w0; echo\n" for tree in _trees(request))
    return (
        f"set -- {quoted}\n"
        "echo @@stat\n"
        "stat -c '%F|%a|%U|%G|%n' -- \"$@\" 2>/dev/null\n"
        "echo @@sha\n"
        "for p; do [ -f \"$p\" ] && [ ! -L \"$p\" ] && printf '%s\\n' \"$p\"; done | "
        "tr '\\n' '\\0' | xargs -0 -r sha256sum -- 2>/dev/null\n"
        "echo @@link\n"
        "for p; do [ -L \"$p\" ] && printf '%s|%s\\n' \"$(readlink -- \"$p\")\" \"$p\"; done\n"
        "echo @@content\n"
        f"for p in {contents}; do [ -f \"$p\" ] && printf '%s\\n' \"$p\" && base64 -w0 -- \"$p\" "
        "&& echo; done\n"
        "echo @@trees\n"
        f"{trees}"
        "exit 0"
    )


def _sections(output: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in output.splitlines():
        if line.startswith("@@"):
            current = sections.setdefault(line[2:], [])
        else:
            current.append(line)
    return sections


def parse_trees(output: str, request: FactRequest) -> dict[TreeRequest, Probe]:
    """Read the trees of ``gather_command``'s output back, one ``Probe`` per requested tree."""
    lines = _sections(output).get("trees", [])
    return {tree: parse_probe(base64.b64decode(line)) for tree, line in zip(_trees(request), lines, strict=False)}


def parse(output: str, request: FactRequest) -> dict[str, PathFacts]:
    """Read the output of ``gather_command`` back into one ``PathFacts`` per requested path."""
    sections = _sections(output)
    found: dict[str, dict[str, Any]] = {}
    for line in sections.get("stat", []):
        kind, mode, owner, group, path = line.split("|", 4)
        found[path] = {"kind": _KINDS.get(kind, "other"), "mode": mode.zfill(4),
                       "owner": owner, "group": group}
    for line in sections.get("sha", []):
        digest, _, path = line.partition("  ")
        if path in found:
            found[path]["sha256"] = digest
    for line in sections.get("link", []):
        target, _, path = line.rpartition("|")
        if path in found:
            found[path]["target"] = target
    content_lines = sections.get("content", [])
    for path, body in zip(content_lines[0::2], content_lines[1::2], strict=False):
        if path in found:
            found[path]["content"] = base64.b64decode(body)
    return {p: PathFacts(p, **found.get(p, {})) for p in request.paths | request.contents}
