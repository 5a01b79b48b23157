"""The deploy lock: taken, refused when held (saying by whom and whether that run is gone),
failing for another reason with that reason and nothing left behind; half-written releases removed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from moorage.connection.local import LocalConnection
from moorage.errors import HostError
from moorage.operations import server_lock as lock
from moorage.target import Target


@pytest.fixture
def conn() -> LocalConnection:
    return LocalConnection(Target("pc", connection="local"))


def test_taken_held_released(conn: LocalConnection, tmp_path: Path) -> None:
    app = str(tmp_path / "app")
    assert lock.acquire(conn, app, "deploy") == (None, [], None)
    holder = json.loads((tmp_path / "app/.moorage/lock/holder").read_text())
    assert holder["action"] == "deploy" and holder["by"] == lock.operator() and holder["session"]
    state = lock.inspect(conn, app)
    assert state.held and state.session_alive is True and state.stale() == ""
    with pytest.raises(lock.LockHeld, match=r"is held: deploy by .* \(pid \d+\) since .*--break-lock"):
        lock.acquire(conn, app, "rollback")
    lock.release(conn, app)
    assert lock.inspect(conn, app).describe() == "free"


def test_a_lock_whose_holder_is_gone_is_stale(conn: LocalConnection, tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / ".moorage/lock").mkdir(parents=True)
    (app / ".moorage/lock/holder").write_text(json.dumps(
        {"by": "ci@elsewhere", "pid": 4242, "since": "2026-01-01T00:00:00Z", "action": "deploy",
         "session": "999999 12345"}) + "\n")
    state = lock.inspect(conn, str(app))
    assert state.session_alive is False
    assert state.describe().startswith("deploy by ci@elsewhere (pid 4242) since 2026-01-01T00:00:00Z, for ")
    assert "stale: the holder's connection to the server is gone" in state.describe()
    broken, _, took_over = lock.acquire(conn, str(app), "deploy")
    assert broken is None and took_over is not None and "ci@elsewhere" in took_over
    assert json.loads((app / ".moorage/lock/holder").read_text())["by"] == lock.operator()
    assert sorted(p.name for p in (app / ".moorage").iterdir()) == ["lock"]


def test_a_lock_merely_old_or_alive_is_not_taken_over(conn: LocalConnection, tmp_path: Path) -> None:
    """Only the server's proof that the holder's connection is gone allows a takeover: a lock
    whose session can't be told (no session recorded) stays held, however old; --break-lock breaks it."""
    app = tmp_path / "app"
    (app / ".moorage/lock").mkdir(parents=True)
    (app / ".moorage/lock/holder").write_text(json.dumps({"by": "ci@elsewhere", "pid": 4242}) + "\n")
    with pytest.raises(lock.LockHeld, match="ci@elsewhere"):
        lock.acquire(conn, str(app), "deploy")
    broken, _, took_over = lock.acquire(conn, str(app), "deploy", break_lock=True)
    assert broken is not None and "ci@elsewhere" in broken and took_over is None


def test_a_takeover_removes_only_the_lock_it_saw(conn: LocalConnection, tmp_path: Path) -> None:
    """Two reruns racing: the second's takeover finds another holder than the one it judged and
    removes nothing."""
    app = str(tmp_path / "app")
    lock.acquire(conn, app, "deploy")
    assert not conn.run(lock.takeover_command(app, '{"by": "someone else"}')).ok
    assert lock.inspect(conn, app).held


def test_another_failure_says_why_and_leaves_no_lock(conn: LocalConnection, tmp_path: Path) -> None:
    (tmp_path / "app").write_text("a file where app_dir should be\n")
    with pytest.raises(HostError) as raised:
        lock.acquire(conn, str(tmp_path / "app"), "deploy")
    assert not isinstance(raised.value, lock.LockHeld)
    assert "cannot take the deploy lock" in str(raised.value) and "held" not in str(raised.value)
    assert "no lock was left behind" in str(raised.value)


def test_half_written_releases_are_removed_once_the_lock_is_taken(conn: LocalConnection, tmp_path: Path) -> None:
    releases = tmp_path / "app/releases"
    (releases / "20260101T000000Z.partial/sub").mkdir(parents=True)
    (releases / "20260101T000000Z").mkdir()
    (releases / "link.partial").symlink_to(tmp_path)
    _, removed, _ = lock.acquire(conn, str(tmp_path / "app"), "deploy")
    assert removed == ["20260101T000000Z.partial"]
    assert sorted(p.name for p in releases.iterdir()) == ["20260101T000000Z", "link.partial"]


@pytest.mark.parametrize(("stderr", "starts"), [
    ("cat: write error: No space left on device", "no space left on device — the disk is full"),
    ("mkdir: cannot create directory '/srv/a/.moorage/lock': Read-only file system", "read-only file system"),
    ("mkdir: cannot create directory '/srv/a/.moorage': Permission denied", "permission denied — the user"),
    ("mkdir: cannot create directory '/srv/a': Disk quota exceeded", "disk quota exceeded"),
    ("something odd", "something odd"),
    ("", "the command failed without saying why"),
])
def test_failure_reasons(stderr: str, starts: str) -> None:
    assert lock.failure_reason(stderr).startswith(starts)


