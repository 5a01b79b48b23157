"""Release states and the server's order, on a real shell (the local connection): what a user sees
in `releases` and what a rollback or a deploy's recovery picks after failed deploys."""

from __future__ import annotations

import json
from pathlib import Path

from fakes import FakeConnection

from moorage.connection import LocalConnection, Target
from moorage.operations import server_state as server
from moorage.operations.base import OpContext
from moorage.operations.release import Release
from moorage.recipes.deploy import _Deploy


def _conn() -> LocalConnection:
    return LocalConnection(Target("pc", connection="local"))


def _record(conn: LocalConnection, app: Path, release_id: str, content: str, keep: int = 5) -> None:
    (app / "config").mkdir(parents=True, exist_ok=True)
    (app / "config" / "compose.yml").write_text(content)
    script = Release({"app_dir": str(app), "id": release_id, "images": [], "keep": keep}, OpContext("pc", {})).script()
    assert conn.run(script).ok


def _ids(ledger: server.Ledger) -> list[tuple[str, str]]:
    return [(r["id"], r["state"]) for r in ledger.releases]


def test_the_server_orders_releases_whatever_the_controllers_clock_says(tmp_path: Path) -> None:
    conn = _conn()
    _record(conn, tmp_path, "20270101T000000Z", "a")   # a controller whose clock is a year ahead
    _record(conn, tmp_path, "20260101T000000Z", "b")   # then a right one
    ledger = server.read_ledger(conn, str(tmp_path))
    assert _ids(ledger) == [("20260101T000000Z", "pending"), ("20270101T000000Z", "pending")]
    assert [r["seq"] for r in ledger.releases] == [2, 1]


def test_releases_from_before_states_and_numbers_are_older_and_the_current_one_is_live(tmp_path: Path) -> None:
    conn = _conn()
    for rid in ("old1", "old2"):
        (tmp_path / "releases" / rid).mkdir(parents=True)
        (tmp_path / "releases" / rid / "release.json").write_text(json.dumps({"id": rid, "previous": ""}) + "\n")
    (tmp_path / "current").symlink_to("releases/old2")
    _record(conn, tmp_path, "a-new-one", "x")
    ledger = server.read_ledger(conn, str(tmp_path))
    assert [r["id"] for r in ledger.releases] == ["a-new-one", "old2", "old1"]
    assert ledger.inferred == {"old1", "old2"}
    assert ledger.state("old2") == "superseded"  # not current any more: the new one is


def test_a_failed_release_is_no_rollback_target_and_is_pruned_before_the_last_good_one(tmp_path: Path) -> None:
    conn, app = _conn(), str(tmp_path)
    _record(conn, tmp_path, "r1", "good", keep=2)
    server.mark_live(conn, server.read_ledger(conn, app), app, "r1")
    _record(conn, tmp_path, "r2", "bad", keep=2)
    server.set_states(conn, app, {"r2": "failed"})
    ledger = server.read_ledger(conn, app)
    assert ledger.live_besides("r2")["id"] == "r1"  # type: ignore[index]
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to("releases/r1")   # the deploy's recovery brought r1 back
    _record(conn, tmp_path, "r3", "bad again", keep=2)
    server.set_states(conn, app, {"r3": "failed"})
    ledger = server.read_ledger(conn, app)
    assert _ids(ledger) == [("r3", "failed"), ("r1", "live")]  # r2 (failed) pruned, r1 kept
    assert ledger.good_before("r3")["id"] == "r1"  # type: ignore[index]


def test_previous_skips_failed_releases_and_a_rollback_is_announced(tmp_path: Path) -> None:
    conn, app = _conn(), str(tmp_path)
    for rid, state in (("r1", "superseded"), ("r2", "failed"), ("r3", "live")):
        _record(conn, tmp_path, rid, rid)
        server.set_states(conn, app, {rid: state})
    ledger = server.read_ledger(conn, app)
    assert ledger.find("previous")["id"] == "r1"  # type: ignore[index]
    assert ledger.rolled_back_from() is None
    server.set_states(conn, app, {"r3": "rolled-back", "r1": "live"})
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to("releases/r1")
    assert server.read_ledger(conn, app).rolled_back_from()["id"] == "r3"  # type: ignore[index]


