"""Shell commands built from tokens: every value is quoted, only ``Raw`` text is not.

``sh("docker", "compose", "-p", project, "run", "--rm", service, *command)`` quotes each token
with ``shlex.quote``, so a value can never become shell syntax (``dm$(touch /tmp/x)`` stays one
literal word).  Operators and fixed snippets moorage writes itself (``&&``, ``2>/dev/null``,
``"$@"``) are wrapped in ``Raw``; a value must never be.  Lists and tuples are flattened, so
optional parts read as ``*(["-p", name] if name else [])``.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import Any


class Raw(str):
    """Shell text written by moorage itself (an operator, a redirection): never a value."""

    __slots__ = ()


Token = str | int | Iterable[Any] | None


def sh(*tokens: Token) -> str:
    """One command line: each token quoted unless ``Raw``, lists and tuples flattened, None skipped."""
    return " ".join(_words(tokens))


def _words(tokens: Iterable[Token]) -> list[str]:
    words: list[str] = []
    for token in tokens:
        if token is None:
            continue
        if isinstance(token, Raw):
            words.append(str(token))
        elif isinstance(token, (str, int)):
            words.append(shlex.quote(str(token)))
        else:
            words.extend(_words(token))
    return words


def argv(command: str | list[str]) -> list[str]:
    """A command given as a list (kept as is) or a string (split the way a shell would, with
    ``shlex.split``: quotes group words, nothing is expanded); raises ``ValueError`` on an
    unbalanced quote."""
    if isinstance(command, list):
        return [str(word) for word in command]
    return shlex.split(command)


HELD = "@@moorage-held"


def guarded(check: str, script: str, prelude: str = "") -> str:
    """One command: ``prelude``, then ``check`` (read-only, its output hidden); when it succeeds
    the command prints ``HELD`` and stops, otherwise ``script`` runs.  This is how a change's
    ``Check`` and its acting shell travel in one round trip."""
    head = f"{prelude}\n" if prelude else ""
    return f"{head}if ( {check}\n) >/dev/null 2>&1; then echo {HELD}; exit 0; fi\n{script}"


def held(stdout: str) -> bool:
    """Whether a ``guarded`` command stopped at its check."""
    return stdout.rstrip().endswith(HELD)
