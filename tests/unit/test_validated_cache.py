"""Role files that passed their content checks are remembered by content: the next load skips
those checks, but never the ones that depend on other files, and never a file with a problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.errors import InputError
from moorage.playbook import loader

TASKS = """\
- name: config
  template: {src: app.conf.j2, dest: /srv/app/app.conf}
- name: dir
  dir: {path: /srv/app}
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MOORAGE_NO_CACHE", raising=False)
    return tmp_path / "cache" / "moorage" / "validated"


def role(root: Path, tasks: str = TASKS, template: str | None = "port = {{ port }}\n") -> Path:
    path = root / "roles" / "app"
    (path / "templates").mkdir(parents=True, exist_ok=True)
    (path / "tasks.yml").write_text(tasks)
    if template is None:
        (path / "templates" / "app.conf.j2").unlink(missing_ok=True)
    else:
        (path / "templates" / "app.conf.j2").write_text(template)
    return path


def load(path: Path) -> None:
    loader.load_role(path)


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = loader.tasks_problems

    def spy(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "tasks_problems", spy)
    return calls


def test_a_role_file_that_passed_is_not_checked_again(tmp_path: Path, cache: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = role(tmp_path)
    calls = counting(monkeypatch)
    load(path)
    load(path)
    assert len(calls) == 1 and len(list(cache.iterdir())) == 1
    (path / "tasks.yml").write_text(TASKS + "- name: other\n  dir: {path: /srv/other}\n")
    load(path)
    assert len(calls) == 2, "new bytes are checked"


def test_a_file_with_a_problem_is_reported_every_time_and_never_remembered(tmp_path: Path, cache: Path) -> None:
    path = role(tmp_path, TASKS + "- name: typo\n  dir: {pth: /srv/x}\n")
    for _ in range(2):
        with pytest.raises(InputError, match="pth"):
            load(path)
    assert not cache.exists() or not list(cache.iterdir())


def test_what_depends_on_other_files_is_checked_on_every_load(tmp_path: Path, cache: Path) -> None:
    path = role(tmp_path)
    load(path)
    role(tmp_path, template=None)  # the tasks file is unchanged (remembered), its template gone
    with pytest.raises(InputError, match=r"template source 'app\.conf\.j2' not found"):
        load(path)
    role(tmp_path, template="port = {{ port \n")  # back, with a syntax error
    with pytest.raises(InputError, match=r"app\.conf\.j2"):
        load(path)


def test_an_unwritable_cache_only_means_the_checks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cache").write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = role(tmp_path)
    calls = counting(monkeypatch)
    load(path)
    load(path)
    assert len(calls) == 2
