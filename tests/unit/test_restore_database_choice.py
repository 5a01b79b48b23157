"""Which dumps ``restore --database LABEL`` puts back: the newest verified dump of each label named
(the other databases are left alone); a label backup_databases lacks is refused with did-you-mean."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from moorage.errors import InputError
from moorage.operations.backups.catalog import Backup
from moorage.recipes.restore import choose


def _dump(label: str, mtime: float, **meta: Any) -> Backup:
    return Backup(f"todo-prod-{label}-2027010{int(mtime)}T000000Z.dump", 10, mtime,
                  {"kind": "db", "label": label, "size": 10, "state": "verified", **meta})


SETTINGS: Any = SimpleNamespace(labels=["config", "user", "intern"], backup_dir="/srv/todo/backups",
                                host=SimpleNamespace(name="production"))
DUMPS = [_dump("user", 3, reason="pre-restore"), _dump("user", 2), _dump("config", 2), _dump("intern", 2),
         _dump("user", 1)]


def test_one_database_alone_its_newest_verified_dump_not_a_safety_copy():
    assert choose(DUMPS, [], SETTINGS, ["user"]) == [DUMPS[1]]
    assert choose(DUMPS, [], SETTINGS) == [DUMPS[2], DUMPS[1], DUMPS[3]]   # without --database: each of them


def test_a_label_backup_databases_lacks_is_refused_with_did_you_mean():
    with pytest.raises(InputError) as refused:
        choose(DUMPS, [], SETTINGS, ["usr"])
    assert str(refused.value) == ("--database usr: production backs up no database labelled 'usr' (did you mean "
                                  "'user'?); its databases (backup_databases): config, user, intern")


def test_database_with_file_or_media_is_refused_before_anything_runs(tmp_path, capsys):
    from inputkit import write_project
    from invoke.exceptions import Exit

    from moorage.cli.data_tasks import restore

    root = write_project(tmp_path)
    for extra in ({"file": "x.dump"}, {"media": True}):
        with pytest.raises(Exit) as refused:
            restore.body(None, project=str(root), host="web1", database=["user"], **extra)
        assert refused.value.code == 2
        assert "--database picks the newest verified backup of a database" in capsys.readouterr().err
