"""The stacks bench/zero_downtime.py switches: each one a test server, a project deploying it with
``zero_downtime`` on, and three releases (v1, v2 with a migration, a broken one).

Adding a stack is one entry in ``STACKS``.  A stack built on the tasklist app (tests/testbed/zdt.py
and its siblings: ``prepare_images()`` and ``write_project(root, server, **variables)`` writing an
inventory whose host is ``zdt``) is ``tasklist_stack(name, module)``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from testbed import Testbed, TestServer, zdt, zdt_nginx
from testbed.dm import APP_DIR as DM_APP_DIR
from testbed.dm import DM_HOST, prepare_project
from testbed.dm_images import WEBAPP_V1, build_webapp_version, ensure_dm_image
from testbed.images import APP_DIR as DM_SOURCE
from testbed.images import build_tagged

# What every moorage-deployed stack of the bench sets beside zero_downtime: Traefik retries a request
# whose backend connection fails (a container being stopped) on another container, and gives up on a
# connection after 300 ms instead of 30 s (README "Zero-downtime deploys and rollbacks").
ZERO_DOWNTIME = {"zero_downtime": True, "traefik_retry_attempts": 10, "traefik_dial_timeout": "300ms"}


@dataclass(frozen=True)
class Release:
    version: str                                    # what the app says it is once live ("" = never live)
    image: str
    env: dict[str, str] = field(default_factory=dict)   # app_env_extra / the plain compose's environment


@dataclass(frozen=True)
class Deployed:
    server: TestServer
    moorage_args: tuple[str, ...]                   # --host H [--inventory DIR]: where every command goes
    cwd: Path
    app_dir: str                                    # on the server: app_dir/current is the live release


@dataclass(frozen=True)
class Stack:
    name: str
    start: Callable[[Testbed, Path, dict[str, Any]], Deployed]   # a server with the images, the project
                                                    # (these variables added) written in a dir
    image_var: str                                  # the inventory variable naming the app's image
    image_env: str                                  # the compose interpolation variable of that image
    migrate: tuple[str, str]                        # (service, command) of the migrations
    path: str                                       # what the load requests
    version: Callable[[int, dict[str, str], bytes], str]   # (status, headers, body) -> the served version
    v1: Release
    v2: Release
    broken: Release
    host: str | None = None                         # the Host header Traefik routes by
    plain: bool = True                              # a plain `docker compose up -d --wait` row


# -- tasklist (API + worker + PostgreSQL), Traefik ----------------------------------------------
def tasklist_version(status: int, headers: dict[str, str], body: bytes) -> str:
    try:
        return str(json.loads(body).get("version", "")) if status == 200 else ""
    except ValueError:
        return ""


def tasklist_stack(name: str, module: ModuleType, kind: str = "dockerhost", **changes: Any) -> Stack:
    """A stack of the tasklist app whose project ``module.write_project`` writes (host ``zdt``) on a
    test server of ``kind``."""
    def start(testbed: Testbed, root: Path, variables: dict[str, Any]) -> Deployed:
        zdt.prepare_images()
        server = testbed.start(kind, name="zdtbench")
        module.write_project(root, server, **ZERO_DOWNTIME, **variables)
        return Deployed(server, ("--host", "zdt"), root, "/srv/zdt")

    stack = Stack(name, start, "app_image", "APP_IMAGE", ("api", "tasklist migrate"), "/version",
                  tasklist_version, Release("1.0", "tasklist/app:1.0"), Release("1.1", "tasklist/app:1.1"),
                  Release("", "tasklist/app:1.1", {"API_MODE": "crash"}))
    return Stack(**{**stack.__dict__, **changes})


# -- DM (web + PostgreSQL, nginx-static for media), Traefik -------------------------------------
DM_V2 = "moorage-test/webapp:zdt-v2"     # v2 with a migration of its own (0004, additive)
DM_BROKEN = "moorage-test/webapp:zdt-v3"  # readiness never passes (HEALTH_FAIL=1)
# Additive, so v1 still runs on the migrated schema (it selects its columns by name): the case the
# start-first switch is for.  v2's readiness waits for it, like Django's unapplied-migrations check.
MIGRATION_0004 = ('\nMIGRATIONS.append(("0004_product_note", lambda cur: cur.execute(\n'
                  '    "ALTER TABLE products ADD COLUMN note varchar(200) NOT NULL DEFAULT \'\'")))\n')


def build_dm_images() -> dict[str, str]:
    """The DM images: v1 (the test webapp), v2 = v1's code + migration 0004, the broken v3."""
    refs = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        code = (DM_SOURCE / "app.py").read_text()
        marker = "MIGRATION_LOCK = "
        assert marker in code, "examples/dm/app/app.py: where its migrations end moved"
        (context / "app.py").write_text(code.replace(marker, MIGRATION_0004 + marker, 1))
        for name in ("entrypoint.sh", "Dockerfile"):
            (context / name).write_bytes((DM_SOURCE / name).read_bytes())
        for name in ("app.py", "entrypoint.sh"):
            (context / name).chmod((DM_SOURCE / name).stat().st_mode & 0o777)
        build_tagged(context, [DM_V2], {"BASE_IMAGE": WEBAPP_V1, "APP_VERSION": "v2"})
    build_webapp_version(DM_BROKEN, "v3", HEALTH_FAIL="1")
    return refs


def dm_version(status: int, headers: dict[str, str], body: bytes) -> str:
    return headers.get("x-app-version", "") if status == 200 else ""


def start_dm(testbed: Testbed, root: Path, variables: dict[str, Any]) -> Deployed:
    """The DM project as tests/integration/test_deploy_dm.py deploys it (nexus: HTTP through Traefik
    at dm.nexus.local), with the zero-downtime settings the DM inventory would need."""
    refs = build_dm_images()
    server = testbed.start("dockerhost", name="dmbench", publish=(80,))
    testbed.load_images(server, [refs["nginx"], refs["traefik"]])  # the proxy's images; the app's ship
    inventory = prepare_project(server, {**refs, "webapp": WEBAPP_V1}, root, health_timeout=40,
                                compose_wait_timeout=60, **{**ZERO_DOWNTIME, **variables})
    server.exec(f"mkdir -p {DM_APP_DIR}/media/products")
    return Deployed(server, ("--host", "nexus", "--inventory", str(inventory)), root, DM_APP_DIR)


DM = Stack("DM, Traefik", start_dm, "web_image", "WEB_IMAGE", ("web", "app migrate"), "/", dm_version,
           Release("v1", WEBAPP_V1), Release("v2", DM_V2), Release("", DM_BROKEN), host=DM_HOST)

STACKS: dict[str, Stack] = {
    "tasklist": tasklist_stack("tasklist, Traefik", zdt),
    "dm": DM,
    # the host's own nginx, an upstream moorage rewrites (no plain row: plain compose can't follow ports)
    "tasklist-nginx": tasklist_stack("tasklist, host nginx", zdt_nginx, kind="nginxhost", plain=False,
                                     host=zdt_nginx.HOST),
}
