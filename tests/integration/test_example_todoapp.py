"""examples/todoapp (seed 003) as its team runs it: the seven compose files, three PostgreSQL
instances each backed up and restored alone, four networks with fixed subnets, the public API
scaled to 3, and the guide's "démarrage sélectif" as ``moorage up|stop|down --part``.

One test server (its own Docker engine) for the module, the production environment (monitoring
on), every command through the ``moorage`` CLI from a copy of the example's directory.  The tests
run in order, each going on from the state the one before left.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from testbed import todoapp
from testbed.todoapp import NETWORKS

from .helpers import moorage, request

HOST = "production"
DATABASES = {"config": ("postgres-config", "todo_config"), "user": ("postgres-user", "todo_user"),
             "intern": ("postgres-intern", "todo_intern")}
MONITORING = ["alertmanager", "cadvisor", "grafana", "node-exporter", "prometheus"]


@pytest.fixture(scope="module")
def server(testbed):
    server = todoapp.start_server(testbed)
    yield server
    testbed.stop(server)


@pytest.fixture(scope="module")
def project(server, tmp_path_factory) -> Path:
    """A copy of the example whose production host is the test server and whose images are the
    stand-ins; the subnets the guide's when free there."""
    return todoapp.prepare_project(server, tmp_path_factory.mktemp("todoapp") / "todoapp")


def run(project: Path, *args: str, timeout: float = 600):
    return moorage(*args, cwd=project, timeout=timeout)


def containers(server, service: str, status: str = "running") -> list[str]:
    """The ids of ``service``'s containers in ``status`` (``any``: whatever their state)."""
    state = "-a" if status == "any" else f"--filter status={status}"
    out = server.exec(f"docker ps -q {state} --filter label=com.docker.compose.project=todoapp "
                      f"--filter label=com.docker.compose.service={service}")
    return out.stdout.decode().split()


def health(server, port: int = 5000, path: str = "/health") -> tuple[int, dict]:
    try:
        answer = request(server.ports[port], path, timeout=5)
    except OSError:
        return 0, {}
    return answer.status, json.loads(answer.body) if answer.body.startswith(b"{") else {}


