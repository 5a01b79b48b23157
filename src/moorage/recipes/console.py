"""Where the read-only recipes (releases, status, backup --list) print their tables."""

from __future__ import annotations

from rich.console import Console


def console() -> Console:
    """A console that doesn't squeeze tables to 80 columns when output goes to a file or pipe."""
    out = Console(soft_wrap=True)
    if not out.is_terminal:
        out.width = 200
    return out
