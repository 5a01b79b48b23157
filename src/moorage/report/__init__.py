"""Reporting: one event stream, two renderers (human and JSON lines).

The executor only ever calls ``Report.emit``; the report masks every secret
in every string of the event before a renderer sees it.
"""

from moorage.report.events import Event, Recap, Report
from moorage.report.human import HumanRenderer
from moorage.report.jsonl import JsonRenderer

__all__ = ["Event", "HumanRenderer", "JsonRenderer", "Recap", "Report"]
