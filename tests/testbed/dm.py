"""The DM project pointed at a test server: what the deploy tests and the demo both deploy.

``prepare_project`` lays out a project directory like the repository (examples/ linked to the
repository's: the compose files and media DM's inventory names relative to the project root;
playbooks and roles are built in) with a copy of ``inventory/`` whose ``nexus`` environment is
the given test server, reached on 127.0.0.1, with the test images.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from testbed.servers import TestServer

ROOT = Path(__file__).resolve().parents[2]
DM_HOST = "dm.nexus.local"  # the Host header Traefik routes to the app (seed 000, nexus)
APP_DIR = "/srv/dm"


def prepare_project(server: TestServer, images: Mapping[str, str], dest: Path, key_file: Path | None = None,
                    **overrides: Any) -> Path:
    """Write the project into ``dest``; return its inventory directory.

    ``images`` maps webapp/postgres/nginx/traefik to image references; the app's images are
    shipped by moorage (``image_source: ship``), the proxy's must already be on the server.
    """
    dest.mkdir(parents=True, exist_ok=True)
    link = dest / "examples"
    if not link.exists():
        link.symlink_to(ROOT / "examples")
    inventory = dest / "inventory"
    shutil.rmtree(inventory, ignore_errors=True)
    shutil.copytree(ROOT / "inventory", inventory)
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    nexus = hosts["environments"]["nexus"]
    nexus["user"] = "root"
    nexus["hosts"]["nexus"] = {"address": server.address, "port": server.port,
                               "ssh_key": str(key_file or server.key_file)}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    (inventory / "known_hosts").write_text(server.known_hosts_file.read_text())
    (inventory / "host_vars").mkdir(exist_ok=True)
    (inventory / "host_vars" / "nexus.yml").write_text(yaml.safe_dump({
        "app_dir": APP_DIR, "traefik_dir": "/srv/shared/traefik", "nginx_static_dir": "/srv/shared/nginx-static",
        "web_image": images["webapp"], "db_image": images["postgres"], "image_source": "ship",
        "traefik_image": images["traefik"], "nginx_image": images["nginx"],
        "site_url": f"http://127.0.0.1:{server.ports[80]}", "health_headers": {"Host": DM_HOST},
        **overrides,
    }, sort_keys=False))
    return inventory
