"""The deploy and rollback playbooks run only through their recipes (lock, preflight, audit, a
release id of their own): ``play`` refuses them by name or by path, and the release step
refuses the placeholder id and an id already recorded, so no run records two releases of one id."""

from __future__ import annotations

import shutil

import pytest
from inputkit import write_project
from invoke.context import Context
from invoke.exceptions import Exit

from moorage.builtin import PLAYBOOKS
from moorage.cli.run_tasks import play
from moorage.connection import LocalConnection
from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.release import Release
from moorage.target import Target

DEPLOY = ("error: `play` does not run the deploy playbook: run `moorage deploy --host web1` (it takes the lock, "
          "runs the preflight and records the release)")
ROLLBACK = ("error: `play` does not run the rollback playbook: run `moorage rollback --host web1 --to previous` "
            "(it takes the lock, finds the recorded release and writes the audit log)")


@pytest.fixture
def root(tmp_path):
    """A project with its own deploy.yml (a copy of the built-in one) and a link to it."""
    root = write_project(tmp_path)
    (root / "playbooks").mkdir()
    shutil.copy(PLAYBOOKS / "deploy.yml", root / "playbooks" / "deploy.yml")
    (root / "mine.yml").symlink_to(root / "playbooks" / "deploy.yml")
    return root


@pytest.mark.parametrize(("given", "message"), [
    ("deploy", DEPLOY),
    ("deploy.yml", DEPLOY),
    ("{root}/playbooks/deploy.yml", DEPLOY),
    ("{root}/mine.yml", DEPLOY),                  # a path resolving to it
    (str(PLAYBOOKS / "deploy.yml"), DEPLOY),      # the built-in one, shadowed by the project's
    ("rollback", ROLLBACK),
    (str(PLAYBOOKS / "rollback.yml"), ROLLBACK),
])
def test_play_refuses_the_playbooks_only_their_recipe_runs(root, capsys, given, message):
    with pytest.raises(Exit) as exited:
        play(Context(), given.format(root=root), host="web1", project=str(root))
    assert (exited.value.code, capsys.readouterr().err.strip()) == (2, message)


def test_play_still_runs_other_playbooks(root, capsys):
    """backup runs (every task skipped: the project backs nothing up), ending with its recap."""
    play(Context(), "backup", host="web1", project=str(root))
    seen = capsys.readouterr()
    assert "web1" in seen.out and "skipped=" in seen.out
    assert "does not run" not in seen.err


def test_an_id_already_recorded_is_refused_and_current_kept(tmp_path):
    """The recording script itself, run on this machine: a release id names one release."""
    app = tmp_path / "app"
    (app / "config").mkdir(parents=True)
    (app / "config" / "compose.yml").write_text("services: {}\n")
    (app / "releases" / "r1").mkdir(parents=True)
    (app / "current").symlink_to("releases/r1")
    release = Release({"app_dir": str(app), "id": "r1", "images": []}, OpContext("pc", {}))
    change = release.plan(Facts())
    assert change is not None
    with pytest.raises(TaskFailed, match=f"release r1 is already recorded in {app}/releases"):
        release.apply(change, LocalConnection(Target("pc", connection="local")))
    assert (app / "current").readlink().as_posix() == "releases/r1"
    assert sorted(p.name for p in (app / "releases").iterdir()) == ["r1"]
