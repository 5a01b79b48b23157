"""The human view: task headers, coloured results, diffs, progress bars, the recap."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from moorage.report.events import STATUSES, Event, Recap

_STYLE = {"ok": "green", "changed": "yellow", "failed": "bold red", "skipped": "cyan"}


class HumanRenderer:
    """Renders events for a person at a terminal (colours off when not a TTY)."""

    def __init__(self, console: Console | None = None, show_diff: bool = False,
                 verbose: bool = False) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)  # logs keep whole lines
        self.show_diff = show_diff
        self.verbose = verbose
        self._last_header: tuple[str | None, str | None] | None = None
        self._progress: Progress | None = None
        self._bars: dict[tuple[str | None, str | None], TaskID] = {}
        self._recap_width = 0

    def render(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler:
            handler(event)

    # -- events ------------------------------------------------------------
    def _on_play(self, event: Event) -> None:
        hosts = ", ".join(event.data.get("hosts", []))
        self.console.rule(f"[bold]PLAY {escape(event.play or '')}[/] [dim]({escape(hosts)})[/]")
        self._last_header = None

    def _header(self, event: Event) -> None:
        key = (event.play, event.task)
        if key != self._last_header:
            self.console.print(f"[bold]TASK[/] {escape(event.task or '')}")
            self._last_header = key

    def _on_task(self, event: Event) -> None:
        self._header(event)
        style = _STYLE.get(event.status or "", "")
        text = event.summary or event.message or ""
        detail = f" {escape(text)}" if text and (event.status != "ok" or self.verbose) else ""
        self.console.print(f"  [{style}]{event.status}[/]: {escape(f'[{event.host}]')}{detail}")
        if event.status == "failed":
            self._failure_details(event)
        if event.diff and self.show_diff:
            for line in event.diff.splitlines():
                colour = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
                self.console.print(f"    [{colour}]{escape(line)}[/]")

    def _failure_details(self, event: Event) -> None:
        data = event.data
        if data.get("command"):
            self.console.print(f"    command: {escape(str(data['command']))}")
        if data.get("exit_code") is not None:
            self.console.print(f"    exit code: {data['exit_code']}")
        if data.get("stderr"):
            self.console.print("    stderr (last lines):")
            for line in str(data["stderr"]).splitlines():
                self.console.print(f"      [red]{escape(line)}[/]")

    def _on_warning(self, event: Event) -> None:
        where = escape(f"[{event.host}] ") if event.host else ""
        self.console.print(f"[bold yellow]warning[/]: {where}{escape(event.message or '')}")

    def _on_info(self, event: Event) -> None:
        # a wait the run must make before its tasks (e.g. a lock takeover), said when it starts
        where = escape(f"[{event.host}] ") if event.host else ""
        self.console.print(f"[cyan]info[/]: {where}{escape(event.message or '')}")

    def _on_step(self, event: Event) -> None:
        key = (event.host, event.summary)
        phase = event.data.get("phase")
        if phase == "start":
            if self._progress is None:
                self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                          DownloadColumn(), TimeElapsedColumn(), console=self.console,
                                          transient=True)
                self._progress.start()
            self._bars[key] = self._progress.add_task(escape(f"[{event.host}] {event.summary}"),
                                                      total=event.data.get("total"))
        elif self._progress is not None and key in self._bars:
            if phase == "advance":
                self._progress.update(self._bars[key], completed=event.data.get("done", 0))
            elif phase == "end":
                self._progress.remove_task(self._bars.pop(key))
                if not self._bars:
                    self._progress.stop()
                    self._progress = None

    def _on_outcome(self, event: Event) -> None:
        style = {"ok": "bold green", "interrupted": "bold yellow"}.get(event.status or "", "bold red")
        self.console.print(f"[{style}]{escape(f'{event.host}: {event.message}')}[/]")

    def _on_recap(self, event: Event) -> None:
        if not self._recap_width:
            self.console.rule("[bold]RECAP[/]")
        self._recap_width = max(self._recap_width, 12, len(event.host or ""))
        recap = Recap(**{k: event.data.get(k, 0) for k in (*STATUSES, "unreachable")})
        colour = "red" if recap.failed or recap.unreachable else "yellow" if recap.changed else "green"
        self.console.print(f"[{colour}]{escape(recap.line(event.host or '', self._recap_width))}[/]")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
