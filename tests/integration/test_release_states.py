"""The readiness gate and release states, tried as a user would on a real server with its own Docker
engine, with a small app that is not DM (busybox): a one-shot `migrate` the web service waits for,
a web service with a healthcheck, a worker with `healthcheck: {disable: true}` and a restart policy.

- a worker without a healthcheck deploys (the gate waits for it to run a settle time);
- a worker that crashes, then a web service that turns unhealthy, fail the gate at once (well under
  its timeout), naming the service, why, and its last log lines; each time the last good release
  comes back and stays live; `releases` lists the failed ones as failed;
- retention prunes the failed releases before the last good one; rollback refuses a failed one;
- a rollback marks the release it replaced rolled-back and the next deploy says it replaces it.

The tests of this module run in order against one server.
"""

from __future__ import annotations

import json
import time

import pytest
from testbed import ensure_image

from .helpers import compose_project, moorage

APP = "/srv/states"
TIMEOUT = 150  # compose_wait_timeout: a failing deploy must end well before it
COMPOSE = """\
services:
  migrate:
    image: ${IMAGE}
    command: ["sh", "-c", "${MIGRATE_SCRIPT}"]
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "exec sleep 3600"]
    stop_signal: SIGKILL
    environment:
      MODE: ${WEB_MODE}
      GREETING: ${GREETING}
    healthcheck:
      test: ["CMD", "sh", "-c", "echo web mode $$MODE; test \\"$$MODE\\" != unhealthy"]
      interval: 1s
      timeout: 2s
      retries: 2
    depends_on:
      migrate: {condition: service_completed_successfully}
  worker:
    image: ${IMAGE}
    command: ["sh", "-c", "${WORKER_SCRIPT}"]
    stop_signal: SIGKILL
    restart: unless-stopped
    healthcheck: {disable: true}
"""


@pytest.fixture(scope="module")
def app(testbed, tmp_path_factory):
    """A fresh dockerhost server and a project of its own: inventory, deploy playbook, compose file."""
    server = testbed.start("dockerhost", name="states")
    project = tmp_path_factory.mktemp("states")
    inventory = compose_project(project, COMPOSE, server, "states", {
        "app_dir": APP, "image": ensure_image("busybox"), "image_source": "ship", "app_images": ["{{ image }}"],
        "compose_wait_timeout": TIMEOUT, "releases_keep": 3,
        "web_mode": "ok", "greeting": "hello", "worker_script": "echo worker started; exec sleep 3600",
        "migrate_script": "echo migrated",
        "app_env": {"MIGRATE_SCRIPT": "{{ migrate_script }}",
                    "IMAGE": "{{ image }}", "WEB_MODE": "{{ web_mode }}", "GREETING": "{{ greeting }}",
                    "WORKER_SCRIPT": "{{ worker_script }}"},
    })
    yield server, inventory
    server.exec(f"cd {APP}/current && docker compose -p states -f compose.yml down", timeout=120)
    testbed.stop(server)


def run(inventory, *args: str):
    return moorage(*args, "--host", "staging", "--inventory", inventory, timeout=900)


def deploy(inventory, *sets: str):
    started = time.monotonic()
    result = run(inventory, "deploy", "--json", *(a for s in sets for a in ("--set", s)))
    return result, time.monotonic() - started


def ledger(inventory) -> list[tuple[str, str]]:
    listing = run(inventory, "releases", "--json")
    assert listing.code == 0, listing.stdout + listing.stderr
    data = json.loads(listing.stdout)
    return [(r["id"], r["state"]) for r in data["releases"]]


def current(server) -> str:
    return server.exec(f"readlink {APP}/current").stdout.decode().strip().removeprefix("releases/")


def failure(result) -> str:
    """The gate task's failure message and its log lines, as the user reads them."""
    gate = [t for t in result.tasks("staging", "failed") if t["task"] == "services ready"]
    assert gate, result.stdout[-3000:]
    return json.dumps(gate[0])


def test_a_worker_without_a_healthcheck_deploys_and_its_release_is_live(app):
    server, inventory = app
    result, _ = deploy(inventory)
    assert result.code == 0, result.stdout[-3000:] + result.stderr
    gate = next(t for t in result.tasks("staging") if t["task"] == "services ready")
    assert gate["status"] == "ok" and "migrate, web, worker" in json.dumps(gate)
    assert ledger(inventory) == [(current(server), "live")]


