"""JSON lines: one JSON object per event per line, for machines and CI."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from moorage.report.events import Event


class JsonRenderer:
    """Writes each event as one line of JSON."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def render(self, event: Event) -> None:
        self.stream.write(json.dumps(event.as_dict(), default=str) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
