"""The sync operation on this machine: the local tree scan, the manifest, the comparison, and
whole syncs through the local connection with both transports (real rsync, real tar, real
files in a temp dir; the SSH path runs in tests/integration/test_sync.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from moorage.connection import LocalConnection, Target
from moorage.connection.local import LocalChannel
from moorage.facts import sync as tree
from moorage.operations import sync_transport
from moorage.operations.base import Change, Facts, OpContext, PlanError, TaskFailed
from moorage.operations.sync import Sync


def make_tree(root: Path, files: dict[str, bytes], mtime: int = 1_700_000_000) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))
    return root


def sync(src: Path, dest: Path, check: bool = False, events: list | None = None, **args) -> tuple[Change, object]:
    """Plan and apply (or check) a sync through the local connection, as the executor does."""
    context = OpContext("pc", {},
                        progress=lambda summary, data: events.append(data) if events is not None else None)
    op = Sync({"src": str(src), "dest": str(dest), **args}, context)
    change = op.plan(Facts())
    conn = LocalConnection(Target("pc", connection="local"))
    if check:  # as the executor does in check mode: only the read-only steps (the dry run)
        preview = change.read_only()
        return preview, op.apply(preview, conn).changed
    return change, op.apply(change, conn)


def listing(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


MEDIA = {"products/a.png": b"A" * 1000, "products/b.png": b"B" * 2000, "docs/readme.txt": b"hello\n",
         "top.txt": b"top"}


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_first_sync_then_nothing_then_only_what_changed(tmp_path: Path, transport: str) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "srv" / "media"
    _, first = sync(src, dest, transport=transport)
    assert first.changed and first.data["files"] == 4 and first.data["bytes"] == 3009
    assert listing(dest) == MEDIA
    _, again = sync(src, dest, transport=transport)
    assert not again.changed and again.data["files"] == 0
    make_tree(src, {"products/a.png": b"a" * 1000, "products/new.png": b"N" * 10}, mtime=1_700_000_100)
    change, third = sync(src, dest, transport=transport)
    assert third.changed and third.data["files"] == 2 and third.data["bytes"] == 1010
    assert "sent 2 file(s)" in change.summary
    assert listing(dest) == listing(src)


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_delete_is_opt_in_and_check_mode_names_what_would_go(tmp_path: Path, transport: str) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "dest"
    sync(src, dest, transport=transport)
    (src / "top.txt").unlink()
    (src / "docs" / "readme.txt").unlink()
    _, kept = sync(src, dest, transport=transport)
    assert not kept.changed and (dest / "top.txt").exists()
    change, would = sync(src, dest, check=True, transport=transport, delete=True)
    assert would is True and "would delete" in change.summary and "top.txt" in change.summary
    assert change.data["deleted"] == 2 and (dest / "top.txt").exists(), "check mode changed nothing"
    _, done = sync(src, dest, transport=transport, delete=True)
    assert done.data["deleted"] == 2 and not (dest / "top.txt").exists()
    assert listing(dest) == listing(src)


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_excludes_modes_and_symlinks(tmp_path: Path, transport: str) -> None:
    src = make_tree(tmp_path / "src", {**MEDIA, "cache/x.bin": b"x", "products/draft.tmp": b"d"})
    (src / "products" / "a.png").chmod(0o600)
    (src / "current.png").symlink_to("products/b.png")
    dest = tmp_path / "dest"
    sync(src, dest, transport=transport, exclude=["*.tmp", "cache/"], mode="0644", dir_mode="0755")
    assert not (dest / "cache").exists() and not (dest / "products" / "draft.tmp").exists()
    assert oct((dest / "products" / "a.png").stat().st_mode & 0o777) == "0o644"
    assert os.readlink(dest / "current.png") == "products/b.png"
    (dest / "products" / "leftover.tmp").write_bytes(b"kept: excluded")
    _, again = sync(src, dest, transport=transport, exclude=["*.tmp", "cache/"], mode="0644", delete=True)
    assert not again.changed and (dest / "products" / "leftover.tmp").exists()


def test_tar_and_rsync_agree_on_what_is_in_sync(tmp_path: Path) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "dest"
    sync(src, dest, transport="tar")
    assert not sync(src, dest, transport="rsync")[1].changed
    assert not sync(src, dest, transport="tar", checksum=True)[1].changed


def test_checksum_finds_a_change_that_keeps_size_and_mtime(tmp_path: Path) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "dest"
    sync(src, dest)
    make_tree(dest, {"products/a.png": b"Z" * 1000})  # same size, same mtime, other bytes
    assert not sync(src, dest)[1].changed
    for transport in ("tar", "rsync"):
        make_tree(dest, {"products/a.png": b"Z" * 1000})
        assert sync(src, dest, transport=transport, checksum=True)[1].data["files"] == 1
        assert (dest / "products" / "a.png").read_bytes() == b"A" * 1000


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_a_dest_that_is_a_file_is_refused_and_left_alone(tmp_path: Path, transport: str) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "dest"
    dest.write_text("keep me")
    with pytest.raises(TaskFailed, match=rf"pc:{dest} exists and is not a directory"):
        sync(src, dest, transport=transport)
    assert dest.read_text() == "keep me"


class Recording(LocalConnection):
    """The local connection, recording the command of every channel it opens."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.channels: list[str] = []

    def open_channel(self, command: str, become: bool | None = None) -> LocalChannel:
        self.channels.append(command)
        return super().open_channel(command, become)


