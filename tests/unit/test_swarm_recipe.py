"""Which host a swarm environment's deploy, rollback, status and logs go to, and the refusal of
`moorage swarm` on an environment that is not a swarm."""

from __future__ import annotations

import pytest

from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.recipes import swarm

HOSTS = """\
project: shop
environments:
  single:
    hosts: {box: {}}
  cluster:
    orchestrator: swarm
    hosts:
      w1: {swarm_role: worker}
      m1: {swarm_role: manager}
      m2: {swarm_role: manager}
"""


@pytest.fixture
def inventory(tmp_path):
    (tmp_path / "hosts.yml").write_text(HOSTS)
    return load_inventory(tmp_path)


@pytest.mark.parametrize(("target", "expected"), [
    ("cluster", ["m1"]),          # the first manager listed, once
    ("w1", ["m1"]),
    ("m2,box", ["box", "m1"]),    # a compose host stays itself
    ("all", ["box", "m1"]),
])
def test_a_swarm_is_deployed_on_its_first_manager(inventory, target, expected):
    assert [h.name for h in swarm.deploy_targets(inventory, inventory.select(target))] == expected


def test_the_orchestrator_is_a_variable_every_role_sees(inventory):
    assert inventory.hosts["w1"].variables()["orchestrator"] == "swarm"
    assert inventory.hosts["box"].variables()["orchestrator"] == "compose"


def test_forming_a_swarm_of_a_compose_environment_is_refused(inventory):
    with pytest.raises(InputError, match="environment 'single' is not one: give it orchestrator: swarm"):
        swarm.swarm_environments(inventory, inventory.select("box"), "swarm")
