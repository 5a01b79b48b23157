"""moorage on a 3-node Docker Swarm of real test servers (tests/testbed/swarm.py): three dockerhost
servers on a network of this run form the swarm by `moorage swarm` (node1 manager labelled
db=true, node2 and node3 workers); a second run changes nothing and no join token is ever shown.
Then, in order (module-scoped: each test starts where the one before left the swarm), `moorage
deploy` of tasklist 1.0 (2 replicas, start-first, Swarm rolls a failed update back), `deploy --check`
of 1.1 (per-service changes, nothing deployed), 1.1 under load through a worker's published port
(0 failed; a verified database backup before its migrations), a no-change deploy (changed=0, no stack deploy),
`moorage rollback`, and a broken release Swarm rolls back by itself (recorded failed).
"""

from __future__ import annotations

import json
import time

import pytest
import yaml
from testbed.load import Load
from testbed.swarm import prepare_images, start_nodes, write_project

from .helpers import Run, moorage, request

FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module")
def swarm(testbed, tmp_path_factory):
    """The three nodes and the project; not yet a swarm."""
    started = time.monotonic()
    nodes = start_nodes(testbed, prepare_images())
    FIGURES["nodes up and loaded (s)"] = round(time.monotonic() - started, 1)
    root = tmp_path_factory.mktemp("swarm")
    write_project(root, nodes, health_url=f"http://127.0.0.1:{nodes['node1'].ports[80]}/healthz",
                  health_timeout=120, api_mode="serve", compose_wait_timeout=150,
                  backup_databases=[{"service": "db"}])
    yield nodes, root
    print("swarm figures:", FIGURES)


def node_ls(node) -> list[str]:
    out = node.exec("docker node ls --format '{{.Hostname}} {{.ManagerStatus}} {{.Status}}'").stdout.decode()
    return sorted(out.split("\n")[:-1])


def test_the_servers_form_a_swarm_once_and_never_show_a_token(swarm):
    nodes, root = swarm
    started = time.monotonic()
    first = moorage("swarm", "--host", "swarm", "--json", cwd=root, timeout=300)
    FIGURES["swarm formed (s)"] = round(time.monotonic() - started, 1)
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    assert node_ls(nodes["node1"]) == ["node1 Leader Ready", "node2  Ready", "node3  Ready"]
    labels = nodes["node1"].exec("docker node inspect --format '{{json .Spec.Labels}}' node1").stdout.decode()
    assert labels.strip() == '{"db":"true"}'
    tokens = nodes["node1"].exec("docker swarm join-token -q worker; docker swarm join-token -q manager")
    for token in tokens.stdout.decode().split():
        assert token not in first.stdout + first.stderr
    assert first.recap("node1")["changed"] == 2 and first.recap("node2")["changed"] == 1

    again = moorage("swarm", "--host", "swarm", "--json", cwd=root, timeout=300)
    assert again.code == 0, again.stdout[-3000:] + again.stderr
    assert [again.recap(n)["changed"] for n in ("node1", "node2", "node3")] == [0, 0, 0]


def deploy(root, *args: str) -> Run:
    started = time.monotonic()
    run = moorage("deploy", "--host", "swarm", "--json", *args, cwd=root, timeout=900)
    run.seconds = round(time.monotonic() - started, 1)  # type: ignore[attr-defined]
    return run


def version(node) -> str:
    answer = request(node.ports[80], "/version")
    return str(yaml.safe_load(answer.text).get("version")) if answer.status == 200 else f"HTTP {answer.status}"


def ledger(node) -> tuple[str, dict[str, str]]:
    """The current release's id and each release's state, as the manager records them."""
    current = node.exec("readlink /srv/swarmtest/current").stdout.decode().strip().rsplit("/", 1)[-1]
    states = node.exec("cd /srv/swarmtest/releases && for r in *; do echo \"$r $(cat $r/.state)\"; done")
    return current, dict(line.split() for line in states.stdout.decode().splitlines())


def test_deploy_v1_to_the_swarm_answers_on_every_node(swarm):
    nodes, root = swarm
    run = deploy(root)
    FIGURES["first deploy (s)"] = run.seconds
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    assert [version(nodes[n]) for n in ("node1", "node2", "node3")] == ["1.0"] * 3
    tasks = nodes["node1"].exec("docker service ps --filter desired-state=running --format '{{.Node}}' "
                                "swarmtest_db").stdout.decode().split()
    assert tasks == ["node1"]  # pinned by the label
    assert "stack.yml" in nodes["node1"].exec("ls /srv/swarmtest/current/").stdout.decode()


def test_check_mode_shows_the_changes_per_service_and_deploys_nothing(swarm):
    nodes, root = swarm
    run = deploy(root, "--check", "--set", "app_image=tasklist/app:1.1")
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    stack = [t for t in run.tasks("node1") if t["task"].startswith("stack swarmtest deployed")]
    summary = stack[0].get("summary") or ""
    assert "web: image tasklist/app:1.0 -> tasklist/app:1.1" in summary, stack
    assert "db: unchanged" in summary and "edge: unchanged" in summary, summary
    image = nodes["node1"].exec("docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "
                                "swarmtest_web").stdout.decode()
    assert image.startswith("tasklist/app:1.0")
    assert [version(nodes[n]) for n in ("node1", "node2", "node3")] == ["1.0"] * 3