@pytest.mark.parametrize(("text", "held", "age", "alive"), [
    ("free\n", False, None, None),
    ("held 12 alive\n{}\n", True, 12.0, True),
    ("held 7300 unknown\n", True, 7300.0, None),
    ("", False, None, None),
])
def test_inspect_output(text: str, held: bool, age: float | None, alive: bool | None) -> None:
    state = lock.parse_inspect(text)
    assert (state.held, state.age, state.session_alive) == (held, age, alive)


def test_stale_reasons() -> None:
    assert "no holder recorded" in lock.LockState(True, "").stale()
    old = lock.LockState(True, '{"by": "x@y", "pid": 1}', age=3 * 3600, session_alive=None)
    assert old.stale() == "it was taken 3 h 0 min ago, longer than any deploy takes"
    assert lock.LockState(True, '{"by": "x@y", "pid": 1}', age=60, session_alive=True).stale() == ""


def test_the_session_is_the_connection_not_a_shell_or_sudo_between(conn: LocalConnection, tmp_path: Path) -> None:
    """Through ``sudo sh -c`` (a host with become) the shell's parent is sudo, gone when the command
    ends: the holder names the first ancestor that is neither (here: this test's process)."""
    import os
    import shlex

    app = str(tmp_path / "app")
    command = lock.take_command(app, {"by": "me"})
    assert conn.run(f"sh -c {shlex.quote('sh -c ' + shlex.quote(command))}").ok
    holder = json.loads((tmp_path / "app/.moorage/lock/holder").read_text())
    assert holder["session"].split()[0] == str(os.getpid())
    assert lock.inspect(conn, app).session_alive is True


def test_the_same_command_again_takes_a_stale_lock_over_saying_so(tmp_path: Path) -> None:
    """``server_state.locked`` (every deploy, rollback, restore): the takeover is a warning naming the
    holder and an audit line, and the lock is given back at the end."""
    from fakes import RecordingReport

    from moorage.operations import server_state

    app = tmp_path / "app"
    (app / ".moorage/lock").mkdir(parents=True)
    (app / ".moorage/lock/holder").write_text(json.dumps(
        {"by": "ci@elsewhere", "pid": 4242, "since": "2026-01-01T00:00:00Z", "action": "deploy",
         "session": "999999 12345"}) + "\n")
    report = RecordingReport()
    with server_state.locked(Target("pc", connection="local"), str(app), "deploy", False, report):
        assert json.loads((app / ".moorage/lock/holder").read_text())["by"] == lock.operator()
    (warning,) = [e.message or "" for e in report.events if e.kind == "warning"]
    assert warning.startswith("took over a stale lock from deploy by ci@elsewhere (pid 4242) since 2026-01-01")
    assert "take-over-lock" in (app / ".moorage/audit.log").read_text() and not (app / ".moorage/lock").exists()


def test_a_takeover_waits_for_the_cut_runs_commands_still_running_on_the_server(conn: LocalConnection,
                                                                                 tmp_path: Path) -> None:
    """A dropped connection's `docker compose up` runs on: the next run waits for it (found by the
    SSH_CONNECTION its environment inherited) before it takes the lock over, and refuses while it runs."""
    app = tmp_path / "app"
    (app / ".moorage/lock").mkdir(parents=True)
    connection = "192.0.2.9 40404 192.0.2.1 22"
    (app / ".moorage/lock/holder").write_text(json.dumps(
        {"by": "ci@elsewhere", "pid": 4242, "since": "2026-01-01T00:00:00Z", "action": "deploy",
         "session": "999999 12345", "connection": connection}) + "\n")
    still = subprocess.Popen(["sleep", "30"], env={**os.environ, "SSH_CONNECTION": connection})
    try:
        assert not conn.run(lock.drain_command(connection, seconds=2)).ok
        ended = subprocess.Popen(["sleep", "1"], env={**os.environ, "SSH_CONNECTION": "198.51.100.1 1 2 22"})
        assert conn.run(lock.drain_command("198.51.100.1 1 2 22", seconds=10)).ok  # waited for it to end
        assert ended.poll() is not None
    finally:
        still.kill()
        still.wait()
    assert conn.run(lock.drain_command(connection, seconds=2)).ok
    said: list[str] = []
    _, _, took_over = lock.acquire(conn, str(app), "deploy", say=said.append)
    assert took_over is not None and "ci@elsewhere" in took_over
    # the wait is said before it starts (it was silent for up to two minutes)
    assert len(said) == 1 and said[0].startswith("the deploy lock's holder (deploy by ci@elsewhere (pid 4242)")
    assert "waiting up to 120 s for its commands still running on the server to end" in said[0]
