"""The program the user runs — ``moorage`` (the console script) or ``invoke`` (this repository's
tasks.py) — so messages that tell them a command give it as they would type it."""

from __future__ import annotations

import sys
from pathlib import Path

_INVOKE_NAMES = ("invoke", "inv")  # invoke installs both console scripts
_name: str | None = None


def set_name(name: str) -> None:
    """Fix the program name (``moorage``'s entry point does, so it never depends on argv)."""
    global _name
    _name = name


def name() -> str:
    """``invoke`` when run through Invoke's own program, else ``moorage``."""
    if _name:
        return _name
    argv0 = Path(sys.argv[0] if sys.argv else "")
    # `invoke` and `inv` console scripts, or `python -m invoke` (argv[0] is invoke/__main__.py)
    through_invoke = argv0.name in _INVOKE_NAMES or argv0.parent.name == "invoke"
    return "invoke" if through_invoke else "moorage"


def command(*words: str) -> str:
    """A command line as the user types it: ``command("backup", "--host", "vps")`` is
    ``moorage backup --host vps`` (or ``invoke backup --host vps``)."""
    return " ".join((name(), *words))
