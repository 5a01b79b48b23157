"""Every example project under ``examples/`` passes ``moorage check``, as its team would run it:
from the example's own directory, without ``--project``, then ``check --host ENV`` for each of its
environments (variables resolved, declared types, preflight of production environments).

Secrets an example reads from the controller's environment (``{secret: "env:NAME"}``) are given a
long random stand-in here, as a CI job's secret store would.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.parent.parent for p in (REPO / "examples").glob("*/inventory/hosts.yml"))
ENV_SECRET = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")


def environments(project: Path) -> list[str]:
    hosts = yaml.safe_load((project / "inventory" / "hosts.yml").read_text())
    return sorted((hosts.get("environments") or {}).keys())


def secret_env(project: Path) -> dict[str, str]:
    names = {m.group(1) for f in (project / "inventory").rglob("*.yml") for m in ENV_SECRET.finditer(f.read_text())}
    return {name: secrets.token_urlsafe(32) for name in names}


def check(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **secret_env(project)}
    return subprocess.run([sys.executable, "-m", "moorage.cli.program", "check", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("project", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_passes_check(project: Path) -> None:
    proc = check(project)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for env in environments(project):
        proc = check(project, "--host", env)
        assert proc.returncode == 0, f"check --host {env}:\n{proc.stdout}{proc.stderr}"
