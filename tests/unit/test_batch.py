"""The batch script, run by a real shell on a temporary directory (no SSH involved)."""

import os

from moorage.connection import LocalConnection, Target
from moorage.executor import batch
from moorage.operations.base import Shell, Upload


def _run(items):
    conn = LocalConnection(Target("local", connection="local"))
    payload = batch.build(items)
    return conn.run(payload.command, stdin=payload.stdin), conn


def test_uploads_and_shell_steps_apply_in_order_in_one_command(tmp_path):
    target = tmp_path / "app"
    result, conn = _run([
        [Shell(f"mkdir -p {target}")],
        [Upload(str(target / ".env"), b"A=1\n", "0600")],
        [Upload(str(target / "compose.yml"), b"services: {}\n", "0644")],
    ])
    assert result.ok, result.stderr
    assert batch.completed(result.text) == 3
    assert conn.stats.commands == 1
    assert (target / ".env").read_bytes() == b"A=1\n"
    assert oct((target / ".env").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in os.listdir(target) if "moorage-tmp" in p], "temp files left behind"


def test_a_failing_step_stops_the_batch_and_names_its_position(tmp_path):
    result, _ = _run([
        [Upload(str(tmp_path / "ok.txt"), b"ok")],
        [Upload(str(tmp_path / "no-such-dir" / "x.txt"), b"x")],
        [Upload(str(tmp_path / "never.txt"), b"never")],
    ])
    assert not result.ok
    assert batch.completed(result.text) == 1
    assert "no-such-dir" in result.stderr_tail()
    assert (tmp_path / "ok.txt").exists() and not (tmp_path / "never.txt").exists()


def test_an_existing_file_is_replaced_whole(tmp_path):
    path = tmp_path / "conf"
    path.write_text("old content that is longer than the new one\n")
    result, _ = _run([[Upload(str(path), b"new\n", "0644")]])
    assert result.ok and path.read_text() == "new\n"
