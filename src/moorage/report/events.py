"""Events and the thread-safe report that masks and dispatches them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

STATUSES = ("ok", "changed", "failed", "skipped")


@dataclass
class Event:
    """One thing that happened. ``kind`` is one of:

    ``play`` (a play starts), ``outcome`` (how a recipe such as deploy ended on a host),
    ``task`` (a task's result on a host: ``status`` is
    ok/changed/failed/skipped), ``step`` (a long step starts/advances/ends:
    ``data`` has ``phase``, ``done``, ``total``), ``warning``, ``recap`` (per host
    counts in ``data``), ``end`` (the run's exit status in ``data``).
    """

    kind: str
    host: str | None = None
    play: str | None = None
    task: str | None = None
    status: str | None = None
    summary: str | None = None
    message: str | None = None
    diff: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """The event without empty fields, for JSON."""
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}


@dataclass
class Recap:
    """Per-host counts of task results."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: bool = False

    def count(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)

    def line(self, host: str, width: int = 0) -> str:
        """``HOST ok=N changed=N failed=N skipped=N``."""
        return (f"{host:<{width}} ok={self.ok} changed={self.changed} failed={self.failed} "
                f"skipped={self.skipped}")


class Renderer(Protocol):
    """Shows events to someone (a terminal, a CI log)."""

    def render(self, event: Event) -> None: ...

    def close(self) -> None: ...


def _mask_value(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_value(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_value(v, mask) for v in value]
    return value


class Report:
    """The event stream: masks secrets, keeps the recap, hands events to the renderer."""

    def __init__(self, renderer: Renderer, mask: Callable[[str], str] = lambda text: text) -> None:
        self.renderer = renderer
        self.mask = mask
        self.recaps: dict[str, Recap] = {}
        self._lock = threading.Lock()

    def emit(self, kind: str, **fields: Any) -> Event:
        """Render one event (secrets masked), counting task results in the host's recap."""
        event = Event(kind, **{k: _mask_value(v, self.mask) for k, v in fields.items()})
        with self._lock:
            if kind == "task" and event.host and event.status in STATUSES:
                self.recaps.setdefault(event.host, Recap()).count(event.status)
            self.renderer.render(event)
        return event

    def recap_for(self, host: str) -> Recap:
        with self._lock:
            return self.recaps.setdefault(host, Recap())

    def finish(self, exit_code: int, round_trips: dict[str, dict[str, int]] | None = None) -> None:
        """The recap, then the end event; closes the renderer."""
        self.recap(round_trips)
        self.end(exit_code)

    def recap(self, round_trips: dict[str, dict[str, int]] | None = None) -> None:
        """Emit one recap event per host, with its round trips (connections and commands)."""
        for host in sorted(self.recaps):
            recap = self.recaps[host]
            data = {k: getattr(recap, k) for k in (*STATUSES, "unreachable")}
            data.update((round_trips or {}).get(host, {}))
            self.emit("recap", host=host, data=data)

    def end(self, exit_code: int) -> None:
        """Emit the run's exit status and close the renderer."""
        self.emit("end", data={"exit_code": exit_code})
        self.renderer.close()
