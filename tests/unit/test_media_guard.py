"""A media sync never deletes the app: media_dir holding app_dir or backup_dir is refused by
the media role (before anything is sent) and by `check --host`; a sync with delete refuses a
dest holding moorage's own bookkeeping, on the host (real shell, real files here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_role_variables import line_of, project
from test_sync import MEDIA, listing, make_tree, sync

from moorage.facts import sync as tree
from moorage.operations.base import TaskFailed
from moorage.recipes.check import run_check
from moorage.templating import evaluate, path_within


@pytest.mark.parametrize(("path", "directory", "within"), [
    ("/srv/shop", "/srv/shop", True), ("/srv/shop", "/srv/shop/", True), ("/srv/shop", "/srv", True),
    ("/srv/shop", "/", True), ("/srv//shop/.", "/srv/shop", True), ("/srv/shop", "/srv/shop/media", False),
    ("/srv/shopping", "/srv/shop", False), ("/srv/shop/backups", "/srv/shop/media", False),
])
def test_within_compares_normalised_paths(path, directory, within):
    assert path_within(path, directory) is within
    assert evaluate("a is within(b)", {"a": path, "b": directory}) is within


# quoted: the test project drops an unquoted `KEY: /...` line as a base setting replaced
@pytest.mark.parametrize("media_dir", ['"{{ app_dir }}"', '"/srv/shop/"', '"/srv"', '"/srv/shop/backups/.."'])
def test_check_refuses_a_media_dir_holding_the_app_at_its_line(tmp_path, monkeypatch, media_dir):
    proj = project(tmp_path, monkeypatch, f"media_src: media\nmedia_dir: {media_dir}")
    problems = [str(p) for p in run_check(proj, "staging").problems]
    line = line_of(tmp_path / "inventory/hosts.yml", "media_dir:")
    assert any(p.startswith(f"inventory/hosts.yml:{line}: ") and "role media refuses the run: media_dir is not "
               "app_dir, an ancestor of it, or a directory holding backup_dir" in p for p in problems), problems


def test_check_refuses_a_media_dir_holding_backup_dir(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch, 'media_src: media\nmedia_dir: "/var/shop"\nbackup_dir: "/var/shop/backups"')
    assert any("role media refuses the run" in str(p) for p in run_check(proj, "staging").problems)


def test_check_accepts_a_media_dir_of_its_own(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch, 'media_src: media\nmedia_dir: "/srv/shop-media"')
    assert not [p for p in run_check(proj, "staging").problems if "refuses" in str(p)]


def bookkeeping_of(dest: Path) -> str:
    out = subprocess.run(["sh", "-c", tree.probe_command(str(dest), delete=True)], capture_output=True, check=True)
    return tree.parse_probe(out.stdout).bookkeeping


def test_probe_finds_bookkeeping_only_where_an_app_lives(tmp_path):
    app = make_tree(tmp_path / "srv" / "shop", {"releases/1/release.json": b"{}", ".moorage/audit.log": b"x"})
    assert bookkeeping_of(app) == str(app / ".moorage")
    assert bookkeeping_of(tmp_path / "srv") == str(app / ".moorage"), "an app below dest counts too"
    (app / ".moorage/audit.log").unlink()
    (app / ".moorage").rmdir()
    (app / "current").symlink_to("releases/1")
    assert bookkeeping_of(app) == str(app / "releases")
    media = make_tree(tmp_path / "media", {"releases/photo.jpg": b"p", "current": b"a file, not the link"})
    assert bookkeeping_of(media) == "", "a media tree with such names is not an app"


@pytest.mark.parametrize("transport", ["rsync", "tar"])
@pytest.mark.parametrize("check", [False, True])
def test_sync_with_delete_refuses_a_dest_holding_an_app(tmp_path, transport, check):
    app = make_tree(tmp_path / "srv" / "shop", {".moorage/audit.log": b"log", "config/.env": b"DB=x"})
    before = listing(app)
    src = make_tree(tmp_path / "src", MEDIA)
    with pytest.raises(TaskFailed, match=r"refusing to sync with delete to pc:.*/srv/shop: it holds moorage's own "
                                         r"bookkeeping \(.*/\.moorage"):
        sync(src, app, check=check, delete=True, transport=transport)
    assert listing(app) == before, "nothing sent, nothing deleted"
    _, done = sync(src, app, transport=transport)  # without delete nothing can be lost: allowed
    assert done.changed and listing(app) == {**before, **MEDIA}
