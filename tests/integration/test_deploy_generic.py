"""An app that is not DM, deployed with the built-in playbook and roles' generic defaults: a project
of its own (an inventory and a compose file, nothing else), on this machine's Docker engine
(connection: local).  No migration, no HTTP health gate, no media, no database: each step says it
is off, and nothing of DM reaches the app's .env."""

from __future__ import annotations

import secrets
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from testbed.images import ensure_image

from .helpers import moorage, request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def project(tmp_path):
    image, port, name = ensure_image("nginx"), _free_port(), f"generic{secrets.token_hex(3)}"
    root = tmp_path / "shop"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "compose.prod.yml").write_text(yaml.safe_dump({"services": {"web": {
        "image": image, "ports": [f"127.0.0.1:{port}:80"], "environment": {"GREETING": "${GREETING}"}}}}))
    (root / "inventory").mkdir()
    (root / "inventory" / "hosts.yml").write_text(yaml.safe_dump({
        "project": name,
        "environments": {"prod": {"connection": "local", "production": False, "vars": {
            "app_dir": str(tmp_path / "srv"), "compose_source": "deploy", "compose_file": "compose.prod.yml",
            "app_images": [image], "image_source": "ship",
            "app_env": {"GREETING": "hello", "TOKEN": {"generate": 40}}}, "hosts": {"box": {}}}},
    }, sort_keys=False))
    yield root, tmp_path / "srv", port, name
    subprocess.run(["docker", "compose", "-p", name, "-f", "compose.prod.yml", "down"],
                   cwd=tmp_path / "srv" / "current", capture_output=True, check=False, timeout=120)
    (Path.home() / ".moorage" / "secrets" / f"{name}.env").unlink(missing_ok=True)  # the generated TOKEN, kept


def test_a_generic_app_deploys_with_each_optional_step_off(project):
    root, app_dir, port, name = project
    run = moorage("deploy", "--host", "box", "--json", cwd=root, timeout=600)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    status = {e["task"]: e["status"] for e in run.tasks("box")}
    assert status["role traefik"] == status["role nginx_static"] == "skipped"
    assert status["migrations"] == "skipped"
    assert status["HTTP health gate: none (health_url is empty; the containers healthchecks gate the deploy)"] \
        == "skipped"
    assert status["media: none to sync (media_src is empty)"] == "skipped"
    assert request(port, "/").status == 200
    env = (app_dir / "current" / ".env").read_text()
    assert f"COMPOSE_PROJECT_NAME={name}\n" in env
    lines = [line.split("=", 1)[0] for line in env.splitlines() if "=" in line]
    assert lines == ["COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "GREETING", "TOKEN"]
    assert "COMPOSE_FILE=compose.prod.yml:moorage.override.yml\n" in env
    assert "GREETING=hello" in env and "DJANGO" not in env and "DB_" not in env

    again = moorage("deploy", "--host", "box", "--json", cwd=root, timeout=600)
    assert again.code == 0 and again.recap("box")["changed"] == 0

    backup = moorage("backup", "--host", "box", cwd=root, timeout=300)
    assert backup.code == 0, backup.stdout + backup.stderr
    assert "nothing to back up: backup_databases and backup_media are empty" in backup.stdout
    assert not Path(app_dir / "backups").exists()
