"""Zero-downtime deploys and rollbacks (compose_app's ``zero_downtime``) on a real test server.

The tutorial's tasklist app (API + worker + PostgreSQL, tests/tutorial), its API routed by the
shared Traefik of the built-in deploy playbook (``proxy: traefik``, labels, no published port).
While ~50 requests a second go to the server's published Traefik port, moorage deploys 1.0 ->
1.1 (with a migration), rolls back to 1.0, then deploys a release whose API crashes (the switch
removes the new containers, the deploy fails and the good release stays): not one request fails.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from testbed.load import Load
from testbed.zdt import prepare_images, write_project

from .helpers import Run, moorage, request


@pytest.fixture(scope="module")
def app(testbed, tmp_path_factory):
    """A dockerhost test server and a project whose first release (1.0) is live behind Traefik."""
    prepare_images()
    server = testbed.start("dockerhost", name="zdt")
    root = tmp_path_factory.mktemp("zdt")
    write_project(root, server)
    first = deploy(root)
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    return server, root


def deploy(root: Path, *args: str) -> Run:
    return moorage("deploy", "--host", "zdt", "--json", *args, cwd=root, timeout=900)


def version(server, host: str | None = None) -> str:
    """The version the app answers on the server's port 80 (through its proxy; ``host``: the Host header)."""
    deadline = time.monotonic() + 30
    while True:
        answer = request(server.ports[80], "/version", host=host)
        if answer.status == 200 or time.monotonic() > deadline:
            return str(yaml.safe_load(answer.text).get("version"))
        time.sleep(0.5)


def explain(load: Load, run: Run, server) -> None:
    """On failed requests: the run's tasks with their times, when the requests failed, the containers'
    events and Traefik's last log lines (to see which step dropped them)."""
    if not load.failed:
        return
    for t in run.tasks("zdt"):
        print(round(t["time"], 2), t["task"][:50], t.get("summary", "")[:100])
    print("failed at", load.failed_at)
    print(server.exec("docker events --since 5m --until 0s --filter type=container --format "
                      "'{{.Time}} {{.Action}} {{.Actor.Attributes.name}}' | grep -v exec_ | tail -40").stdout.decode())
    traefik = "docker logs --timestamps zdt-traefik-traefik-1 2>&1 | tail -40"
    print(server.exec(traefik).stdout.decode()[-6000:])


def switch(run: Run) -> dict:
    """The zero-downtime switch task's event."""
    return next(t for t in run.tasks("zdt") if t["task"].startswith("zero-downtime switch"))


def test_a_new_version_goes_live_without_a_failed_request(app):
    server, root = app
    assert version(server) == "1.0"
    with Load(server.ports[80], "/version") as load:
        run = deploy(root, "--set", "app_image=tasklist/app:1.1")
    print(f"\n1.0 -> 1.1: {load.report()}")
    explain(load, run, server)
    assert run.code == 0, run.stdout[-4000:] + run.stderr
    assert switch(run)["status"] == "changed"
    assert version(server) == "1.1"
    assert load.sent > 50 and load.failed == 0, load.report()


def test_a_rollback_goes_through_the_same_switch_without_a_failed_request(app):
    server, root = app
    with Load(server.ports[80], "/version") as load:
        run = moorage("rollback", "--host", "zdt", "--to", "previous", "--json", cwd=root, timeout=900)
    print(f"\nrollback 1.1 -> 1.0: {load.report()}")
    explain(load, run, server)
    assert run.code == 0, run.stdout[-4000:] + run.stderr
    assert switch(run)["status"] == "changed"
    assert version(server) == "1.0"
    assert load.sent > 50 and load.failed == 0, load.report()


def test_a_release_whose_api_crashes_is_removed_and_the_old_one_keeps_serving(app):
    server, root = app
    with Load(server.ports[80], "/version") as load:
        run = deploy(root, "--set", "app_image=tasklist/app:1.1", "--set", "app_env_extra={API_MODE: crash}")
    print(f"\n1.0 -> crashing API: {load.report()}")
    assert run.code != 0
    failed = switch(run)
    assert failed["status"] == "failed" and "the old ones keep serving" in str(failed), failed
    assert version(server) == "1.0"
    assert load.sent > 20 and load.failed == 0, load.report()
    apis = server.exec("docker ps -a --filter label=com.docker.compose.service=api -q | wc -l").stdout.decode()
    assert apis.strip() == "1"   # the crashed new container is gone


def test_the_plan_names_each_services_strategy_and_why(app):
    _, root = app
    plan = deploy(root, "--check", "--set", "app_image=tasklist/app:1.1")
    assert plan.code == 0, plan.stdout[-3000:] + plan.stderr
    said = switch(plan)["summary"]
    assert "api start-first (routed by the proxy: traefik.enable, no fixed host port)" in said, said
    assert "worker stop-first (not routed by the proxy: it may not run twice)" in said, said
    warned = deploy(root, "--check", "--set", "app_image=tasklist/app:1.1", "--set", "migrations_break_old_code=true")
    assert switch(warned)["task"].startswith("zero-downtime switch: WARNING migrations_break_old_code is true")


def test_a_no_change_deploy_changes_nothing_and_runs_no_switch(app):
    _, root = app
    first = deploy(root)   # the inventory's own release again (after the failed one, live by a rollback)
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    again = deploy(root)
    assert again.code == 0, again.stdout[-3000:] + again.stderr
    assert again.recap("zdt")["changed"] == 0
    assert switch(again)["status"] == "skipped"
