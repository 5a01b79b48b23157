"""Data safety (issue #6) on a real server with its own Docker engine and the DM stack, the way a user
runs it: verified backups and the daily job, the restore drill (rows written through the app, backed
up, the table dropped, restored, rows back), verification catching a corrupted backup, a scratch
restore leaving the live database alone, the backup a deploy takes before its migrations, rollback
--restore-db, a stopped stack, a full backup disk, and the data guard refusing --destroy-data
without a fresh backup.

The tests of this module run in order against one server (each builds on the previous state).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from testbed.dm import APP_DIR as APP
from testbed.dm import DM_HOST as HOST
from testbed.dm import ROOT, prepare_project
from testbed.dm_images import WEBAPP_V1, build_webapp_version, ensure_dm_image

from .helpers import MOORAGE, Run, moorage, request

BACKUPS = f"{APP}/backups"
DB = ("docker exec -i $(docker ps -q --filter label=com.docker.compose.project=dm "
      "--filter label=com.docker.compose.service=db)")


@pytest.fixture(scope="module")
def dm(testbed, tmp_path_factory):
    """A dockerhost server with cron (the daily job needs it, as on a Debian server) and DM v1 deployed."""
    server = testbed.start("dockerhost", name="data", publish=(80,))
    cron = subprocess.Popen(["docker", "exec", server.container_id, "sh", "-c",
                             "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                             "--no-install-recommends cron"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    refs = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
    build_webapp_version("moorage-test/webapp:v2", "v2")
    testbed.load_images(server, [refs["nginx"], refs["traefik"]])
    inventory = prepare_project(server, {**refs, "webapp": WEBAPP_V1}, tmp_path_factory.mktemp("project"),
                                health_timeout=60, compose_wait_timeout=90)
    server.exec(f"mkdir -p {APP}/media/products")
    server.exec(f"cat > {APP}/media/products/forest_path.png",
                input=(ROOT / "examples/dm/media/products/forest_path.png").read_bytes())
    first = cli(inventory, "deploy", timeout=900)
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    assert cron.wait(timeout=300) == 0, f"installing cron on the test server failed: {cron.stderr.read()[-2000:]}"
    yield server, inventory
    testbed.stop(server)


def cli(inventory: Path, task: str, *args: str, timeout: float = 600) -> Run:
    return moorage(task, "--host", "nexus", "--inventory", inventory, *args, timeout=timeout)


def typed(inventory: Path, answer: str, task: str, *args: str) -> Run:
    """Run a task on a terminal (a pty as stdin) and type ``answer`` at its prompt."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([MOORAGE, task, "--host", "nexus", "--inventory", str(inventory), *args],
                                stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, (answer + "\n").encode())
        out, err = proc.communicate(timeout=600)
    finally:
        os.close(slave)
        os.close(master)
    return Run(proc.returncode, out, err)


