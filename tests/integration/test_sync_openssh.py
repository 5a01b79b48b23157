"""A large sync's rsync stream rides the controller's OpenSSH client (C, not Python), pinned to the
host key moorage's own connection verified: a user sees which way the bytes went in the task's
``via``; a key OpenSSH can't use falls back to moorage's own connection; a host whose key changed
under the second connection is refused, as moorage's connection refuses it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from moorage.connection import SSHConnection
from moorage.errors import HostError
from moorage.operations.sync import DIRECT_FROM
from moorage.operations.sync_transport import Meter, run_rsync

from .test_sync import local_tree, logins, project, remote_tree, sync_media, task


@pytest.fixture(scope="module")
def server(testbed):
    started = testbed.start("sshd", name="sync-openssh")
    yield started
    testbed.stop(started)


def big_media(root: Path, name: str = "video", count: int = 3) -> None:
    """Enough incompressible bytes (over ``DIRECT_FROM``) for the OpenSSH route."""
    for i in range(count):
        (root / f"{name}-{i}.bin").write_bytes(os.urandom(DIRECT_FROM // 2))


def test_a_large_tree_rides_openssh_and_a_key_it_cannot_use_falls_back(server, write_inventory, tmp_path):
    inventory = project(tmp_path, server, write_inventory)
    media = inventory.parent / "media"
    big_media(media)
    before = logins(server)
    first = sync_media(inventory)
    assert first.code == 0, first.stdout + first.stderr
    assert task(first)["data"]["via"] == "openssh" and task(first)["data"]["transport"] == "rsync"
    assert remote_tree(server) == local_tree(media)
    assert first.recap("web")["connections"] == 2 and logins(server) - before == 2, \
        "moorage's own connection, then the OpenSSH client's for the stream"

    # OpenSSH ignores a private key others can read (Paramiko doesn't): ssh can't log in, so the
    # stream goes over moorage's own connection, and the task says why.
    loose = tmp_path / "loose_key"
    shutil.copyfile(server.key_file, loose)
    loose.chmod(0o644)
    (tmp_path / "loose").mkdir()
    other = project(tmp_path / "loose", server, write_inventory, ssh_key=str(loose))
    shutil.rmtree(other.parent / "media")
    shutil.copytree(media, other.parent / "media")
    big_media(other.parent / "media", "more")
    before = logins(server)
    fallback = sync_media(other)
    assert fallback.code == 0, fallback.stdout + fallback.stderr
    via = task(fallback)["data"]["via"]
    assert via.startswith("paramiko (OpenSSH client: ") and "Permission denied" in via, via
    assert task(fallback)["data"]["files"] == 3 and remote_tree(server) == local_tree(other.parent / "media")
    assert logins(server) - before == 1, "only moorage's own connection logged in"

    (tmp_path / "small").mkdir()
    small = project(tmp_path / "small", server, write_inventory)
    quick = sync_media(small, "--delete")
    assert quick.code == 0 and task(quick)["data"]["via"] == "paramiko", "a small tree stays on one connection"
    assert remote_tree(server) == local_tree(small.parent / "media") and len(remote_tree(server)) == len(MEDIA_FILES)


MEDIA_FILES = [p for p in Path(__file__).resolve().parents[2].joinpath("examples/dm/media").rglob("*") if p.is_file()]


def test_openssh_refuses_a_host_whose_key_changed_as_moorage_s_connection_does(fresh_server, write_inventory,
                                                                                tmp_path):
    server = fresh_server("sshd")
    src = tmp_path / "src"
    src.mkdir()
    big_media(src)
    conn = SSHConnection(server.target())
    try:
        assert conn.run("true").ok  # moorage's connection verified the pinned key
        # The server now shows another key to every new connection (reinstalled, or someone in between).
        changed = server.exec("rm -f /etc/ssh/ssh_host_* && ssh-keygen -A")
        assert changed.returncode == 0, changed.stderr
        meter = Meter(lambda summary, data: None, "sync", 0)
        with pytest.raises(HostError, match=r"CHANGED .*refusing to connect \(possible man-in-the-middle\)"):
            run_rsync(["rsync", "-rlpt"], f"{src}/", "/srv/media/", conn, "", meter, direct=True)
    finally:
        conn.close()
    assert server.exec("test -e /srv/media").returncode != 0, "nothing was sent"
    inventory = project(tmp_path, server, write_inventory)
    refused = sync_media(inventory)
    assert refused.code != 0 and "CHANGED" in refused.stdout + refused.stderr, "the same refusal, from Paramiko"
