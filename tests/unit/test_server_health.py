"""``status`` on the server's own state: the lock, a broken ``current``, containers that don't run
the release ``current`` names."""

from __future__ import annotations

import json

import pytest

from moorage.recipes import server_health as health

RELEASE = {"id": "R2", "images": {"app:latest": "sha256:" + "b" * 64}}
HOLDER = json.dumps({"by": "ci@runner", "pid": 7, "since": "2026-11-29T10:00:00Z", "action": "deploy",
                     "session": "999999 1"})


def probe_text(lock: str = "free", current: str = "", hashes: str = "web h-web\nworker h-worker",
               containers: str = "") -> str:
    return f"@@lock\n{lock}\n@@current\n{current}\n@@hashes\n{hashes}\n@@containers\n{containers}\n"


def test_a_quiet_server_has_nothing_to_say() -> None:
    containers = f"web|app:latest|sha256:{'b' * 64}|h-web\nworker|app:latest|sha256:{'b' * 64}|h-worker"
    probe = health.parse(probe_text(containers=containers))
    assert health.findings(probe, "R2", RELEASE, "vps") == ("deploy lock: free", [])


def test_containers_left_on_the_old_release_are_named() -> None:
    containers = f"web|app:latest|sha256:{'a' * 64}|h-old\nworker|app:latest|sha256:{'b' * 64}|h-worker"
    probe = health.parse(probe_text(containers=containers))
    assert health.drift(RELEASE, probe) == [
        "web: its configuration is not the release's; it runs image aaaaaaaaaaaa, the release records "
        "bbbbbbbbbbbb for app:latest"]
    _, problems = health.findings(probe, "R2", RELEASE, "vps")
    assert problems[0].startswith("the containers do not run release R2 that current names")
    assert "`moorage deploy --host vps`" in problems[0] and "rollback --host vps --to previous" in problems[0]


def test_a_current_link_pointing_nowhere() -> None:
    probe = health.parse(probe_text(current="releases/R3", hashes=""))
    _, problems = health.findings(probe, "R3", None, "vps", newest="R2")
    assert problems == ["current points at releases/R3, which does not exist: nothing the app runs can be traced "
                        "to a release; make a recorded release current with "
                        "`moorage rollback --host vps --to R2 --break-lock`"]


def test_a_held_lock_whose_connection_is_gone() -> None:
    probe = health.parse(probe_text(lock=f"held 600 gone\n{HOLDER}"))
    lock, problems = health.findings(probe, "R2", RELEASE, "vps")
    assert lock == ("deploy lock: deploy by ci@runner (pid 7) since 2026-11-29T10:00:00Z, for 10 min — stale: "
                    "the holder's connection to the server is gone")
    assert problems == ["the deploy lock looks abandoned (the holder's connection to the server is gone): the next "
                        "deploy takes it over and finishes or rolls back what that run left: "
                        "`moorage deploy --host vps`"]


@pytest.mark.parametrize(("action", "rerun"), [
    ("rollback", "running the rollback again takes it over and finishes it: "
                 "`moorage rollback --host vps --to previous`"),
    ("restore", "running the restore again takes it over, restores and starts the app: `moorage restore --host vps`"),
    ("restart", "the next deploy takes it over and finishes or rolls back what that run left: "
                "`moorage deploy --host vps`"),
])
def test_an_abandoned_lock_is_finished_by_the_same_kind_of_run(action: str, rerun: str) -> None:
    # a killed rollback told to `deploy` replaced the rollback by the release it had left
    holder = HOLDER.replace('"action": "deploy"', f'"action": "{action}"')
    assert holder != HOLDER
    probe = health.parse(probe_text(lock=f"held 600 gone\n{holder}"))
    _, problems = health.findings(probe, "R2", RELEASE, "vps")
    assert problems == [f"the deploy lock looks abandoned (the holder's connection to the server is gone): {rerun}"]


def test_a_lock_merely_old_still_needs_break_lock() -> None:
    probe = health.parse(probe_text(lock=f"held 9000 unknown\n{HOLDER}"))
    _, problems = health.findings(probe, "R2", RELEASE, "vps")
    assert problems == ["the deploy lock looks abandoned (it was taken 2 h 30 min ago, longer than any deploy "
                        "takes): the next deploy is refused until `moorage deploy --host vps --break-lock`"]


def test_a_held_lock_of_a_live_run_is_no_problem() -> None:
    probe = health.parse(probe_text(lock=f"held 30 alive\n{HOLDER}"))
    lock, problems = health.findings(probe, "R2", RELEASE, "vps")
    assert lock.startswith("deploy lock: deploy by ci@runner") and "stale" not in lock and problems == []
