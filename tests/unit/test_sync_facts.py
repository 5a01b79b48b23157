"""A sync decided from the play's facts: the destination's manifest travels in the one facts
command, so a tree already in step costs no command of its own (real sh, rsync and files in a
temp dir through the local connection; the SSH path runs in tests/integration/test_sync.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fakes import quiet_report
from test_executor import statuses, write_project
from test_sync import make_tree

from moorage.connection import LocalConnection, Target
from moorage.executor import Runner, RunOptions, RunResult
from moorage.facts import files as file_facts
from moorage.facts import sync as tree
from moorage.facts.paths import FactRequest
from moorage.inventory import load_inventory
from moorage.operations.base import Facts, OpContext, RunOnce
from moorage.operations.sync import Sync
from moorage.playbook import load_playbook
from moorage.report import Report

STAMP = 1_700_000_000


def test_the_facts_command_lists_a_tree_whatever_its_file_names(tmp_path: Path) -> None:
    odd = {"a b.txt": b"1", "line\nbreak": b"22", "@@trees": b"333", "sub/@@stat\n@@sha": b"4444", "@@sha": b"5"}
    dest = make_tree(tmp_path / "dest", odd)
    dest.chmod(0o750)
    request = FactRequest({str(tmp_path / "absent")}, trees={tree.TreeRequest(str(dest)),
                                                            tree.TreeRequest(str(tmp_path / "none"))})
    output = subprocess.run(["sh", "-c", file_facts.gather_command(request)], capture_output=True,
                            text=True, check=True).stdout
    probes = file_facts.parse_trees(output, request)
    got = probes[tree.TreeRequest(str(dest))]
    assert got.dest == "dir" and got.root is not None and got.root.mode == 0o750
    assert got.manifest is not None
    assert {rel: (e.kind, e.size, e.mtime) for rel, e in got.manifest.items() if e.kind == "f"} == {
        rel: ("f", len(data), STAMP) for rel, data in odd.items()}
    assert probes[tree.TreeRequest(str(tmp_path / "none"))].dest == "absent"
    summed = FactRequest(trees={tree.TreeRequest(str(dest), checksum=True)})
    output = subprocess.run(["sh", "-c", file_facts.gather_command(summed)], capture_output=True,
                            text=True, check=True).stdout
    manifest = file_facts.parse_trees(output, summed)[tree.TreeRequest(str(dest), checksum=True)].manifest
    assert manifest is not None and manifest["@@sha"].sha256 == hashlib.sha256(b"5").hexdigest()
    assert manifest["sub/@@stat\n@@sha"].size == 4
    assert not file_facts.parse(output, request)[str(tmp_path / "absent")].exists, "paths still parse"


def play(root: Path, tasks: list[dict[str, Any]], check: bool = False) -> tuple[RunResult, Report]:
    """One run of ``tasks`` on this machine through a fresh local connection."""
    inventory_path, playbook_path = write_project(root / "project", ["web1"], tasks)
    inventory = load_inventory(inventory_path)
    report = quiet_report()
    conn = LocalConnection(Target("web1", connection="local"))
    result = Runner(inventory, RunOptions(check=check), report, {"web1": conn}).run(
        load_playbook(playbook_path), inventory.select("all"))
    return result, report


MEDIA = {"products/a.png": b"A" * 1000, "docs/readme.txt": b"hello\n", "top.txt": b"top"}


def test_a_tree_in_step_costs_no_command_of_its_own(tmp_path: Path) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "srv" / "media"
    tasks = [{"name": "config", "file": {"path": str(tmp_path / "srv" / "app.conf"), "content": "x\n"}},
             {"name": "media", "sync": {"src": str(src), "dest": str(dest), "delete": True}}]
    (tmp_path / "srv").mkdir()
    first, _ = play(tmp_path, tasks)
    assert first.round_trips()["web1"]["commands"] == 3  # facts, the batch, rsync
    again, report = play(tmp_path, tasks)
    assert statuses(report) == [("config", "ok"), ("media", "ok")]
    assert again.round_trips()["web1"] == {"connections": 1, "commands": 1}
    checked, report = play(tmp_path, tasks, check=True)
    assert statuses(report) == [("config", "ok"), ("media", "ok")]
    assert checked.round_trips()["web1"]["commands"] == 1


def test_any_difference_rsync_would_act_on_still_syncs(tmp_path: Path) -> None:
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "media"
    tasks = [{"name": "media", "sync": {"src": str(src), "dest": str(dest), "delete": True}}]
    play(tmp_path, tasks)
    for change in (lambda: os.utime(dest / "top.txt", (STAMP + 5, STAMP + 5)),  # mtime
                   lambda: (dest / "docs" / "readme.txt").chmod(0o600),          # mode
                   lambda: (dest / "extra.bin").write_bytes(b"x"),                # a file to delete
                   lambda: (dest / "products" / "a.png").unlink(),                # a file to send
                   lambda: dest.chmod(0o700)):                                    # dest's own mode
        change()
        result, report = play(tmp_path, tasks)
        assert statuses(report) == [("media", "changed")]
        assert result.round_trips()["web1"]["commands"] == 2
        assert {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()} == set(MEDIA)
        assert oct(dest.stat().st_mode & 0o777) == oct(src.stat().st_mode & 0o777)


def test_an_earlier_task_writing_inside_dest_leaves_the_decision_to_the_transfer(tmp_path: Path) -> None:
    """The manifest is gathered before the play's file tasks run: a task of the same play that
    writes into ``dest`` makes it stale, so the sync doesn't trust it."""
    src, dest = make_tree(tmp_path / "src", MEDIA), tmp_path / "media"
    play(tmp_path, [{"name": "media", "sync": {"src": str(src), "dest": str(dest)}}])
    tasks = [{"name": "overwrite", "file": {"path": str(dest / "top.txt"), "content": "changed by a task"}},
             {"name": "media", "sync": {"src": str(src), "dest": str(dest)}}]
    _, report = play(tmp_path, tasks)
    assert statuses(report) == [("overwrite", "changed"), ("media", "changed")]
    assert (dest / "top.txt").read_bytes() == b"top"


