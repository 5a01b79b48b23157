"""`demo.sh --example NAME`: one of examples/{stratum,mypacer,todoapp,korrigo} ready to try here.

Starts (or replaces) the example's stand-in test server, kept after this script ends, builds its
stand-in images and copies the example to .moorage-demo/NAME/ pointed at that server, exactly as
its integration test does (tests/testbed/NAME.py), then prints what to export and the README's
"Try it" commands to run from there.  `--down --example NAME` removes that server.
State: .moorage-demo/NAME/ (the project), NAME.json (the server's ids), NAME.id_ed25519 (its key).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from testbed import Testbed, TestServer, korrigo, mypacer, stratum, todoapp

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".moorage-demo"
SKIPPED = ("moorage trust", "moorage onboard")  # done here: the host key pinned, Docker running


@dataclass(frozen=True)
class Example:
    module: ModuleType  # tests/testbed/NAME.py: start_server(testbed[, token]), prepare_project(server, root, key)
    answers: Callable[[TestServer], str]  # where the app answers once deployed: curl lines
    token_var: str = ""  # the registry token variable the inventory reads: a fresh random value
    token_note: str = ""


EXAMPLES = {
    "stratum": Example(stratum, lambda s: f"curl http://127.0.0.1:{s.ports[80]}/api/v1/   # through nginx; "
                                          f"the frontend: curl http://127.0.0.1:{s.ports[80]}/"),
    "mypacer": Example(mypacer, lambda s: "\n  ".join(
        f"curl -k --resolve {d}:{s.ports[443]}:127.0.0.1 https://{d}:{s.ports[443]}/api/health   # {env}"
        for env, d in mypacer.DOMAINS.items()),
                       token_var="GHCR_TOKEN", token_note="what the stand-in registry accepts"),
    "todoapp": Example(todoapp, lambda s: f"curl http://127.0.0.1:{s.ports[5000]}/health   # the gateway; "
                                          f"the frontend: curl http://127.0.0.1:{s.ports[3000]}/"),
    "korrigo": Example(korrigo, lambda s: f"curl http://127.0.0.1:{s.ports[8088]}/api/version/",
                       token_var="GITHUB_TOKEN",
                       token_note="read by `check --host production`; staging here ships its images, no registry"),
}


def down(name: str) -> int:
    """Remove the example's server and its state."""
    state_file = STATE / f"{name}.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        subprocess.run(["docker", "rm", "-f", "-v", state["container_id"]], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "-f", state["volume"]], capture_output=True, check=False)
        print(f"removed the {name} server {state['container_id'][:12]}")
    state_file.unlink(missing_ok=True)
    (STATE / f"{name}.id_ed25519").unlink(missing_ok=True)
    shutil.rmtree(STATE / name, ignore_errors=True)
    return 0


def up(name: str) -> int:
    """Start the server, build and load the stand-ins, copy the example, print how to try it."""
    example = EXAMPLES[name]
    down(name)  # a fresh server each time: the README starts with a first deploy
    STATE.mkdir(exist_ok=True)
    token = secrets.token_urlsafe(18) if example.token_var else ""
    testbed = Testbed(run_id=f"demo-{name}")
    print(f"[demo] starting the {name} test server and building its stand-in images (cached after the "
          "first run)", flush=True)
    server = example.module.start_server(testbed, *([token] if example.module is mypacer else []))  # its registry
    testbed.servers.clear()  # keep the server when this script ends; `--down --example NAME` removes it
    (STATE / f"{name}.json").write_text(json.dumps({"container_id": server.container_id,
                                                    "volume": server.volume or ""}))
    key = STATE / f"{name}.id_ed25519"
    shutil.copy(testbed.key_file, key)
    key.chmod(0o600)
    project = example.module.prepare_project(server, STATE / name, key)
    check = subprocess.run([str(ROOT / ".venv/bin/moorage"), "check"], cwd=project, check=False)
    print(f"\nThe example is ready in {project}\n  its hosts point at the test server 127.0.0.1:{server.port} "
          "(host key pinned, Docker running: the README's trust and onboard are not needed)\n")
    print(f"  cd {project}\n  export PATH={ROOT / '.venv/bin'}:$PATH")
    if token:
        print(f"  export {example.token_var}={token}   # {example.token_note}")
    for line in readme_commands(ROOT / "examples" / name / "README.md"):
        print(f"  {line}")
    print(f"\nOnce deployed, the app answers:\n  {example.answers(server)}\n"
          f"Remove the server with: bash scripts/demo.sh --down --example {name}")
    return check.returncode


def readme_commands(readme: Path) -> list[str]:
    """The moorage command lines of the README's "## Try it" section, in order."""
    lines, inside = [], False
    for raw in readme.read_text().splitlines():
        if raw.startswith("## "):
            inside = raw.strip() == "## Try it"
        line = raw.strip()
        if inside and line.startswith("moorage ") and not line.startswith(SKIPPED):
            lines.append(line)
    return lines