def test_update_to_v2_drops_no_request(swarm):
    nodes, root = swarm
    with Load(nodes["node2"].ports[80], "/version", rate=20) as load:
        run = deploy(root, "--set", "app_image=tasklist/app:1.1")
    FIGURES["update 1.0 -> 1.1 (s)"] = run.seconds
    FIGURES["update load failed/sent"] = f"{load.failed}/{load.sent}"
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    assert [version(nodes[n]) for n in ("node1", "node2", "node3")] == ["1.1"] * 3
    assert load.failed == 0, load.report()
    # before the migrations: a verified dump of the stack's database (its task on the manager)
    records = nodes["node1"].exec("cat /srv/swarmtest/backups/swarmtest-swarm-db-*.dump.json").stdout.decode()
    assert [json.loads(line)["state"] for line in records.splitlines()] == ["verified"], records


def test_a_no_change_deploy_changes_nothing(swarm):
    _, root = swarm
    run = deploy(root, "--set", "app_image=tasklist/app:1.1")
    FIGURES["no-change deploy (s)"] = run.seconds
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    changed = [(t["task"], t.get("summary")) for t in run.tasks("node1", "changed")]
    assert run.recap("node1")["changed"] == 0, changed
    stack = [t for t in run.tasks("node1") if t["task"].startswith("stack swarmtest deployed")]
    assert [t["status"] for t in stack] == ["skipped"]


def test_a_backup_of_the_swarm_environment_runs_on_its_first_manager(swarm):
    """`moorage backup --host swarm` (the environment): one verified dump, made on node1 where the
    database task runs; the workers are not asked (they hold no release, no backups)."""
    nodes, root = swarm
    run = moorage("backup", "--host", "swarm", cwd=root, timeout=300)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert "node2" not in run.stdout and "node3" not in run.stdout, run.stdout
    records = nodes["node1"].exec("cat /srv/swarmtest/backups/swarmtest-swarm-db-*.dump.json").stdout.decode()
    assert [json.loads(line)["state"] for line in records.splitlines()] == ["verified", "verified"], records


def test_status_logs_and_exec_reach_the_swarm(swarm):
    _, root = swarm
    status = moorage("status", "--host", "node2", "--json", cwd=root)  # any node: its swarm's first manager
    assert status.code == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert report["host"] == "node1" and report["state"] == "live"
    assert {s["service"]: s["replicas"] for s in report["services"]} == {
        "swarmtest_db": "1/1", "swarmtest_edge": "3/3", "swarmtest_web": "2/2"}
    logs = moorage("logs", "--host", "swarm", "--service", "web", "--tail", "5", cwd=root)
    assert logs.code == 0 and "swarmtest_web." in logs.stdout, logs.stdout + logs.stderr
    inside = moorage("exec", "--host", "swarm", "--service", "web", "--", "cat", "/app/VERSION", cwd=root)
    assert inside.code == 0 and inside.stdout.strip() == "1.1", inside.stdout + inside.stderr
    # run: a one-off container on the manager, on the stack's network (it resolves the database)
    once = moorage("run", "--host", "swarm", "--service", "web", "--", "sh", "-c",
                   "cat /app/VERSION && getent hosts db >/dev/null && echo db-resolves", cwd=root)
    assert once.code == 0 and once.stdout.split() == ["1.1", "db-resolves"], once.stdout + once.stderr
    missing = moorage("exec", "--host", "swarm", "--service", "nope", "--", "true", cwd=root)
    assert missing.code == 2 and "no compose service 'nope'" in missing.stderr, missing.stderr


def test_rollback_brings_v1_back(swarm):
    nodes, root = swarm
    started = time.monotonic()
    run = moorage("rollback", "--host", "swarm", "--to", "previous", "--json", cwd=root, timeout=600)
    FIGURES["rollback (s)"] = round(time.monotonic() - started, 1)
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    assert [version(nodes[n]) for n in ("node1", "node2", "node3")] == ["1.0"] * 3


def test_a_broken_release_swarm_rolls_back_is_recorded_failed(swarm):
    nodes, root = swarm
    before, _ = ledger(nodes["node1"])
    with Load(nodes["node3"].ports[80], "/version", rate=20) as load:
        run = deploy(root, "--set", "app_image=tasklist/app:1.1", "--set", "api_mode=healthcheck")
    FIGURES["broken release, auto-rolled back (s)"] = run.seconds
    FIGURES["broken release load failed/sent"] = f"{load.failed}/{load.sent}"
    assert run.code != 0
    assert "rolled the update of swarmtest_web back by itself" in run.stdout
    current, states = ledger(nodes["node1"])
    assert current == before  # the stack file current holds on the manager is the one that runs
    assert "failed" in states.values(), states
    assert [version(nodes[n]) for n in ("node1", "node2", "node3")] == ["1.0"] * 3
    assert load.failed == 0, load.report()
