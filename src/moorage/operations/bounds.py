"""Recursive deletes are bounded: the paths no operation removes with all they hold.

An operation that removes a tree (``dir state: absent``, ``sync delete: true``, release
pruning, backup retention) declares which of its arguments name such a tree
(``Operation.deleted_paths``); the executor asks ``delete_refusal`` about each before anything
runs, in check mode too, and names the template and variable that produced a bad path
(``blame``).  ``guarded_rm`` adds the same test on the host, after symlinks are resolved.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

from moorage.errors import MoorageError
from moorage.operations.file_writes import q
from moorage.serverpaths import SYSTEM_DIRS as SYSTEM_DIRS
from moorage.serverpaths import delete_refusal as delete_refusal
from moorage.serverpaths import home_of as home_of

_EXPRESSION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)


def blame(raw: Any, variables: Mapping[str, Any], evaluate: Callable[[str, Mapping[str, Any]], Any]) -> str:
    """Which expressions of the template ``raw`` rendered empty, to ``/`` or with ``..``:
    `` (from '{{ a }}/{{ b }}': b is '')``, or ``""`` when ``raw`` is no template or none did."""
    if not isinstance(raw, str) or "{{" not in raw:
        return ""
    culprits = []
    for expression in dict.fromkeys(_EXPRESSION.findall(raw)):
        try:
            value = str(evaluate(expression, variables))
        except MoorageError:  # it rendered once already; blame only what reads back
            continue
        if not value.strip("/ ") or ".." in value.split("/") or value.endswith("/"):
            culprits.append(f"{expression} is {value!r}")
    return f" (from '{raw}': {', '.join(culprits)})" if culprits else f" (from '{raw}')"


def guarded_rm(path: str) -> str:
    """``rm -rf -- path``, refused on the host too when ``path`` resolves (symlinks followed) to
    ``/`` or the user's ``$HOME`` (the lexical checks can't see through a link)."""
    return (f"case \"$(readlink -f -- {q(path)})\" in /|\"$HOME\") "
            f"echo {q(f'refusing to remove {path}: it resolves to / or the home directory')} >&2; exit 1;; "
            f"esac\nrm -rf -- {q(path)}")


def check_deletes(deleted: Mapping[str, str], raw_args: Mapping[str, Any], variables: Mapping[str, Any],
                  user: str, evaluate: Callable[[str, Mapping[str, Any]], Any]) -> None:
    """Raise ``ValueError`` naming the argument, the path, why, and the template behind it, for the
    first of ``deleted`` (argument -> rendered path) a recursive delete must not touch."""
    for argument, path in deleted.items():
        raw = raw_args.get(argument)
        if isinstance(raw, str) and raw.endswith("/") and path.endswith("/") and path != "/":
            path = path.rstrip("/") or "/"  # a slash written at the end is a style, not an empty variable
        reason = delete_refusal(path, user)
        if reason is not None:
            shown = posixpath.normpath(path) if path.startswith("/") else path
            raise ValueError(f"refusing to delete {path!r} (argument '{argument}') and all it holds: {reason}"
                             + (f", resolves to {shown!r}" if shown != path else "")
                             + blame(raw_args.get(argument), variables, evaluate))

