"""The zero-downtime test app behind the host's own nginx (tests/integration/test_zero_downtime_nginx.py,
bench/zero_downtime.py): tasklist (API + worker + PostgreSQL, as in testbed.zdt) on an ``nginxhost``
server, its API publishing port 8000 on an ephemeral loopback port and reached by nginx through
an upstream moorage rewrites (``host_nginx_locations: [{path: /, service: api, port: 8000}]``).

    write_project(root, server)            # host zdt, site zdt-production, server_name zdt.test
    Load(server.ports[80], "/version", host=HOST)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from testbed import write_inventory
from testbed.zdt import COMPOSE

HOST = "zdt.test"   # the site's server_name: requests carry it (Host header)
SITE = "zdt-production"
UPSTREAM = f"/etc/nginx/moorage-upstreams/{SITE}.api.8000.conf"


def compose() -> dict[str, Any]:
    """testbed.zdt's stack without Traefik: the API publishes 8000 on an ephemeral loopback port."""
    stack = copy.deepcopy(COMPOSE)
    api = stack["services"]["api"]
    del api["labels"], api["networks"]
    api["ports"] = ["127.0.0.1::8000"]
    del stack["networks"]
    return stack


def write_project(root: Path, server: Any, **variables: Any) -> None:
    """``root/compose.yml`` and ``root/inventory`` (host ``zdt``, proxy host_nginx, zero_downtime);
    ``variables`` override the inventory's.  Images: ``testbed.zdt.prepare_images``."""
    (root / "compose.yml").write_text(yaml.safe_dump(compose(), sort_keys=False))
    write_inventory(root / "inventory", {"zdt": server}, project="zdt", extra_vars={
        "app_dir": "/srv/zdt", "compose_source": ".", "compose_file": "compose.yml",
        "app_image": "tasklist/app:1.0", "app_images": ["{{ app_image }}", "moorage-test/postgres:latest"],
        "image_source": "ship", "migrate_service": "api", "migrate_command": "tasklist migrate",
        "app_env": {"APP_IMAGE": "{{ app_image }}", "DB_PASSWORD": {"generate": 24}, "SECRET_KEY": {"generate": 24}},
        "proxy": "host_nginx", "host_nginx_site": SITE, "host_nginx_server_name": HOST,
        "host_nginx_locations": [{"path": "/", "service": "api", "port": 8000}],
        "health_url": f"http://127.0.0.1:{server.ports[80]}/version", "health_headers": {"Host": HOST},
        "zero_downtime": True, **variables,
    })
