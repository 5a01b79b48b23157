"""examples/korrigo (seed 004) as its team runs it, from the example's directory, on one test server.

Six services (db, redis, backend, celery, celery-beat, nginx; the last four from one backend image
and the nginx image, tagged with the guide's GHCR refs and shipped), gated by the liveness and
readiness URLs and then the smoke tests.  In order: the plan, the first deploy, a release whose smoke
test fails (rolled back), the backend alone updated to a version with a migration (a backup first;
celery keeps its containers), the emergency rollback with the database restore behind the typed
confirmation, the media volume's backup and restore.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from testbed import korrigo

from .helpers import MOORAGE, Run, moorage, request

ENV = {"GITHUB_TOKEN": "unused-here-registry_login-is-off"}
SMOKE = "smoke suite (pytest -m smoke)"


@pytest.fixture(scope="module")
def server(testbed):
    return korrigo.start_server(testbed)


@pytest.fixture(scope="module")
def project(server, tmp_path_factory) -> Path:
    """The example copied, its staging host pointed at the test server, images shipped from here."""
    return korrigo.prepare_project(server, tmp_path_factory.mktemp("korrigo") / "korrigo")


def run(project: Path, *args: str) -> Run:
    return moorage(*args, cwd=project, env=ENV, timeout=900)


def get(server, path: str):
    return request(server.ports[8088], path)


def compose(server, command: str) -> str:
    """``docker compose COMMAND`` in the live release on the server, its stdout."""
    done = server.exec(f"cd /srv/korrigo/current && docker compose {command}")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode().strip()


def sql(server, query: str) -> str:
    return compose(server, f'exec -T db psql -U korrigo_prod -d korrigo_prod -tAc "{query}"')


def version(server) -> str:
    return json.loads(get(server, "/api/version/").body)["version"]


def releases(project: Path) -> dict:
    listed = run(project, "releases", "--host", "staging", "--json")
    assert listed.code == 0, listed.stderr
    return json.loads(listed.stdout)


def test_the_plan_shows_both_health_urls_and_the_smoke_tests(project, server):
    plan = run(project, "deploy", "--host", "staging", "--check")
    assert plan.code == 0, plan.stdout[-3000:] + plan.stderr
    site = f"http://127.0.0.1:{server.ports[8088]}"
    assert f"HTTP health gate {site}/api/health/live/ and {site}/api/health/ready/" in plan.stdout
    assert f"smoke tests: {SMOKE}, frontend answers, API refuses anonymous users\n  skipped: [staging] not asked " \
           "in check mode: they test what the run deploys" in plan.stdout


def test_first_deploy_passes_liveness_readiness_and_the_smoke_tests(project, server):
    first = run(project, "deploy", "--host", "staging", "--json")
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    smoke = [t for t in first.tasks("staging") if t["task"].startswith("smoke tests:")]
    assert smoke and smoke[0]["status"] == "ok", smoke
    assert json.loads(get(server, "/api/health/live/").body) == {"status": "alive"}
    assert json.loads(get(server, "/api/health/ready/").body)["status"] == "ready"
    assert sorted(compose(server, "ps --services --status running").split()) == [
        "backend", "celery", "celery-beat", "db", "nginx", "redis"]
    assert version(server) == "v1.0.0"
    sql(server, "INSERT INTO exams_exam (name) VALUES ('Bac blanc')")
    compose(server, "exec -T backend sh -c 'echo copie-1 > /app/media/copies/eleve-1.pdf'")
    assert get(server, "/media/copies/eleve-1.pdf").text == "copie-1\n"


def test_a_release_whose_smoke_test_fails_is_rolled_back(project, server):
    bad = run(project, "deploy", "--host", "staging", "--set", "korrigo_sha=v1.0.1")
    said = bad.stdout + bad.stderr
    assert bad.code == 1, said[-4000:]
    assert f"smoke test '{SMOKE}' failed" in said and "test_copy_list_flow FAILED" in said, said[-4000:]
    assert "error: staging: rolled back: deploy of " in bad.stderr   # the last line names the test
    assert f"failed at 'smoke tests: {SMOKE}, frontend answers, API refuses anonymous users': smoke test " \
           f"'{SMOKE}' failed: exited with status 1" in bad.stderr, bad.stderr
    # the release brought back passes the gates; the smoke tests (of the failed release) aren't run on it
    assert "smoke tests: not run by a rollback" in said, said[-4000:]
    assert version(server) == "v1.0.0"
    ledger = releases(project)
    assert ledger["releases"][0]["state"] == "failed" and ledger["current"] == ledger["releases"][1]["id"]


def test_the_backend_alone_moves_to_a_version_with_a_migration_after_a_backup(project, server):
    workers = compose(server, "ps -q celery celery-beat").split()
    backend = compose(server, "ps -q backend")
    update = run(project, "deploy", "--host", "staging", "--services", "backend", "--set", "korrigo_sha=v1.1.0")
    assert update.code == 0, update.stdout[-4000:] + update.stderr
    assert compose(server, "ps -q celery celery-beat").split() == workers   # the workers kept their containers
    assert compose(server, "ps -q backend") != backend
    assert version(server) == "v1.1.0"
    assert "exams.0002_exam_date" in sql(server, "SELECT name FROM django_migrations")
    current = releases(project)["releases"][0]
    assert current["state"] == "live" and "backup" in json.dumps(current), current   # taken before migrating


def typed(project: Path, answer: str, *args: str) -> Run:
    """``moorage ARGS`` with a terminal on stdin where ``answer`` is typed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([MOORAGE, *args], cwd=project, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **ENV})
    os.close(slave)
    try:
        os.write(master, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=600)
    finally:
        os.close(master)
    return Run(proc.returncode, out, err)


def test_emergency_rollback_restores_the_previous_image_and_database(project, server):
    sql(server, "INSERT INTO exams_exam (name) VALUES ('written after the update')")
    refused = typed(project, "production", "rollback", "--host", "staging", "--to", "previous", "--restore-db")
    assert "Type the environment name (staging) to confirm" in refused.stderr, refused.stdout[-2000:] + refused.stderr
    assert refused.code == 2 and "confirmation did not match: typed 'production'" in refused.stderr, refused.stderr
    assert version(server) == "v1.1.0"   # nothing happened
    back = run(project, "rollback", "--host", "staging", "--to", "previous", "--restore-db", "--yes")
    assert back.code == 0, back.stdout[-4000:] + back.stderr
    assert version(server) == "v1.0.0"
    assert sql(server, "SELECT name FROM exams_exam ORDER BY id") == "Bac blanc"


def test_the_media_volume_is_backed_up_and_restored(project, server):
    backup = run(project, "backup", "--host", "staging")
    assert backup.code == 0, backup.stdout[-3000:] + backup.stderr
    compose(server, "exec -T backend rm /app/media/copies/eleve-1.pdf")
    assert get(server, "/media/copies/eleve-1.pdf").status == 404
    restored = run(project, "restore", "--host", "staging", "--media", "--yes")
    assert restored.code == 0, restored.stdout[-3000:] + restored.stderr
    assert get(server, "/media/copies/eleve-1.pdf").text == "copie-1\n"