def until(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return result


def sql(project: Path, label: str, statement: str) -> str:
    service, database = DATABASES[label]
    done = run(project, "exec", "--host", HOST, "--service", service, "--",
               "psql", "-U", "todo", "-d", database, "-qAt", "-c", statement)
    assert done.code == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_deploy_with_monitoring(project, server):
    checked = run(project, "check", "--host", HOST)
    assert checked.code == 0, checked.stdout + checked.stderr   # the preflight of production passes
    deployed = run(project, "deploy", "--host", HOST)
    assert deployed.code == 0, deployed.stdout[-4000:] + deployed.stderr
    assert len(containers(server, "public-api")) == 3
    status, body = health(server)
    assert status == 200 and body["role"] == "public-api" and body["version"] == "1.0"
    assert body["databases"] == {"todo_user": "ok", "todo_config": "ok"}
    assert health(server, path="/api/private/health")[1]["databases"] == {"todo_config": "ok", "todo_intern": "ok"}
    assert b"TodoApp 1.0" in request(server.ports[3000], "/").body
    assert all(containers(server, name) for name in MONITORING)
    env = yaml.safe_load((project / "inventory/group_vars/all.yml").read_text())["app_env"]
    for network, key in NETWORKS.items():
        inspected = server.exec(f"docker network inspect {network} --format "
                                "'{{range .IPAM.Config}}{{.Subnet}}{{end}} {{range .Containers}}{{.Name}} {{end}}'")
        subnet, *members = inspected.stdout.decode().split()
        assert subnet == env[key], network
        if network == "todo-db-network":   # the databases are reached by the APIs only
            assert not [m for m in members if "gateway" in m or "frontend" in m], members
        if network == "todo-frontend-network":
            assert sorted(m.split("-")[1] for m in members) == ["frontend", "gateway"], members


def test_three_databases_backed_up_and_one_restored_alone(project, server):
    for label in DATABASES:
        sql(project, label, f"create table notes (note text); insert into notes values ('{label} before')")
    backup = run(project, "backup", "--host", HOST)
    assert backup.code == 0, backup.stdout[-3000:] + backup.stderr
    listed = run(project, "backup", "--host", HOST, "--list", "--json")
    assert sum(f"-{label}-" in listed.stdout for label in DATABASES) == 3, listed.stdout
    for label in DATABASES:
        sql(project, label, f"insert into notes values ('{label} after')")

    wrong = run(project, "restore", "--host", HOST, "--database", "usr", "--yes")
    assert wrong.code == 2 and "did you mean 'user'?" in wrong.stderr, wrong.stdout + wrong.stderr
    restored = run(project, "restore", "--host", HOST, "--database", "user", "--yes")
    assert restored.code == 0, restored.stdout[-3000:] + restored.stderr
    assert sql(project, "user", "select note from notes order by note") == "user before"
    for label in ("config", "intern"):   # untouched
        assert sql(project, label, "select note from notes order by note") == f"{label} after\n{label} before"
    assert until(lambda: health(server)[0] == 200)
    assert len(containers(server, "public-api")) == 3   # the stack came back at the release's scale


def volumes(server) -> set[str]:
    return set(server.exec("docker volume ls -q").stdout.decode().split())


def test_parts_stop_up_down(project, server):
    stopped = run(project, "stop", "--host", HOST, "--part", "api")
    assert stopped.code == 0, stopped.stdout + stopped.stderr
    assert not containers(server, "public-api") and len(containers(server, "public-api", "exited")) == 3
    assert health(server)[0] == 0                         # the gateway is in the api part
    assert request(server.ports[3000], "/").status == 200  # the frontend part runs on

    up = run(project, "up", "--host", HOST, "--part", "api")
    assert up.code == 0, up.stdout + up.stderr
    assert len(containers(server, "public-api")) == 3     # compose_scale kept
    assert until(lambda: health(server)[0] == 200)

    data = {f"todoapp_postgres-{label}-data" for label in DATABASES}
    assert data <= volumes(server)
    down = run(project, "down", "--host", HOST, "--part", "db")
    assert down.code == 0, down.stdout + down.stderr
    assert not any(containers(server, service, "any") for service, _ in DATABASES.values())
    assert data <= volumes(server)                        # never a volume
    back = run(project, "up", "--host", HOST, "--part", "db,api")
    assert back.code == 0, back.stdout + back.stderr
    assert sql(project, "user", "select note from notes order by note") == "user before"
    assert sql(project, "config", "select count(*) from notes") == "2"
    assert until(lambda: health(server)[0] == 200)
    audit = server.exec("cat /home/deploy/todoapp/.moorage/audit.log").stdout.decode()
    assert " stop " in audit and "parts=api" in audit and " down " in audit and "parts=db" in audit, audit


def test_a_wrong_part_is_refused_with_did_you_mean(project):
    wrong = run(project, "stop", "--host", HOST, "--part", "fronted")
    assert wrong.code == 2, wrong.stdout + wrong.stderr
    assert "no part 'fronted' (did you mean 'frontend'?)" in wrong.stderr
    assert "its parts: api, db, frontend, monitoring" in wrong.stderr


def test_the_update_is_one_deploy(project, server):
    updated = run(project, "deploy", "--host", HOST, "--set", "app_tag=1.1")
    assert updated.code == 0, updated.stdout[-4000:] + updated.stderr
    assert health(server)[1]["version"] == "1.1"
    assert len(containers(server, "public-api")) == 3
    ledger = json.loads(run(project, "releases", "--host", HOST, "--json").stdout)
    assert ledger["releases"][0]["id"] == ledger["current"]
    assert "backup" in json.dumps(ledger["releases"][0])   # the verified backup of the 3 databases came first
    assert sql(project, "user", "select note from notes") == "user before"
