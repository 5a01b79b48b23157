"""Zero-downtime switch, side by side: failed requests while a release goes live.

    .venv/bin/python -m bench.zero_downtime [--rate 50]

One dockerhost test server (tests/testbed), the tasklist app (API + worker + PostgreSQL, its API
routed by the shared Traefik; tests/testbed/zdt.py).  While a bounded load generator sends
``--rate`` GET /version a second to the server's published Traefik port (tests/testbed/load.py),
each way of switching runs three switches: 1.0 -> 1.1 (with a migration), 1.1 -> 1.0 (rollback),
1.0 -> a release whose API crashes (and back to 1.0):

- moorage zero_downtime: ``moorage deploy`` / ``moorage rollback`` (start-first switch);
- moorage stop-first: the same with ``--set zero_downtime=false`` (compose recreates the API);
- plain compose: ``docker compose up -d --wait`` on the server, in a project of its own (migrate
  with ``compose run``; for the crash, the script's own ``up`` of 1.0 again after the failure).

Prints a table (failed / sent, seconds of the switch) and writes bench/results/zero_downtime.md.
Removes its server.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from testbed import Testbed
from testbed.load import Load
from testbed.zdt import COMPOSE, prepare_images, write_project

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
MOORAGE = str(ROOT / ".venv" / "bin" / "moorage")
SWITCHES = ("1.0 -> 1.1 (migration)", "1.1 -> 1.0 (rollback)", "1.0 -> crashing API (back to 1.0)")
PLAIN = "/srv/plain"


def moorage(root: Path, *args: str) -> bool:
    proc = subprocess.run([MOORAGE, *args, "--host", "zdt"], cwd=root, capture_output=True, text=True,
                          timeout=900, check=False)
    print(f"[bench] moorage {' '.join(args)}: exit {proc.returncode}: {proc.stdout.strip().splitlines()[-1:]}",
          flush=True)
    return proc.returncode == 0


def measured(port: int, rate: float, action: Callable[[], object]) -> tuple[Load, float]:
    with Load(port, "/version", rate=rate) as load:
        began = time.monotonic()
        action()
        took = time.monotonic() - began
    print(f"[bench] {load.report()} in {took:.1f} s", flush=True)
    DETAILS.append(f"{load.report()}, switch {took:.1f} s")
    return load, took


DETAILS: list[str] = []


def moorage_switches(root: Path, extra: list[str]) -> list[Callable[[], object]]:
    return [
        lambda: moorage(root, "deploy", "--set", "app_image=tasklist/app:1.1", *extra),
        lambda: moorage(root, "rollback", "--to", "previous", *extra),
        lambda: moorage(root, "deploy", "--set", "app_image=tasklist/app:1.1", "--set",
                        "app_env_extra={API_MODE: crash}", *extra),
    ]


def plain_switches(server) -> list[Callable[[], object]]:
    def up(image: str, mode: str = "serve", migrate: bool = False) -> int:
        env = f"APP_IMAGE={image} API_MODE={mode} DB_PASSWORD=bench SECRET_KEY=bench"
        run = f"cd {PLAIN} && export {env} && "
        if migrate:
            run += "docker compose -p plain run --rm -T api tasklist migrate && "
        return server.exec(run + "docker compose -p plain up -d --wait --wait-timeout 60", timeout=300).returncode

    def crash_then_back() -> None:
        if up("tasklist/app:1.1", "crash") != 0:
            up("tasklist/app:1.0")   # what a deploy script does after a failed `up --wait`

    return [lambda: up("tasklist/app:1.1", migrate=True), lambda: up("tasklist/app:1.0"), crash_then_back]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests a second (default 50)")
    args = parser.parse_args()
    prepare_images()
    rows: dict[str, list[str]] = {}
    with Testbed() as testbed, tempfile.TemporaryDirectory() as tmp:
        server = testbed.start("dockerhost", name="zdtbench")
        root = Path(tmp)
        write_project(root, server)
        assert moorage(root, "deploy"), "the first deploy failed"
        port = server.ports[80]
        for name, extra in (("moorage zero_downtime", []), ("moorage stop-first", ["--set", "zero_downtime=false"])):
            cells = []
            for switch in moorage_switches(root, extra):
                load, took = measured(port, args.rate, switch)
                cells.append(f"{load.failed} / {load.sent}, {took:.1f} s")
            rows[name] = cells
            assert moorage(root, "deploy"), "back to 1.0 failed"   # the next way starts from 1.0 too
        down = server.exec("cd /srv/zdt/current && docker compose -p zdt down -t 5", timeout=300)
        assert down.returncode == 0, down.stderr.decode()
        # its own router and service names: Traefik must not see two routers of one name
        plain_compose = yaml.safe_dump(COMPOSE).replace("routers.tasklist.", "routers.plain.").replace(
            "services.tasklist.", "services.plain.")
        server.exec(f"mkdir -p {PLAIN} && cat > {PLAIN}/compose.yml", input=plain_compose.encode())
        plain = plain_switches(server)
        server.exec(f"cd {PLAIN} && APP_IMAGE=tasklist/app:1.0 DB_PASSWORD=bench SECRET_KEY=bench docker compose "
                    "-p plain run --rm -T api tasklist migrate && APP_IMAGE=tasklist/app:1.0 DB_PASSWORD=bench "
                    "SECRET_KEY=bench docker compose -p plain up -d --wait", timeout=300)
        runs = [measured(port, args.rate, switch) for switch in plain]
        rows["docker compose up -d --wait"] = [f"{load.failed} / {load.sent}, {took:.1f} s" for load, took in runs]
    table = "\n".join([f"| failed / sent, switch time | {' | '.join(SWITCHES)} |", "|---|---|---|---|",
                       *(f"| {name} | {' | '.join(cells)} |" for name, cells in rows.items())])
    print(table)
    RESULTS.mkdir(exist_ok=True)
    details = "\n".join(f"- {line}" for line in DETAILS)
    (RESULTS / "zero_downtime.md").write_text(f"Load: {args.rate:g} GET/s on 127.0.0.1 through Traefik.\n\n{table}\n\n"
                                             f"Each switch, in order:\n{details}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
