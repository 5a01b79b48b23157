"""Per-service work as a user tries it, on a test server with its own Docker engine, over SSH.

A project that is not DM (three services of the tiny busybox test image: an api, a worker that
logs a line a second, a cache; a generated TOKEN in the .env): deploy it; deploy one service while
the others keep their containers (same ids); exec a migration-listing stand-in and get its output
and exit status, stdin and a TTY; a one-off run; scale to 3, redeploy with changed=0,
roll back to the scale recorded before;
stop/start/restart one service; logs --since and --follow until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time

import pytest
import yaml
from testbed.images import ensure_image

from .helpers import MOORAGE, moorage

IMAGE = "moorage-test/busybox:latest"
HOST = "svc"
APP_DIR = "/srv/svc"
EXTRA = "app_env_extra={API_VERSION: '2', WORKER_VERSION: '2'}"   # a change of both services' config
LOOP = ["sh", "-c", "while true; do sleep 1; done"]


def _service(command: list[str], **more: object) -> dict[str, object]:
    return {"image": IMAGE, "command": command, "stop_signal": "SIGKILL", **more}


@pytest.fixture(scope="module")
def project(testbed, tmp_path_factory):
    """The project on the controller and its test server, deployed once."""
    ensure_image("busybox")
    server = testbed.start("dockerhost", name="services")
    root = tmp_path_factory.mktemp("svc")
    (root / "compose.yml").write_text(yaml.safe_dump({"services": {
        "api": _service(LOOP, environment={"TOKEN": "${TOKEN:?}", "VERSION": "${API_VERSION:-1}"}),
        "worker": _service(["sh", "-c", "while true; do echo tick; sleep 1; done"],
                           environment={"VERSION": "${WORKER_VERSION:-1}"}),
        "cache": _service(LOOP)}}))
    from testbed import write_inventory
    write_inventory(root / "inventory", {HOST: server}, project="svc", extra_vars={
        "app_dir": APP_DIR, "app_images": [IMAGE], "image_source": "ship", "app_env": {"TOKEN": {"generate": 24}}})
    first = moorage("deploy", "--host", HOST, cwd=root)
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    return root, server


def ids(server) -> dict[str, list[str]]:
    """Service -> its container ids (sorted), as `docker ps -a` on the server shows them."""
    out = server.exec("docker ps -a --filter label=com.docker.compose.project=svc "
                      "--format '{{.Label \"com.docker.compose.service\"}} {{.ID}}'").stdout.decode()
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        service, cid = line.split()
        found.setdefault(service, []).append(cid)
    return {service: sorted(cids) for service, cids in found.items()}


def states(server, service: str) -> list[str]:
    return server.exec(f"docker ps -a --filter label=com.docker.compose.project=svc --filter "
                       f"label=com.docker.compose.service={service} --format '{{{{.State}}}}'").stdout.decode().split()


def token(server) -> str:
    env = server.exec(f"cat {APP_DIR}/current/.env").stdout.decode()
    return next(line.split("=", 1)[1].strip("'\"") for line in env.splitlines() if line.startswith("TOKEN="))


def test_deploy_one_service_keeps_the_others_containers(project):
    root, server = project
    before = ids(server)
    plan = moorage("deploy", "--host", HOST, "--services", "api", "--set", EXTRA, "--check", cwd=root)
    assert plan.code == 0 and "services api up (only these; the others keep their containers)" \
        in plan.stdout, plan.stdout[-3000:] + plan.stderr
    releases = json.loads(moorage("releases", "--host", HOST, "--json", cwd=root).stdout)["releases"]
    one = moorage("deploy", "--host", HOST, "--services", "api", "--set", EXTRA, "--json", cwd=root)
    assert one.code == 0, one.stdout[-3000:] + one.stderr
    assert [t["status"] for t in one.tasks(HOST)
            if t["task"] == "services api up (only these; the others keep their containers)"] == ["changed"]
    after = ids(server)
    assert after["api"] != before["api"]
    assert after["worker"] == before["worker"] and after["cache"] == before["cache"]
    assert len(json.loads(moorage("releases", "--host", HOST, "--json", cwd=root).stdout)["releases"]) \
        == len(releases) + 1   # still a recorded release

    wrong = moorage("deploy", "--host", HOST, "--services", "api,wroker", cwd=root)
    assert wrong.code == 2 and "--services names 'wroker' (did you mean 'worker'?)" in wrong.stderr
    assert ids(server) == after


def test_exec_passes_output_status_and_stdin_and_keeps_secrets_off_the_line(project):
    root, server = project
    secret = token(server)
    listed = moorage("exec", "--host", HOST, "--service", "api", "--",
                     "sh", "-c", 'test -n "$TOKEN" && echo "app: [X] 0001_initial"; exit 3', cwd=root)
    assert listed.code == 3, listed.stderr
    assert listed.stdout == "app: [X] 0001_initial\n"
    assert secret not in listed.stdout + listed.stderr

    hostile = moorage("exec", "--host", HOST, "--service", "api", "--", "echo", "$(touch /tmp/x)", ";", "it's",
                      '"q"', cwd=root)
    assert hostile.code == 0 and hostile.stdout == "$(touch /tmp/x) ; it's \"q\"\n"
    assert moorage("exec", "--host", HOST, "--service", "api", "--", "test", "-e", "/tmp/x", cwd=root).code == 1

    proc = subprocess.run([MOORAGE, "exec", "--host", HOST, "--service", "api", "--", "sh", "-c", "tr a-z A-Z"],
                          input="from stdin\n", capture_output=True, text=True, cwd=root, timeout=120, check=False)
    assert (proc.returncode, proc.stdout) == (0, "FROM STDIN\n"), proc.stderr


def test_exec_on_a_terminal_gets_a_tty(project):
    root, _ = project
    main, child = pty.openpty()
    proc = subprocess.Popen([MOORAGE, "exec", "--host", HOST, "--service", "api", "--", "sh", "-c",
                             "test -t 0 && echo tty; exit 5"], stdin=child, stdout=child, stderr=child, cwd=root)
    os.close(child)
    output = b""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([main], [], [], 0.5)[0]:
            try:
                output += os.read(main, 4096)
            except OSError:
                break
    assert proc.wait(timeout=30) == 5, output
    os.close(main)
    assert b"tty" in output


def test_run_is_a_one_off_container_removed_after(project):
    root, server = project
    before = ids(server)
    one_off = moorage("run", "--host", HOST, "--service", "cache", "--", "sh", "-c", "echo one-off; exit 4", cwd=root)
    assert (one_off.code, one_off.stdout) == (4, "one-off\n"), one_off.stderr
    assert ids(server) == before


def test_scale_is_kept_across_deploys_and_recorded(project):
    root, server = project
    scaled = moorage("deploy", "--host", HOST, "--set", EXTRA, "--set", "compose_scale={api: 3}", cwd=root)
    assert scaled.code == 0, scaled.stdout[-3000:] + scaled.stderr
    assert len(ids(server)["api"]) == 3
    again = moorage("deploy", "--host", HOST, "--set", EXTRA, "--set", "compose_scale={api: 3}", "--json", cwd=root)
    assert again.code == 0 and again.recap(HOST)["changed"] == 0, again.stdout[-3000:]
    assert len(ids(server)["api"]) == 3
    ledger = json.loads(moorage("releases", "--host", HOST, "--json", cwd=root).stdout)
    assert ledger["releases"][0]["meta"]["scale"] == {"api": 3}
    assert json.loads(server.exec(f"cat {APP_DIR}/current/.moorage-scale.json").stdout) == {"api": 3}

    names = {moorage("exec", "--host", HOST, "--service", "api", "--index", str(i), "--", "hostname", cwd=root).stdout
             for i in (1, 2, 3)}
    assert len(names) == 3   # each --index is another container
    beyond = moorage("exec", "--host", HOST, "--service", "api", "--index", "9", "--", "hostname", cwd=root)
    assert (beyond.code, beyond.stderr.strip()) == (
        2, f"error: {HOST}: api has 3 running container(s) (--index 1, 2, 3); there is no --index 9"), beyond.stderr

    back = moorage("rollback", "--host", HOST, "--to", "previous", cwd=root)   # recorded before the scale
    assert back.code == 0, back.stdout[-3000:] + back.stderr
    assert len(ids(server)["api"]) == 1


def test_stop_start_restart_one_service_locked_and_audited(project):
    root, server = project
    stopped = moorage("stop", "--host", HOST, "--service", "worker", cwd=root)
    assert stopped.code == 0, stopped.stderr
    assert states(server, "worker") == ["exited"] and set(states(server, "cache")) == {"running"}
    started = moorage("start", "--host", HOST, "--service", "worker", cwd=root)
    assert started.code == 0 and states(server, "worker") == ["running"], started.stderr
    began = server.exec("docker inspect --format '{{.State.StartedAt}}' $(docker ps -q --filter "
                        "label=com.docker.compose.service=cache)").stdout
    restarted = moorage("restart", "--host", HOST, "--service", "cache", cwd=root)
    assert restarted.code == 0 and "cache restarted" in restarted.stdout, restarted.stderr
    assert server.exec("docker inspect --format '{{.State.StartedAt}}' $(docker ps -q --filter "
                       "label=com.docker.compose.service=cache)").stdout != began
    audit = server.exec(f"cat {APP_DIR}/.moorage/audit.log").stdout.decode()
    assert [line.split()[1] for line in audit.splitlines()][-3:] == ["stop", "start", "restart"]
    assert "services=worker" in audit and "services=cache" in audit
    assert server.exec(f"test -e {APP_DIR}/.moorage/lock").returncode == 1   # the lock was given back
    unknown = moorage("restart", "--host", HOST, "--service", "wroker", cwd=root)
    assert unknown.code == 2 and "did you mean 'worker'" in unknown.stderr


def test_logs_since_and_follow_until_ctrl_c(project):
    root, _ = project
    recent = moorage("logs", "--host", HOST, "--service", "worker", "--since", "1m", cwd=root)
    assert recent.code == 0 and "tick" in recent.stdout, recent.stderr
    assert moorage("logs", "--host", HOST, "--since", "soon", cwd=root).code == 2
    follow = subprocess.Popen([MOORAGE, "logs", "--host", HOST, "--service", "worker", "--follow", "--tail", "0"],
                              cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(6)   # connect, then a few ticks arrive as they are written
    follow.send_signal(signal.SIGINT)
    out, err = follow.communicate(timeout=30)
    assert follow.returncode == 0, err
    assert out.decode().count("tick") >= 2


def test_the_secret_is_in_no_output_and_no_process_list(project):
    root, server = project
    secret = token(server)
    running = subprocess.Popen([MOORAGE, "exec", "--host", HOST, "--service", "api", "--", "sleep", "4"], cwd=root,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    processes = ""
    while time.monotonic() < deadline and "sleep 4" not in processes:   # the exec is under way on the server
        processes = server.exec("ps -eo args").stdout.decode()
        time.sleep(0.2)
    assert "exec -T api sleep 4" in processes and secret not in processes
    err = running.communicate(timeout=60)[1]
    assert running.returncode == 0, err
    for args in (("status", "--host", HOST), ("releases", "--host", HOST, "--json"),
                 ("logs", "--host", HOST, "--tail", "20")):
        shown = moorage(*args, cwd=root)
        assert shown.code == 0 and secret not in shown.stdout + shown.stderr, args
