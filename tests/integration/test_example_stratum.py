"""examples/stratum, run as its team would: the guide's key flows on one test server.

The example copied as is; only its production host points at the test server (root over SSH,
its host key) and the images at the local stand-ins (examples/stratum/app, the test postgres and
nginx).  Production has the nginx profile on: the frontend and the API answer through it.
Flows: first deploy; a row written; the guide's safe update (backup, then a new version whose
entrypoint migrates: moorage's verified backup comes before the migration and the release records
it); rollback; the restore procedure; the preflight refusing a missing volume and a stale backup;
``check`` refusing a ``docker compose down -v`` task.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from testbed import stratum

from .helpers import Run, moorage, request

BACKUPS = "/opt/stratum_backups"


@pytest.fixture(scope="module")
def server(testbed):
    return stratum.start_server(testbed)


@pytest.fixture(scope="module")
def project(server, tmp_path_factory) -> Path:
    """The example, its production host the test server, its images the local stand-ins."""
    return stratum.prepare_project(server, tmp_path_factory.mktemp("stratum") / "stratum")


def run(project: Path, *args: str) -> Run:
    return moorage(*args, cwd=project, timeout=600)


def api(server, path: str = "/api/v1/", port: int = 80, body: dict | None = None):
    answer = request(server.ports[port], path, method="GET" if body is None else "POST", json_body=body)
    return answer.status, json.loads(answer.body or b"null")


def on_server(server, cmd: str) -> str:
    proc = server.exec(cmd)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout.decode()


def backups(server) -> dict[str, dict]:
    """The verified backups in /opt/stratum_backups: name -> its record."""
    names = on_server(server, f"cd {BACKUPS} && ls -1 stratum-db-*.dump 2>/dev/null || true").split()
    return {n: json.loads(on_server(server, f"cat {BACKUPS}/{n}.json")) for n in names}


def dump_text(server, name: str) -> str:
    """The backup read back as SQL (pg_restore in the database container)."""
    return on_server(server, f"docker exec -i stratum-postgres pg_restore -f - < {BACKUPS}/{name}")


def releases(project: Path) -> dict:
    listed = run(project, "releases", "--host", "production", "--json")
    assert listed.code == 0, listed.stdout + listed.stderr
    return json.loads(listed.stdout)


def test_deploy_update_rollback_restore_and_the_preflight(project, server):
    first = run(project, "deploy", "--host", "production")
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    assert api(server) == (200, {"service": "stratum-backend", "version": "1.0.0", "schema": 1})  # through nginx
    page = request(server.ports[80], "/")
    assert page.status == 200 and "Stratum frontend 1.0.0" in page.text
    assert f"http://127.0.0.1:{server.ports[80]}/api/v1" in page.text          # NEXT_PUBLIC_API_URL
    assert api(server, port=4001)[0] == 200 and request(server.ports[3000], "/").status == 200  # their own ports
    assert "stratum_pg_data" in on_server(server, "docker volume ls --format '{{.Name}}'")
    assert "COMPOSE_PROFILES=nginx\n" in on_server(server, "cat /srv/stratum/current/.env")
    assert api(server, "/api/v1/notes", body={"title": "written before the update"})[0] == 201

    # The guide's safe update: 1. a backup now (and the daily job; 14 days kept), 2. the new version.
    old = f"{BACKUPS}/stratum-db-20200101T010000Z.dump"
    on_server(server, f"mkdir -p {BACKUPS} && echo old > {old} && touch -d '15 days ago' {old}")
    backup = run(project, "backup", "--host", "production")
    assert backup.code == 0, backup.stdout[-3000:] + backup.stderr
    assert server.exec(f"test -e {old}").returncode == 1   # retention: older than 14 days, removed
    assert "0 1 * * *" in on_server(server, "cat /etc/cron.d/moorage-stratum-production")
    before = set(backups(server))
    assert len(before) == 1 and all(r["state"] == "verified" for r in backups(server).values())
    for row in (["backup", "--list"], ["backup", "--verify"], ["restore", "--into", "stratum_check"],
                ["exec", "--service", "backend", "--", "stratum-backend", "seed"],
                ["logs", "--service", "backend", "--tail", "20"]):
        done = run(project, *row[:1], "--host", "production", *row[1:])
        assert done.code == 0, f"{row}: {done.stdout[-2000:]}{done.stderr}"

    update = run(project, "deploy", "--host", "production", "--set", "stratum_version=1.1.0", "--json")
    assert update.code == 0, update.stdout[-4000:] + update.stderr
    assert api(server) == (200, {"service": "stratum-backend", "version": "1.1.0", "schema": 2})
    assert "Stratum frontend 1.1.0" in request(server.ports[80], "/").text
    pre = {n: r for n, r in backups(server).items() if n not in before}
    assert len(pre) == 1, pre
    (name, record), = pre.items()
    assert record["state"] == "verified" and record["reason"] == "pre-release"
    sql = dump_text(server, name)
    assert "written before the update" in sql                      # the backup holds the row,
    assert "ADD COLUMN pinned" not in sql and "pinned" not in sql   # taken before the entrypoint migrated
    ledger = releases(project)
    assert name in json.dumps(ledger["releases"][0])                # the release records it
    order = [e["task"] for e in update.tasks("prod") if e.get("status") in ("ok", "changed")]
    backup_task = next(t for t in order if t.startswith("verified database backup"))
    assert order.index(backup_task) < order.index("stack up")

    # Rollback express: the previous images; the data stays (a destructive migration: --restore-db).
    back = run(project, "rollback", "--host", "production", "--to", "previous")
    assert back.code == 0, back.stdout[-3000:] + back.stderr
    assert api(server)[1]["version"] == "1.0.0"

    # The restore procedure: the newest verified backup back into the live database.
    assert api(server, "/api/v1/notes", body={"title": "written after the backup"})[0] == 201
    restore = run(project, "restore", "--host", "production", "--file", name, "--yes")
    assert restore.code == 0, restore.stdout[-3000:] + restore.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and api(server, "/api/v1/notes")[0] != 200:
        time.sleep(0.5)
    assert [n["title"] for n in api(server, "/api/v1/notes")[1]] == ["written before the update"]

    # The checklist before any risky action, as the production preflight.
    on_server(server, f"touch -d '30 hours ago' {BACKUPS}/*.dump")
    stale = run(project, "deploy", "--host", "production")
    assert stale.code == 2, stale.stdout[-2000:] + stale.stderr
    assert "preflight failed for production host prod: backup_fresh: the newest verified backup of db is" in \
        stale.stderr and "more than 24 h" in stale.stderr
    fresh = run(project, "backup", "--host", "production")
    assert fresh.code == 0, fresh.stdout[-2000:] + fresh.stderr

    current = on_server(server, "readlink /srv/stratum/current")
    on_server(server, "cd /srv/stratum/current && docker compose down && docker volume rm stratum_pg_data")
    gone = run(project, "deploy", "--host", "production")
    assert gone.code == 2, gone.stdout[-2000:] + gone.stderr
    assert "volume_present: the Docker volume stratum_pg_data is missing on the server" in gone.stderr
    assert on_server(server, "readlink /srv/stratum/current") == current   # nothing was changed


def test_check_refuses_a_task_that_would_run_down_v(project):
    playbooks = project / "playbooks"
    playbooks.mkdir(exist_ok=True)
    reset = playbooks / "reset.yml"
    reset.write_text("- hosts: all\n  tasks:\n    - name: start from scratch\n      command:\n"
                     "        cmd: cd /srv/stratum/current && docker compose down -v\n")
    try:
        refused = run(project, "check")
        assert refused.code == 2, refused.stdout + refused.stderr
        assert "playbooks/reset.yml:5" in refused.stderr
        assert "this command destroys data: `docker compose down -v`" in refused.stderr
        assert "allow_data_loss: true" in refused.stderr
        played = run(project, "play", "reset", "--host", "production")
        assert played.code == 2 and "playbooks/reset.yml:5" in played.stderr   # before any connection
        reset.write_text(reset.read_text().replace("    - name:", "    - allow_data_loss: true\n      name:"))
        allowed = run(project, "check")
        assert allowed.code == 0, allowed.stdout + allowed.stderr
    finally:
        reset.unlink()
