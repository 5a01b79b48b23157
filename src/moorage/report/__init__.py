"""Reporting: one event stream, two renderers (human and JSON lines).

The executor only ever calls ``Report.emit``; the report masks every secret
in every string of the event before a renderer sees it.
"""

from __future__ import annotations

import sys

from moorage import secrets
from moorage.report.events import Event, Recap, Report
from moorage.report.human import HumanRenderer
from moorage.report.jsonl import JsonRenderer


def make_report(json_lines: bool, show_diff: bool, verbose: bool = False) -> Report:
    """The event stream with the renderer the user asked for (``--json``: JSON lines on stdout),
    masking every registered secret."""
    renderer = JsonRenderer(sys.stdout) if json_lines else HumanRenderer(show_diff=show_diff, verbose=verbose)
    return Report(renderer, mask=secrets.mask)


__all__ = ["Event", "HumanRenderer", "JsonRenderer", "Recap", "Report", "make_report"]
