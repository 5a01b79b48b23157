"""The readiness gate's verdicts, as a user reads them: which container is ready, which one to
wait for, and which one fails the deploy at once (without waiting for the timeout)."""

from __future__ import annotations

import pytest
from fakes import FakeConnection

from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.compose_ready import ComposeReady, Container, judge, parse_poll

NOW = 1_800_000_000.0


def _c(service: str, status: str = "running", health: str = "", code: int = 0, restarts: int = 0,
       up: float = 60, depends: str = "", cid: str = "") -> Container:
    return Container(cid or service, service, status, health, code, restarts, NOW - up, depends)


def _states(containers: list[Container], first: dict[str, int] | None = None, completed: set[str] | None = None
            ) -> dict[str, tuple[str, str]]:
    return {v.service: (v.state, v.why) for v in judge(containers, NOW, {} if first is None else first, 5,
                                                       completed or set())}


def test_a_worker_without_healthcheck_is_ready_once_it_ran_the_settle_time() -> None:
    states = _states([_c("worker", up=1), _c("beat", up=30)])
    assert states["worker"][0] == "waiting" and "not yet 5 s" in states["worker"][1]
    assert states["beat"] == ("ready", "running for 30 s")


def test_healthchecks_decide_where_they_exist() -> None:
    states = _states([_c("api", health="starting"), _c("db", health="healthy"), _c("cache", health="unhealthy")])
    assert states["api"][0] == "waiting"
    assert states["db"][0] == "ready"
    assert states["cache"] == ("failed", "is unhealthy (its healthcheck fails)")


def test_an_exited_service_fails_at_once_unless_it_is_a_one_shot_another_waits_for() -> None:
    web = _c("web", depends="migrate:service_completed_successfully:false,db:service_healthy:false")
    states = _states([web, _c("migrate", status="exited"), _c("worker", status="exited", code=3)])
    assert states["migrate"] == ("ready", "completed")
    assert states["worker"] == ("failed", "exited with status 3")
    alone = _states([_c("seed", status="exited")])
    assert alone["seed"][0] == "failed" and "not a one-shot" in alone["seed"][1]
    assert _states([_c("seed", status="exited")], completed={"seed"})["seed"] == ("ready", "completed")
    failed_one_shot = _states([web, _c("migrate", status="exited", code=1)])
    assert failed_one_shot["migrate"] == ("failed", "exited with status 1")


def test_a_one_shot_still_running_is_waited_for() -> None:
    web = _c("web", depends="migrate:service_completed_successfully:false")
    assert _states([web, _c("migrate", up=600)])["migrate"][0] == "waiting"


def test_restarting_or_a_restart_during_the_gate_fails() -> None:
    assert _states([_c("worker", status="restarting", restarts=2)])["worker"][0] == "failed"
    first: dict[str, int] = {}
    assert _states([_c("worker", up=1)], first)["worker"][0] == "waiting"
    assert _states([_c("worker", up=1, restarts=1)], first)["worker"][0] == "failed"


def test_the_poll_output_parses_with_docker_timestamps() -> None:
    text = ("1800000000\n"
            'abc|0|web|db:service_healthy:false|{"Status":"running","ExitCode":0,'
            '"StartedAt":"2027-01-15T08:00:00.123456789Z","Health":{"Status":"healthy","Log":[]}}\n'
            'def|0|worker|<no value>|{"Status":"exited","ExitCode":2,'
            '"StartedAt":"0001-01-01T00:00:00Z","Error":"a|b"}\n')
    now, containers = parse_poll(text)
    assert now == 1_800_000_000
    assert [(c.service, c.status, c.health, c.exit_code) for c in containers] == [
        ("web", "running", "healthy", 0), ("worker", "exited", "", 2)]
    assert containers[0].started > 0


def test_the_gate_stops_at_the_first_poll_that_shows_a_failure_and_quotes_its_logs() -> None:
    conn = FakeConnection()
    conn.answer("logs --no-color --tail 20 worker", stdout="worker-1  | cannot reach the broker\n")
    conn.answer("docker inspect", stdout='1800000000\nabc|0|worker||{"Status":"exited","ExitCode":3}\n')
    op = ComposeReady({"project_dir": "/srv/app/current", "project_name": "app", "timeout": 600},
                      OpContext("web1", {}))
    change = op.plan(Facts())
    assert change is not None
    with pytest.raises(TaskFailed) as failed:
        op.apply(change, conn)
    assert str(failed.value).startswith("services not ready (after 0 s): worker exited with status 3")
    assert "cannot reach the broker" in failed.value.stderr
    assert len(conn.commands) == 2  # one poll, then the failing service's logs
