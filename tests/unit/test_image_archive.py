"""The run's ``docker save`` archives (issue #18): hosts shipping the same images at once share one
save; different image IDs get their own; unused archives beyond the bound and all at exit go."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from moorage.operations import image_archive
from moorage.operations.base import TaskFailed
from moorage.operations.image_archive import SavedImages


@pytest.fixture
def saves(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``docker save`` replaced by a slow writer of 1,000 bytes; the refs of each call."""
    calls: list[list[str]] = []

    def fake_save(refs: list[str], path: Path) -> None:
        calls.append(refs)
        time.sleep(0.05)  # long enough for the other threads to be waiting on the key's lock
        path.write_bytes(b"x" * 1000)

    monkeypatch.setattr(image_archive, "_save", fake_save)
    return calls


def test_hosts_in_threads_share_one_save(saves: list[list[str]]) -> None:
    cache = SavedImages()
    seen: list[tuple[Path, bool]] = []

    def host() -> None:
        with cache.archive({"web:2": "sha256:b", "worker:2": "sha256:c"}) as (path, reused):
            assert path.stat().st_size == 1000
            seen.append((path, reused))

    threads = [threading.Thread(target=host) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(saves) == 1 and cache.saves == 1
    assert len({path for path, _ in seen}) == 1
    assert sorted(reused for _, reused in seen) == [False, True, True, True, True]
    cache.clear()


def test_other_ids_get_their_own_archive_and_the_bound_removes_unused_ones(saves: list[list[str]]) -> None:
    cache = SavedImages(keep_bytes=1500)
    with cache.archive({"web:1": "sha256:a"}) as (first, _), cache.archive({"web:2": "sha256:c"}) as (other, _):
        assert first.exists()  # in use: never removed, whatever the bound
    assert not other.exists() and first.exists()  # over the bound: the unused one went
    with cache.archive({"web:1": "sha256:b"}) as (second, reused):  # web:1 retagged: a new save
        assert not reused and first != second
        assert not first.exists()  # unused, older: removed once the new one is saved
    with cache.archive({"web:1": "sha256:b"}) as (again, reused):
        assert reused and again == second
    directory = second.parent
    cache.clear()
    assert not directory.exists()


def test_a_failed_save_is_tried_again_by_the_next_host(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = [TaskFailed("docker save failed on the controller", "docker save web:1"), None]

    def flaky_save(refs: list[str], path: Path) -> None:
        failure = outcomes.pop(0)
        if failure is not None:
            raise failure
        path.write_bytes(b"ok")

    monkeypatch.setattr(image_archive, "_save", flaky_save)
    cache = SavedImages()
    with pytest.raises(TaskFailed), cache.archive({"web:1": "sha256:a"}):
        pass
    with cache.archive({"web:1": "sha256:a"}) as (path, reused):
        assert path.read_bytes() == b"ok" and not reused
    cache.clear()
