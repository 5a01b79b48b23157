"""An environment that is a Docker Swarm: `orchestrator: swarm`, each host's `swarm_role`, labels
and advertise address, the mistakes `check` names with file:line, and which host a swarm's deploy,
rollback, status and logs go to."""

from __future__ import annotations

import pytest

from moorage.errors import InputError
from moorage.inventory import SwarmNode, load_inventory
from moorage.recipes import swarm

SWARM = """\
project: shop
environments:
  single:
    hosts: {box: {}}
  cluster:
    orchestrator: swarm
    hosts:
      n1: {address: 192.0.2.1, swarm_role: manager, swarm_labels: {db: "true"}}
      n2: {address: 192.0.2.2, swarm_role: worker, swarm_advertise_addr: 10.0.0.2}
"""


def load(tmp_path, text):
    (tmp_path / "hosts.yml").write_text(text)
    return load_inventory(tmp_path)


def errors_of(tmp_path, text):
    with pytest.raises(InputError) as caught:
        load(tmp_path, text)
    return [line.replace(str(tmp_path) + "/", "") for line in str(caught.value).splitlines()]


def test_a_swarm_environment_and_its_nodes(tmp_path):
    inv = load(tmp_path, SWARM)
    assert inv.environments["cluster"].orchestrator == "swarm"
    assert inv.environments["single"].orchestrator == "compose"
    assert inv.hosts["box"].swarm is None
    assert inv.hosts["n1"].swarm == SwarmNode("manager", "192.0.2.1", {"db": "true"})
    assert inv.hosts["n2"].swarm == SwarmNode("worker", "10.0.0.2", {})


@pytest.mark.parametrize(("text", "expected"), [
    (SWARM.replace("swarm_role: worker", "swarm_role: wroker"),
     ["hosts.yml:9: environments.cluster.hosts.n2.swarm_role: 'swarm_role' is 'wroker'; "
      "allowed values: manager, worker (did you mean 'worker'?)"]),
    (SWARM.replace("orchestrator: swarm", "orchestrator: swram"), None),
    (SWARM.replace("swarm_role: manager", "swarm_role: worker"),
     ["hosts.yml:6: environments.cluster: swarm environment 'cluster' has no manager: mark one host "
      "swarm_role: manager"]),
    (SWARM.replace("box: {}", "box: {swarm_role: manager}"),
     ["hosts.yml:4: environments.single.hosts.box.swarm_role: swarm_role needs the environment to be a "
      "swarm: add orchestrator: swarm to 'single'"]),
    (SWARM.replace("n2: {address: 192.0.2.2, swarm_role: worker, ", "n2: {address: 192.0.2.2, "),
     ["hosts.yml:9: environments.cluster.hosts.n2: host 'n2' is in swarm environment 'cluster' and needs "
      "swarm_role: manager or swarm_role: worker"]),
])
def test_swarm_mistakes_are_named(tmp_path, text, expected):
    found = errors_of(tmp_path, text)
    if expected is None:  # the orchestrator's typo: its file:line and the suggestion
        assert len(found) == 1 and found[0].startswith("hosts.yml:6:") and "(did you mean 'swarm'?)" in found[0]
    else:
        assert found == expected


@pytest.mark.parametrize(("target", "expected"), [
    ("cluster", ["n1"]),          # the first manager listed, once
    ("n2", ["n1"]),
    ("n2,box", ["box", "n1"]),    # a compose host stays itself
    ("all", ["box", "n1"]),
])
def test_a_swarm_is_deployed_on_its_first_manager(tmp_path, target, expected):
    inv = load(tmp_path, SWARM.replace("swarm_role: worker", "swarm_role: manager"))  # n1 is still first
    assert [h.name for h in swarm.deploy_targets(inv, inv.select(target))] == expected


def test_the_orchestrator_is_a_variable_every_role_sees(tmp_path):
    inv = load(tmp_path, SWARM)
    assert inv.hosts["n2"].variables()["orchestrator"] == "swarm"
    assert inv.hosts["box"].variables()["orchestrator"] == "compose"


def test_forming_a_swarm_of_a_compose_environment_is_refused(tmp_path):
    inv = load(tmp_path, SWARM)
    with pytest.raises(InputError, match="environment 'single' is not one: give it orchestrator: swarm"):
        swarm.swarm_environments(inv, inv.select("box"), "swarm")


@pytest.mark.parametrize("verb", ["restart", "stop", "start", "up", "down"])
def test_service_control_on_a_swarm_is_refused_before_any_connection(tmp_path, verb):
    """compose verbs would run against the manager's release directory, not the stack's services."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(SWARM + "vars: {app_dir: /srv/shop}\n")
    moorage = Path(sys.executable).parent / "moorage"
    proc = subprocess.run([str(moorage), verb, "--service", "api", "--host", "cluster"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"moorage {verb} works on compose environments only; 'cluster' is a swarm" in proc.stderr
