"""`moorage sync-media` on real sshd servers, the way a new user tries it: sync the example media,
change some files, resync, `--delete --check` then `--delete`; the same without rsync on the
server (manifest + tar); an interrupted sync; and the bad inputs (missing source, unwritable
destination, full disk, a symlink escaping the source)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from testbed.dm import ROOT

from .helpers import MOORAGE, moorage

MEDIA = "/srv/app/media"


def project(tmp_path: Path, server, write_inventory, name: str = "web", **fields) -> Path:
    """A project with its own media/ and an inventory whose only host is ``server`` (playbooks and
    roles are the built-in ones); returns the inventory directory."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(ROOT / "examples/dm/media", root / "media")
    write_inventory(root / "inventory", {name: server}, extra_vars={"app_dir": "/srv/app", "media_src": "media"},
                    host_fields={name: fields} if fields else None)
    return root / "inventory"


def sync_media(inventory: Path, *args: str, host: str = "web"):
    return moorage("sync-media", "--host", host, "--inventory", inventory, "--json", *args)


GUARD = "media_dir is not app_dir, an ancestor of it, or a directory holding backup_dir"  # the role's check


def task(run) -> dict:
    """The sync task's event (after the role's media_dir check, which passes here)."""
    return next(e for e in run.events if e["kind"] == "task" and e["task"] != GUARD)


def remote_tree(server, path: str = MEDIA) -> dict[str, str]:
    """sha256 of every file under ``path`` on the server (read with docker exec, not moorage)."""
    out = server.exec(f"cd {path} && find . -type f -exec sha256sum {{}} +").stdout.decode()
    return {line[66:].removeprefix("./"): line[:64] for line in out.splitlines()}


def local_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def logins(server) -> int:
    """SSH logins the server's sshd has accepted so far (its log)."""
    proc = subprocess.run(["docker", "logs", server.container_id], capture_output=True, text=True, check=False)
    return (proc.stdout + proc.stderr).count("Accepted publickey")


def touch(path: Path, data: bytes, stamp: int) -> None:
    path.write_bytes(data)
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize("kind", ["rsync", "no-rsync"])
def test_a_new_user_syncs_changes_and_deletes(testbed, fresh_server, write_inventory, tmp_path, kind):
    server = fresh_server("sshd")
    if kind == "no-rsync":
        server.exec("rm -f /usr/bin/rsync")
    inventory = project(tmp_path, server, write_inventory)
    media = inventory.parent / "media"
    before = logins(server)

    first = sync_media(inventory)
    assert first.code == 0, first.stdout + first.stderr
    assert task(first)["status"] == "changed"
    assert task(first)["data"]["files"] == 3 and task(first)["data"]["transport"] == (
        "rsync" if kind == "rsync" else "tar")
    assert remote_tree(server) == local_tree(media)
    assert first.recap("web")["connections"] == 1 and logins(server) - before == 1, \
        "the transfer rode on moorage's own SSH connection"
    assert server.exec(f"stat -c %a {MEDIA}/products/forest_path.png").stdout.strip() == b"644"

    again = sync_media(inventory)  # decided from the manifest gathered with the facts: no transfer
    assert again.recap("web")["changed"] == 0 and task(again)["status"] == "ok"
    assert again.recap("web")["commands"] == 1, "a tree in step costs the one facts command"

    touch(media / "products" / "ocean_waves.png", b"new waves" * 100, 1_800_000_000)
    (media / "banners").mkdir()
    touch(media / "banners" / "sale.png", b"sale" * 50, 1_800_000_000)
    changed = sync_media(inventory)
    assert changed.code == 0 and task(changed)["data"]["files"] == 2
    assert task(changed)["data"]["bytes"] == 900 + 200
    assert remote_tree(server) == local_tree(media)

    (media / "products" / "montain_sunset.png").unlink()
    check = sync_media(inventory, "--delete", "--check")
    assert check.code == 0 and task(check)["status"] == "changed"
    assert "would delete 1: products/montain_sunset.png" in task(check)["summary"]
    assert "products/montain_sunset.png" in remote_tree(server), "--check removed nothing"
    human = moorage("sync-media", "--host", "web", "--inventory", inventory, "--delete", "--check")
    assert "would delete 1: products/montain_sunset.png" in human.stdout

    deleted = sync_media(inventory, "--delete")
    assert deleted.code == 0 and task(deleted)["data"]["deleted"] == 1
    assert remote_tree(server) == local_tree(media)
    assert sync_media(inventory, "--delete").recap("web")["changed"] == 0


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_an_interrupted_sync_leaves_whole_files_and_the_next_run_finishes(fresh_server, write_inventory,
                                                                           tmp_path, transport):
    server = fresh_server("sshd")
    inventory = project(tmp_path, server, write_inventory)
    media = inventory.parent / "media"
    for i in range(60):  # 120 MB: the transfer lasts long enough to be cut
        (media / f"video-{i:02d}.bin").write_bytes(os.urandom(2_000_000))
    argv = [MOORAGE, "sync-media", "--host", "web", "--inventory", str(inventory), "--json",
            "--set", f"media_transport={transport}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    for line in proc.stdout:  # the progress bar starts once the transfer is under way
        if '"step"' in line or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGKILL)  # the controller dies mid-transfer, rsync/tar with it
    proc.wait(timeout=60)
    time.sleep(1)
    landed = remote_tree(server)
    want = local_tree(media)
    assert len([p for p in landed if p.startswith("video-")]) < 60, "the transfer was not cut short"
    for path, digest in landed.items():
        if "/" not in path or path.startswith("products/"):
            assert digest == want[path], f"{path} on the server is not a whole copy"
    finished = sync_media(inventory, "--set", f"media_transport={transport}")
    assert finished.code == 0, finished.stdout + finished.stderr
    assert remote_tree(server) == want
    leftovers = server.exec(f"ls -A {MEDIA}").stdout.decode().split()
    assert not [n for n in leftovers if n.startswith((".~tmp~", ".moorage-sync."))], leftovers


