"""``backup --fetch --fetch-dir``: a place that cannot hold the copies is refused (exit 2) before
any backup is made, never a FileExistsError after it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from inputkit import write_project
from invoke.context import Context
from invoke.exceptions import Exit

from moorage.cli.data_tasks import backup
from moorage.errors import InputError
from moorage.recipes.backup import fetch_dirs


@pytest.mark.parametrize(("make", "given", "message"), [
    (lambda root: (root / "f").write_text("x"), "f", "--fetch-dir {root}/f is file, not a directory"),
    (lambda root: (root / "loop").symlink_to(root / "loop"), "loop", "--fetch-dir {root}/loop is a symbolic link "
                                                                     "loop, not a directory"),
    (lambda root: (root / "f").write_text("x"), "f/below",
     "--fetch-dir {root}/f/below is unreadable (Not a directory)"),
    (lambda root: None, "/proc/nope", "--fetch-dir /proc/nope: cannot create it"),
])
def test_a_fetch_dir_that_cannot_hold_backups_is_refused(tmp_path, make, given, message):
    make(tmp_path)
    path = Path(given) if given.startswith("/") else tmp_path / given
    with pytest.raises(InputError) as refused:
        fetch_dirs(["web1"], path, create=True)
    assert str(refused.value).startswith(message.format(root=tmp_path))


def test_fetch_dirs_are_made_private_or_only_checked_in_check_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fetch_dirs(["a", "b"], None, create=False) == {"a": Path("backups/a"), "b": Path("backups/b")}
    assert not (tmp_path / "backups").exists()
    made = fetch_dirs(["a"], tmp_path / "new" / "dir", create=True)
    assert made == {"a": tmp_path / "new" / "dir"}
    assert (tmp_path / "new" / "dir").stat().st_mode & 0o777 == 0o700


def test_backup_refuses_a_file_as_fetch_dir_before_connecting(tmp_path, capsys):
    """web1's port is one nothing listens on: a backup attempt would end in "cannot reach" (exit 1)."""
    root = write_project(tmp_path)
    with pytest.raises(Exit) as exited:
        backup(Context(), host="web1", project=str(root), fetch_=True, fetch_dir=os.devnull)
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (f"error: --fetch-dir {os.devnull} is not a regular file, not a "
                                               "directory: name a directory (created when missing) for the "
                                               "fetched backups")
    with pytest.raises(Exit) as alone:
        backup(Context(), host="web1", project=str(root), fetch_dir=str(tmp_path))
    assert alone.value.code == 2
    assert "--fetch-dir goes with --fetch" in capsys.readouterr().err
