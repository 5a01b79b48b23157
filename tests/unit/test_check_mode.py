"""Check mode's pure parts: a check run where the plan writes first is 'not yet', the release's
predicted registered value (created, previous), and a HostError named beside its host once.
The host is an in-memory stand-in answering each command with a fixed result."""

from __future__ import annotations

import pytest

from moorage.connection.base import CommandResult
from moorage.errors import HostError, InputError
from moorage.operations.base import Facts, NotYet, OpContext, TaskFailed
from moorage.operations.command import Command
from moorage.operations.release import Release


class Answers:
    """A connection whose every command gets ``exit_code`` and ``stdout``; it records the commands."""

    def __init__(self, exit_code: int = 0, stdout: str = "") -> None:
        self.exit_code, self.stdout, self.commands = exit_code, stdout, []

    def run(self, command, stdin=None, timeout=None, become=None):
        self.commands.append(command)
        return CommandResult(command, self.exit_code, self.stdout.encode(), b"bad key on line 3\n")


def command(changed_paths: set[str], **args) -> Command:
    context = OpContext("web1", {}, changed_paths=frozenset(changed_paths))
    return Command({"cmd": "docker compose config --quiet", "check_only": True, **args}, context)


@pytest.mark.parametrize("changed", [{"/srv/app/config"}, {"/srv/app/config/compose.yml"}])
def test_a_check_in_a_directory_the_plan_writes_is_not_yet_and_asks_the_host_nothing(changed):
    op = command(changed, chdir="/srv/app/config")
    conn = Answers()
    with pytest.raises(NotYet, match="would run in /srv/app/config once the changes above are made there"):
        op.would_change(op.plan(Facts()), conn)
    assert conn.commands == []


@pytest.mark.parametrize("changed", [set(), {"/srv/app/media"}, {"/srv/app/configuration"}])
def test_a_check_elsewhere_runs_now_and_its_failure_is_a_task_failure(changed):
    op = command(changed, chdir="/srv/app/config")
    assert op.would_change(op.plan(Facts()), Answers()) is False
    with pytest.raises(TaskFailed) as failed:
        op.would_change(op.plan(Facts()), Answers(exit_code=1))
    assert failed.value.exit_code == 1 and "bad key on line 3" in failed.value.stderr


def release(changed_paths: set[str]) -> Release:
    context = OpContext("web1", {}, changed_paths=frozenset(changed_paths))
    return Release({"app_dir": "/srv/app", "id": "20270101T000000Z", "images": ["web:1"]}, context)


@pytest.mark.parametrize(("changed", "exit_code", "created", "previous"), [
    ({"/srv/app/config/.env"}, 0, True, "20261201T000000Z"),   # staged config changes: a release
    (set(), 1, True, "20261201T000000Z"),                       # the host's hash differs from current's
    (set(), 0, False, ""),                                      # same content: nothing recorded
])
def test_check_mode_predicts_the_release_and_the_one_it_replaces(changed, exit_code, created, previous):
    op = release(changed)
    change = op.plan(Facts())
    conn = Answers(exit_code=exit_code, stdout="20261201T000000Z\n")
    assert op.would_change(change, conn) is created
    assert (change.data["created"], change.data["previous"]) == (created, previous)
    assert len(conn.commands) == 1 and "readlink /srv/app/current" in conn.commands[0]


def test_a_host_error_is_named_beside_its_host_once():
    error = HostError("accnotes", "deploy lock on /srv/a is held")
    assert str(error) == "accnotes: deploy lock on /srv/a is held"
    assert error.detail == "deploy lock on /srv/a is held"
    assert InputError("bad").detail == "bad"
