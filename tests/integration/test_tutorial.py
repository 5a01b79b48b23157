"""README "Your own app", step by step, as a new user runs it.

The moorage of a fresh venv (the wheel built from this checkout), a project directory outside the
checkout holding only the user's compose file (tests/tutorial: an API with migrations and a
health endpoint, a worker, PostgreSQL — not DM), and a test server with its own Docker engine
standing in for the user's staging server.  Every command is the README's; the inventory edits
are the ones the README tells the user to make.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from testbed.images import ensure_image
from testbed.tasklist import TUTORIAL_DIR, build_tasklist

from .helpers import Run, request


@pytest.fixture(scope="module")
def server(testbed):
    """The user's staging server: Docker with compose v2, OpenSSH, and cron (as a Debian server has;
    the daily backup job needs it)."""
    server = testbed.start("dockerhost", name="tutorial")
    cron = server.exec("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                       "--no-install-recommends cron", timeout=600)
    assert cron.returncode == 0, f"installing cron on the test server failed: {cron.stderr[-2000:]!r}"
    return server


def moorage(exe: Path, *args: str, cwd: Path, timeout: float = 900) -> Run:
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def fingerprint(server) -> str:
    """The host key's fingerprint as the server's console shows it (ssh-keygen -lf)."""
    out = subprocess.run(["ssh-keygen", "-lf", str(server.known_hosts_file)], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def edit_inventory(project: Path, server, key: Path) -> None:
    """The README's edits: the staging host, the app's health URL, migrations, how images travel."""
    hosts_file = project / "inventory/hosts.yml"
    hosts = yaml.safe_load(hosts_file.read_text())
    staging = hosts["environments"]["staging"]
    staging["user"] = "root"   # the test server's login; a real server: the deploy user
    staging["vars"]["domain"] = f"127.0.0.1:{server.ports[80]}"
    staging["hosts"]["staging"] = {"address": server.address, "port": server.port, "ssh_key": str(key)}
    hosts_file.write_text(yaml.safe_dump(hosts, sort_keys=False))
    app_file = project / "inventory/group_vars/all.yml"
    app = yaml.safe_load(app_file.read_text())
    app.update(health_url="http://{{ domain }}/healthz", migrate_service="api", migrate_command="tasklist migrate",
               image_source="ship")  # no registry here: images go from this machine to the server
    app_file.write_text(yaml.safe_dump(app, sort_keys=False))


def api(server, path: str = "/version", method: str = "GET", body: dict | None = None):
    if body is None:
        answer = request(server.ports[80], path, method=method)
        return answer.status, json.loads(answer.body or b"null")
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.ports[80], timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        conn.close()


def test_your_own_app_from_pip_install_to_restore(installed_moorage, server, testbed, tmp_path):
    exe = installed_moorage
    build_tasklist("1.0")
    build_tasklist("1.1")
    ensure_image("postgres")
    project = tmp_path / "tasklist"
    project.mkdir()
    shutil.copy(TUTORIAL_DIR / "compose.yml", project / "compose.yml")

    init = moorage(exe, "init", "--env", "staging", "--env", "production", cwd=project)
    assert init.code == 0, init.stderr
    assert (project / "inventory/hosts.yml").is_file()
    assert "app_image: tasklist/app:1.0" in (project / "inventory/group_vars/all.yml").read_text()
    edit_inventory(project, server, testbed.key_file)

    untrusted = moorage(exe, "check", "--host", "staging", cwd=project)
    assert untrusted.code == 2 and "moorage trust --host staging" in untrusted.stderr  # no key pinned yet
    trust = moorage(exe, "trust", "--host", "staging", "--fingerprint", fingerprint(server), cwd=project)
    assert trust.code == 0, trust.stdout + trust.stderr
    assert (project / "inventory/known_hosts").read_text().startswith(f"[{server.address}]:{server.port} ")
    checked = moorage(exe, "check", "--host", "staging", cwd=project)
    assert checked.code == 0, checked.stdout + checked.stderr   # check needs no server, only its key

    plan = moorage(exe, "deploy", "--host", "staging", "--check", "--diff", cwd=project)
    assert plan.code == 0, plan.stdout[-3000:] + plan.stderr
    assert "Traceback" not in plan.stderr

    first = moorage(exe, "deploy", "--host", "staging", cwd=project)
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    assert api(server) == (200, {"version": "1.0", "schema": 1})
    assert api(server, "/tasks", "POST", {"title": "kept by the backup"})[0] == 201

    second = moorage(exe, "deploy", "--host", "staging", "--set", "app_image=tasklist/app:1.1", cwd=project)
    assert second.code == 0, second.stdout[-4000:] + second.stderr
    assert api(server) == (200, {"version": "1.1", "schema": 2})   # its migration ran before the switch
    releases = moorage(exe, "releases", "--host", "staging", "--json", cwd=project)
    ledger = json.loads(releases.stdout)
    assert len(ledger["releases"]) == 2 and ledger["current"] == ledger["releases"][0]["id"]
    assert "backup" in json.dumps(ledger["releases"][0])   # the verified backup taken before migrating

    back = moorage(exe, "rollback", "--host", "staging", "--to", "previous", cwd=project)
    assert back.code == 0, back.stdout[-3000:] + back.stderr
    assert api(server)[1]["version"] == "1.0"

    backup = moorage(exe, "backup", "--host", "staging", cwd=project)
    assert backup.code == 0, backup.stdout[-3000:] + backup.stderr
    listed = moorage(exe, "backup", "--host", "staging", "--list", "--json", cwd=project)
    assert listed.code == 0 and "verified" in listed.stdout, listed.stdout + listed.stderr
    assert api(server, "/tasks", "POST", {"title": "written after the backup"})[0] == 201

    restore = moorage(exe, "restore", "--host", "staging", "--yes", cwd=project)
    assert restore.code == 0, restore.stdout[-3000:] + restore.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and api(server, "/tasks")[0] != 200:
        time.sleep(0.5)
    assert [t["title"] for t in api(server, "/tasks")[1]] == ["kept by the backup"]
