"""`moorage init` as a user runs it: on a compose file of their own, with the real `docker
compose` of this machine (no server needed), then `moorage check` on what it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

COMPOSE = """\
name: tasks
services:
  web:
    image: ghcr.io/acme/tasks:${TAG:-2.0.1}
    ports: ["8000:8000"]
    depends_on: [db]
    environment:
      DATABASE_URL: postgresql://tasks:${DB_PASSWORD}@db:5432/tasks
      SECRET_KEY: ${SECRET_KEY:?set SECRET_KEY}
      DEBUG: ${DEBUG:-0}
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8000/health"]
  worker:
    image: ghcr.io/acme/tasks:${TAG:-2.0.1}
    command: ["tasks", "worker"]
    depends_on: [db]
    env_file: .env
  db:
    image: postgres:16-alpine
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
"""


def moorage(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moorage.cli.program", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def app_dir(tmp_path: Path, compose: str = COMPOSE, name: str = "compose.yml") -> Path:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / name).write_text(compose)
    return folder


def test_init_writes_a_project_that_check_accepts(tmp_path):
    folder = app_dir(tmp_path)
    result = moorage("init", "--from", "compose.yml", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["wrote inventory/hosts.yml", "wrote inventory/group_vars/all.yml"]
    hosts = yaml.safe_load((folder / "inventory/hosts.yml").read_text())
    app = yaml.safe_load((folder / "inventory/group_vars/all.yml").read_text())
    assert hosts["project"] == "tasks"
    assert {name: env.get("production", False) for name, env in hosts["environments"].items()} == {
        "staging": False, "production": True}
    assert app["app_images"] == ["postgres:16-alpine", "ghcr.io/acme/tasks:{{ tag }}"] and app["tag"] == "2.0.1"
    assert app["backup_databases"] == [{"service": "db"}]
    assert app["restore_stop_services"] == ["web", "worker"]
    assert app["health_url"] == "http://{{ domain }}:8000/health"
    assert app["app_env"] == {"DB_PASSWORD": {"generate": 32}, "DEBUG": "0", "SECRET_KEY": {"generate": 50},
                              "TAG": "{{ tag }}"}
    assert app["preflight"]["debug_off"] == {"env": "DEBUG"}
    assert app["preflight"]["secret_strong"] == {"env": "SECRET_KEY"}

    check = moorage("check", cwd=folder)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.splitlines()[:2] == ["ok   inventory/hosts.yml (2 environments, 2 hosts)",
                                             "ok   inventory/group_vars/all.yml"]
    assert check.stdout.endswith("all valid\n")


def test_init_elsewhere_points_at_the_compose_file(tmp_path):
    folder = app_dir(tmp_path, name="docker-compose.yml")
    project = tmp_path / "deploy"
    project.mkdir()
    result = moorage("init", "--dir", str(project), "--from", str(folder / "docker-compose.yml"),
                     "--env", "qa", "--env", "prod", "--name", "tasks-prod", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hosts = yaml.safe_load((project / "inventory/hosts.yml").read_text())
    app = yaml.safe_load((project / "inventory/group_vars/all.yml").read_text())
    assert hosts["project"] == "tasks-prod"
    assert list(hosts["environments"]) == ["qa", "prod"] and hosts["environments"]["prod"]["production"] is True
    assert (app["compose_source"], app["compose_file"]) == ("../tasks", "docker-compose.yml")
    assert moorage("check", cwd=project).returncode == 0


def test_init_finds_the_compose_file_as_compose_does(tmp_path):
    folder = app_dir(tmp_path, name="docker-compose.yaml")
    assert moorage("init", cwd=folder).returncode == 0
    app = yaml.safe_load((folder / "inventory/group_vars/all.yml").read_text())
    assert app["compose_file"] == "docker-compose.yaml"


def test_init_never_overwrites(tmp_path):
    folder = app_dir(tmp_path)
    assert moorage("init", cwd=folder).returncode == 0
    hosts = folder / "inventory/hosts.yml"
    hosts.write_text("# mine\n" + hosts.read_text())
    again = moorage("init", cwd=folder)
    assert again.returncode == 2
    assert again.stderr == (f"error: {hosts} already exists: moorage init never overwrites a file "
                            "(move it away, or init another directory)\n")
    assert hosts.read_text().startswith("# mine\n")


def test_init_refuses_before_writing_anything(tmp_path):
    folder = app_dir(tmp_path)
    mine = folder / "inventory/group_vars/all.yml"
    mine.parent.mkdir(parents=True)
    mine.write_text("app_dir: /srv/mine\n")
    result = moorage("init", cwd=folder)
    assert result.returncode == 2 and str(mine) in result.stderr
    assert not (folder / "inventory/hosts.yml").exists()
    assert mine.read_text() == "app_dir: /srv/mine\n"


def test_an_invalid_compose_file_is_named(tmp_path):
    folder = app_dir(tmp_path, compose="services:\n  web:\n    image: [unclosed\n")
    result = moorage("init", "--from", "compose.yml", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {folder / 'compose.yml'}: not a valid compose file: ")
    assert "Traceback" not in result.stderr
    assert not (folder / "inventory").exists()


def test_a_missing_compose_file_is_named(tmp_path):
    result = moorage("init", "--from", "nope.yml", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, f"error: {tmp_path / 'nope.yml'}: no such compose file\n")
    none_here = moorage("init", cwd=tmp_path)
    assert none_here.returncode == 2
    assert none_here.stderr.startswith(f"error: no compose file in {tmp_path} (looked for compose.yaml, ")