def test_rsync_on_the_local_connection_runs_on_one_channel_behind_the_host_checks(tmp_path: Path) -> None:
    """The same path as over SSH: one command (the channel), the checks first, then rsync's server."""
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "new" / "media"
    op = Sync({"src": str(src), "dest": str(dest), "transport": "rsync"}, OpContext("pc", {}))
    conn = Recording(Target("pc", connection="local"))
    channels = conn.channels
    change = op.plan(Facts())
    preview = change.read_only()
    assert op.apply(preview, conn).changed and preview.data["files"] == 4  # dest absent: everything
    assert not dest.exists(), "check mode created nothing"
    assert op.apply(change, conn).changed and listing(dest) == MEDIA
    assert conn.stats.commands == 2 and len(channels) == 2, "one channel per sync, nothing before it"
    assert all(c.startswith(tree.guard_command(str(dest), dry_run)) and "exec rsync --server" in c
               for c, dry_run in zip(channels, (True, False), strict=True))


def test_a_refusal_still_reaches_the_user_when_the_channel_closes_under_rsync(tmp_path: Path) -> None:
    """An SSH channel whose command has ended raises on send (paramiko's "Socket is closed") while
    rsync may still be sending its greeting: the host's exit status must still be read."""

    class ClosesLikeParamiko(LocalChannel):
        def send_ready(self) -> bool:
            return True

        def send(self, data: bytes) -> int:
            self.status_event.wait(5)  # the checks have exited: the channel is gone
            raise OSError("Socket is closed")

    class Connection(LocalConnection):
        def open_channel(self, command: str, become: bool | None = None) -> LocalChannel:
            return ClosesLikeParamiko(["sh", "-c", command])

    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "dest"
    dest.write_text("keep me")
    op = Sync({"src": str(src), "dest": str(dest), "transport": "rsync"}, OpContext("pc", {}))
    with pytest.raises(TaskFailed, match="exists and is not a directory"):
        op.apply(op.plan(Facts()), Connection(Target("pc", connection="local")))