def no_terminal(inventory: Path, task: str, *args: str) -> Run:
    proc = subprocess.run([MOORAGE, task, "--host", "nexus", "--inventory", str(inventory), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def sql(server, query: str, database: str = "dm_db") -> str:
    result = server.exec(f"{DB} psql -U dm_user -d {database} -Atc {shlex.quote(query)}")
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().strip()


def products(server) -> list[str]:
    answer = request(server.ports[80], "/api/products", host=HOST)
    assert answer.status == 200, answer.text
    return [p["name"] for p in json.loads(answer.text)]


def add_product(server, name: str) -> None:
    created = request(server.ports[80], "/products", method="POST", host=HOST,
                      form={"name": name, "slug": name.lower().replace(" ", "-"), "price": "4.99"})
    assert created.status == 201, created.text


def listing(inventory: Path, *args: str) -> dict:
    run = cli(inventory, "backup", "--list", "--json", *args)
    assert run.code == 0, run.stderr
    return json.loads(run.stdout)


def newest(inventory: Path, kind: str = "db", reason: str | None = None) -> dict:
    return next(b for b in listing(inventory)["backups"]
                if b["kind"] == kind and (reason is None or b["reason"] == reason))


def backup(inventory: Path, *args: str) -> list[str]:
    """`invoke backup`; the names of the backups it made."""
    run = cli(inventory, "backup", "--json", *args)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    return [name for e in run.tasks("nexus") for name in e.get("data", {}).get("backups", [])]


def outcome(run: Run) -> str:
    return next(e for e in run.events if e["kind"] == "outcome")["message"]


def current_release(server) -> str:
    return server.exec(f"readlink {APP}/current").stdout.decode().strip().removeprefix("releases/")


def test_the_first_deploy_has_nothing_to_back_up_and_status_says_there_is_no_backup(dm):
    server, inventory = dm
    assert server.exec(f"ls {BACKUPS}").returncode != 0, "the first deploy made a backup of nothing"
    status = json.loads(cli(inventory, "status", "--json").stdout)
    assert status["backup"]["warning"] == "no verified database backup on this host"
    human = cli(inventory, "status")
    assert "warning: no verified database backup on this host; back up with `moorage backup --host nexus`" \
        in human.stdout


def test_backup_writes_verified_dumps_and_media_outside_the_volumes_and_installs_the_daily_job(dm, tmp_path):
    server, inventory = dm
    made = backup(inventory)
    db, media = sorted(made)
    assert db.startswith("dm-nexus-db-") and db.endswith("Z.dump")
    assert media.startswith("dm-nexus-media-") and media.endswith("Z.tar.gz")
    listed = {b["name"]: b for b in listing(inventory)["backups"]}
    for name in made:
        assert listed[name]["state"] == "verified" and listed[name]["size"] > 0 and listed[name]["age_seconds"] < 600
        on_server = server.exec(f"sha256sum {BACKUPS}/{name}").stdout.decode().split()[0]
        assert listed[name]["sha256"] == on_server
    assert server.exec(f"{DB} pg_restore --list < {BACKUPS}/{db} | grep -q 'TABLE DATA public products'"
                       ).returncode == 0
    assert "products/forest_path.png" in server.exec(f"tar -tzf {BACKUPS}/{media}").stdout.decode()
    assert server.exec(f"stat -c %a {BACKUPS}").stdout.decode().strip() == "700"
    cron = server.exec("cat /etc/cron.d/moorage-dm-nexus").stdout.decode()
    assert f"30 2 * * * root {APP}/.moorage/backup.sh scheduled >> {BACKUPS}/backup.log 2>&1" in cron
    assert json.loads(cli(inventory, "status", "--json").stdout)["backup"]["warning"] is None

    again = cli(inventory, "backup", "--json", "--fetch", "--fetch-dir", str(tmp_path))
    assert again.code == 0, again.stderr
    job = next(e for e in again.tasks("nexus") if e["task"] == "daily backup job (cron)")
    assert job["status"] == "ok", "the daily job was rewritten although nothing changed"
    fetched = sorted(p.name for p in tmp_path.glob("*.dump"))
    assert len(fetched) == 1
    assert (tmp_path / fetched[0]).read_bytes() == server.exec(f"cat {BACKUPS}/{fetched[0]}").stdout
    assert oct((tmp_path / fetched[0]).stat().st_mode & 0o777) == "0o600"


def test_the_restore_drill_brings_back_rows_written_through_the_app(dm):
    server, inventory = dm
    add_product(server, "Pack Ocean")
    add_product(server, "Pack Forest")
    db = next(name for name in backup(inventory) if name.endswith(".dump"))
    sql(server, "DROP TABLE products")
    assert request(server.ports[80], "/api/products", host=HOST).status == 500

    run = typed(inventory, "nexus", "restore", "--file", db)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert "Type the environment name (nexus) to confirm" in run.stderr
    assert products(server) == ["Pack Nature", "Pack Abstract", "Pack Minimal", "Pack Ocean", "Pack Forest"]
    assert request(server.ports[80], "/health/ready", host=HOST).status == 200
    safety = newest(inventory, reason="pre-restore")
    assert safety["state"] == "verified" and safety["name"] in run.stdout
    audit = server.exec(f"tail -n 1 {APP}/.moorage/audit.log").stdout.decode()
    assert " restore " in audit and "result=ok" in audit and db in audit


def test_a_confirmation_that_does_not_name_the_environment_or_no_terminal_changes_nothing(dm):
    server, inventory = dm
    add_product(server, "Pack Night")
    before = products(server)
    wrong = typed(inventory, "vps", "restore")
    assert wrong.code == 2
    assert "confirmation did not match: typed 'vps', expected 'nexus'; nothing was changed" in wrong.stderr
    blind = no_terminal(inventory, "restore")
    assert blind.code == 2
    assert "no terminal to ask on" in blind.stderr and "--yes" in blind.stderr
    assert products(server) == before


def test_a_wrong_backup_name_lists_the_available_ones(dm):
    _, inventory = dm
    run = cli(inventory, "restore", "--file", "dm-nexus-db-19990101T000000Z.dump", "--yes")
    assert run.code == 2
    available = [b["name"] for b in listing(inventory)["backups"] if b["kind"] == "db"]
    assert "no backup named 'dm-nexus-db-19990101T000000Z.dump' in /srv/dm/backups on nexus; available:" \
        in run.stderr
    assert all(name in run.stderr for name in available[:5])


def test_verification_detects_a_corrupted_backup_and_restore_refuses_it(dm):
    server, inventory = dm
    flipped = newest(inventory, reason="manual")["name"]
    cut = "dm-nexus-db-20000101T000000Z.dump"  # a copy put back by hand, cut short on the way
    server.exec(f"cd {BACKUPS} && head -c 3000 {flipped} > {cut}")
    server.exec(f"cd {BACKUPS} && printf 'XXXX' | dd of={flipped} bs=1 seek=1500 conv=notrunc")
    before = products(server)

    one = cli(inventory, "backup", "--verify", "--file", flipped)
    assert one.code == 1
    assert f"{flipped}: CORRUPT: its sha256 differs from the one recorded when it was made" in one.stdout
    every = cli(inventory, "backup", "--verify")
    assert every.code == 1
    assert f"{cut}: CORRUPT: pg_restore cannot read it: pg_restore: error: could not read from input file" \
        in every.stdout
    states = {b["name"]: b["state"] for b in listing(inventory)["backups"]}
    assert states[flipped] == "corrupt" and states[cut] == "corrupt"
    assert "2 of" in every.stderr and "failed verification" in every.stderr

    refused = cli(inventory, "restore", "--file", flipped, "--yes")
    assert refused.code == 2 and f"{flipped} is corrupt, not verified" in refused.stderr
    assert products(server) == before


def test_restore_into_a_scratch_database_leaves_the_live_one_untouched(dm):
    server, inventory = dm
    db = next(name for name in backup(inventory) if name.endswith(".dump"))
    add_product(server, "Pack Written After")
    web = server.exec("docker ps -q --filter label=com.docker.compose.service=web --format '{{.ID}} {{.Status}}'")
    run = no_terminal(inventory, "restore", "--file", db, "--into", "drill")  # nothing to confirm
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert "restored into the scratch database drill; the live database was not touched" in run.stdout
    assert "Pack Written After" in products(server)
    assert sql(server, "SELECT count(*) FROM products", "drill") == str(len(products(server)) - 1)
    assert server.exec("docker ps -q --filter label=com.docker.compose.service=web --format '{{.ID}} {{.Status}}'"
                       ).stdout.split()[0] == web.stdout.split()[0], "the web service was restarted"
    again = cli(inventory, "restore", "--file", db, "--into", "drill")
    assert again.code == 0, "a second drill into the same scratch database failed"
    foreign = cli(inventory, "restore", "--file", db, "--into", "postgres")
    assert foreign.code == 1 and "database postgres already exists and was not made by moorage" in foreign.stdout
    live = cli(inventory, "restore", "--file", db, "--into", "dm_db")
    assert live.code == 1 and "not the live one (dm_db)" in live.stdout


def test_several_databases_are_backed_up_each_in_its_own_verified_file(dm):
    server, inventory = dm
    made = backup(inventory, "--set", "backup_databases=[{service: db}, {service: db, database: drill, label: drill}]",
                  "--set", "backup_media=[]")
    assert sorted(name.split("-")[2] for name in made) == ["db", "drill"]
    drill = next(name for name in made if "-drill-" in name)
    record = json.loads(server.exec(f"cat {BACKUPS}/{drill}.json").stdout)
    assert (record["database"], record["service"], record["state"]) == ("drill", "db", "verified")
    assert server.exec(f"{DB} pg_restore --list < {BACKUPS}/{drill} | grep -q 'TABLE DATA public products'"
                       ).returncode == 0


def test_a_failed_migration_after_the_automatic_backup_leaves_the_old_release_and_the_data(dm):
    server, inventory = dm
    live = current_release(server)
    before = products(server)
    time.sleep(1)  # release ids are to the second
    run = cli(inventory, "deploy", "--json", "--set", "web_image=moorage-test/webapp:v2", "--set",
              "app_env_extra={MIGRATE_FAIL: '1'}", timeout=900)
    assert run.code == 1
    tasks = {e["task"]: e for e in run.tasks("nexus") if e.get("play") == "Application"}
    assert tasks["verified database backup before the new release"]["status"] == "changed"
    assert next(e for e in run.tasks("nexus", "failed"))["task"] == "migrations"
    assert current_release(server) == live and "rolled back" in outcome(run)
    assert products(server) == before
    assert 'id="app-version">v1<' in request(server.ports[80], "/", host=HOST).text
    failed_release = sorted(server.exec(f"ls {APP}/releases").stdout.decode().split())[-1]
    record = json.loads(server.exec(f"cat {APP}/releases/{failed_release}/release.json").stdout)
    assert record["backup"]["data_of"] == live
    taken = record["backup"]["files"][0]
    assert {b["name"]: b for b in listing(inventory)["backups"]}[taken]["state"] == "verified"
    assert sql(server, "SELECT count(*) FROM products") == str(len(before))


def test_rollback_restore_db_brings_back_the_data_recorded_with_the_release(dm):
    server, inventory = dm
    v1 = current_release(server)
    before = products(server)
    time.sleep(1)
    deployed = cli(inventory, "deploy", "--set", "web_image=moorage-test/webapp:v2", timeout=900)
    assert deployed.code == 0, deployed.stdout[-3000:] + deployed.stderr
    v2 = current_release(server)
    recorded = json.loads(server.exec(f"cat {APP}/releases/{v2}/release.json").stdout)["backup"]
    assert recorded["data_of"] == v1
    add_product(server, "Pack Only In V2")

    run = cli(inventory, "rollback", "--to", "previous", "--restore-db", "--yes")
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert current_release(server) == v1
    assert 'id="app-version">v1<' in request(server.ports[80], "/", host=HOST).text
    assert products(server) == before, "the data is not the one recorded with the release"
    assert f"release {v1} is live; {recorded['files'][0]} restored" in run.stdout


def test_a_stopped_stack_is_not_restored_into_and_the_message_says_how_to_start_it(dm):
    server, inventory = dm
    compose = f"cd {APP}/current && docker compose -p dm -f docker-compose.nexus.yml"
    server.exec(f"{compose} stop db")
    try:
        run = cli(inventory, "restore", "--yes")
        assert run.code == 1
        assert ("the database service db of compose project dm is not running, so nothing can be restored into "
                "it; start the stack with `moorage deploy --host nexus` (or on the server: cd /srv/dm/current && "
                "docker compose up -d --wait db: the release's .env names its compose files and profiles)") \
            in run.stderr
        failed = cli(inventory, "backup")
        assert failed.code == 1 and "service db of compose project dm is not running" in failed.stdout
    finally:
        assert server.exec(f"{compose} up -d --wait").returncode == 0
    assert request(server.ports[80], "/health/ready", host=HOST).status == 200


def test_a_full_backup_disk_fails_loudly_and_keeps_the_older_backups(dm):
    server, inventory = dm
    older = newest(inventory, reason="manual")["name"]
    full = "/srv/full-disk"
    assert server.exec(f"mkdir -p {full} && busybox mount -t tmpfs -o size=40k tmpfs {full}").returncode == 0
    try:
        server.exec(f"cp -p {BACKUPS}/{older} {BACKUPS}/{older}.json {full}/ && "
                    f"dd if=/dev/zero of={full}/filler bs=1k count=40")
        run = cli(inventory, "backup", "--set", f"backup_dir={full}", "--set", "backup_media=[]")
        assert run.code == 1
        assert "no space left on device" in run.stdout and "older backups are kept" in run.stdout
        kept = listing(inventory, "--set", f"backup_dir={full}")["backups"]
        assert [(b["name"], b["state"]) for b in kept] == [(older, "verified")]
        assert server.exec(f"ls -A {full}").stdout.decode().split() == sorted([older, f"{older}.json", "filler"])
    finally:
        server.exec(f"busybox umount {full} && rmdir {full}")


def test_destroy_data_is_refused_without_a_fresh_backup_and_then_gives_an_exact_copy(dm):
    server, inventory = dm
    server.exec(f"touch -d '3 days ago' {BACKUPS}/*.dump {BACKUPS}/*.tar.gz")
    assert "3.0 days old" in json.loads(cli(inventory, "status", "--json").stdout)["backup"]["warning"]
    before = products(server)
    refused = cli(inventory, "restore", "--destroy-data", "--yes")
    assert refused.code == 2
    assert "the newest verified backup of db is 3.0 days old" in refused.stderr
    assert "more than 24 h. Back up first (moorage backup --host nexus), then ask again; nothing was changed" \
        in refused.stderr
    assert products(server) == before

    db = next(name for name in backup(inventory) if name.endswith(".dump"))
    sql(server, "CREATE TABLE made_later (x integer)")
    clean = cli(inventory, "restore", "--file", db, "--yes")
    assert clean.code == 0 and "left in place: public.made_later" in clean.stdout
    exact = cli(inventory, "restore", "--file", db, "--destroy-data", "--yes")
    assert exact.code == 0, exact.stdout[-3000:] + exact.stderr
    assert sql(server, "SELECT count(*) FROM pg_tables WHERE tablename = 'made_later'") == "0"
    assert products(server) == before
    assert "dm_db__moorage_restore" not in sql(server, "SELECT string_agg(datname, ',') FROM pg_database")


def test_the_daily_job_runs_from_cron_and_logs_to_a_file(dm):
    server, inventory = dm
    every_minute = cli(inventory, "backup", "--set", 'backup_schedule="* * * * *"')
    assert every_minute.code == 0, every_minute.stderr
    assert server.exec("cron").returncode == 0
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            log = server.exec(f"cat {BACKUPS}/backup.log").stdout.decode()
            if "reason scheduled" in log and " done" in log:
                break
            time.sleep(3)
        assert "reason scheduled" in log and "ok: dm-nexus-db-" in log, log
        assert newest(inventory, reason="scheduled")["state"] == "verified"
    finally:
        server.exec("kill $(cat /var/run/crond.pid)")
    removed = cli(inventory, "backup", "--set", 'backup_schedule=""')
    assert removed.code == 0
    assert server.exec("test -e /etc/cron.d/moorage-dm-nexus").returncode != 0