def test_a_missing_source_fails_naming_host_and_path(sshd_server, write_inventory, tmp_path):
    inventory = project(tmp_path, sshd_server, write_inventory)
    run = sync_media(inventory, "--set", "media_src=no/such/media")
    assert run.code == 1
    failed = task(run)
    assert failed["status"] == "failed"
    assert f"cannot sync to web:{MEDIA}: source directory {inventory.parent}/no/such/media does not exist" \
        in failed["message"]


def test_a_symlink_out_of_the_source_is_refused(sshd_server, write_inventory, tmp_path):
    inventory = project(tmp_path, sshd_server, write_inventory)
    (inventory.parent / "media" / "products" / "keys").symlink_to("/root/.ssh")
    run = sync_media(inventory)
    assert run.code == 1
    assert "products/keys is a symlink to /root/.ssh, outside the source directory" in task(run)["message"]


def test_an_unwritable_destination_fails_and_keeps_what_is_there(fresh_server, write_inventory, tmp_path):
    server = fresh_server("sshd")
    server.exec("useradd -m deploy && mkdir -p /home/deploy/.ssh && cp /root/.ssh/authorized_keys "
                "/home/deploy/.ssh/ && chown -R deploy /home/deploy/.ssh && mkdir -p /srv/app/media/products "
                "&& echo old > /srv/app/media/products/forest_path.png")
    inventory = project(tmp_path, server, write_inventory, user="deploy")
    run = sync_media(inventory)
    assert run.code == 1
    assert f"cannot write to web:{MEDIA}: not writable by deploy" in task(run)["message"]
    assert server.exec(f"cat {MEDIA}/products/forest_path.png").stdout == b"old\n"
    run = sync_media(inventory, "--set", "media_dir=/srv/locked/media")
    assert "cannot write to web:/srv (to create /srv/locked/media in it): not writable by deploy" \
        in task(run)["message"]


@pytest.mark.parametrize("transport", ["rsync", "tar"])
def test_a_full_disk_fails_clearly_and_keeps_what_is_there(docker_server, write_inventory, tmp_path, transport):
    # the dockerhost server may mount a small tmpfs (it has the capabilities; busybox has mount)
    small = f"/srv/small-{transport}"
    mounted = docker_server.exec(f"mkdir -p {small} && busybox mount -t tmpfs -o size=1m tmpfs {small}")
    assert mounted.returncode == 0, mounted.stderr
    try:
        inventory = project(tmp_path, docker_server, write_inventory)
        ok = sync_media(inventory, "--set", f"media_dir={small}", "--set", f"media_transport={transport}")
        assert ok.code == 0, ok.stdout
        before = remote_tree(docker_server, small)
        (inventory.parent / "media" / "products" / "forest_path.png").write_bytes(b"changed")
        (inventory.parent / "media" / "big.bin").write_bytes(os.urandom(3_000_000))
        run = sync_media(inventory, "--set", f"media_dir={small}", "--set", f"media_transport={transport}")
        assert run.code == 1
        assert f"the disk holding web:{small} is full" in task(run)["message"]
        after = remote_tree(docker_server, small)
        assert "big.bin" not in after
        new = local_tree(inventory.parent / "media")
        for path, digest in before.items():  # each file is its old or its new version, whole
            assert after[path] in (digest, new[path]), f"{path} was damaged"
    finally:
        docker_server.exec(f"busybox umount {small}; rmdir {small}")


