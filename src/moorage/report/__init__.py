"""Reporting: one event stream, two renderers (human and JSON lines).

The executor only ever calls ``Report.emit``; the report masks every secret
in every string of the event before a renderer sees it.
"""

from __future__ import annotations

import sys
from typing import Any

from moorage import secrets
from moorage.report.events import Event, Recap, Report
from moorage.report.jsonl import JsonRenderer


def make_report(json_lines: bool, show_diff: bool, verbose: bool = False) -> Report:
    """The event stream with the renderer the user asked for (``--json``: JSON lines on stdout),
    masking every registered secret."""
    if json_lines:
        return Report(JsonRenderer(sys.stdout), mask=secrets.mask)
    from moorage.report.human import HumanRenderer  # rich (~35 ms of imports): only for a person
    return Report(HumanRenderer(show_diff=show_diff, verbose=verbose), mask=secrets.mask)


def __getattr__(name: str) -> Any:
    """``HumanRenderer`` imported on first use: a ``--json`` run never loads rich."""
    if name == "HumanRenderer":
        from moorage.report.human import HumanRenderer
        return HumanRenderer
    raise AttributeError(name)


__all__ = ["Event", "HumanRenderer", "JsonRenderer", "Recap", "Report", "make_report"]
