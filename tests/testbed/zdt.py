"""The zero-downtime test app (tests/integration/test_zero_downtime.py, bench/zero_downtime.py): the
tutorial's tasklist (API + worker + PostgreSQL) with its API routed by the shared Traefik (labels,
no published port), and an inventory deploying it with ``zero_downtime`` on a dockerhost server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from testbed import write_inventory
from testbed.images import ensure_image
from testbed.tasklist import build_tasklist

COMPOSE = {
    "services": {
        "api": {
            "image": "${APP_IMAGE:?}",
            "command": ["tasklist", "${API_MODE:-serve}"],
            "environment": {"DB_HOST": "db", "DB_NAME": "tasks", "DB_USER": "tasks",
                            "DB_PASSWORD": "${DB_PASSWORD:?}", "SECRET_KEY": "${SECRET_KEY:?}"},
            "labels": {"traefik.enable": "true",
                       "traefik.http.routers.tasklist.rule": "PathPrefix(`/`)",
                       "traefik.http.routers.tasklist.entrypoints": "web",
                       "traefik.http.services.tasklist.loadbalancer.server.port": "8000"},
            "networks": ["default", "proxy"],
            "depends_on": {"db": {"condition": "service_healthy"}},
            "restart": "unless-stopped",
        },
        "worker": {
            "image": "${APP_IMAGE:?}", "command": ["tasklist", "worker"],
            "healthcheck": {"test": ["CMD", "test", "-e", "/tmp/worker-alive"], "interval": "2s", "retries": 10},
            "environment": {"DB_HOST": "db", "DB_NAME": "tasks", "DB_USER": "tasks",
                            "DB_PASSWORD": "${DB_PASSWORD:?}", "SECRET_KEY": "${SECRET_KEY:?}"},
            "depends_on": {"db": {"condition": "service_healthy"}},
            "restart": "unless-stopped",
        },
        "db": {
            "image": "moorage-test/postgres:latest",
            "environment": {"POSTGRES_DB": "tasks", "POSTGRES_USER": "tasks", "POSTGRES_PASSWORD": "${DB_PASSWORD:?}"},
            "volumes": ["pgdata:/var/lib/postgresql/data"],
            "healthcheck": {"test": ["CMD-SHELL", "pg_isready -q -h 127.0.0.1 -U tasks -d tasks"],
                            "interval": "2s", "retries": 15, "start_period": "30s"},
            "restart": "unless-stopped",
        },
    },
    "networks": {"proxy": {"name": "proxy", "external": True}},
    "volumes": {"pgdata": {}},
}


def prepare_images() -> None:
    """tasklist 1.0 and 1.1, PostgreSQL and Traefik, built here (they are shipped to the server)."""
    build_tasklist("1.0")
    build_tasklist("1.1")
    ensure_image("postgres")
    ensure_image("traefik")


def write_project(root: Path, server: Any, **variables: Any) -> None:
    """``root/compose.yml`` and ``root/inventory`` (host ``zdt``); ``variables`` override the inventory's."""
    (root / "compose.yml").write_text(yaml.safe_dump(COMPOSE, sort_keys=False))
    write_inventory(root / "inventory", {"zdt": server}, project="zdt", extra_vars={
        "app_dir": "/srv/zdt", "compose_source": ".", "compose_file": "compose.yml",
        "app_image": "tasklist/app:1.0", "app_images": ["{{ app_image }}", "moorage-test/postgres:latest"],
        "image_source": "ship", "migrate_service": "api", "migrate_command": "tasklist migrate",
        "app_env": {"APP_IMAGE": "{{ app_image }}", "DB_PASSWORD": {"generate": 24}, "SECRET_KEY": {"generate": 24}},
        "proxy": "traefik", "tls": "none", "traefik_image": "moorage-test/traefik:latest",
        "traefik_image_source": "ship", "traefik_retry_attempts": 10, "traefik_dial_timeout": "300ms",
        "zero_downtime": True, "traefik_project": "zdt-traefik", **variables,
    })