def test_become_syncs_where_the_user_cannot_write_and_sets_the_owner(fresh_server, write_inventory, tmp_path):
    server = fresh_server("sshd")
    server.exec("useradd -m deploy && mkdir -p /home/deploy/.ssh && cp /root/.ssh/authorized_keys "
                "/home/deploy/.ssh/ && chown -R deploy /home/deploy/.ssh && "
                "echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy && useradd www")
    inventory = project(tmp_path, server, write_inventory, user="deploy", become=True)
    for transport in ("rsync", "tar"):
        dest = f"/srv/{transport}/media"
        run = sync_media(inventory, "--set", f"media_dir={dest}", "--set", f"media_transport={transport}")
        assert run.code == 0, run.stdout + run.stderr
        assert remote_tree(server, dest) == local_tree(inventory.parent / "media")
        assert server.exec(f"stat -c %U {dest}/products/forest_path.png").stdout.strip() == b"root"
    playbook = tmp_path / "owner.yml"
    playbook.write_text("- name: owned\n  hosts: all\n  tasks:\n" + "".join(
        f"    - sync: {{src: media, dest: /srv/owned-{t}, owner: 'www:www', transport: {t}}}\n"
        for t in ("rsync", "tar")))
    run = moorage("play", playbook, "--host", "web", "--inventory", inventory, "--json")
    assert run.code == 0, run.stdout + run.stderr
    for transport in ("rsync", "tar"):
        owner = server.exec(f"stat -c %U:%G /srv/owned-{transport}/products/forest_path.png").stdout.strip()
        assert owner == b"www:www", transport


# What a host holds that src does not, and the exclude patterns tried on it with `delete: true`.
_ON_HOST = ["uploads/avatar.png", "uploads/sub/deep.png", "x/keep.png", "x/del.txt", "x/y/k.png", "k.png",
            "top.txt", "sub/uploads/f.txt", "a/b/c.txt", "z/a/b/c.txt"]
_PATTERNS = ["uploads/", "/uploads", "uploads/*", "*.png", "/x/*.png", "y/", "**/k.png", "x/**", "a/b", "[kd]*.png"]


def test_excludes_keep_the_same_files_on_delete_with_rsync_and_tar(sshd_server, write_inventory, tmp_path):
    inventory = project(tmp_path, sshd_server, write_inventory)
    dests = {(t, i): f"/srv/excl/{t}{i}" for t in ("rsync", "tar") for i in range(len(_PATTERNS))}
    sshd_server.exec("rm -rf /srv/excl && " + " && ".join(
        f"mkdir -p {d}/{rel.rpartition('/')[0] or '.'} && echo x > {d}/{rel}" for d in dests.values()
        for rel in _ON_HOST))
    playbook = tmp_path / "excl.yml"
    playbook.write_text("- name: excludes\n  hosts: all\n  tasks:\n" + "".join(
        f"    - sync: {{src: media, dest: {d}, delete: true, transport: {t}, exclude: ['{_PATTERNS[i]}']}}\n"
        for (t, i), d in dests.items()))
    run = moorage("play", playbook, "--host", "web", "--inventory", inventory, "--json")
    assert run.code == 0, run.stdout + run.stderr
    assert [task["data"]["transport"] for task in run.tasks("web")] == [t for t, _ in dests]
    for i, pattern in enumerate(_PATTERNS):
        kept = {t: sorted(set(remote_tree(sshd_server, dests[(t, i)])) - set(local_tree(inventory.parent / "media")))
                for t in ("rsync", "tar")}
        assert kept["tar"] == kept["rsync"], pattern
    assert "uploads/avatar.png" in remote_tree(sshd_server, dests[("tar", 0)])
