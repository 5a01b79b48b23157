"""Which tarballs ``restore --media`` puts back: the newest verified one of each backup_media entry (never a
safety copy), or the named ones; anything else is refused with the list of what there is."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from moorage.errors import InputError
from moorage.operations.backups.catalog import Backup
from moorage.recipes.restore_media import choose


def _tarball(name: str, mtime: float, label: str = "media", **meta: Any) -> Backup:
    return Backup(name, 10, mtime, {"kind": "media", "label": label, "size": 10, "state": "verified", **meta})


def _settings(media: list[dict[str, str]]) -> Any:
    return SimpleNamespace(media=media, backup_dir="/srv/todo/backups", host=SimpleNamespace(name="staging"))


OLD = _tarball("todo-staging-media-20270101T000000Z.tar.gz", 1)
NEW = _tarball("todo-staging-media-20270102T000000Z.tar.gz", 2)
SAFETY = _tarball("todo-staging-media-20270103T000000Z.tar.gz", 3, reason="pre-restore")
DUMP = Backup("todo-staging-db-20270103T000000Z.dump", 10, 3, {"kind": "db", "label": "db", "size": 10})


def test_the_newest_verified_tarball_of_each_entry_is_chosen_not_the_safety_copy():
    assert choose([SAFETY, NEW, OLD, DUMP], [], _settings([{"volume": "media"}])) == [NEW]


def test_a_named_tarball_is_chosen_and_a_dump_or_unknown_name_is_refused_with_the_list():
    settings = _settings([{"volume": "media"}])
    assert choose([NEW, OLD], [OLD.name], settings) == [OLD]
    for wrong in (DUMP.name, "nope.tar.gz"):
        with pytest.raises(InputError, match=f"available: {NEW.name}"):
            choose([NEW, OLD, DUMP], [wrong], settings)


def test_no_media_configured_or_no_verified_tarball_says_what_to_do():
    with pytest.raises(InputError, match="backup_media is empty"):
        choose([NEW], [], _settings([]))
    with pytest.raises(InputError, match="no verified media backup"):
        choose([Backup(NEW.name, 11, 2, dict(NEW.meta))], [], _settings([{"volume": "media"}]))  # size changed
