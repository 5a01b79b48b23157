"""Korrigo's stand-in images (examples/korrigo/app), tagged with the guide's GHCR refs.

``build_korrigo("v1.1.0", migrations=3)`` -> ``ghcr.io/korrigo-org/korrigo-backend:v1.1.0`` and
``.../korrigo-nginx:v1.1.0``: a few KB on top of the test webapp and nginx images, about a second
per version once those exist.  Nothing is pushed anywhere: the deploy ships them (image_source: ship).
``start_server(testbed)`` and ``prepare_project(server, root)``: the example's test server and its
copy pointed at it, used by tests/integration/test_example_korrigo.py and scripts/demo.sh.
"""

from __future__ import annotations

from pathlib import Path

from testbed.example_copy import copy_example, edit_yaml, host_entry, pin_host
from testbed.images import build_tagged, ensure_image
from testbed.servers import Testbed, TestServer

APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "korrigo" / "app"
OWNER = "korrigo-org"


def build_korrigo(version: str, migrations: int = 2, broken: bool = False) -> list[str]:
    """Build the backend and nginx images of ``version``; returns their refs.  ``migrations``: how
    many migrations the backend knows; ``broken``: its copy listing fails (its smoke test too)."""
    refs = []
    for name, runtime, args in (
            ("backend", ensure_image("webapp"), {"MIGRATIONS": str(migrations), "BROKEN": "1" if broken else ""}),
            ("nginx", ensure_image("nginx"), {})):
        ref = f"ghcr.io/{OWNER}/korrigo-{name}:{version}"
        build_tagged(APP_DIR / name, [ref], {"RUNTIME": runtime, "KORRIGO_VERSION": version, **args})
        refs.append(ref)
    return refs


def start_server(testbed: Testbed) -> TestServer:
    """The staging server: a dockerhost publishing the nginx service's port 8088."""
    return testbed.start("dockerhost", name="korrigo", publish=[8088])


def prepare_project(server: TestServer, root: Path, key: Path | None = None) -> Path:
    """The example in ``root``, its staging host the server, v1.0.0 (2 migrations), v1.0.1 (its
    smoke test fails) and v1.1.0 (3 migrations) built here and shipped by the deploys."""
    for version, migrations, broken in (("v1.0.0", 2, False), ("v1.0.1", 2, True), ("v1.1.0", 3, False)):
        build_korrigo(version, migrations, broken)
    copy_example("korrigo", root)
    with edit_yaml(root / "inventory" / "hosts.yml") as hosts:
        staging = hosts["environments"]["staging"]
        staging["user"] = server.user
        staging["hosts"]["staging"] = host_entry(server, key)
        staging["vars"].update(
            domain="127.0.0.1", site_url=f"http://127.0.0.1:{server.ports[8088]}", korrigo_sha="v1.0.0",
            postgres_image=ensure_image("postgres"), redis_image=ensure_image("redis"),
            image_source="ship", registry_login=[])  # no registry here: the images go from this machine
    pin_host(server, root)
    return root
