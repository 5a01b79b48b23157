"""`moorage deploy --check --diff` of a small compose app that is not DM (a busybox web service, a
PostgreSQL database) on a real server with its own Docker engine:

- against the fresh server (nothing deployed yet) the plan lists every task of the compose_app role,
  exits 0 and leaves the server untouched; the compose file's validation is reported as what it
  will be (it checks files the plan writes first), never as a crash;
- once a release runs, a change that makes a new release shows the verified backup the real run
  takes before the migrations — and the real run then takes it.

The tests of this module run in order against one server.
"""

from __future__ import annotations

import pytest
import yaml
from testbed import ensure_image
from testbed.dm import ROOT

from .helpers import compose_project, moorage

APP = "/srv/shop"
COMPOSE = """\
services:
  web:
    image: ${WEB_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo \\"$$GREETING\\" > /www/health && exec httpd -f -p 8000 -h /www"]
    environment:
      GREETING: ${GREETING}
    ports: ["8000:8000"]
    depends_on: [db]
  db:
    image: ${DB_IMAGE}
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: ${DB_PASSWORD}
      POSTGRES_DB: shop
    volumes: [dbdata:/var/lib/postgresql/data]
volumes:
  dbdata:
"""
ROLE_TASKS = [t["name"] for t in yaml.safe_load((ROOT / "src/moorage/builtin/roles/compose_app/tasks.yml").read_text())]


@pytest.fixture(scope="module")
def shop(testbed, tmp_path_factory):
    """A fresh dockerhost server and a project of its own: inventory, deploy.yml, compose file."""
    server = testbed.start("dockerhost", name="shop", publish=(8000,))
    web, db = ensure_image("busybox"), ensure_image("postgres")
    project = tmp_path_factory.mktemp("shop")
    (project / "playbooks").mkdir()
    (project / "playbooks" / "deploy.yml").write_text("- name: shop\n  hosts: all\n  roles: [compose_app]\n")
    inventory = compose_project(project, COMPOSE, server, "shop", {
        "app_dir": APP, "web_image": web, "db_image": db, "image_source": "ship", "migrate_command": "echo migrated",
        "app_images": ["{{ web_image }}", "{{ db_image }}"], "migrate_service": "web",
        "backup_databases": [{"service": "db"}],
        "greeting": "hello", "health_url": f"http://127.0.0.1:{server.ports[8000]}/health",
        "health_timeout": 40, "compose_wait_timeout": 90,
        "app_env": {"WEB_IMAGE": "{{ web_image }}", "DB_IMAGE": "{{ db_image }}", "GREETING": "{{ greeting }}",
                    "DB_PASSWORD": {"generate": 24}},
    })
    yield server, inventory
    server.exec(f"cd {APP}/current && docker compose -p shop -f compose.yml down -v", timeout=120)
    testbed.stop(server)


def deploy(inventory, *args: str):
    return moorage("deploy", "--host", "staging", "--inventory", inventory, "--json", *args, timeout=900)


def statuses(run) -> dict[str, tuple[str, str]]:
    return {t["task"]: (t["status"], t.get("summary") or t.get("message") or "") for t in run.tasks("staging")}


def test_check_against_a_fresh_server_prints_the_whole_plan_and_changes_nothing(shop):
    server, inventory = shop
    run = deploy(inventory, "--check", "--diff")
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    plan = statuses(run)
    assert len(plan) == len(ROLE_TASKS)  # every task, in order, none failed (a templated name is rendered)
    assert all(got == want for got, want in zip(plan, ROLE_TASKS, strict=True) if "{{" not in want)
    assert plan["compose file is valid"] == ("skipped", f"would run in {APP}/config once the changes above are "
                                             "made there")
    assert plan["record the release and switch current"][0] == "changed"
    assert plan["verified database backup before the new release"] == ("skipped", "condition is false")  # no data yet
    assert plan["migrations"][0] == "changed" and plan["stack up"][0] == "changed"
    assert plan["services ready"] == ("skipped", "not asked in check mode: it waits for the containers the run starts")
    assert run.recap("staging")["failed"] == 0
    assert server.exec(f"test -e {APP}").returncode != 0


def test_check_shows_the_backup_before_migrations_that_the_real_run_then_takes(shop):
    server, inventory = shop
    first = deploy(inventory)
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    live = server.exec(f"readlink {APP}/current").stdout.decode().strip()

    check = deploy(inventory, "--check", "--set", "greeting=bonjour")
    assert check.code == 0, check.stdout[-3000:] + check.stderr
    plan = statuses(check)
    assert plan["verified database backup before the new release"][0] == "changed"
    assert plan["compose file is valid"][0] == "skipped"  # the staged file changes first
    assert server.exec(f"readlink {APP}/current").stdout.decode().strip() == live
    assert server.exec(f"ls {APP}/backups 2>/dev/null | grep -c dump").stdout.strip() in (b"", b"0")

    real = deploy(inventory, "--set", "greeting=bonjour")
    assert real.code == 0, real.stdout[-3000:] + real.stderr
    assert statuses(real)["verified database backup before the new release"][0] == "changed"
    assert server.exec(f"ls {APP}/backups | grep -c '\\.dump$'").stdout.strip() == b"1"
