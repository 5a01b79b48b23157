"""A 3-node Docker Swarm test bed (tests/integration/test_swarm.py): three dockerhost test servers on
one user-defined bridge network of their own, each engine loaded with the stack's images, and the
stack: the tutorial's tasklist API (2 replicas, start-first updates rolled back by Swarm on failure),
PostgreSQL pinned to the node labelled ``db=true``, and a global nginx edge publishing port 80 in
``mode: host`` on every node.

This machine's kernel has no IPVS (TESTBED.md): VIPs and the routing mesh can't work, so every
service is ``endpoint_mode: dnsrr`` and the edge resolves ``web`` through Docker's DNS each second.
"""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import yaml

from testbed import zdt
from testbed.images import ensure_image
from testbed.servers import Testbed, TestServer
from testbed.tasklist import build_tasklist

NODES = ("node1", "node2", "node3")
ENV = {"DB_HOST": "db", "DB_NAME": "tasks", "DB_USER": "tasks", "DB_PASSWORD": "${DB_PASSWORD:?}",
       "SECRET_KEY": "${SECRET_KEY:?}"}

EDGE_CONF = """\
server {
    listen 80 default_server;
    resolver 127.0.0.11 valid=1s ipv6=off;
    location / {
        set $up http://web:8000;
        proxy_pass $up;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_connect_timeout 1s;
    }
}
"""

STACK: dict[str, Any] = {
    "services": {
        "web": {
            "image": "${APP_IMAGE:?}",
            "command": ["tasklist", "${API_MODE:-serve}"],
            "environment": ENV,
            # compose config writes the long form, which docker stack deploy 20.10 refuses: moorage drops it
            "depends_on": {"db": {"condition": "service_started"}},
            "deploy": {
                "replicas": 2, "endpoint_mode": "dnsrr",
                "update_config": {"parallelism": 1, "order": "start-first", "failure_action": "rollback",
                                  "monitor": "8s", "delay": "1s"},
                "rollback_config": {"parallelism": 1, "order": "start-first"},
                "restart_policy": {"condition": "any", "delay": "1s"},
            },
        },
        # the tutorial's PostgreSQL (testbed.zdt), placed on the node labelled db=true
        "db": {**{k: v for k, v in zdt.COMPOSE["services"]["db"].items() if k != "restart"},
               "deploy": {"endpoint_mode": "dnsrr", "placement": {"constraints": ["node.labels.db == true"]}}},
        "edge": {
            "image": "moorage-test/nginx:latest",
            "configs": [{"source": "edge_conf", "target": "/etc/nginx/conf.d/default.conf"}],
            "ports": [{"target": 80, "published": 80, "protocol": "tcp", "mode": "host"}],
            "deploy": {"mode": "global", "endpoint_mode": "dnsrr"},
        },
    },
    "configs": {"edge_conf": {"file": "./edge.conf"}},
    "volumes": {"pgdata": {}},
}


def prepare_images() -> list[str]:
    """tasklist 1.0 and 1.1, PostgreSQL and nginx, built here; returns their refs."""
    return [build_tasklist("1.0"), build_tasklist("1.1"), ensure_image("postgres"), ensure_image("nginx")]


def start_nodes(testbed: Testbed, images: list[str]) -> dict[str, TestServer]:
    """Three dockerhost servers on a network of this run, port 80 published on loopback, each engine
    loaded with ``images`` (in parallel: one ``docker save | docker load`` per node)."""
    network = testbed.network("swarm")
    nodes = testbed.start_many(dict.fromkeys(NODES, "dockerhost"), publish=(80,), network=network)
    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
        for done in [pool.submit(testbed.load_images, node, images) for node in nodes.values()]:
            done.result()
    return nodes


def write_project(root: Path, nodes: dict[str, TestServer], **variables: Any) -> Path:
    """``root/stack/compose.yml`` + ``edge.conf`` and ``root/inventory``: environment ``swarm`` with
    node1 the manager labelled db=true and node2, node3 workers.  Returns the inventory directory."""
    from testbed.servers import write_inventory

    (root / "stack").mkdir(parents=True, exist_ok=True)
    (root / "stack" / "compose.yml").write_text(yaml.safe_dump(STACK, sort_keys=False))
    (root / "stack" / "edge.conf").write_text(EDGE_CONF)
    roles = {"node1": {"swarm_role": "manager", "swarm_labels": {"db": "true"},
                       "swarm_advertise_addr": nodes["node1"].network_address}}
    roles |= {name: {"swarm_role": "worker", "swarm_advertise_addr": nodes[name].network_address}
              for name in NODES[1:]}
    path = write_inventory(root / "inventory", nodes, {"swarm": list(NODES)}, project="swarmtest",
                           env_fields={"swarm": {"orchestrator": "swarm"}}, host_fields=roles, extra_vars={
        "app_dir": "/srv/swarmtest", "compose_source": "{{ inventory_dir }}/../stack",
        "compose_file": "compose.yml", "release_files": ["edge.conf"],
        "app_image": "tasklist/app:1.0", "app_images": ["{{ app_image }}"], "image_source": "ship",
        "migrate_service": "web", "migrate_command": "tasklist migrate",
        "swarm_addr_pool": "10.77.0.0/16", "api_mode": "serve",
        "app_env": {"APP_IMAGE": "{{ app_image }}", "API_MODE": "{{ api_mode }}", "DB_PASSWORD": {"generate": 24},
                    "SECRET_KEY": {"generate": 24}}, **variables})
    return path.parent
