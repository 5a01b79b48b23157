"""A rerun after an interruption goes by the server's record: the release operation on a real shell
(the local connection) says ``resumed`` for a current release still pending with the same content,
and the deploy's decisions (finish it, or roll back to the last live release) from the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.connection import LocalConnection, Target
from moorage.operations import server_state as server
from moorage.operations.backups import scripts
from moorage.operations.base import OpContext
from moorage.operations.release import Release
from moorage.recipes import resume


def _release(app: Path, release_id: str, content: str) -> dict[str, object]:
    """Record ``content`` as release ``release_id`` (the operation's script); returns what it registers."""
    conn = LocalConnection(Target("pc", connection="local"))
    (app / "config").mkdir(parents=True, exist_ok=True)
    (app / "config" / "compose.yml").write_text(content)
    op = Release({"app_dir": str(app), "id": release_id, "images": []}, OpContext("pc", {}))
    result = op.apply(op.plan({}) or pytest.fail("no change"), conn)  # type: ignore[arg-type]
    return {"changed": result.changed, "message": result.message, **result.data}


def test_a_pending_current_release_with_the_same_content_is_resumed_not_recreated(tmp_path: Path) -> None:
    conn = LocalConnection(Target("pc", connection="local"))
    app = str(tmp_path)
    assert _release(tmp_path, "r1", "v1")["created"] is True
    server.mark_live(conn, server.read_ledger(conn, app), app, "r1")
    assert _release(tmp_path, "r2", "v2")["created"] is True   # switched; then the run was killed
    rerun = _release(tmp_path, "r3", "v2")                      # the same project, a new run id
    assert rerun == {"changed": False, "release": "r2", "previous": "r1", "created": False, "resumed": True,
                     "message": "release r2 is current but never passed its gate (an interrupted deploy): "
                                "this run finishes it"}
    server.mark_live(conn, server.read_ledger(conn, app), app, "r2")
    settled = _release(tmp_path, "r4", "v2")                    # once live: a no-change deploy
    assert (settled["resumed"], settled["created"], settled["message"]) == (False, False, "release r2 unchanged")
    assert sorted(p.name for p in (tmp_path / "releases").iterdir()) == ["r1", "r2"]


@pytest.mark.parametrize(("current", "states", "expected"), [
    ("r2", {"r2": "pending", "r1": "live"}, resume.Unfinished("r2", "r1")),
    ("r2", {"r2": "pending", "r1": "failed"}, resume.Unfinished("r2", None)),
    ("r2", {"r2": "live", "r1": "superseded"}, None),
    ("r1", {"r2": "rolled-back", "r1": "live"}, None),
    (None, {}, None),
])
def test_what_a_rerun_finds_unfinished(current: str | None, states: dict[str, str],
                                       expected: resume.Unfinished | None) -> None:
    ledger = server.Ledger(current, [{"id": rid, "state": state} for rid, state in states.items()])
    assert resume.unfinished(ledger) == expected


@pytest.mark.parametrize(("current", "states", "this_run", "expected"), [
    # this run's release switched to and failed its gate: failed, roll back
    ("r3", {"r3": "pending", "r2": "live"}, "r3", resume.AfterFailure(("r3",), True, None)),
    # a rerun finishing r2 (interrupted after its switch) failed: r2 failed, roll back to r1
    ("r2", {"r2": "pending", "r1": "live"}, "r9", resume.AfterFailure(("r2",), True, None)),
    # a rerun whose project changed meanwhile: its own r9 switched after the pending r2 and failed
    ("r9", {"r9": "pending", "r2": "pending", "r1": "live"}, "r9", resume.AfterFailure(("r9",), True, None)),
    # failed before any switch (images, a compose file error): the live release is untouched
    ("r1", {"r1": "live"}, "r9", resume.AfterFailure((), False, "r1")),
    (None, {}, "r9", resume.AfterFailure((), False, None)),
])
def test_what_a_failed_deploy_does(current: str | None, states: dict[str, str], this_run: str,
                                   expected: resume.AfterFailure) -> None:
    ledger = server.Ledger(current, [{"id": rid, "state": state} for rid, state in states.items()])
    assert resume.after_failure(ledger, this_run) == expected


def test_a_release_whose_backup_is_recorded_gets_no_second_one(tmp_path: Path) -> None:
    """Taken before the interruption, the backup holds the data before any migration: a rerun's
    backup (after a half-run migration) must not replace it in the record."""
    conn = LocalConnection(Target("pc", connection="local"))
    record = tmp_path / "release.json"
    record.write_text('{"id": "r2", "backup": {"files": ["a.dump"], "data_of": "r1", "taken": "x"}}\n')
    script = scripts.backup_script(backup_dir=str(tmp_path / "b"), project_name="p", prefix="p",
                                   databases=[{"service": "db"}], record_in=str(record))
    ran = conn.run(script)
    assert ran.ok and "@@skipped recorded" in ran.text and not (tmp_path / "b").exists()
