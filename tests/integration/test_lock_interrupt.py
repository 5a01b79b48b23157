"""The deploy lock and Ctrl-C, on a real test server (sshd + its own Docker engine), as an operator
meets them: a lock that can't be taken says why and leaves nothing; a half-written release is
removed by the next deploy; Ctrl-C stops a real ``moorage deploy`` at a safe point (before the
switch, or once the health gate passed), exits 130 with the recap and an "interrupted" audit line,
the lock free; a second Ctrl-C aborts at once, saying how to repair, and ``status`` then shows the
stale lock and the containers left on the old release until the same ``deploy`` again takes the lock
over and finishes the release.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from testbed.images import ensure_image

from .helpers import MOORAGE, Run, compose_project, moorage, request

APP = "/srv/lk"
COMPOSE = """\
services:
  web:
    image: ${WEB_IMAGE}
    ports: ["80:80"]
    environment: {GREETING: "${GREETING}"}
"""
SWITCH = "record the release and switch current"


@pytest.fixture(scope="module")
def site(testbed, tmp_path_factory):
    """A dockerhost server and a project: one nginx service, a slow "migration" (6 s: a window to
    press Ctrl-C in), an HTTP health gate from here."""
    server = testbed.start("dockerhost", name="lock", publish=(80,))
    project = tmp_path_factory.mktemp("lockshop")
    inventory = compose_project(project, COMPOSE, server, "lockshop", {
        "app_dir": APP, "web_image": ensure_image("nginx"), "app_images": ["{{ web_image }}"], "image_source": "ship",
        "migrate_service": "web", "migrate_command": "sleep 6", "greeting": "one",
        "health_url": f"http://127.0.0.1:{server.ports[80]}/", "health_timeout": 40, "compose_wait_timeout": 90,
        "app_env": {"WEB_IMAGE": "{{ web_image }}", "GREETING": "{{ greeting }}"},
    })
    yield server, inventory
    server.exec(f"cd {APP}/current && docker compose -p lockshop -f compose.yml down", timeout=120)
    testbed.stop(server)


def sh(server, command: str) -> str:
    done = server.exec(command)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


def deploy(inventory: Path, *args: str) -> Run:
    return moorage("deploy", "--host", "staging", "--inventory", inventory, "--json", *args, timeout=900)


def status(inventory: Path) -> dict:
    run = moorage("status", "--host", "staging", "--inventory", inventory, "--json", timeout=300)
    assert run.code == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def deploy_pressing(inventory: Path, greeting: str, when, presses: int = 1) -> Run:
    """``moorage deploy`` as a subprocess, sent SIGINT ``presses`` times once ``when(event)`` holds."""
    return pressing(["deploy", "--set", f"greeting={greeting}"], inventory, when, presses)


def pressing(args: list[str], inventory: Path, when, presses: int = 1) -> Run:
    """``moorage ARGS --host staging`` as a subprocess, sent SIGINT ``presses`` times once ``when(event)``."""
    proc = subprocess.Popen([MOORAGE, *args, "--host", "staging", "--inventory", str(inventory), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    lines, pressed = [], False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if not pressed and line.startswith("{") and when(json.loads(line)):
                for _ in range(presses):
                    proc.send_signal(signal.SIGINT)
                    time.sleep(0.3)
                pressed = True
        stderr = proc.stderr.read() if proc.stderr else ""
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
    assert pressed, "the moment to press Ctrl-C never came:\n" + "".join(lines)[-3000:] + stderr
    return Run(proc.returncode, "".join(lines), stderr)


def live(server) -> str:
    return sh(server, f"readlink {APP}/current").removeprefix("releases/")


def last_audit(server) -> str:
    return sh(server, f"tail -n 1 {APP}/.moorage/audit.log")


def lock_free(server) -> bool:
    return server.exec(f"test -e {APP}/.moorage/lock").returncode != 0


def test_a_lock_that_cannot_be_taken_says_why_and_leaves_nothing(site):
    server, inventory = site
    sh(server, f"mkdir -p {APP}/.moorage && busybox mount -t tmpfs -o size=8k tmpfs {APP}/.moorage "
               f"&& (head -c 65536 /dev/zero > {APP}/.moorage/fill || true)")
    try:
        full = deploy(inventory)
        assert full.code == 1, full.stdout[-2000:] + full.stderr
        assert "no space left on device — the disk is full" in full.stderr, full.stderr
        assert "held" not in full.stderr and "no lock was left behind" in full.stderr
        assert lock_free(server)

        sh(server, f"busybox mount -o remount,ro {APP}/.moorage")
        readonly = deploy(inventory)
        assert readonly.code == 1 and "read-only file system" in readonly.stderr, readonly.stderr
    finally:
        sh(server, f"busybox umount {APP}/.moorage")
    first = deploy(inventory)  # space back: nothing the failures left blocks the next deploy
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    assert request(server.ports[80], "/").status == 200


def test_a_half_written_release_is_removed_by_the_next_deploy(site):
    server, inventory = site
    sh(server, f"mkdir -p {APP}/releases/20200101T000000Z.partial/x")
    run = deploy(inventory)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert server.exec(f"test -e {APP}/releases/20200101T000000Z.partial").returncode != 0
    warnings = [e["message"] for e in run.events if e["kind"] == "warning"]
    assert any("20200101T000000Z.partial" in w for w in warnings), warnings


def test_ctrl_c_before_the_switch_keeps_the_live_release(site):
    server, inventory = site
    before = live(server)
    run = deploy_pressing(inventory, "two", lambda e: e.get("kind") == "task" and e.get("host") == "staging")
    assert run.code == 130, run.stdout[-3000:] + run.stderr
    assert any(e["kind"] == "recap" for e in run.events), "the recap is printed"
    (outcome,) = [e for e in run.events if e["kind"] == "outcome"]
    assert outcome["status"] == "interrupted" and f"release {before} is still live" in outcome["message"]
    assert "staging: interrupted (Ctrl-C) " in run.stderr
    assert live(server) == before and lock_free(server)
    assert "deploy" in last_audit(server) and "result=interrupted" in last_audit(server)
    assert not any(t["task"] == SWITCH for t in run.tasks("staging"))
    assert request(server.ports[80], "/").status == 200


def test_ctrl_c_inside_the_window_finishes_the_gate_then_stops(site):
    server, inventory = site
    run = deploy_pressing(inventory, "three", lambda e: e.get("task") == SWITCH and e.get("status") == "changed")
    assert run.code == 130, run.stdout[-3000:] + run.stderr
    done = {t["task"]: t["status"] for t in run.tasks("staging")}
    assert done["migrations"] == "changed" and done["stack up"] in ("changed", "ok")
    (outcome,) = [e for e in run.events if e["kind"] == "outcome"]
    new = live(server)
    assert outcome["status"] == "interrupted" and f"release {new} is live (it passed its health gate)" \
        in outcome["message"]
    assert lock_free(server) and "result=interrupted" in last_audit(server)
    assert request(server.ports[80], "/").status == 200
    state = status(inventory)
    assert state["current"] == new and state["drift"] == [] and not state["lock"]["held"]


def test_ctrl_c_during_a_rollback_lets_it_pass_its_gate(site):
    server, inventory = site
    before = live(server)
    run = pressing(["rollback", "--to", "previous"], inventory,
                   lambda e: e.get("task") == SWITCH and e.get("status") == "changed")
    assert run.code == 0, run.stdout[-3000:] + run.stderr  # nothing was left to stop before
    assert live(server) != before and lock_free(server) and "rollback" in last_audit(server)
    assert "result=ok" in last_audit(server)
    assert status(inventory)["drift"] == [] and request(server.ports[80], "/").status == 200


def test_a_second_ctrl_c_aborts_and_status_shows_what_to_repair(site):
    server, inventory = site
    before = live(server)
    started = time.monotonic()
    run = deploy_pressing(inventory, "four", lambda e: e.get("task") == SWITCH and e.get("status") == "changed",
                          presses=2)
    assert run.code == 130 and time.monotonic() - started < 60, run.stderr
    assert "aborted (second Ctrl-C)" in run.stderr and "inside the release switch and health gate" in run.stderr
    assert "repair with `moorage deploy --host staging`" in run.stderr
    assert not lock_free(server) and live(server) != before  # switched, the containers not recreated yet

    for _ in range(30):  # the server notices the dropped connection within a moment
        state = status(inventory)
        if state["lock"]["stale"]:
            break
        time.sleep(1)
    assert state["lock"]["held"] and state["lock"]["stale"] == "the holder's connection to the server is gone"
    assert state["drift"] and state["drift"][0].startswith("web: its configuration is not the release's")
    human = moorage("status", "--host", "staging", "--inventory", inventory, timeout=300)
    assert "deploy lock: deploy by" in human.stdout and "the next deploy takes it over" in human.stdout
    assert "the containers do not run release" in human.stdout

    switched = live(server)  # the same command again: the stale lock is taken over, the release finished
    repaired = deploy(inventory, "--set", "greeting=four")
    assert repaired.code == 0, repaired.stdout[-3000:] + repaired.stderr
    warnings = " ".join(e["message"] for e in repaired.events if e["kind"] == "warning")
    assert "took over a stale lock from deploy by" in warnings
    assert f"release {switched} is current but never passed its health gate" in warnings
    assert live(server) == switched and "take-over-lock" in sh(server, f"cat {APP}/.moorage/audit.log")
    state = status(inventory)
    assert state["drift"] == [] and not state["lock"]["held"] and state["problems"] == []


def test_status_names_a_current_link_pointing_nowhere(site):
    server, inventory = site
    good = live(server)
    sh(server, f"cd {APP} && ln -sfn releases/gone current")
    try:
        state = status(inventory)
        assert state["current_broken"] == "releases/gone"
        assert any("current points at releases/gone, which does not exist" in p and "rollback --host staging"
                   in p for p in state["problems"])
    finally:
        sh(server, f"cd {APP} && ln -sfn releases/{good} current")
