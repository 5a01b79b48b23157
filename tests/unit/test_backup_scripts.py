"""The server-side backup shell, run for real with sh on a temporary directory (the parts that need no
Docker: retention, records, the record in release.json, tarball verification), and the daily job."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shlex
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from moorage.operations.backups import scripts
from moorage.operations.base import Facts, OpContext, PathFacts
from moorage.operations.postgres import BackupJob

REPO = Path(__file__).resolve().parents[2]
DAY = 86400


def sh(script: str, directory: Path, **variables: str) -> subprocess.CompletedProcess:
    """Run the prelude + backup functions with these variables, then ``script``."""
    settings = {"dir": str(directory), "project": "dm", "prefix": "dm-nexus", "reason": "manual", "stamp":
                "20270115T080000Z", "failures": "0", "files": "", "extra": "", "keep_count": "30",
                "keep_minutes": str(14 * 1440), "data_of": "", "prune": "yes", **variables}
    prelude = "\n".join(f"{k}={shlex.quote(v)}" for k, v in settings.items())
    return subprocess.run(["sh", "-c", "\n".join(["set -u", prelude, scripts.PRELUDE, scripts.BACKUP_FUNCTIONS,
                                                  script])], capture_output=True, text=True, timeout=60)


def backup_file(directory: Path, label: str, stamp: str, age_days: float, ext: str = "dump") -> Path:
    path = directory / f"dm-nexus-{label}-{stamp}.{ext}"
    path.write_bytes(b"x")
    (directory / f"{path.name}.json").write_text("{}")
    when = time.time() - age_days * DAY
    os.utime(path, (when, when))
    return path


def test_retention_keeps_the_newest_count_drops_the_old_and_never_the_newest(tmp_path):
    stamps = [f"202701{day:02d}T080000Z" for day in range(1, 8)]  # 7 backups, one a day, newest last
    for age, stamp in enumerate(reversed(stamps)):
        backup_file(tmp_path, "db", stamp, age_days=age * 5)  # 0, 5, 10, 15, ... days old
    other = backup_file(tmp_path, "db-extra", stamps[0], age_days=40)  # another label: not this one's business
    result = sh("prune db dump", tmp_path, keep_count="3")
    assert result.returncode == 0, result.stderr
    left = sorted(p.name for p in tmp_path.glob("dm-nexus-db-2*.dump"))
    assert left == [f"dm-nexus-db-{s}.dump" for s in stamps[-3:]]  # 0, 5 and 10 days old
    assert not (tmp_path / f"dm-nexus-db-{stamps[0]}.dump.json").exists(), "a record outlived its backup"
    assert other.exists()
    assert "retention: removed" in result.stdout


def test_retention_by_age_alone_never_removes_the_only_backup(tmp_path):
    only = backup_file(tmp_path, "db", "20270101T080000Z", age_days=90)
    assert sh("prune db dump", tmp_path).returncode == 0
    assert only.exists()
    backup_file(tmp_path, "db", "20270102T080000Z", age_days=20)
    backup_file(tmp_path, "db", "20270103T080000Z", age_days=1)
    sh("prune db dump", tmp_path, keep_count="0")  # no count limit: only age (14 days) applies
    assert sorted(p.name for p in tmp_path.glob("*.dump")) == ["dm-nexus-db-20270103T080000Z.dump"]


def test_keep_records_size_and_sha256_then_names_the_file(tmp_path):
    partial = tmp_path / ".x.partial"
    partial.write_bytes(b"PGDMP dump bytes")
    name = "dm-nexus-db-20270115T080000Z.dump"
    result = sh(f'keep "$dir/.x.partial" {name} db db \', "service": "db"\'', tmp_path, reason="pre-migrate")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert record["size"] == 16 and record["sha256"] == hashlib.sha256(b"PGDMP dump bytes").hexdigest()
    assert (record["state"], record["reason"], record["service"], record["label"]) == \
        ("verified", "pre-migrate", "db", "db")
    assert (tmp_path / name).read_bytes() == b"PGDMP dump bytes" and not partial.exists()
    assert f"@@backup {name} 16 {record['sha256']}" in result.stdout


def test_the_backup_is_recorded_in_the_release(tmp_path):
    release = tmp_path / "release.json"
    release.write_text('{"id": "20270115T080000Z", "previous": "20270114T080000Z", "meta": {"by": "a"}}\n')
    result = sh(f'files=\'"dm-nexus-db-20270115T080000Z.dump"\'; record {shlex.quote(str(release))}', tmp_path,
                data_of="20270114T080000Z")
    assert result.returncode == 0, result.stderr
    record = json.loads(release.read_text())
    assert record["meta"] == {"by": "a"}
    assert record["backup"] == {"files": ["dm-nexus-db-20270115T080000Z.dump"], "data_of": "20270114T080000Z",
                                "taken": "20270115T080000Z"}


def tarball(path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"png bytes" * 1000
        info = tarfile.TarInfo("products/forest_path.png")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))


def verify(directory: Path, *names: str) -> dict[str, str]:
    script = scripts.verify_script(backup_dir=str(directory), project_name="dm",
                                   items=[(n, "media", "") for n in names])
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    return {line.split()[1]: " ".join(line.split()[2:]) for line in result.stdout.splitlines()
            if line.startswith("@@verify ")}


def test_verification_finds_a_changed_or_unreadable_tarball_and_marks_it(tmp_path):
    good, flipped, cut = (f"dm-nexus-media-2027011{i}T080000Z.tar.gz" for i in (1, 2, 3))
    for name in (good, flipped, cut):
        tarball(tmp_path / name)
        assert sh(f"cp \"$dir/{name}\" \"$dir/.t\" && describe \"$dir/.t\" {name} media media ''",
                  tmp_path).returncode == 0
    data = bytearray((tmp_path / flipped).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / flipped).write_bytes(bytes(data))
    (tmp_path / cut).write_bytes((tmp_path / cut).read_bytes()[:40])
    (tmp_path / f"{cut}.json").unlink()  # a copy put back by hand: no record, so it is read back
    outcome = verify(tmp_path, good, flipped, cut, "dm-nexus-media-20270119T080000Z.tar.gz")
    assert outcome[good] == "ok"
    assert outcome[flipped].startswith("corrupt its sha256 differs")
    assert outcome[cut].startswith("corrupt it is not a readable tarball")
    assert outcome["dm-nexus-media-20270119T080000Z.tar.gz"] == "missing"
    assert json.loads((tmp_path / f"{flipped}.json").read_text())["state"] == "corrupt"
    assert json.loads((tmp_path / f"{cut}.json").read_text()) == {"name": cut, "size": 40, "state": "corrupt"}


def test_a_tarball_put_back_by_hand_is_recorded_once_it_reads_back(tmp_path):
    name = "dm-nexus-media-20270115T080000Z.tar.gz"
    tarball(tmp_path / name)
    assert verify(tmp_path, name) == {name: "ok recorded"}
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert (record["state"], record["reason"], record["created"]) == ("verified", "adopted", "20270115T080000Z")


def test_the_generated_scripts_are_valid_sh():
    databases = [{"service": "db"}, {"service": "pg-user", "database": "users"}]
    for script in (
        scripts.backup_script(backup_dir="/b", project_name="dm", prefix="dm-nexus", databases=databases,
                              media=[{"path": "/m"}], record_in="/r/release.json", data_of="x", installed=True),
        scripts.verify_script(backup_dir="/b", project_name="dm", items=[("a.dump", "db", "db")]),
        scripts.restore_script(backup_dir="/b", project_name="dm", backups=[{"file": "a.dump", "service": "db"}]),
    ):
        check = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr


JOB = {"backup_dir": "/srv/dm/backups", "project_name": "dm", "prefix": "dm-nexus", "databases": [{"service": "db"}],
       "script": "/srv/dm/.moorage/backup.sh", "cron_file": "/etc/cron.d/moorage-dm-nexus",
       "log_file": "/srv/dm/backups/backup.log"}


def test_the_daily_job_installs_the_script_and_a_cron_entry_then_changes_nothing():
    op = BackupJob(JOB, OpContext("nexus", {}))
    facts = Facts({p: PathFacts(p) for p in op.facts_needed().paths})
    unscheduled = op.plan(facts)  # no cron: the script is written, the schedule is not, and it says why
    assert unscheduled is not None and [s.path for s in unscheduled.steps] == ["/srv/dm/.moorage/backup.sh"]
    assert "no cron on this host (/etc/cron.d is missing)" in unscheduled.data["unscheduled"][0]
    assert "apt-get install cron" in unscheduled.summary
    facts.record(PathFacts("/etc/cron.d", "dir", "0755"))
    change = op.plan(facts)
    assert change is not None
    uploads = {step.path: step for step in change.steps}
    assert uploads["/srv/dm/.moorage/backup.sh"].mode == "0700"
    script = uploads["/srv/dm/.moorage/backup.sh"].data.decode()
    assert 'reason="${1:-scheduled}"' in script and "dump_db db '' db" in script
    assert uploads["/etc/cron.d/moorage-dm-nexus"].data.decode().splitlines()[-1] == \
        "30 2 * * * root /srv/dm/.moorage/backup.sh scheduled >> /srv/dm/backups/backup.log 2>&1"
    for after in change.after:
        facts.record(after)
    assert op.plan(facts) is None, "a second run changes nothing"


def test_the_roles_share_their_common_defaults():
    app = yaml.safe_load((REPO / "src/moorage/builtin/roles/compose_app/defaults.yml").read_text())
    data = yaml.safe_load((REPO / "src/moorage/builtin/roles/postgres_backup/defaults.yml").read_text())
    shared = set(app) & set(data)
    assert {"backup_dir", "backup_prefix", "backup_databases", "compose_project", "health_url"} <= shared
    assert {k: app[k] for k in shared} == {k: data[k] for k in shared}


def _release(directory: Path, name: str, images: str) -> Path:
    path = directory / f"{name}.json"
    path.write_text(f'{{"id": "{name}", "created": "2027-01-15T08:00:00Z", "previous": "", "images": {{{images}}}, '
                    '"meta": {}}\n')
    return path


ID_A, ID_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize(("new", "old", "skipped"), [
    (f'"app:1": "{ID_A}"', f'"app:1": "{ID_A}"', True),   # same image IDs: the data-using services didn't change
    (f'"app:1": "{ID_B}"', f'"app:1": "{ID_A}"', False),  # a new image (it may migrate at start)
    (f'"app:1": "{ID_A}"', None, False),                  # no record of the previous one: back up
    ('"app:1": ""', '"app:1": ""', False),                # no image ID recorded: back up
])
def test_a_new_release_with_the_same_images_is_not_backed_up_again(tmp_path, new, old, skipped):
    release = _release(tmp_path, "new", new)
    previous = _release(tmp_path, "old", old) if old else tmp_path / "missing.json"
    guard = "\n".join(scripts._same_images((str(release), str(previous))))
    result = sh(guard + "\necho went-on", tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("@@skipped" in result.stdout) is skipped and ("went-on" in result.stdout) is not skipped


def test_a_volume_is_tarred_in_a_container_and_compressed_here_as_the_connecting_user():
    script = scripts.backup_script(backup_dir="/srv/todo/backups", project_name="todo", prefix="todo-prod",
                                   databases=[], media=[{"volume": "media", "label": "uploads"}])
    assert "tar_volume media uploads ''" in script
    assert 'docker run --rm -i --network none --user 0:0 --entrypoint "$e" -v "$v:/v:$m" "$i" "$@"' in script
    assert 'in_volume "$v" "$img" ro tar -cf - -C /v .' in script and '| gzip > "$tmp"' in script


def test_a_directory_restore_replaces_its_content_with_the_tarball_and_counts_it(tmp_path):
    from moorage.operations.backups.media import restore_media_script
    backups, media = tmp_path / "backups", tmp_path / "media"
    backups.mkdir()
    (media / "sub").mkdir(parents=True)
    (media / "sub" / "kept.txt").write_text("kept")
    subprocess.run(["tar", "-czf", str(backups / "m.tar.gz"), "-C", str(media), "."], check=True)
    (media / "later.txt").write_text("written after the backup")
    script = restore_media_script(backup_dir=str(backups), project_name="dm",
                                  items=[{"file": "m.tar.gz", "path": str(media)}])
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(media).as_posix() for p in media.rglob("*")) == ["sub", "sub/kept.txt"]
    assert f"@@restored m.tar.gz {media} 2" in result.stdout
    (backups / "bad.tar.gz").write_bytes(b"not a tarball")
    bad = subprocess.run(["sh", "-c", restore_media_script(backup_dir=str(backups), project_name="dm", items=[
        {"file": "bad.tar.gz", "path": str(media)}])], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "nothing was changed" in bad.stderr
    assert (media / "sub" / "kept.txt").exists(), "a tarball that can't be read emptied the directory"
