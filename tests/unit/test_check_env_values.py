"""`moorage check --host H` refuses a value no .env can hold, naming the task, host and variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HOSTS = """\
project: demo
environments:
  vps:
    connection: ssh
    vars:
      app_dir: /srv/app
      db_password: {secret: "file:secrets/db_password"}
      api_token: {secret: "env:DEMO_API_TOKEN"}
    hosts:
      vps: {}
"""

PLAYBOOK = """\
- name: app
  hosts: vps
  tasks:
    - name: the app's .env
      env_file:
        path: /srv/app/.env
        values:
          WINDOWS_PATH: 'C:\\Users\\me\\'
          DB_PASSWORD: "{{ db_password }}"
          API_TOKEN: "{{ api_token }}"
          KEPT: {generate: 32}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "inventory/secrets").mkdir(parents=True)
    (tmp_path / "inventory/hosts.yml").write_text(HOSTS)
    (tmp_path / "inventory/known_hosts").write_text("")
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks/app.yml").write_text(PLAYBOOK)
    return tmp_path


def check(project: Path, password: bytes, token: bytes) -> subprocess.CompletedProcess:
    (project / "inventory/secrets/db_password").write_bytes(password)
    env = {**os.environb, b"DEMO_API_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "moorage.cli.program", "check", "--host", "vps"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=60)


def test_values_compose_can_read_pass(project):
    result = check(project, b"pa$$ 'w\"o\\rd\\\n", b"t#k ${X}")
    assert result.returncode == 0, result.stderr
    assert "ok   .env values of vps (10 values)" in result.stdout


def test_a_nul_byte_and_invalid_utf8_are_refused_with_the_reason(project):
    result = check(project, b"s3cr3t\0tail", b"tok\xffen")
    assert result.returncode == 2
    assert "FAIL .env values of vps (2 problems)" in result.stdout
    assert result.stderr.splitlines() == [
        "error: playbooks/app.yml:4: env_file on vps: the value of DB_PASSWORD holds a NUL byte, which no "
        "process environment can carry (the kernel passes variables as C strings)",
        "playbooks/app.yml:4: env_file on vps: the value of API_TOKEN is not valid Unicode text "
        "(it holds a lone surrogate), so it cannot be written as UTF-8",
    ]
    assert "s3cr3t" not in result.stdout + result.stderr
