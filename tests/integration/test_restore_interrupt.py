"""Ctrl-C during a real ``moorage restore`` on a test server (the tutorial's app: API, worker,
PostgreSQL): pressed while the writers stop, the restore stops before touching the database,
the services it stopped are started again and pass the health gate, the audit log says
"interrupted", the lock is free, exit status 130."""

from __future__ import annotations

import shutil

import pytest
import yaml
from testbed.images import ensure_image
from testbed.tasklist import TUTORIAL_DIR, build_tasklist

from .helpers import moorage, request
from .test_lock_interrupt import pressing

APP = "/srv/tl"


@pytest.fixture(scope="module")
def tasklist(testbed, tmp_path_factory):
    """A dockerhost server with the tutorial app deployed and one verified backup of its database."""
    server = testbed.start("dockerhost", name="rint", publish=(80,))
    project = tmp_path_factory.mktemp("tasklist")
    shutil.copy(TUTORIAL_DIR / "compose.yml", project / "compose.yml")
    inventory = project / "inventory"
    inventory.mkdir()
    (inventory / "known_hosts").write_text(server.known_hosts_file.read_text())
    app, db = build_tasklist("1.0"), ensure_image("postgres")
    variables = {
        "app_dir": APP, "compose_source": "{{ inventory_dir }}/..", "compose_file": "compose.yml",
        "app_images": [app, db], "image_source": "ship", "migrate_service": "api",
        "migrate_command": "tasklist migrate", "backup_databases": [{"service": "db"}],
        "restore_stop_services": ["api", "worker"], "health_url": f"http://127.0.0.1:{server.ports[80]}/healthz",
        "health_timeout": 60, "compose_wait_timeout": 120, "backup_schedule": "",  # no cron here
        "app_env": {"APP_IMAGE": app, "DB_PASSWORD": {"generate": 24}, "SECRET_KEY": {"generate": 40}},
    }
    hosts = {"staging": {"address": server.address, "port": server.port, "user": "root",
                         "ssh_key": str(server.key_file)}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(
        {"project": "tasklist", "vars": variables, "environments": {"staging": {"hosts": hosts}}}, sort_keys=False))
    for step in (["deploy"], ["backup"]):
        run = moorage(*step, "--host", "staging", "--inventory", inventory, timeout=900)
        assert run.code == 0, run.stdout[-3000:] + run.stderr
    yield server, inventory
    server.exec(f"cd {APP}/current && docker compose -p tasklist -f compose.yml down -v", timeout=120)
    testbed.stop(server)


def test_ctrl_c_while_the_writers_stop_starts_them_again(tasklist):
    server, inventory = tasklist
    # Pressed as the task before the stop ends: the signal lands while the writers stop (about a second).
    run = pressing(["restore", "--yes"], inventory, lambda e: e.get("task") == "daily backup job (cron)")
    assert run.code == 130, run.stdout[-3000:] + run.stderr
    done = {t["task"]: t["status"] for t in run.tasks("staging")}
    assert "restore the backup" not in done
    if "stop the services that write" in done:  # the usual case: the handlers bring them back
        assert done["start the stack again"] == "changed" and done["health gate after the restore"] == "ok"
    (outcome,) = [e for e in run.events if e["kind"] == "outcome"]
    assert outcome["status"] == "interrupted"
    assert "the database was not touched; any service the restore stopped was started again" in outcome["message"]
    audit = server.exec(f"tail -n 1 {APP}/.moorage/audit.log").stdout.decode()
    assert " restore by=" in audit and "result=interrupted" in audit
    assert server.exec(f"test -e {APP}/.moorage/lock").returncode != 0, "the lock is free"
    assert request(server.ports[80], "/healthz").status == 200
