"""TodoApp's stand-ins (examples/todoapp/app) and its test server, for the tests and the demo.

``build_standins("1.0")`` -> ``todoapp/{private-api,public-api,frontend}:1.0`` (one build, three tags,
on the test webapp runtime).  ``start_server(testbed)``: a dockerhost publishing the gateway (5000)
and the frontend (3000).  ``prepare_project(server, root)``: the example in ``root``, its production
host the server, its images the stand-ins (1.0 and 1.1 built), the guide's subnets unless taken.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from testbed.example_copy import EXAMPLES, copy_example, edit_yaml, host_entry, pin_host
from testbed.images import build_tagged, ensure_image
from testbed.servers import Testbed, TestServer

HOST = "production"
NETWORKS = {"todo-db-network": "TODO_DB_SUBNET", "todo-api-network": "TODO_API_SUBNET",
            "todo-monitoring-network": "TODO_MONITORING_SUBNET", "todo-frontend-network": "TODO_FRONTEND_SUBNET"}


def build_standins(version: str) -> None:
    """todoapp/{private-api,public-api,frontend}:VERSION: one build of examples/todoapp/app, three tags."""
    tags = [f"todoapp/{name}:{version}" for name in ("private-api", "public-api", "frontend")]
    build_tagged(EXAMPLES / "todoapp" / "app", tags, {"RUNTIME": ensure_image("webapp"), "APP_VERSION": version})


def taken_subnets(server: TestServer) -> list[ipaddress.IPv4Network]:
    """What the server already routes: its own interfaces' networks and its Docker engine's."""
    routes = server.exec("cat /proc/net/route").stdout.decode().splitlines()[1:]
    taken = []
    for line in routes:
        fields = line.split()
        dest, mask = (ipaddress.IPv4Address(int(f, 16).to_bytes(4, "little")) for f in (fields[1], fields[7]))
        if int(mask):
            taken.append(ipaddress.IPv4Network(f"{dest}/{mask}", strict=False))
    listed = server.exec("docker network inspect --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' "
                         "$(docker network ls -q)").stdout.decode().split()
    return taken + [ipaddress.IPv4Network(s) for s in listed if ":" not in s]


def subnets_for(server: TestServer, wanted: dict[str, str]) -> dict[str, str]:
    """The guide's subnets, each swapped for a free 10.231.N.0/24 when the server already uses it
    (a test machine's Docker may hold any 172.x network)."""
    taken, spare = taken_subnets(server), (f"10.231.{n}.0/24" for n in range(1, 250))
    chosen = {}
    for key, subnet in wanted.items():
        while any(ipaddress.IPv4Network(subnet).overlaps(t) for t in taken):
            subnet = next(spare)
        chosen[key] = subnet
        taken.append(ipaddress.IPv4Network(subnet))
    return chosen


def start_server(testbed: Testbed) -> TestServer:
    """The production server: a dockerhost publishing the gateway (5000) and the frontend (3000)."""
    return testbed.start("dockerhost", name="todoapp", publish=(5000, 3000))


def prepare_project(server: TestServer, root: Path, key: Path | None = None) -> Path:
    """A copy of the example whose production host is the server and whose images are the
    stand-ins; the subnets the guide's when free there."""
    for name in ("postgres", "nginx", "busybox"):
        ensure_image(name)
    build_standins("1.0")
    build_standins("1.1")
    copy_example("todoapp", root)
    with edit_yaml(root / "inventory/hosts.yml") as hosts:
        production = hosts["environments"][HOST]
        production["user"] = server.user
        production["hosts"][HOST] = host_entry(server, key)
    pin_host(server, root)
    with edit_yaml(root / "inventory/group_vars/all.yml") as shared:
        shared.update(postgres_image=ensure_image("postgres"), gateway_image=ensure_image("nginx"),
                      monitoring_image=ensure_image("busybox"),
                      health_url=f"http://127.0.0.1:{server.ports[5000]}/health")  # the host's nginx is not ours
        env = shared["app_env"]
        env.update(subnets_for(server, {var: env[var] for var in NETWORKS.values()}))
    return root
