"""The human view's progress bars (rich), rendered into a string as a terminal would show them."""

from __future__ import annotations

import io

from rich.console import Console

from moorage.report.events import Event
from moorage.report.human import HumanRenderer


def test_a_progress_bar_names_its_host_in_brackets() -> None:
    """The ``[host]`` prefix is text, not rich markup (rich read ``[vps]`` as a style and dropped it)."""
    out = io.StringIO()
    view = HumanRenderer(Console(file=out, force_terminal=True, width=120))
    view.render(Event("step", host="vps", summary="ship app:2 [delta]", data={"phase": "start", "total": 1000}))
    progress = view._progress
    assert progress is not None
    (bar,) = progress.tasks
    assert bar.description == "\\[vps] ship app:2 \\[delta]"
    rendered = Console(file=io.StringIO(), width=120)
    with rendered.capture() as seen:
        rendered.print(bar.description)
    assert seen.get().strip() == "[vps] ship app:2 [delta]"
    view.render(Event("step", host="vps", summary="ship app:2 [delta]", data={"phase": "end"}))
    assert not progress.tasks
