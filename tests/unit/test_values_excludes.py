"""Excludes protect on the delete side exactly as rsync does: the same patterns through the real
rsync of this machine and through the tar transport leave the same tree (real files in a temp dir,
through the local connection; tests/integration/test_sync.py does it over SSH)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sync import make_tree, sync

from moorage.errors import InputError
from moorage.executor.tasks import build_operation
from moorage.facts import patterns
from moorage.operations.base import OpContext
from moorage.playbook.tasks import build_task

# What the host has that src does not: user uploads, nested and same-named directories.
ON_HOST = {"uploads/avatar.png": b"u", "uploads/sub/deep.png": b"d", "x/keep.png": b"k", "x/del.txt": b"t",
           "x/y/k.png": b"k", "x/y/z.txt": b"z", "top.txt": b"t", "sub/uploads/f.txt": b"f",
           "a/b/c.txt": b"c", "z/a/b/c.txt": b"c", "cache.png": b"c", "k.png": b"k"}

PATTERNS = ["uploads/", "/uploads", "uploads", "/uploads/", "*.png", "/x/*.png", "x/y/", "y/", "**/k.png",
            "x/**", "?eep.png", "[kd]*.png", "/uploads/avatar.png", "a/b", "/a/b", "uploads/*", "*", "b/*.txt",
            "cache.*", "x/y"]


def tree_of(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in root.rglob("*")}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_tar_keeps_on_delete_what_rsync_keeps(tmp_path: Path, pattern: str) -> None:
    src = make_tree(tmp_path / "src", {"new.txt": b"n"})
    after = {}
    for transport in ("rsync", "tar"):
        dest = make_tree(tmp_path / transport, ON_HOST)
        sync(src, dest, transport=transport, delete=True, exclude=[pattern])
        after[transport] = tree_of(dest)
    assert after["tar"] == after["rsync"]


def test_a_directory_pattern_keeps_the_uploads_it_holds(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"new.txt": b"n"})
    dest = make_tree(tmp_path / "dest", ON_HOST)
    sync(src, dest, transport="tar", delete=True, exclude=["uploads/"])
    assert (dest / "uploads/avatar.png").read_bytes() == b"u"
    assert (dest / "sub/uploads/f.txt").exists(), "an unanchored directory pattern matches at any depth"
    assert not (dest / "x").exists() and not (dest / "top.txt").exists()


@pytest.mark.parametrize(("rel", "is_dir", "pattern", "hit"), [
    ("uploads/avatar.png", False, "uploads/", True),  # inside an excluded directory
    ("uploads", False, "uploads/", False),  # a file named like the directory pattern
    ("a/uploads/x", False, "/uploads/", False),  # anchored
    ("a/b/c", False, "a/b", True), ("z/a/b", False, "a/b", True), ("za/b", False, "a/b", False),
    ("x/y/k.png", False, "x/*.png", False),  # * stops at /
    ("x/y/k.png", False, "x/**.png", True), ("k.png", False, "**/k.png", True),
    ("kk.png", False, "?.png", False), ("k.png", False, "?.png", True), ("d.png", False, "[kd].png", True),
    ("e.png", False, "[!kd].png", True),
])
def test_one_pattern_follows_rsync(rel: str, is_dir: bool, pattern: str, hit: bool) -> None:
    assert patterns.excluded(rel, is_dir, [pattern]) is hit


@pytest.mark.parametrize("pattern", ["+ keep", "- drop", "!", "dir/***", "a\\*b", "[[:alpha:]]", "[ab", "/", "a//b"])
def test_patterns_outside_the_subset_are_refused_with_file_and_line(tmp_path: Path, pattern: str) -> None:
    task = build_task({"sync": {"src": str(tmp_path), "dest": "/srv/x", "delete": True, "exclude": [pattern]}})
    with pytest.raises(InputError) as caught:
        build_operation(task, {}, OpContext("web", {}))
    assert f"exclude pattern {pattern!r}" in str(caught.value)
