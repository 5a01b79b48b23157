"""Ctrl-C: the first press stops the run at the next safe point (never inside a window of
``interruptible: false`` tasks), a second one aborts at once saying how to repair."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeConnection
from test_executor import run, statuses

from moorage.connection.base import ByteStream, CommandResult
from moorage.executor.interrupt import INTERRUPT, Interrupt, asking, catching


class PressingConnection(FakeConnection):
    """Presses Ctrl-C (once) while it runs a command matching ``at``."""

    def __init__(self, at: str) -> None:
        super().__init__()
        self.at = at

    def run(self, command: str, stdin: bytes | ByteStream | None = None, timeout: float | None = None,
            become: bool | None = None) -> CommandResult:
        if self.at in command and not INTERRUPT.requested:
            INTERRUPT.presses += 1
        return super().run(command, stdin, timeout, become)


@pytest.fixture(autouse=True)
def fresh_interrupt() -> Any:
    INTERRUPT.reset()
    yield
    INTERRUPT.reset()


TASKS = [
    {"name": "stage", "command": {"cmd": "stage-config"}},
    {"name": "images", "command": {"cmd": "load-images"}},
    {"name": "switch", "command": {"cmd": "switch-current"}, "interruptible": False},
    {"name": "migrate", "command": {"cmd": "migrate"}, "interruptible": False},
    {"name": "gate", "command": {"cmd": "health-gate"}, "interruptible": False},
    {"name": "after", "command": {"cmd": "media"}},
]


def test_ctrl_c_stops_after_the_running_task_before_the_window(tmp_path: Path) -> None:
    conn = PressingConnection("load-images")
    result, report = run(tmp_path, {"web1": conn}, TASKS)
    assert statuses(report) == [("stage", "changed"), ("images", "changed")]
    assert result.interrupted == {"web1": "after 'images'"} and not result.failed_hosts
    assert result.exit_code == 130
    warning = next(e for e in report.events if e.kind == "warning")
    assert warning.message == "interrupted (Ctrl-C) after 'images': the tasks from 'switch' on did not run"


def test_ctrl_c_inside_the_window_waits_for_its_end(tmp_path: Path) -> None:
    conn = PressingConnection("switch-current")
    result, report = run(tmp_path, {"web1": conn}, TASKS)
    assert [task for task, _ in statuses(report)] == ["stage", "images", "switch", "migrate", "gate"]
    assert result.interrupted == {"web1": "after 'gate'"}
    assert "media" not in [c.command for c in conn.calls]


def test_notified_handlers_still_run_after_ctrl_c(tmp_path: Path) -> None:
    conn = PressingConnection("stop-writers")
    result, report = run(tmp_path, {"web1": conn}, [
        {"name": "stop", "command": {"cmd": "stop-writers"}, "notify": "start again"},
        {"name": "restore", "command": {"cmd": "pg-restore"}},
    ], handlers=[{"name": "start again", "command": {"cmd": "start-all"}}])
    assert statuses(report) == [("stop", "changed"), ("start again", "changed")]
    assert result.interrupted == {"web1": "after 'stop'"}


def test_a_press_before_the_run_stops_it_before_its_first_play(tmp_path: Path) -> None:
    INTERRUPT.presses = 1
    conn = FakeConnection()
    result, report = run(tmp_path, {"web1": conn}, TASKS)
    assert statuses(report) == [] and conn.calls == []
    assert result.interrupted == {"web1": "before play 'test play'"}


def test_shielded_work_is_never_stopped(tmp_path: Path) -> None:
    INTERRUPT.presses = 1
    with INTERRUPT.shielded():
        result, report = run(tmp_path, {"web1": FakeConnection()}, TASKS)
    assert len(statuses(report)) == len(TASKS) and not result.interrupted


@pytest.mark.parametrize(("previous", "this", "stops"), [
    (True, True, True), (True, False, True), (False, True, True), (False, False, False)])
def test_a_window_is_two_non_interruptible_tasks_in_a_row(previous: bool, this: bool, stops: bool) -> None:
    state = Interrupt()
    assert not state.stops_before("h", previous, this), "nothing asked: never stops"
    state.presses = 1
    assert state.stops_before("h", previous, this) is stops


def test_the_abort_message_says_where_each_host_was_and_how_to_repair() -> None:
    state = Interrupt()
    state.at("vps", "stack up and healthy", interruptible=False)
    state.repair["vps"] = "moorage deploy --host vps --break-lock"
    state.repair["nexus"] = "moorage deploy --host nexus --break-lock"
    text = state.abort_message()
    assert "did not release the deploy lock" in text
    assert "vps: it was running 'stack up and healthy', inside the release switch and health gate" in text
    assert "repair with `moorage deploy --host vps --break-lock`" in text
    assert "nexus: no task was running" in text


def test_first_press_sets_the_flag_second_aborts_with_130() -> None:
    stopped: list[int] = []
    with catching(stop=stopped.append) as state:
        os.kill(os.getpid(), signal.SIGINT)
        assert state.requested and not stopped, "the first press only asks"
        os.kill(os.getpid(), signal.SIGINT)
        assert stopped == [130]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler is put back"


def test_ctrl_c_at_a_prompt_answers_no() -> None:
    def ask(prompt: str) -> str:
        os.kill(os.getpid(), signal.SIGINT)
        return "production"

    with catching(stop=lambda code: None):
        assert asking(ask)("type the environment: ") == ""


def test_an_interrupted_host_ends_the_recipe_with_130_and_its_own_line(capsys: pytest.CaptureFixture[str]) -> None:
    from fakes import quiet_report

    from moorage.recipes.outcome import Outcome, finish

    report = quiet_report()
    code = finish([Outcome("vps", False, "interrupted (Ctrl-C) before 'migrations': release R1 is still live",
                           interrupted=True), Outcome("nexus", True, "release R2 is live")], report)
    assert code == 130
    outcome = next(e for e in report.events if e.kind == "outcome" and e.host == "vps")
    assert outcome.status == "interrupted"
    assert capsys.readouterr().err == "vps: interrupted (Ctrl-C) before 'migrations': release R1 is still live\n"
    assert report.recaps.get("vps") is None or report.recaps["vps"].failed == 0, "interrupted is not failed"


def test_an_interrupted_rollback_says_which_release_is_live_and_audits_it() -> None:
    from moorage.recipes.rollback import _interrupted

    conn = FakeConnection()
    outcome = _interrupted(conn, "/srv/app", "vps", "R1", ("R2", "R2"), True, "before 'application directory'")
    assert outcome.interrupted and not outcome.ok
    assert outcome.message == ("interrupted (Ctrl-C) before 'application directory': release R2 is live; nothing "
                               "was rolled back to R1; the database restore did not run")
    (audit,) = [c.command for c in conn.calls if "audit.log" in c.command]
    assert "rollback by=" in audit and "release=R1 result=interrupted previous=R2" in audit