def test_a_crashing_worker_fails_the_gate_at_once_and_the_good_release_comes_back(app):
    server, inventory = app
    good = current(server)
    result, took = deploy(inventory, "worker_script=echo worker cannot reach the broker; exit 3")
    assert result.code == 1
    print(f"\ncrashing worker: the failed deploy (gate + rollback) took {took:.1f} s")  # shown with -s
    assert took < TIMEOUT / 2, f"the failed deploy took {took:.0f} s"
    said = failure(result)
    assert "worker" in said and ("restart" in said or "exited with status 3" in said), said
    assert "worker cannot reach the broker" in said  # its last log lines
    assert current(server) == good
    states = ledger(inventory)
    assert states[0][1] == "failed" and states[1] == (good, "live")


def test_a_second_failure_in_a_row_leaves_the_last_good_release_live_and_listed(app):
    server, inventory = app
    good = current(server)
    result, took = deploy(inventory, "web_mode=unhealthy")
    print(f"\nunhealthy web: the failed deploy (gate + rollback) took {took:.1f} s")
    assert result.code == 1 and took < TIMEOUT / 2, f"{took:.0f} s"
    said = failure(result)
    assert "web is unhealthy" in said, said
    assert current(server) == good
    assert [s for _, s in ledger(inventory)] == ["failed", "failed", "live"]
    table = run(inventory, "releases")
    assert table.code == 0 and table.stdout.count("failed") == 2 and "live" in table.stdout


def test_retention_prunes_failed_releases_before_the_last_good_one(app):
    server, inventory = app
    good = current(server)
    before = ledger(inventory)
    result, _ = deploy(inventory, "web_mode=unhealthy", "greeting=again")
    assert result.code == 1
    after = ledger(inventory)
    assert len(after) == 3 and (good, "live") in after   # releases_keep: 3
    assert before[1] not in after                        # the oldest failed one went first
    assert current(server) == good


def test_rollback_refuses_a_failed_release(app):
    _, inventory = app
    failed = ledger(inventory)[0][0]
    refused = run(inventory, "rollback", "--tag", failed)
    assert refused.code == 2
    assert f"release {failed} is failed" in refused.stderr and "no rollback target" in refused.stderr


def test_a_rollback_is_marked_and_the_next_deploy_says_it_replaces_it(app):
    server, inventory = app
    first = current(server)
    result, _ = deploy(inventory, "greeting=bonjour")
    assert result.code == 0, result.stdout[-3000:]
    second = current(server)
    assert ledger(inventory)[0] == (second, "live") and (first, "superseded") in ledger(inventory)

    back = run(inventory, "rollback", "--to", "previous")
    assert back.code == 0, back.stdout + back.stderr
    assert f"{second} is marked rolled-back" in back.stdout and "next deploy" in back.stdout
    states = dict(ledger(inventory))
    assert states[first] == "live" and states[second] == "rolled-back" and current(server) == first
    assert "because a rollback replaced" in run(inventory, "releases").stdout

    again, _ = deploy(inventory, "greeting=bonjour")
    assert again.code == 0
    warnings = [e for e in again.events if e["kind"] == "warning"]
    assert any(f"rollback replaced {second}" in json.dumps(w) for w in warnings), warnings
    assert ledger(inventory)[0] == (current(server), "live")


def test_a_failing_one_shot_names_itself_and_composes_error_comes_last(app):
    """`up` fails on a service another depends on: compose's own sentence is the reason, after the
    containers' log lines (they hid it: the last 30 lines were the worker's and the db's)."""
    server, inventory = app
    good = current(server)
    result, _ = deploy(inventory, "migrate_script=echo migration 7 cannot lock; exit 1")
    assert result.code == 1
    up = [t for t in result.tasks("staging", "failed") if t["task"] == "stack up"]
    assert up, result.stdout[-3000:]
    said = json.dumps(up[0])
    print(f"\nfailing one-shot: {up[0]}")  # shown with -s
    assert 'service \\"migrate\\" didn\'t complete successfully: exit 1' in said, said
    assert "migration 7 cannot lock" in said  # its log line, in the context before
    assert said.rindex("docker compose said:") > said.rindex("migration 7 cannot lock"), said
    assert current(server) == good
