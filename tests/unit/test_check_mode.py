"""Check mode, decided in one place (the executor): a check run where the plan writes first is
'not yet', a read-only check runs and its failure fails the task, the release's predicted
registered value (created, previous), and a HostError named beside its host once.  The host is
the in-memory fake connection (tests/unit/fakes.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeConnection
from test_executor import run, statuses

from moorage.errors import HostError, InputError
from moorage.executor import RunOptions

CHECK = RunOptions(check=True)
CONFIG_CHECK = {"name": "config is valid",
                "command": {"cmd": "docker compose config --quiet", "chdir": "/srv/app/config", "check_only": True}}


def write(path: str) -> dict:
    return {"name": f"write {path}", "file": {"path": path, "content": "x\n"}}


def task_event(report, name: str):
    return next(e for e in report.events if e.kind == "task" and e.task == name)


@pytest.mark.parametrize("path", ["/srv/app/config/compose.yml", "/srv/app/config/.env"])
def test_a_check_in_a_directory_the_plan_writes_is_not_yet_and_asks_the_host_nothing(tmp_path: Path, path):
    conn = FakeConnection()
    result, report = run(tmp_path, {"web1": conn}, [write(path), CONFIG_CHECK], options=CHECK)
    assert result.exit_code == 0
    event = task_event(report, "config is valid")
    assert (event.status, event.summary) == (
        "skipped", "would run in /srv/app/config once the changes above are made there")
    assert not any("config --quiet" in c for c in conn.commands)


@pytest.mark.parametrize("path", ["/srv/app/media/a.png", "/srv/app/configuration"])
def test_a_check_elsewhere_runs_now_and_its_failure_is_a_task_failure(tmp_path: Path, path):
    conn = FakeConnection()
    _, report = run(tmp_path, {"web1": conn}, [write(path), CONFIG_CHECK], options=CHECK)
    assert statuses(report)[-1] == ("config is valid", "ok")
    assert any(c.endswith("docker compose config --quiet") for c in conn.commands)

    broken = FakeConnection().answer("config --quiet", exit_code=1, stderr="bad key on line 3\n")
    result, report = run(tmp_path, {"web1": broken}, [write(path), CONFIG_CHECK], options=CHECK)
    failed = task_event(report, "config is valid")
    assert result.exit_code == 1 and failed.status == "failed"
    assert failed.data["exit_code"] == 1 and "bad key on line 3" in failed.data["stderr"]


RELEASE = {"name": "release", "release": {"app_dir": "/srv/app", "id": "20270101T000000Z", "images": ["web:1"]},
           "register": "rel"}
AFTER = {"name": "backup first", "command": {"cmd": "backup {{ rel.previous }}"}, "when": "rel.created"}


@pytest.mark.parametrize(("tasks", "exit_code", "status", "previous"), [
    ([write("/srv/app/config/.env")], 1, "changed", "20261201T000000Z"),  # staged config: no hash, `exit 1`
    ([], 1, "changed", "20261201T000000Z"),                              # the host's hash differs from current's
    ([], 0, "ok", ""),                                                   # same content: nothing recorded
])
def test_check_mode_predicts_the_release_and_the_one_it_replaces(tmp_path: Path, tasks, exit_code, status,
                                                                 previous):
    conn = FakeConnection().answer("readlink /srv/app/current", exit_code=exit_code, stdout="20261201T000000Z\n")
    _, report = run(tmp_path, {"web1": conn}, [*tasks, RELEASE, AFTER], options=CHECK)
    event = task_event(report, "release")
    assert event.status == status
    assert (event.data["created"], event.data["previous"]) == (status == "changed", previous)
    assert statuses(report)[-1] == ("backup first", "changed" if status == "changed" else "skipped")
    asked = [c for c in conn.commands if "readlink /srv/app/current" in c]
    assert len(asked) == 1 and ("content-hash" in asked[0]) is not bool(tasks), "staged: the hash is not asked"
    assert not any(c.is_batch for c in conn.calls)


def test_a_host_error_is_named_beside_its_host_once():
    error = HostError("accnotes", "deploy lock on /srv/a is held")
    assert str(error) == "accnotes: deploy lock on /srv/a is held"
    assert error.detail == "deploy lock on /srv/a is held"
    assert InputError("bad").detail == "bad"
