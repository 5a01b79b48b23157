"""Secrets: where they come from and how they never reach a screen or a log.

A variable whose value is ``{secret: "env:NAME"}`` takes the controller's
environment variable ``NAME``; ``{secret: "file:PATH"}`` takes the content of
``PATH`` (relative to the inventory directory, trailing newline stripped).
Every resolved value is registered here, and ``mask(text)`` replaces each
registered value with ``********`` wherever it appears: the reporters pass
every line they print through it.

A value ``{generate: N}`` is not a secret we know: the ``env_file`` operation
creates it once on the server.  It travels untouched and is shown as
``<generated on server, N chars>``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MASK = "********"

_lock = threading.Lock()
_secrets: set[str] = set()
_ordered: list[str] = []  # longest first, so a secret containing another is masked whole


def register_secret(value: str) -> None:
    """Remember ``value`` as a secret so ``mask`` hides it (empty values are ignored), also as
    ``repr`` and JSON write it: a secret ending in ``\\`` is ``...\\\\`` in a repr, and masking
    only the raw form would leave the escaped last character showing."""
    if not isinstance(value, str) or not value:
        return
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1], value.encode("unicode_escape").decode("ascii")}
    with _lock:
        if not forms <= _secrets:
            _secrets.update(form for form in forms if form)
            _ordered[:] = sorted(_secrets, key=len, reverse=True)


def holds_secret(value: object) -> bool:
    """Whether ``value`` (text, or a list or mapping of them) contains a registered secret:
    a message shows such a value as ``(a secret)``, never masked text around it."""
    if isinstance(value, Mapping):
        return any(holds_secret(k) or holds_secret(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_secret(item) for item in value)
    if not isinstance(value, str) or not value:
        return False
    with _lock:
        ordered = list(_ordered)
    return any(secret in value for secret in ordered)


def mask(text: str) -> str:
    """``text`` with every registered secret value replaced by ``********``."""
    with _lock:
        ordered = list(_ordered)
    for secret in ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def forget_secrets() -> None:
    """Drop every registered secret (tests use it to start clean)."""
    with _lock:
        _secrets.clear()
        _ordered.clear()


def is_secret_ref(value: object) -> bool:
    """True for ``{secret: "env:NAME"}`` / ``{secret: "file:PATH"}``."""
    return isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("secret"), str)


def is_generated(value: object) -> bool:
    """True for ``{generate: N}``, a secret the server creates once."""
    return isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("generate"), int)


def describe_generated(value: Mapping[str, Any]) -> str:
    """How a ``{generate: N}`` value is shown to users."""
    return f"<generated on server, {value['generate']} chars>"


def resolve_secret(ref: str, base_dir: Path) -> tuple[str | None, str]:
    """Look up ``env:NAME`` or ``file:PATH``: ``(value or None, hint telling how to set it)``.

    The value, when found, is registered with the masker before it is returned.
    """
    kind, _, name = ref.partition(":")
    if kind == "env":
        value = os.environ.get(name) or None
        hint = f"export {name}=..."
    elif kind == "file":
        path = (base_dir / Path(name).expanduser()).resolve()
        hint = f"write it to {path}"
        try:
            value = path.read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r") or None
        except OSError:
            value = None
    else:
        return None, "write it as 'env:NAME' or 'file:PATH'"
    if value is not None:
        register_secret(value)
    return value, hint