def test_a_delete_into_bookkeeping_is_refused_even_when_nothing_differs(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"app/.moorage/lock": b"", **MEDIA})
    dest = make_tree(tmp_path / "dest", {"app/.moorage/lock": b"", **MEDIA})
    _, report = play(tmp_path, [{"name": "media", "sync": {"src": str(src), "dest": str(dest), "delete": True}}])
    assert statuses(report) == [("media", "failed")]


def test_the_source_is_scanned_once_for_every_host_of_a_play(tmp_path: Path, monkeypatch) -> None:
    """The hosts plan in parallel threads; the source tree is the controller's, the same for all."""
    src = make_tree(tmp_path / "src", MEDIA)
    scans: list[Path] = []
    real = tree.scan_local

    def counting(root, *args):
        scans.append(root)
        time.sleep(0.05)  # long enough for the other threads to ask meanwhile
        return real(root, *args)

    monkeypatch.setattr(tree, "scan_local", counting)
    once = RunOnce()
    ops = [Sync({"src": str(src), "dest": f"/srv/{host}/media"}, OpContext(host, {}, once=once))
           for host in ("a", "b", "c", "d")]
    with ThreadPoolExecutor(4) as pool:
        changes = list(pool.map(lambda op: op.plan(Facts()), ops))
    assert len(scans) == 1 and all(c is not None and "3 files" in c.summary for c in changes)
    other = Sync({"src": str(src), "dest": "/srv/e", "exclude": ["*.txt"]}, OpContext("e", {}, once=once))
    assert other.plan(Facts()) is not None and len(scans) == 2, "other arguments, another scan"


def test_a_failed_computation_is_not_remembered() -> None:
    once, calls = RunOnce(), []

    def failing() -> int:
        calls.append(1)
        raise ValueError("missing")

    for _ in range(2):
        with pytest.raises(ValueError):
            once.get("k", failing)
    assert len(calls) == 2 and once.get("k", lambda: 7) == 7 and once.get("k", lambda: 8) == 7


def test_a_release_style_sync_of_listed_paths_costs_no_command_either(tmp_path: Path) -> None:
    """``only`` + ``delete`` + ``checksum`` into a directory another task keeps at 0750 (a deploy's
    staged config): the tar transport leaves dest's own mode alone, so its mode is no difference."""
    src = make_tree(tmp_path / "src", {"compose.yml": b"services: {}\n", "conf/app.ini": b"x=1\n", "other": b"no"})
    src.chmod(0o755)
    dest = tmp_path / "config"
    tasks = [{"name": "config dir", "dir": {"path": str(dest), "mode": "0750"}},
             {"name": "release files", "sync": {"src": str(src), "dest": str(dest), "only": ["compose.yml", "conf"],
                                                "delete": True, "checksum": True}}]
    play(tmp_path, tasks)
    assert sorted(p.name for p in dest.rglob("*")) == ["app.ini", "compose.yml", "conf"]
    again, report = play(tmp_path, tasks)
    assert statuses(report) == [("config dir", "ok"), ("release files", "ok")]
    assert again.round_trips()["web1"]["commands"] == 1
