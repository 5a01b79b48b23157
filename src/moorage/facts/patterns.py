"""rsync's exclude patterns, for the transports that are not rsync (the tar one computes the
difference here) and for the delete side of every transport.

The rules are rsync's, from the man page section "INCLUDE/EXCLUDE PATTERN RULES" (rsync 3.x):

- a pattern ending in ``/`` matches directories only (``cache/``);
- a pattern starting with ``/`` is anchored at the top of the transfer (``/drafts``); one
  without a ``/`` (other than a trailing one) and without ``**`` matches the final name at any
  depth (``*.tmp``); an unanchored pattern with a ``/`` matches the end of the path at a
  directory boundary (``a/b`` matches ``a/b`` and ``x/a/b``);
- ``*`` matches within one name (it stops at ``/``), ``**`` matches anything, slashes
  included, ``?`` one character but ``/``, ``[...]`` a class of characters;
- an excluded directory is not descended into: everything under it is excluded too, so it is
  neither sent nor deleted (rsync keeps excluded files on the receiver unless
  ``--delete-excluded``, which ``sync`` never passes).

``sync`` accepts this subset; ``unsupported(pattern)`` names what it refuses (rule prefixes
``+ ``/``- ``/``!``, ``***``, backslash escapes, ``[[:class:]]``), so both transports always
agree.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from functools import cache


def unsupported(pattern: str) -> str | None:
    """Why ``sync`` refuses ``pattern`` (a sentence), or None when it is in the supported subset."""
    if pattern[:2] in ("+ ", "- ") or pattern.startswith("!"):
        return "rsync reads a leading '+ ', '- ' or '!' as a filter rule, not a pattern; not supported"
    if "***" in pattern:
        return "'***' is not supported; write 'dir/' to leave out a directory and all it holds"
    if "\\" in pattern:
        return "backslash escapes are not supported"
    if "[[:" in pattern or ("[" in pattern and "]" not in pattern[pattern.index("["):]):
        return "an unclosed '[' or a '[[:class:]]' is not supported"
    if "\n" in pattern or "\r" in pattern:
        return "a pattern is one line"
    if not pattern.strip("/") or "//" in pattern:
        return "a pattern needs a name between its slashes"
    return None


@cache
def _compile(pattern: str) -> tuple[re.Pattern[str], bool, bool]:
    """(regex, directories only, against the whole path)."""
    dir_only = pattern.endswith("/")
    body = pattern.rstrip("/")
    anchored = body.startswith("/")
    body = body.lstrip("/")
    whole_path = anchored or "/" in body or "**" in body
    regex, i = "", 0
    while i < len(body):
        char = body[i]
        if body.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif char == "*":
            regex, i = regex + "[^/]*", i + 1
        elif char == "?":
            regex, i = regex + "[^/]", i + 1
        elif char == "[":
            end = body.index("]", i + 2 if body[i + 1:i + 2] in ("!", "^", "]") else i + 1)
            inside = body[i + 1:end]
            if inside[:1] in ("!", "^"):
                inside = "^" + inside[1:]
            regex, i = regex + "(?!/)[" + inside.replace("\\", "\\\\") + "]", end + 1
        else:
            regex, i = regex + re.escape(char), i + 1
    prefix = "" if anchored or not whole_path else "(?:.*/)?"
    return re.compile(prefix + regex + r"\Z", re.DOTALL), dir_only, whole_path


def _matches(rel: str, is_dir: bool, pattern: str) -> bool:
    regex, dir_only, whole_path = _compile(pattern)
    if dir_only and not is_dir:
        return False
    if not whole_path:
        return regex.match(posixpath.basename(rel)) is not None
    # rsync matches an unanchored pattern at any directory boundary, the top one included
    # (``**/k.png`` matches ``k.png``): against ``/rel`` with ``(.*/)?`` in front.
    return regex.match(rel if pattern.startswith("/") else "/" + rel) is not None


def excluded(rel: str, is_dir: bool, patterns: Iterable[str]) -> bool:
    """Whether ``rel`` (a path relative to the top, ``a/b/c``) is excluded: it, or one of the
    directories holding it, matches one of ``patterns`` (see the module docstring)."""
    patterns = list(patterns)
    if not patterns:
        return False
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        last = depth == len(parts)
        if any(_matches(prefix, is_dir if last else True, p) for p in patterns):
            return True
    return False
