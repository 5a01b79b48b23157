"""`moorage check --host` as a user runs it on a project with a typo'd and wrongly typed variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOSTS = """\
project: shop
environments:
  staging:
    vars:
      app_dir: 42
      compose_file: compose.yml
      releases_keep: lots
      health_timeout: -1
      migrate_comand: ./manage.py migrate
    hosts:
      staging: {address: 192.0.2.1}
"""


def moorage(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moorage.cli.program", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_check_host_names_each_wrong_value_and_warns_about_the_typo(tmp_path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory/hosts.yml").write_text(HOSTS)
    (tmp_path / "inventory/known_hosts").write_text("")
    result = moorage("check", "--host", "staging", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "ok   inventory/hosts.yml (1 environment, 1 host)",
        "ok   variables of staging (11 variables)",
        "ok   built-in playbooks: backup, deploy, onboard, proxy, restore, rollback, swarm, sync-media",
        "ok   built-in roles: base, compose_app, docker_engine, hardening, host_nginx, media, nginx_static, "
        "postgres_backup, traefik",
        "FAIL role variables of staging (3 problems)",
        "ok   .env values of staging (6 values)",
        "ok   files of staging (known_hosts)",
        "ok   templates of staging",
    ]
    assert result.stderr.splitlines() == [
        "warning: inventory/hosts.yml:9: variable 'migrate_comand' is not used by any role or playbook (did you "
        "mean 'migrate_command'?)",
        "error: inventory/hosts.yml:5: variable 'app_dir' must be a string, not an integer (42); role "
        "postgres_backup: Absolute path of the app on the server (releases/, config/, current, backups/ live in it).",
        "inventory/hosts.yml:7: variable 'releases_keep' must be an integer, not a string ('lots'); role "
        "compose_app: How many releases to keep on the server (at least 2, the live one and the one a rollback "
        "returns to).",
        "inventory/hosts.yml:8: variable 'health_timeout' must be more than 0, not -1; role postgres_backup: "
        "Seconds the health gate waits for a 200.",
    ]


def test_fixed_values_pass_and_the_warning_does_not_fail_the_check(tmp_path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory/known_hosts").write_text("")
    fixed = HOSTS.replace("app_dir: 42", "app_dir: /srv/shop").replace("releases_keep: lots", "releases_keep: 3")
    (tmp_path / "inventory/hosts.yml").write_text(fixed.replace("health_timeout: -1", "health_timeout: 30"))
    result = moorage("check", "--host", "staging", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "all valid"
    assert lines[-5].startswith("ok   role variables of staging (")
    assert result.stderr.splitlines() == [
        "warning: inventory/hosts.yml:9: variable 'migrate_comand' is not used by any role or playbook (did you "
        "mean 'migrate_command'?)"]


def test_a_wrong_secret_value_is_named_but_never_printed(tmp_path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory/known_hosts").write_text("")
    fixed = HOSTS.replace("app_dir: 42", "app_dir: /srv/shop").replace("releases_keep: lots", "releases_keep: 3")
    fixed = fixed.replace("health_timeout: -1", 'postgres_port: {secret: "env:SHOP_PG_PORT"}')
    (tmp_path / "inventory/hosts.yml").write_text(fixed)
    result = subprocess.run([sys.executable, "-m", "moorage.cli.program", "check", "--host", "staging"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SHOP_PG_PORT": "port-of-the-shop"})
    assert result.returncode == 2
    assert "port-of-the-shop" not in result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: inventory/hosts.yml:8: variable 'postgres_port' must be an integer, not a string ('********'); "
        "role base: The PostgreSQL port, never opened by the firewall (dropped when Docker publishes it).")


REGISTRY_HOSTS = """\
project: shop
environments:
  staging:
    vars:
      app_dir: /srv/shop
      compose_file: compose.yml
      registry_login:
        - {{registry: reg.example.org, username: bot, password: {password}}}
    hosts:
      staging: {{address: 192.0.2.1}}
"""


def test_a_registry_token_written_in_clear_is_refused_and_one_from_a_secret_passes(tmp_path):
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory/known_hosts").write_text("")
    (tmp_path / "compose.yml").write_text("services: {web: {image: nginx}}\n")
    (tmp_path / "inventory/hosts.yml").write_text(REGISTRY_HOSTS.format(password="s3cr3t-token"))
    clear = moorage("check", "--host", "staging", cwd=tmp_path)
    assert clear.returncode == 2, clear.stdout + clear.stderr
    assert "inventory/hosts.yml:7: variable registry_login.0.password: written in clear; a token must come " \
           "from a secret" in clear.stderr
    (tmp_path / "inventory/hosts.yml").write_text(REGISTRY_HOSTS.format(password='{secret: "env:REG_TOKEN"}'))
    env = {**os.environ, "REG_TOKEN": "s3cr3t-token"}
    fine = subprocess.run([sys.executable, "-m", "moorage.cli.program", "check", "--host", "staging"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=env)
    assert fine.returncode == 0, fine.stdout + fine.stderr
