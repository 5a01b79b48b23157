"""`moorage deploy` of the DM stack on a real server with its own Docker engine, the way a user
runs it: deploy v1, open the page, media from nginx, a no-change redeploy, data surviving v2,
rollback to v1 without rebuilding, a broken v3 rolled back by itself, a failing migration, an
invalid compose file, the deploy lock and the audit log.

The tests of this module run in order against one server (each builds on the previous state).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from testbed.dm import APP_DIR as APP
from testbed.dm import DM_HOST as HOST
from testbed.dm import ROOT, prepare_project
from testbed.dm_images import WEBAPP_V1, build_webapp_version, ensure_dm_image

from .helpers import moorage, request


@pytest.fixture(scope="module")
def dm(testbed, tmp_path_factory):
    """A dockerhost server and a copy of the project whose `nexus` environment points at it."""
    server = testbed.start("dockerhost", name="dm", publish=(80,))
    refs = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
    build_webapp_version("moorage-test/webapp:v2", "v2")
    build_webapp_version("moorage-test/webapp:v3", "v3", HEALTH_FAIL="1")
    testbed.load_images(server, [refs["nginx"], refs["traefik"]])  # the proxy's images; the app's ship
    inventory = prepare_project(server, {**refs, "webapp": WEBAPP_V1}, tmp_path_factory.mktemp("project"),
                                health_timeout=40, compose_wait_timeout=60)
    server.exec(f"mkdir -p {APP}/media/products")
    server.exec(f"cat > {APP}/media/products/forest_path.png", input=(ROOT / "examples/dm/media/products/"
                                                                      "forest_path.png").read_bytes())
    yield server, inventory
    testbed.stop(server)


def deploy(inventory: Path, *args: str):
    return moorage("deploy", "--host", "nexus", "--inventory", inventory, "--json", *args, timeout=900)


def page(server) -> str:
    return request(server.ports[80], "/", host=HOST).text


def current_release(server) -> str:
    return server.exec(f"readlink {APP}/current").stdout.decode().strip().removeprefix("releases/")


def outcome(run) -> dict:
    return next(e for e in run.events if e["kind"] == "outcome")


def test_first_deploy_serves_the_app_through_traefik_and_media_through_nginx(dm):
    server, inventory = dm
    run = deploy(inventory)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    body = page(server)
    assert 'id="app-version">v1<' in body
    for product in ("Pack Nature", "Pack Abstract", "Pack Minimal"):
        assert product in body
    media = request(server.ports[80], "/media/products/forest_path.png", host=HOST)
    assert media.status == 200 and media.headers.get("server", "").startswith("nginx")
    assert media.body == (ROOT / "examples/dm/media/products/forest_path.png").read_bytes()
    env = server.exec(f"cat {APP}/current/.env").stdout.decode()
    assert "DJANGO_DEBUG=0" in env and "DB_NAME=dm_db" in env
    assert server.exec(f"stat -c %a {APP}/current/.env").stdout.strip() == b"600"
    secret = next(v for k, _, v in (ln.partition("=") for ln in env.splitlines()) if k == "DJANGO_SECRET_KEY")
    assert len(secret) == 50 and secret not in run.stdout + run.stderr


def test_a_no_change_redeploy_changes_nothing_and_creates_no_release(dm):
    server, inventory = dm
    before = current_release(server)
    started = time.monotonic()
    run = deploy(inventory)
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stdout[-3000:]
    assert run.recap("nexus")["changed"] == 0
    assert current_release(server) == before
    print(f"no-change redeploy: {elapsed:.2f} s")  # reported, not asserted: see bench/


def test_check_diff_shows_what_v2_would_change_and_changes_nothing(dm):
    server, inventory = dm
    before = current_release(server)
    run = moorage("deploy", "--host", "nexus", "--inventory", inventory, "--check", "--diff",
                  "--set", "web_image=moorage-test/webapp:v2")
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert "-WEB_IMAGE=moorage-test/webapp:v1" in run.stdout and "+WEB_IMAGE=moorage-test/webapp:v2" in run.stdout
    assert "DB_PASSWORD=********" in run.stdout
    assert "record release" in run.stdout
    assert current_release(server) == before and 'id="app-version">v1<' in page(server)
    assert server.exec("docker image inspect moorage-test/webapp:v2").returncode != 0, "check mode shipped"


def test_data_survives_deploying_v2(dm):
    server, inventory = dm
    created = request(server.ports[80], "/products", method="POST", host=HOST,
                      form={"name": "Pack Ocean", "slug": "pack-ocean", "price": "4.99"})
    assert created.status == 201
    v1 = current_release(server)
    time.sleep(1)  # release ids are to the second
    run = deploy(inventory, "--set", "web_image=moorage-test/webapp:v2")
    assert run.code == 0, run.stdout[-3000:]
    body = page(server)
    assert 'id="app-version">v2<' in body and "Pack Ocean" in body
    assert current_release(server) != v1

    listing = moorage("releases", "--host", "nexus", "--inventory", inventory, "--json")
    ledger = json.loads(listing.stdout)
    assert [r["id"] for r in ledger["releases"]][1] == v1 and ledger["current"] == current_release(server)


def test_rollback_to_v1_rebuilds_nothing(dm):
    server, inventory = dm
    images_before = server.exec("docker images -q | sort").stdout
    run = moorage("rollback", "--host", "nexus", "--inventory", inventory, "--to", "previous", "--json")
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert 'id="app-version">v1<' in page(server)
    assert "Pack Ocean" in page(server)
    assert server.exec("docker images -q | sort").stdout == images_before
    assert not [e for e in run.tasks("nexus", "changed") if e["task"].startswith("images")]


def test_a_broken_release_is_rolled_back_by_itself(dm):
    server, inventory = dm
    live = current_release(server)
    time.sleep(1)
    run = deploy(inventory, "--set", "web_image=moorage-test/webapp:v3", "--set", "health_timeout=10")
    assert run.code == 1
    assert "rolled back" in outcome(run)["message"] and live in outcome(run)["message"]
    assert "rolled back" in run.stderr
    assert current_release(server) == live
    assert 'id="app-version">v1<' in page(server)


def test_a_failing_migration_leaves_the_previous_release_running(dm):
    server, inventory = dm
    live = current_release(server)
    time.sleep(1)
    run = deploy(inventory, "--set", "web_image=moorage-test/webapp:v2", "--set",
                 "app_env_extra={MIGRATE_FAIL: '1'}")
    assert run.code == 1
    failed = next(e for e in run.tasks("nexus", "failed"))
    assert failed["task"] == "migrations"
    assert current_release(server) == live
    assert 'id="app-version">v1<' in page(server) and "Pack Ocean" in page(server)


def test_an_invalid_compose_file_stops_before_anything_changes(dm, tmp_path):
    server, inventory = dm
    live = current_release(server)
    broken = tmp_path / "compose"
    broken.mkdir()
    (broken / "docker-compose.nexus.yml").write_text("services:\n  web:\n    image: [unclosed\n")
    run = deploy(inventory, "--set", f"compose_source={broken}")
    assert run.code == 2, run.stdout + run.stderr   # refused on the controller, before any connection
    assert f"the compose file {broken}/docker-compose.nexus.yml:4 is not valid YAML" in run.stderr
    assert current_release(server) == live
    assert 'id="app-version">v1<' in page(server)


def test_a_second_deploy_is_refused_while_the_lock_is_held_and_break_lock_is_audited(dm):
    server, inventory = dm
    holder = {"by": "alice@laptop", "pid": 4242, "since": "2026-11-21T10:00:00Z", "action": "deploy"}
    server.exec(f"mkdir -p {APP}/.moorage/lock && echo '{json.dumps(holder)}' > {APP}/.moorage/lock/holder")
    refused = deploy(inventory)
    assert refused.code == 1
    assert "alice@laptop" in refused.stderr and "2026-11-21T10:00:00Z" in refused.stderr
    assert "--break-lock" in refused.stderr
    broken = deploy(inventory, "--break-lock")
    assert broken.code == 0, broken.stdout[-2000:] + broken.stderr
    audit = server.exec(f"cat {APP}/.moorage/audit.log").stdout.decode()
    assert "break-lock" in audit and "alice@laptop" in audit
    lines = [ln for ln in audit.splitlines() if " deploy " in ln or " rollback " in ln]
    assert any("result=ok" in ln for ln in lines) and any("result=failed" in ln for ln in lines)
    assert any(" rollback " in ln for ln in lines)
    assert server.exec(f"test -e {APP}/.moorage/lock").returncode != 0, "the lock was left behind"