def test_after_a_failed_first_deploy_the_next_failure_has_nothing_to_roll_back_to() -> None:
    """The first deploy's release never went live: a second failed deploy marks its own release failed
    and doesn't "roll back" to the first one (which failed its gate too)."""
    conn = FakeConnection()
    ledger = server.Ledger("r2", [{"id": "r2", "seq": 2, "previous": "r1", "state": "pending"},
                                  {"id": "r1", "seq": 1, "previous": "", "state": "failed"}])
    steps = _Deploy.__new__(_Deploy)
    steps.release_id = "r2"
    outcome = steps._recover(conn, type("H", (), {"name": "web1"})(), ledger, "/srv/app")  # type: ignore[arg-type]
    assert not outcome.ok and "no earlier release passed its deploy" in outcome.message
    assert any("failed" in c and "releases/r2/.state" in c for c in conn.commands)


def _ledger(current: str, states: dict[str, str]) -> server.Ledger:
    releases = [{"id": rid, "seq": n, "state": state} for n, (rid, state) in
                reversed(list(enumerate(states.items(), start=1)))]
    return server.Ledger(current, releases)


def test_previous_after_an_interruption_goes_back_to_what_was_live_or_finishes_the_cut_rollback() -> None:
    # no interruption: the good release before the current (live) one
    assert _ledger("r3", {"r1": "superseded", "r2": "failed", "r3": "live"}).find("previous")["id"] == "r1"
    # a deploy cut after its switch: current r4 never passed its gate; r3 is what was live
    assert _ledger("r4", {"r2": "superseded", "r3": "live", "r4": "pending"}).find("previous")["id"] == "r3"
    assert _ledger("r4", {"r2": "superseded", "r3": "live", "r4": "failed"}).find("previous")["id"] == "r3"
    # `rollback --to previous` from r5 cut after switching to r4: the same command again targets r4 again
    cut = _ledger("r4", {"r3": "superseded", "r4": "superseded", "r5": "live"})
    assert cut.find("previous")["id"] == "r4"


def test_previous_skips_a_release_that_was_rolled_back() -> None:
    # r2 went live, was rolled back to r1, then r3 was deployed: `previous` is r1, which served
    # before r3 (it went to r2, the refused release, and said success while r3's version served)
    ledger = _ledger("r3", {"r1": "superseded", "r2": "rolled-back", "r3": "live"})
    assert ledger.find("previous")["id"] == "r1"  # type: ignore[index]
    assert ledger.find("r2")["state"] == "rolled-back"  # type: ignore[index]  # still a target by id
    # only rolled-back releases before: none is `previous`
    assert _ledger("r2", {"r1": "rolled-back", "r2": "live"}).find("previous") is None


def test_a_cut_rollback_run_again_marks_the_release_it_replaced_rolled_back() -> None:
    """The cut run switched current to r4 already; the rerun's rollback replaces r5, the live one."""
    from moorage.recipes.rollback import _mark
    conn = FakeConnection()
    said = _mark(conn, _ledger("r4", {"r3": "superseded", "r4": "superseded", "r5": "live"}), "/srv/app", "r4")
    assert "r5 is marked rolled-back" in said
    assert any("rolled-back" in c and "releases/r5/.state" in c for c in conn.commands)


def test_a_rollback_after_a_failure_names_the_task_and_the_first_line_of_its_failure() -> None:
    from moorage.executor.results import RunResult, TaskRecord
    from moorage.recipes.deploy import _failure

    result = RunResult(tasks={"web1": [
        TaskRecord("stack up", "changed"),
        TaskRecord("smoke tests: suite", "failed", "smoke test 'suite' failed: exited with status 1; its output "
                   "ends:\ntest_copy_list_flow FAILED")]})
    # the clause introducing the lines below is not left dangling ("its output ends:, release R is live")
    assert _failure(result, "web1") == " at 'smoke tests: suite': smoke test 'suite' failed: exited with status 1"
    bare = RunResult(tasks={"web1": [TaskRecord("stack up", "failed", "docker compose up failed:\nport in use")]})
    assert _failure(bare, "web1") == " at 'stack up': docker compose up failed"
    assert _failure(RunResult(), "web1") == ""
