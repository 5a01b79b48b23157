"""The interruption matrix: for each step of a deploy (and of a restore), kill the controller (SIGKILL)
or drop its SSH connection (the server-side sshd session killed by PID) at that step, then run the
same command again: it ends with the site serving the expected release, the rows written before
still there, the lock free, and the audit log telling the story.

The steps are GENERATED from the recipe's own step list, as moorage runs it: the task events of
``deploy --check --json`` (the same command, check mode: the names rendered, the conditions decided;
a step whose condition is false is left out) and of a real restore.  A new step is covered without a
new test.  "At step N" is the moment the event of the task before it arrives (moorage prints a
task's line when it ends; the next one starts then).

One test server for the module (sshd + its own Docker engine) and the tutorial's small app
(tests/testbed/tasklist.py: 1.0 knows migration 1, 1.1 adds migration 2, and 1.1's /healthz fails on
the old schema): each deploy case starts on 1.0 with schema 1 (a rollback and a downgrade in SQL
put it back) and reruns ``deploy --set app_image=tasklist/app:1.1``.

The matrix runs in two modules, one per way of cutting (``test_interruptions_sigkill.py``,
``test_interruptions_ssh_drop.py``), each on a site of its own: under pytest-xdist two workers share
its ~8 minutes.  This module holds their fixtures (imported by name) and the matrix itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from testbed.images import ensure_image
from testbed.tasklist import TUTORIAL_DIR, build_tasklist

from .helpers import MOORAGE, Run, compose_project, moorage, request

APP = "/srv/rerun"
PROJECT = "rerunlist"
NEW = "tasklist/app:1.1"
MODES = ("SIGKILL of the controller", "SSH connection dropped")


@dataclass
class Site:
    server: Any
    inventory: Path
    first: str  # the 1.0 release, live between cases
    timings: dict[str, float] = field(default_factory=dict)
    resumed: dict[str, int] = field(default_factory=dict)  # step -> reruns that finished a pending release


@pytest.fixture(scope="module")
def site(testbed, tmp_path_factory):
    build_tasklist("1.0")
    build_tasklist("1.1")
    ensure_image("postgres")
    server = testbed.start("dockerhost", name="rerun", publish=(80,))
    project = tmp_path_factory.mktemp("rerun")
    inventory = compose_project(project, (TUTORIAL_DIR / "compose.yml").read_text(), server, PROJECT, {
        "app_dir": APP, "app_image": "tasklist/app:1.0",
        "app_images": ["{{ app_image }}", "moorage-test/postgres:latest"],
        "image_source": "ship", "migrate_service": "api", "migrate_command": "tasklist migrate",
        "backup_databases": [{"service": "db"}], "restore_stop_services": ["api", "worker"],
        "health_url": f"http://127.0.0.1:{server.ports[80]}/healthz", "health_timeout": 60,
        "compose_wait_timeout": 90,
        "app_env": {"APP_IMAGE": "{{ app_image }}", "DB_PASSWORD": "rerun-db-password",
                    "SECRET_KEY": "rerun-secret-key-not-a-real-one"},
    })
    first = run(inventory, "deploy")
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    assert api(server, "/tasks", {"title": "written before"})[0] == 201
    site = Site(server, inventory, live(server))
    yield site
    print("\ninterruption matrix timings (s): " + json.dumps({k: round(v) for k, v in site.timings.items()}))
    print("reruns that finished a pending release, per step: " + json.dumps(site.resumed))
    server.exec(f"cd {APP}/current && docker compose down -v", timeout=180)
    testbed.stop(server)


# -- talking to the site -------------------------------------------------------------------------
def run(inventory: Path, *args: str) -> Run:
    return moorage(*args, "--host", "staging", "--inventory", inventory, "--json", timeout=900)


def sh(server, command: str) -> str:
    done = server.exec(command, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode().strip()


def api(server, path: str, body: dict | None = None) -> tuple[int, Any]:
    if body is None:
        answer = request(server.ports[80], path)
        return answer.status, json.loads(answer.body or b"null")
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.ports[80], timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def live(server) -> str:
    return sh(server, f"readlink {APP}/current").removeprefix("releases/")


def audit_lines(server) -> int:
    return int(sh(server, f"cat {APP}/.moorage/audit.log 2>/dev/null | wc -l"))


def audit_since(server, start: int) -> str:
    return sh(server, f"tail -n +{start + 1} {APP}/.moorage/audit.log")


def lock_free(server) -> bool:
    return server.exec(f"test -e {APP}/.moorage/lock").returncode != 0


def titles(server) -> list[str]:
    status, rows = api(server, "/tasks")
    return [r["title"] for r in rows] if status == 200 else [f"HTTP {status}"]


# -- the step lists, as moorage runs them --------------------------------------------------------
def step_events(events: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(task, runs) of the host's task events in order (the deploy lock's own lines left out); a
    task runs unless its condition is false (check mode skips the gates too: they run for real)."""
    return [(e["task"], not (e["status"] == "skipped" and str(e.get("summary", "")).startswith("condition is false")))
            for e in events
            if e.get("kind") == "task" and e.get("host") == "staging" and e.get("task") != "deploy lock"]