def test_a_symlink_leaving_the_source_is_refused_naming_it(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", MEDIA)
    (src / "products" / "passwd").symlink_to("../../../etc/passwd")
    with pytest.raises(PlanError, match=r"products/passwd is a symlink to \.\./\.\./\.\./etc/passwd, outside"):
        sync(src, tmp_path / "dest")
    (src / "products" / "passwd").unlink()
    (src / "abs").symlink_to("/etc")
    with pytest.raises(PlanError, match="abs is a symlink to /etc, outside"):
        sync(src, tmp_path / "dest")


def test_a_missing_source_names_host_and_path(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=rf"cannot sync to pc:{tmp_path}/dest: source directory .*nowhere does not"):
        sync(tmp_path / "nowhere", tmp_path / "dest")


def test_relative_src_is_relative_to_the_project_root(tmp_path: Path) -> None:
    make_tree(tmp_path / "project" / "media", MEDIA)
    op = Sync({"src": "media", "dest": "/srv/x"}, OpContext("h", {"inventory_dir": str(tmp_path / "project" /
                                                                                        "inventory")}))
    assert op.source() == tmp_path / "project" / "media"
    assert op.plan(Facts()).summary == "sync media/ -> /srv/x (4 files, 3.0 kB)"


def test_progress_events_for_a_long_transfer(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {f"big/{i}.bin": os.urandom(1 << 20) for i in range(3)})
    events: list = []
    from moorage.operations import sync_transport

    meter = sync_transport.Meter(lambda s, d: events.append(d), "sync /x", 3 << 20)
    meter.started -= 1  # as if the transfer had lasted a while already
    meter.update(1 << 20)
    meter.update(2 << 20)  # throttled: less than 0.2 s after the last one
    meter.last -= 1
    meter.update(3 << 20)
    meter.finish()
    assert [e["phase"] for e in events] == ["start", "advance", "end"]
    assert events[1]["done"] == events[1]["total"] == 3 << 20
    assert sync(src, tmp_path / "dest", events=events)[1].changed


def test_probe_runs_here_and_reads_back(tmp_path: Path) -> None:
    dest = make_tree(tmp_path / "d", {"a b.txt": b"12345", "sub/x": b"", "new\nline": b"nl"})
    (dest / "link").symlink_to("sub/x")
    (dest / f"{tree.STAGING_PREFIX}old").mkdir()  # an interrupted tar run's staging: not listed
    out = subprocess.run(["sh", "-c", tree.probe_command(str(dest), checksum=True)],
                         capture_output=True, check=True).stdout
    probe = tree.parse_probe(out)
    assert probe.dest == "dir" and probe.writable
    assert set(probe.manifest) == {"a b.txt", "sub", "sub/x", "new\nline", "link"}
    entry = probe.manifest["a b.txt"]
    assert (entry.kind, entry.size, entry.mtime) == ("f", 5, 1_700_000_000)
    assert entry.sha256 == "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5"
    assert probe.manifest["link"].target == "sub/x"
    missing = tree.parse_probe(subprocess.run(["sh", "-c", tree.probe_command(str(dest / "no" / "pe"))],
                                              capture_output=True, check=True).stdout)
    assert (missing.dest, missing.base, missing.manifest) == ("absent", str(dest), None)


def test_compare_replaces_a_directory_with_a_file_and_deletes_whole_directories() -> None:
    local = {"a": tree.Entry("f", 1, 5, 0o644), "keep": tree.Entry("d", mode=0o755)}
    remote = {"a": tree.Entry("d", mode=0o755), "a/x": tree.Entry("f", 1, 5, 0o644),
              "gone": tree.Entry("d", mode=0o755), "gone/y": tree.Entry("f", 1, 5, 0o644),
              "keep": tree.Entry("d", mode=0o700)}
    diff = tree.compare(local, remote, delete=True)
    assert diff.replace == ["a"] and diff.send == ["a"]
    assert diff.delete == ["gone"], "a removed directory takes its content with it"
    assert diff.chmod == {0o755: ["keep"]}


@pytest.mark.parametrize(("rel", "is_dir", "pattern", "hit"), [
    ("a/b/x.tmp", False, "*.tmp", True), ("x.tmp", False, "/x.tmp", True), ("a/x.tmp", False, "/x.tmp", False),
    ("a/cache", True, "cache/", True), ("a/cache", False, "cache/", False), ("a/b/c.png", False, "b/*.png", True),
])
def test_exclude_patterns_follow_rsync(rel: str, is_dir: bool, pattern: str, hit: bool) -> None:
    assert tree.excluded(rel, is_dir, [pattern]) is hit


def test_rsync_report_is_read_for_counts() -> None:
    out = ("\rcd+++++++++ products/\n<f+++++++++ products/a.png\n<f.st...... products/b.png\n"
           "*deleting   old.png\n.f...p..... top.txt\ncL+++++++++ cur.png -> products/a.png\n"
           "      1,234 100%    0.00kB/s    0:00:00 (xfr#2, to-chk=0/6)\n\n"
           "Total transferred file size: 3,000 bytes\nTotal bytes sent: 3,456\n")
    outcome = tree.parse_rsync(out)
    assert outcome.sent == ["products/a.png", "products/b.png", "cur.png"]
    assert outcome.deleted == ["old.png"] and outcome.other == 2
    assert (outcome.bytes, outcome.wire_bytes) == (3000, 3456)


def test_a_host_directory_with_content_is_replaced_by_a_file_only_with_delete() -> None:
    local = {"a": tree.Entry("f", 1, 5, 0o644)}
    remote = {"a": tree.Entry("d", mode=0o755), "a/x": tree.Entry("f", 1, 5, 0o644)}
    kept = tree.compare(local, remote)
    assert kept.blocked == ["a"] and not kept.replace and not kept.send
    assert tree.compare(local, {"a": tree.Entry("d", mode=0o755)}).replace == ["a"], "an empty one may go"


def test_a_large_tree_streams_straight_to_the_host_command_not_through_python(tmp_path: Path,
                                                                                monkeypatch) -> None:
    """From ``DIRECT_FROM`` bytes on, rsync's stream goes to the connection's own process (over SSH
    the OpenSSH client; here ``sh``), which the task's data names; the host's checks still refuse."""
    monkeypatch.setattr("moorage.operations.sync.DIRECT_FROM", 1)
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "new" / "media"
    op = Sync({"src": str(src), "dest": str(dest), "transport": "rsync"}, OpContext("pc", {}))
    conn = Recording(Target("pc", connection="local"))
    channels = conn.channels
    result = op.apply(op.plan(Facts()), conn)
    assert result.changed and result.data["files"] == 4 and result.data["via"] == "local"
    assert listing(dest) == MEDIA and channels == [] and conn.stats.commands == 1
    (tmp_path / "file").write_text("keep me")
    op = Sync({"src": str(src), "dest": str(tmp_path / "file"), "transport": "rsync"}, OpContext("pc", {}))
    with pytest.raises(TaskFailed, match="exists and is not a directory"):
        op.apply(op.plan(Facts()), conn)
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_a_host_directory_holding_files_where_src_has_a_file_fails_naming_it(tmp_path: Path, transport: str) -> None:
    """rsync exits 23 on the host for it ("could not make way"), while the local rsync exits 0:
    the host's own exit status must count, never an 'in sync'."""
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "dest"
    sync(src, dest, transport=transport)
    (dest / "top.txt").unlink()
    make_tree(dest / "top.txt", {"inner.bin": b"kept"})
    with pytest.raises(TaskFailed, match=r"top\.txt in pc:.* are directories holding files where src has a file"):
        sync(src, dest, transport=transport)
    assert (dest / "top.txt" / "inner.bin").read_bytes() == b"kept"
    preview, _ = sync(src, dest, check=True, transport=transport, delete=True)
    assert preview.data["deleted"] >= 1 and "top.txt/inner.bin" in preview.summary, "--check names what would go"
    _, done = sync(src, dest, transport=transport, delete=True)
    assert done.changed and (dest / "top.txt").read_bytes() == b"top"


def test_the_rsync_helper_relays_the_host_bytes_that_came_with_its_answer() -> None:
    """The tunnel answers the helper ("relay": an empty answer) and relays the host's first bytes at once:
    one recv may hold both.  The helper must take the line alone (it once swallowed rsync's
    greeting with it, and both rsyncs waited for each other forever)."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, "MOORAGE_RSH": sync_transport._RSH, "MOORAGE_RSH_FD": str(theirs.fileno())}
    helper = subprocess.Popen(["python3", "-I", "-S", "-c", "exec(__import__('os').environ['MOORAGE_RSH'])",
                               "host", "rsync", "--server"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              env=env, pass_fds=(theirs.fileno(),))
    theirs.close()
    try:
        ours.settimeout(10)
        assert ours.recv(4096) == b"host\0rsync\0--server\n"
        ours.sendall(b"0\n@RSYNCD: 31.0 greeting\n")  # the answer ("relay") and the host's first bytes together
        ours.shutdown(socket.SHUT_WR)
        out, _ = helper.communicate(b"", timeout=10)
        assert out == b"@RSYNCD: 31.0 greeting\n"
    finally:
        helper.kill()
        ours.close()


def test_the_helper_ends_the_direct_transfer_when_moorage_is_gone() -> None:
    """Over the OpenSSH client the stream doesn't ride moorage's connection, so moorage killed
    (its end of the socket closed) must end the ssh process too — it once kept sending."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, "MOORAGE_RSH": sync_transport._RSH, "MOORAGE_RSH_FD": str(theirs.fileno())}
    helper = subprocess.Popen(["python3", "-I", "-S", "-c", "exec(__import__('os').environ['MOORAGE_RSH'])",
                               "host", "rsync", "--server"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              env=env, pass_fds=(theirs.fileno(),))
    theirs.close()
    try:
        ours.settimeout(10)
        assert ours.recv(4096) == b"host\0rsync\0--server\n"
        ours.sendall(sync_transport._answer(b"sleep\x0030"))  # "run this with rsync's pipes"
        time.sleep(0.5)
        assert helper.poll() is None, "the direct process runs"
        ours.close()  # moorage killed
        assert helper.wait(timeout=5) != 0
    finally:
        helper.kill()


@pytest.mark.parametrize(("chunk", "percent"), [
    (b"\r     32,768   0%    0.00kB/s    0:00:00", 0),           # one line a chunk: a slow transfer
    (b"\r  1,000,000  10%    1.00MB/s    0:00:09", 10),
    (b"<f+++++++++ a.bin\n\r  1,000  10%  1MB/s\r  2,000  20%  2MB/s", 20),
    (b"\r  2,000  20%  2MB/s\r  3,000  1", 20),                  # the newest line cut before its %
    (b"\r 30,000,000 100%   10MB/s  0:00:02 (xfr#1, to-chk=0/2)\n", 100),
    (b"<f+++++++++ a.bin\n", None),
])
def test_the_progress_bar_reads_rsyncs_newest_percentage(chunk: bytes, percent: int | None) -> None:
    assert sync_transport._last_percent(chunk) == percent
