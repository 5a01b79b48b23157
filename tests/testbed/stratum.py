"""Stratum's stand-in images (examples/stratum/app), built locally on the test webapp runtime.

``build_stratum("1.0.0")`` -> ``stratum/backend:1.0.0`` and ``stratum/frontend:1.0.0``: a few KB
each on top of ``moorage-test/webapp`` (Debian python3 + psycopg2), about a second per version
once that image exists.  Backend 1.0.x knows migration 1, later versions migrations 1 and 2.
``start_server(testbed)`` and ``prepare_project(server, root)``: the example's test server and its
copy pointed at it, used by tests/integration/test_example_stratum.py and scripts/demo.sh.
"""

from __future__ import annotations

from pathlib import Path

from testbed.example_copy import copy_example, edit_yaml, host_entry, pin_host
from testbed.images import build_tagged, ensure_image
from testbed.servers import Testbed, TestServer

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "stratum"


def build_stratum(version: str) -> list[str]:
    """Build the backend and frontend images of ``version``; returns their refs."""
    runtime = ensure_image("webapp")
    refs = []
    for part in ("backend", "frontend"):
        ref = f"stratum/{part}:{version}"
        build_tagged(EXAMPLE_DIR / "app" / part, [ref], {"RUNTIME": runtime, "APP_VERSION": version})
        refs.append(ref)
    return refs


def start_server(testbed: Testbed) -> TestServer:
    """The production server: a dockerhost publishing nginx (80), the frontend and the API."""
    server = testbed.start("dockerhost", name="stratum", publish=[80, 3000, 4001])
    assert server.exec("mkdir -p /etc/cron.d").returncode == 0   # where the daily job goes (no cron daemon needed)
    return server


def prepare_project(server: TestServer, root: Path, key: Path | None = None) -> Path:
    """The example in ``root``, its production host the server, its images the local stand-ins
    (stratum 1.0.0 and 1.1.0 built; postgres and nginx the test images)."""
    copy_example("stratum", root)
    with edit_yaml(root / "inventory" / "hosts.yml") as hosts:
        prod = hosts["environments"]["production"]
        prod["user"] = server.user   # the test server's login; a real server: the deploy user
        prod["hosts"]["prod"] = host_entry(server, key)
        prod["vars"].update(public_url=f"http://127.0.0.1:{server.ports[80]}",
                            postgres_image=ensure_image("postgres"), nginx_image=ensure_image("nginx"))
    pin_host(server, root)
    build_stratum("1.0.0")
    build_stratum("1.1.0")
    return root
