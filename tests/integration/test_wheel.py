"""The engine as a user installs it: a wheel built from this checkout, installed into a fresh
virtualenv, runs its tasks from a directory outside the checkout (schemas, built-in roles and
standard playbooks are package data, not files of the checkout)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(exe: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_the_wheel_carries_schemas_roles_and_playbooks(installed_moorage):
    (wheel,) = installed_moorage.parents[2].glob("moorage-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("moorage/builtin/schemas/inventory.schema.json", "moorage/builtin/playbooks/deploy.yml",
                     "moorage/builtin/playbooks/rollback.yml", "moorage/builtin/roles/compose_app/tasks.yml",
                     "moorage/builtin/roles/postgres_backup/defaults.yml"):
        assert expected in names


def test_installed_moorage_runs_from_a_project_outside_the_checkout(installed_moorage, tmp_path):
    project = tmp_path / "elsewhere" / "myapp"
    shutil.copytree(REPO / "inventory", project / "inventory")
    nested = project / "deploy" / "notes"
    nested.mkdir(parents=True)

    checked = run(installed_moorage, "check", cwd=nested)  # found from a subdirectory, like git
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "ok   inventory/hosts.yml" not in checked.stdout  # shown relative to where the user is
    assert checked.stdout.splitlines()[-1] == "all valid"
    assert any(line.startswith("ok   built-in playbooks: ") and "deploy" in line
               for line in checked.stdout.splitlines())

    roles = run(installed_moorage, "roles", cwd=project)
    assert roles.returncode == 0, roles.stderr
    assert "compose_app      built-in  builtin:roles/compose_app" in roles.stdout.splitlines()

    plan = run(installed_moorage, "inventory", "--host", "nexus", "--json", cwd=project)
    assert plan.returncode == 0, plan.stderr

    outside = run(installed_moorage, "check", cwd=tmp_path)
    assert outside.returncode == 2
    assert "no moorage project in" in outside.stderr and "moorage init" in outside.stderr
    assert "Traceback" not in outside.stderr


def test_a_project_playbook_replaces_the_built_in_one(installed_moorage, tmp_path):
    project = tmp_path / "app"
    shutil.copytree(REPO / "inventory", project / "inventory")
    (project / "playbooks").mkdir()
    (project / "playbooks" / "backup.yml").write_text(
        "- name: My backup\n  hosts: all\n  tasks:\n    - dir: {path: /srv/backups}\n")
    listed = run(installed_moorage, "playbooks", cwd=project)
    assert listed.returncode == 0, listed.stderr
    lines = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()}
    assert lines["backup"] == "project"
    assert lines["deploy"] == "built-in"
