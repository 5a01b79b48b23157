"""Data of a project that is not DM (issue #13 items 8, 9), on a test server without cron, as the deploy
user: tasklist (API + worker + PostgreSQL) whose image migrates when it starts, with its uploads in a
named volume.

- a new image gets a verified backup before it starts (entrypoint migrations, no migrate_command);
- ``backup`` on a host without cron exits 0 and says the daily job is not scheduled, and why;
- the media volume is backed up through a container: the tarball and its record are the deploy
  user's, ``--list`` says verified, ``--verify`` passes, no ``.partial`` is left; ``restore --media``
  brings the volume back (writers stopped and started, health gate);
- a new app_dir keeps the generated database password (the app still connects); a secret that would
  be generated anew for a project whose volumes exist is warned about by ``deploy --check``.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
import yaml
from testbed.images import ensure_image
from testbed.tasklist import TUTORIAL_DIR, build_tasklist

from .helpers import moorage, request

USER = "deploy"
STORE = f"/home/{USER}/.moorage/secrets/todo.env"


@pytest.fixture(scope="module")
def server(testbed):
    """A server with Docker and no cron; a deploy user in the docker group (sudo for the daily job's files)."""
    server = testbed.start("dockerhost", name="datavol")
    made = server.exec(
        f"useradd -m -s /bin/sh {USER} && usermod -aG docker {USER} "
        f"&& echo '{USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{USER} "
        f"&& install -d -m 0700 -o {USER} -g {USER} /home/{USER}/.ssh "
        f"&& install -m 0600 -o {USER} -g {USER} /root/.ssh/authorized_keys /home/{USER}/.ssh/authorized_keys "
        f"&& install -d -o {USER} -g {USER} /srv/todo && ! test -d /etc/cron.d")
    assert made.returncode == 0, made.stderr
    return server


@pytest.fixture(scope="module")
def project(server, testbed, tmp_path_factory):
    for version in ("1.0", "1.1"):
        build_tasklist(version)
    ensure_image("postgres")
    root = tmp_path_factory.mktemp("todo")
    compose = yaml.safe_load((TUTORIAL_DIR / "compose.yml").read_text())
    api = compose["services"]["api"]
    api["command"] = ["sh", "-c", "tasklist migrate && exec tasklist serve"]  # the image migrates at start
    api["volumes"] = ["media:/app/media"]
    compose["volumes"]["media"] = {}
    (root / "compose.yml").write_text(yaml.safe_dump(compose, sort_keys=False))
    (root / "inventory").mkdir()
    shutil.copy(server.known_hosts_file, root / "inventory" / "known_hosts")
    (root / "inventory" / "hosts.yml").write_text(yaml.safe_dump({
        "project": "todo", "known_hosts": "known_hosts",
        "vars": {
            "app_dir": "/srv/todo/a", "app_image": "tasklist/app:1.0", "image_source": "ship",
            "app_images": ["{{ app_image }}", "moorage-test/postgres:latest"],
            "app_env": {"APP_IMAGE": "{{ app_image }}", "DB_PASSWORD": {"generate": 32},
                        "SECRET_KEY": {"generate": 50}},
            "health_url": f"http://127.0.0.1:{server.ports[80]}/healthz",
            "backup_databases": [{"service": "db"}], "backup_media": [{"volume": "media"}],
            "restore_stop_services": ["api", "worker"]},
        "environments": {"staging": {"user": USER, "hosts": {"staging": {
            "address": server.address, "port": server.port, "ssh_key": str(testbed.key_file)}}}},
    }, sort_keys=False))
    first = moorage("deploy", "--host", "staging", cwd=root, timeout=900)
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    # the first deploy's own volumes, made by its `up` after the secrets, are no reason to warn
    assert "new generated secret" not in first.stdout + first.stderr, first.stdout[-3000:] + first.stderr
    return root


def _api(server, path: str = "/version"):
    answer = request(server.ports[80], path)
    return answer.status, json.loads(answer.body or b"null")


def _run(server, command: str) -> str:
    done = server.exec(command)
    assert done.returncode == 0, f"{command}: {done.stderr!r}"
    return done.stdout.decode() if isinstance(done.stdout, bytes) else done.stdout


def _in_media(server, script: str) -> str:
    cid = _run(server, "docker ps -q --filter label=com.docker.compose.project=todo "
                       "--filter label=com.docker.compose.service=api").strip()
    return _run(server, f"docker exec -u 0 {cid} sh -c '{script}'")


def test_a_new_image_that_migrates_at_start_gets_a_backup_first(server, project):
    assert _api(server) == (200, {"version": "1.0", "schema": 1})
    again = moorage("deploy", "--host", "staging", "--json", cwd=project, timeout=900)
    assert again.code == 0, again.stdout[-3000:] + again.stderr
    skipped = {t["task"]: t for t in again.tasks("staging")}
    assert skipped["verified database backup before the new release"]["status"] in ("ok", "skipped")
    newer = moorage("deploy", "--host", "staging", "--json", "--set", "app_image=tasklist/app:1.1",
                    cwd=project, timeout=900)
    assert newer.code == 0, newer.stdout[-3000:] + newer.stderr
    assert _api(server) == (200, {"version": "1.1", "schema": 2})
    ledger = json.loads(moorage("releases", "--host", "staging", "--json", cwd=project).stdout)
    record = ledger["releases"][0].get("backup") or {}
    assert record.get("files") and record["data_of"] == ledger["releases"][1]["id"], ledger["releases"][0]

    config_only = moorage("deploy", "--host", "staging", "--json", "--set", "app_image=tasklist/app:1.1", "--set",
                          "app_env_extra={NOTE: config only}", cwd=project, timeout=900)
    assert config_only.code == 0, config_only.stdout[-3000:] + config_only.stderr
    task = {t["task"]: t for t in config_only.tasks("staging")}["verified database backup before the new release"]
    assert task["status"] == "ok" and "images did not change" in (task.get("summary") or ""), task

    unwanted = moorage("deploy", "--host", "staging", "--check", "--json", "--set", "app_image=tasklist/app:1.0",
                       "--set", "backup_before_migrate=false", cwd=project, timeout=900)
    assert unwanted.code == 0, unwanted.stdout[-3000:] + unwanted.stderr
    names = [t["task"] for t in unwanted.tasks("staging")]
    assert "WARNING: no database backup before the new release (backup_before_migrate is false)" in names, names


def test_backup_without_cron_succeeds_and_the_media_volume_is_verified(server, project):
    _in_media(server, "echo kept > /app/media/a.txt && mkdir -p /app/media/sub && echo deep > /app/media/sub/b.txt")
    backup = moorage("backup", "--host", "staging", cwd=project, timeout=600)
    assert backup.code == 0, backup.stdout[-3000:] + backup.stderr
    said = backup.stdout + backup.stderr
    assert "not scheduled: no cron on this host" in " ".join(said.split()), said[-2000:]
    listing = json.loads(moorage("backup", "--host", "staging", "--list", "--json", cwd=project).stdout)
    media = [b for b in listing["backups"] if b["kind"] == "media"]
    assert media and media[0]["state"] == "verified", listing
    verify = moorage("backup", "--host", "staging", "--verify", cwd=project)
    assert verify.code == 0 and "CORRUPT" not in verify.stdout, verify.stdout + verify.stderr
    owners = _run(server, "cd /srv/todo/a/backups && stat -c '%U %n' *.tar.gz *.tar.gz.json; ls -a")
    assert "root " not in owners and owners.count(f"{USER} ") >= 2 and ".partial" not in owners, owners


def test_restore_media_brings_the_volume_back_with_the_writers_stopped_and_started(server, project):
    _in_media(server, "rm -rf /app/media/a.txt /app/media/sub && echo later > /app/media/c.txt")
    refused = moorage("restore", "--host", "staging", "--media", cwd=project)  # no terminal, no --yes
    assert refused.code == 2, refused.stdout + refused.stderr
    restore = moorage("restore", "--host", "staging", "--media", "--yes", "--json", cwd=project, timeout=600)
    assert restore.code == 0, restore.stdout[-3000:] + restore.stderr
    tasks = {t["task"]: t["status"] for t in restore.tasks("staging")}
    assert tasks.get("stop the services that write") == "changed" and tasks.get("restore the media") == "changed"
    assert tasks.get("safety backup of the media before the restore") == "changed"
    assert sorted(_in_media(server, "cd /app/media && find . -type f | sort").split()) == ["./a.txt", "./sub/b.txt"]
    assert _api(server)[0] == 200


def test_a_new_app_dir_keeps_the_database_password(server, project):
    before = _run(server, f"cat {STORE}")
    assert "DB_PASSWORD=" in before
    moved = moorage("deploy", "--host", "staging", "--set", "app_dir=/srv/todo/b", "--set",
                    "app_image=tasklist/app:1.1", cwd=project, timeout=900)
    assert moved.code == 0, moved.stdout[-3000:] + moved.stderr
    password = next(line for line in before.splitlines() if line.startswith("DB_PASSWORD="))
    assert password in _run(server, "cat /srv/todo/b/current/.env")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _api(server, "/tasks")[0] != 200:
        time.sleep(0.5)
    assert _api(server, "/tasks")[0] == 200   # the app still reaches its database


def test_a_secret_generated_anew_for_existing_volumes_is_warned_about(server, project):
    server.exec(f"mv {STORE} {STORE}.aside")
    try:
        plan = moorage("deploy", "--host", "staging", "--check", "--set", "app_dir=/srv/todo/c", cwd=project)
    finally:
        server.exec(f"mv {STORE}.aside {STORE}")
    assert plan.code == 0, plan.stdout[-3000:] + plan.stderr
    said = " ".join((plan.stdout + plan.stderr).split())
    assert "new generated secret(s) DB_PASSWORD, SECRET_KEY for compose project todo" in said, said[-2000:]
    assert "todo_pgdata" in said
