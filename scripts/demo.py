"""The README's first command: deploy the DM example stack to a local test server.

Starts (or reuses) a test server with its own Docker engine, published on 127.0.0.1 only,
builds the example images locally (no registry), then runs `moorage deploy --host nexus`
exactly as a user would, and prints the URL where the app answers.
`--down` removes the server.  State lives in .moorage-demo/ (git-ignored).
`--example NAME` (`--down --example NAME`): one of examples/*/ instead, see demo_examples.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from testbed import Testbed  # noqa: E402
from testbed.dm import DM_HOST, prepare_project  # noqa: E402
from testbed.dm_images import WEBAPP_V1, ensure_dm_image  # noqa: E402

STATE = ROOT / ".moorage-demo"


def down() -> int:
    """Remove the demo server and its state."""
    state_file = STATE / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        subprocess.run(["docker", "rm", "-f", "-v", state["container_id"]], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", state["volume"]], capture_output=True, check=False)
        print(f"removed the demo server {state['container_id'][:12]}")
    state_file.unlink(missing_ok=True)  # the examples' servers and state stay (demo_examples.py)
    (STATE / "id_ed25519").unlink(missing_ok=True)
    shutil.rmtree(STATE / "project", ignore_errors=True)
    return 0


def up() -> int:
    """Start the server, build the images, deploy, print the URL."""
    if (STATE / "state.json").exists():
        down()  # a fresh server each time: the demo shows a first deploy
    STATE.mkdir(exist_ok=True)
    testbed = Testbed(run_id="demo")
    server = testbed.start("dockerhost", name="dm", publish=(80,))
    key = STATE / "id_ed25519"
    shutil.copy(testbed.key_file, key)
    key.chmod(0o600)
    testbed.servers.clear()  # keep the server when this script ends; `--down` removes it
    (STATE / "state.json").write_text(json.dumps({"container_id": server.container_id,
                                                  "volume": server.volume or ""}))
    print("[demo] building the example images (cached after the first run)", flush=True)
    images = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
    images["webapp"] = WEBAPP_V1
    testbed.load_images(server, [images["nginx"], images["traefik"]])
    inventory = prepare_project(server, images, STATE / "project", key)
    command = [str(ROOT / ".venv/bin/moorage"), "deploy", "--host", "nexus", "--inventory", str(inventory)]
    print(f"[demo] {' '.join(command)}", flush=True)
    code = subprocess.run(command, check=False).returncode
    if code == 0:
        url = f"http://127.0.0.1:{server.ports[80]}/"
        print(f"\nThe app answers at {url} (Traefik routes it by the name {DM_HOST}):\n"
              f"  curl -H 'Host: {DM_HOST}' {url}\n"
              f"  curl -I -H 'Host: {DM_HOST}' {url}media/products/forest_path.png   # Server: nginx\n"
              f"Try: .venv/bin/moorage status --host nexus --inventory {inventory}\n"
              "Remove the server with: bash scripts/demo.sh --down")
    return code


def main(args: list[str]) -> int:
    """``[--down] [--example NAME]``; no --example: the DM stack."""
    if "--example" not in args:
        return down() if "--down" in args else up()
    import demo_examples

    name = args[args.index("--example") + 1] if args.index("--example") + 1 < len(args) else ""
    if name not in demo_examples.EXAMPLES:
        print(f"--example wants one of {', '.join(demo_examples.EXAMPLES)}, not {name!r}", file=sys.stderr)
        return 2
    return demo_examples.down(name) if "--down" in args else demo_examples.up(name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
