"""Ctrl-C during a real ``moorage restore`` on a test server (the tutorial's app: API, worker,
PostgreSQL): pressed while the writers stop (the API ignores the stop signal: 3 s), the restore
stops before touching the database, the services it stopped are started again and pass the health
gate, the audit log says "interrupted", the lock is free, exit status 130."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest
import yaml
from testbed.images import ensure_image
from testbed.tasklist import TUTORIAL_DIR, build_tasklist

from .helpers import MOORAGE, Run, moorage, request

APP = "/srv/tl"


@pytest.fixture(scope="module")
def tasklist(testbed, tmp_path_factory):
    """A dockerhost server with the tutorial app deployed and one verified backup of its database."""
    server = testbed.start("dockerhost", name="rint", publish=(80,))
    project = tmp_path_factory.mktemp("tasklist")
    compose = yaml.safe_load((TUTORIAL_DIR / "compose.yml").read_text())
    # The API ignores the stop signal, so stopping the writers takes 3 s: time to press Ctrl-C in.
    compose["services"]["api"].update(stop_signal="SIGWINCH", stop_grace_period="3s")
    (project / "compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
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


def restore_pressed_while_stopping(server, inventory) -> Run:
    """``moorage restore --yes`` as a subprocess, sent SIGINT once ``docker compose stop`` runs on the server."""
    proc = subprocess.Popen([MOORAGE, "restore", "--yes", "--host", "staging", "--inventory", str(inventory),
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pressed = threading.Event()

    def press_while_stopping() -> None:
        for _ in range(600):  # bounded: 2 minutes at most
            if proc.poll() is not None:
                return
            if server.exec("pgrep -f 'docker compose .* [s]top'").returncode == 0:
                proc.send_signal(signal.SIGINT)
                pressed.set()
                return
            time.sleep(0.2)

    presser = threading.Thread(target=press_while_stopping)
    presser.start()
    try:
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        presser.join(timeout=150)
    assert pressed.is_set(), "the stop was never seen running:\n" + stdout[-3000:] + stderr
    return Run(proc.returncode, stdout, stderr)


def test_ctrl_c_while_the_writers_stop_starts_them_again(tasklist):
    server, inventory = tasklist
    run = restore_pressed_while_stopping(server, inventory)
    assert run.code == 130, run.stdout[-3000:] + run.stderr
    done = {t["task"]: t["status"] for t in run.tasks("staging")}
    assert done["stop the services that write"] == "changed" and "restore the backup" not in done
    assert done["start the stack again"] == "changed" and done["health gate after the restore"] == "ok"
    (outcome,) = [e for e in run.events if e["kind"] == "outcome"]
    assert outcome["status"] == "interrupted"
    assert outcome["message"].startswith("interrupted (Ctrl-C) after 'stop the services that write': the database "
                                         "was not touched; any service the restore stopped was started again")
    audit = server.exec(f"tail -n 1 {APP}/.moorage/audit.log").stdout.decode()
    assert " restore by=" in audit and "result=interrupted" in audit
    assert server.exec(f"test -e {APP}/.moorage/lock").returncode != 0, "the lock is free"
    assert request(server.ports[80], "/healthz").status == 200
