"""The deploy target of issue #4: a no-change redeploy of the DM stack on one test server.

    .venv/bin/python -m bench.deploy_dm [--runs N]

Starts a dockerhost test server (127.0.0.1 only), deploys the DM stack once (shared Traefik,
nginx-static, the app; images shipped over SSH), then times N no-change redeploys with
`moorage deploy --host nexus --json`, checks each reports changed=0, prints the median, and
removes the server.  Target: under 3 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from testbed import Testbed  # noqa: E402
from testbed.dm import prepare_project  # noqa: E402
from testbed.dm_images import WEBAPP_V1, ensure_dm_image  # noqa: E402

MOORAGE = str(ROOT / ".venv" / "bin" / "moorage")


def deploy(inventory: Path) -> tuple[float, dict]:
    """One `moorage deploy`, its wall time and the host's recap."""
    started = time.perf_counter()
    proc = subprocess.run([MOORAGE, "deploy", "--host", "nexus", "--inventory", str(inventory), "--json"],
                          capture_output=True, text=True, check=False, timeout=900)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"deploy failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr}")
    recap = next(json.loads(line)["data"] for line in proc.stdout.splitlines()
                 if line.startswith('{"kind": "recap"'))
    return elapsed, recap


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with Testbed() as testbed:
        server = testbed.start("dockerhost", name="bench-dm", publish=(80,))
        images = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
        images["webapp"] = WEBAPP_V1
        testbed.load_images(server, [images["nginx"], images["traefik"]])
        with tempfile.TemporaryDirectory(prefix="moorage-bench-dm-") as tmp:
            inventory = prepare_project(server, images, Path(tmp) / "project")
            first, recap = deploy(inventory)
            print(f"first deploy: {first:.2f} s (changed={recap['changed']})")
            times = []
            for _ in range(args.runs):
                elapsed, recap = deploy(inventory)
                assert recap["changed"] == 0, f"a no-change redeploy changed something: {recap}"
                times.append(elapsed)
    median = statistics.median(times)
    print(f"no-change redeploy, {args.runs} runs: median {median:.2f} s, min {min(times):.2f} s, "
          f"max {max(times):.2f} s, changed=0 every time (target < 3 s: {'met' if median < 3 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
