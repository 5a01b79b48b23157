"""The data target of issue #6: backup + verification of a 100 MB database, and its restore, on a test server.

    .venv/bin/python -m bench.backup [--runs N] [--mb 100]

Starts a dockerhost test server (127.0.0.1 only), deploys the DM stack, grows its database to about
``--mb`` MB (a table of pseudo-random text rows written inside the db container, sized with
pg_database_size), then times, N times each:

- ``moorage backup --host nexus`` end to end (pg_dump -Fc in the db service, the read-back by
  pg_restore, the record, the media tarball; the test server has no cron, so the daily job is left
  out with ``backup_schedule=""``), and for comparison the floor on the
  server: ``pg_dump -Fc`` alone, and the read-back (``pg_restore --list`` + ``--file=/dev/null``) alone;
- ``moorage restore --host nexus --file NAME --yes`` end to end (verify again, guard, safety backup,
  web stopped, pg_restore --clean --single-transaction, stack up, health gate), and the floor:
  ``pg_restore --clean --if-exists --single-transaction`` alone.

Prints the medians, the dump size and the machine's load, then removes the server.  Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from testbed import Testbed  # noqa: E402
from testbed.dm import prepare_project  # noqa: E402
from testbed.dm_images import WEBAPP_V1, ensure_dm_image  # noqa: E402

MOORAGE = str(ROOT / ".venv" / "bin" / "moorage")
DB = ("docker exec -i $(docker ps -q --filter label=com.docker.compose.project=dm "
      "--filter label=com.docker.compose.service=db)")
ROWS_PER_MB = 3300  # ~300 bytes a row with its overhead; corrected by measuring


def moorage(inventory: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([MOORAGE, *args, "--host", "nexus", "--inventory", str(inventory)], capture_output=True,
                          text=True, check=False, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"moorage {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr}")
    return proc


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def on_server(server, command: str) -> str:
    result = server.exec(command, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"`{command}` failed on the server: {result.stderr.decode()[-2000:]}")
    return result.stdout.decode()


def grow(server, megabytes: int) -> int:
    """Add rows until the database is about ``megabytes`` MB; returns its size in bytes."""
    size = int(on_server(server, f"{DB} psql -U dm_user -d dm_db -Atc 'SELECT pg_database_size(current_database())'"))
    start = 0
    while size < megabytes * 1_000_000:
        rows = max(10_000, int((megabytes * 1_000_000 - size) / 1_000_000 * ROWS_PER_MB))
        on_server(server, f"{DB} psql -U dm_user -d dm_db -qc \"CREATE TABLE IF NOT EXISTS bulk (id bigint, "
                          f"payload text); INSERT INTO bulk SELECT g, md5(g::text) || md5(random()::text) || "
                          f"md5(random()::text) || repeat(md5((g * 7)::text), 5) FROM generate_series({start + 1}, "
                          f"{start + rows}) g\"")
        start += rows
        size = int(on_server(server, f"{DB} psql -U dm_user -d dm_db -Atc "
                                     "'SELECT pg_database_size(current_database())'"))
    return size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with Testbed() as testbed:
        server = testbed.start("dockerhost", name="bench-backup", publish=(80,))
        images = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
        images["webapp"] = WEBAPP_V1
        testbed.load_images(server, [images["nginx"], images["traefik"]])
        with tempfile.TemporaryDirectory(prefix="moorage-bench-backup-") as tmp:
            inventory = prepare_project(server, images, Path(tmp) / "project", health_timeout=120,
                                        compose_wait_timeout=180)
            moorage(inventory, "deploy")
            size = grow(server, args.mb)
            print(f"database: {size / 1e6:.1f} MB (pg_database_size)")
            backup_times, dump_times, verify_times, restore_times, raw_restore_times = [], [], [], [], []
            name = ""
            for _ in range(args.runs):
                before = set(on_server(server, "ls /srv/dm/backups 2>/dev/null || true").split())
                backup_times.append(timed(lambda: moorage(inventory, "backup", "--set", 'backup_schedule=""')))
                made = set(on_server(server, "ls /srv/dm/backups").split()) - before
                name = next(n for n in made if n.endswith(".dump"))
                dump_times.append(timed(lambda: on_server(
                    server, f"{DB} pg_dump -U dm_user -d dm_db -Fc > /tmp/raw.dump")))
                verify_times.append(timed(lambda: on_server(
                    server, f"{DB} pg_restore --list < /tmp/raw.dump > /dev/null && "
                            f"{DB} pg_restore --file=/dev/null < /tmp/raw.dump")))
            dump_size = int(on_server(server, f"stat -c %s /srv/dm/backups/{name}"))
            for _ in range(args.runs):
                restore_times.append(timed(lambda: moorage(inventory, "restore", "--file", name, "--yes")))
                raw_restore_times.append(timed(lambda: on_server(
                    server, f"{DB} pg_restore -U dm_user -d dm_db --clean --if-exists --single-transaction "
                            "--exit-on-error < /tmp/raw.dump")))
            rows = on_server(server, f"{DB} psql -U dm_user -d dm_db -Atc 'SELECT count(*) FROM bulk'").strip()
    results = {
        "database_mb": round(size / 1e6, 1), "dump_mb": round(dump_size / 1e6, 1), "rows_after_restore": int(rows),
        "runs": args.runs, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
        "median_s": {
            "moorage backup (dump + verify + record + media)": statistics.median(backup_times),
            "  floor: pg_dump -Fc alone": statistics.median(dump_times),
            "  floor: pg_restore --list + full read-back alone": statistics.median(verify_times),
            "moorage restore --yes (verify, safety backup, stop, restore, up, health gate)":
                statistics.median(restore_times),
            "  floor: pg_restore --clean --single-transaction alone": statistics.median(raw_restore_times),
        },
        "all_s": {"backup": backup_times, "restore": restore_times},
    }
    for label, seconds in results["median_s"].items():
        print(f"{label:<80} {seconds:6.1f} s")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