def cases(events: list[tuple[str, bool]]) -> list[tuple[str, str | None]]:
    """Each step that runs, with the task whose event announces it (None: the first line of all)."""
    return [(task, events[i - 1][0] if i else None) for i, (task, runs) in enumerate(events) if runs]


# -- one interrupted run --------------------------------------------------------------------------
def interrupted(site: Site, args: list[str], after: str | None, mode: str) -> bool:
    """``moorage ARGS --json`` as a subprocess, interrupted (``mode``) when the event of task ``after``
    arrives (None: the first event).  Returns once the controller is gone and the server noticed:
    True when the cut landed, False when the run had already ended (a last step that is quick)."""
    proc = subprocess.Popen([MOORAGE, *args, "--host", "staging", "--inventory", str(site.inventory), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(600, proc.kill)
    watchdog.start()
    lines: list[str] = []
    session = ""
    landed = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if landed is not None or not line.startswith("{"):
                continue
            event = json.loads(line)
            if event.get("kind") != "task":
                continue
            session = session or _session(site.server, lines)  # the lock is held from the first task on
            if after is None or event.get("task") == after:
                if mode == MODES[0]:
                    proc.send_signal(signal.SIGKILL)
                    landed = True
                else:
                    landed = site.server.exec(f"kill -9 {session}").returncode == 0
        proc.wait(timeout=120)
    finally:
        watchdog.cancel()
    assert landed is not None, "the step never came:\n" + "".join(lines)[-3000:]
    _wait_gone(site.server, session)
    return bool(landed) and proc.returncode != 0


def _session(server, lines: list[str]) -> str:
    """The server-side sshd process of the lock holder's connection (the lock's holder file says)."""
    done = server.exec(f"cat {APP}/.moorage/lock/holder")
    assert done.returncode == 0, "no lock holder at the step; the run said:\n" + "".join(lines)[-4000:]
    return str(json.loads(done.stdout.decode())["session"].split()[0])


def _wait_gone(server, pid: str) -> None:
    for _ in range(60):
        if server.exec(f"test -e /proc/{pid}").returncode != 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"the holder's sshd session {pid} is still there 30 s after the cut")


def reset_to_first(site: Site) -> None:
    """Back to 1.0 on schema 1: a rollback, then migration 2 undone in SQL."""
    if live(site.server) != site.first:
        back = run(site.inventory, "rollback", "--to", site.first)
        assert back.code == 0, back.stdout[-3000:] + back.stderr
    sh(site.server, f"cd {APP}/current && docker compose exec -T db psql -q -U tasks -d tasks -c "
                    "'ALTER TABLE tasks DROP COLUMN IF EXISTS seen; DELETE FROM schema_level WHERE level = 2'")
    assert api(site.server, "/version") == (200, {"version": "1.0", "schema": 1})


def matrix(site: Site, mode: str, name: str, steps: list[tuple[str, str | None]], args: list[str],
           before: Callable[[], None], check: Callable[[str, Run, str], list[str]]) -> None:
    """Every step, interrupted in ``mode``, then ``args`` again; ``check(step, rerun, audit)``
    lists what is wrong.  Fails once, naming every step that went wrong."""
    started = time.monotonic()
    problems: list[str] = []
    reached = 0
    for step, after in steps:
        for _ in range(2):  # a cut that came after the run had ended (a loaded machine) is tried once more
            before()
            start = audit_lines(site.server)
            landed = interrupted(site, args, after, mode)
            if landed:
                break
        again = run(site.inventory, *args)
        audit = audit_since(site.server, start)
        wrong = [] if again.code == 0 else [f"the rerun exited {again.code}: {again.stderr[-1500:]}"]
        wrong += check(step, again, audit)
        if not lock_free(site.server):
            wrong.append("the lock is still held")
        if landed and "take-over-lock" not in audit:
            wrong.append("the audit log doesn't say the stale lock was taken over")
        problems += [f"{name}, {mode} at '{step}': {w}" for w in wrong]
        reached += landed
    site.timings[f"{name}, {mode} ({len(steps)} steps, {reached} cut before the run ended)"] = \
        time.monotonic() - started
    assert not problems, "\n".join(problems)
    assert reached >= len(steps) - 1, "the cuts came too late to interrupt the runs"


# -- deploy ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deploy_steps(site) -> list[tuple[str, str | None]]:
    reset_to_first(site)
    plan = run(site.inventory, "deploy", "--check", "--set", f"app_image={NEW}")
    assert plan.code == 0, plan.stdout[-3000:] + plan.stderr
    steps = cases(step_events(plan.events))
    names = [s for s, _ in steps]
    assert "migrations" in names and "services ready" in names, names
    return steps


def deploy_checked(site: Site) -> Callable[[str, Run, str], list[str]]:
    def check(step: str, rerun: Run, audit: str) -> list[str]:
        wrong = []
        version = api(site.server, "/version")
        if version != (200, {"version": "1.1", "schema": 2}):
            wrong.append(f"the site answers {version}, not 1.1 on schema 2")
        if "written before" not in titles(site.server):
            wrong.append(f"the row written before is gone: {titles(site.server)}")
        if not any(" deploy " in line and "result=ok" in line for line in audit.splitlines()):
            wrong.append(f"no deploy result=ok in the audit log:\n{audit}")
        resumed = any("never passed its health gate" in (e.get("message") or "") for e in rerun.events
                      if e["kind"] == "warning")
        if resumed and "finished an interrupted deploy" not in audit:
            wrong.append(f"the rerun finished a pending release, and the audit log doesn't say so:\n{audit}")
        site.resumed[step] = site.resumed.get(step, 0) + resumed
        return wrong
    return check


def deploy_matrix(site: Site, deploy_steps: list[tuple[str, str | None]], mode: str) -> None:
    """Every deploy step cut in ``mode``; the same deploy again finishes the release."""
    matrix(site, mode, "deploy", deploy_steps, ["deploy", "--set", f"app_image={NEW}"],
           lambda: reset_to_first(site), deploy_checked(site))


# -- restore ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def restore_steps(site) -> tuple[list[tuple[str, str | None]], str]:
    """The restore's steps from a real restore of a fresh backup (its name is returned too)."""
    taken = run(site.inventory, "backup")
    assert taken.code == 0, taken.stdout[-3000:] + taken.stderr
    name = sh(site.server, f"cd {APP}/backups && ls -t *.dump | head -n 1")
    done = run(site.inventory, "restore", "--file", name, "--yes")
    assert done.code == 0, done.stdout[-3000:] + done.stderr
    steps = [(s, a) for s, a in cases(step_events(done.events)) if s != "connect"]
    assert any(s.startswith("stop the services") for s, _ in steps), steps
    return steps, name


def restore_matrix(site: Site, restore_steps: tuple[list[tuple[str, str | None]], str], mode: str) -> None:
    """Every restore step cut in ``mode``; the same restore again ends with the backup's data, app up."""
    steps, name = restore_steps

    def before() -> None:  # a row the restore must take away again (the backup is older)
        assert api(site.server, "/tasks", {"title": "after the backup"})[0] == 201

    def check(step: str, rerun: Run, audit: str) -> list[str]:
        wrong = []
        rows = titles(site.server)
        if "written before" not in rows or "after the backup" in rows:
            wrong.append(f"the data is not the backup's: {rows}")
        if api(site.server, "/healthz")[0] != 200:
            wrong.append("the app does not answer its health check")
        states = sh(site.server, f"cd {APP}/current && docker compose ps --format '{{{{.Service}}}} "
                                 "{{.State}}' api worker")
        if states.count("running") != 2:
            wrong.append(f"the stopped services are not running again: {states}")
        if not any(" restore " in line and "result=ok" in line for line in audit.splitlines()):
            wrong.append(f"no restore result=ok in the audit log:\n{audit}")
        return wrong

    matrix(site, mode, "restore", steps, ["restore", "--file", name, "--yes"], before, check)
