"""``swarm``: the Docker Swarm of each environment with ``orchestrator: swarm``, formed idempotently
(playbooks/swarm.yml, one play at a time, each fed what the play before read from another host):

1. the first manager (the first host marked ``swarm_role: manager``) initialises the swarm unless
   its engine is in one; its join tokens are read and masked;
2. every other node joins as its ``swarm_role`` through the first manager, the token on stdin;
3. the first manager sets each node's ``swarm_labels``.

A formed swarm reports ``changed=0``.  ``deploy`` on a swarm environment runs on its first manager
only (``deploy_targets``), after ``prepared``: the swarm formed and the release's images on every
other node (play 4); compose_app then deploys the stack there (``orchestrator`` is ``swarm``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from moorage.errors import InputError
from moorage.executor import Runner, RunOptions, RunResult
from moorage.inventory import Environment, Host, Inventory
from moorage.playbook import Playbook
from moorage.recipes.outcome import Outcome, finish
from moorage.recipes.play import Request
from moorage.report import Report

PLAYS = ("init", "join", "labels", "images")  # playbooks/swarm.yml's plays, in order


def swarm(request: Request, report: Report) -> int:
    """Form the swarm of every swarm environment the target names (a host names its environment);
    returns the exit status.  Raises ``InputError`` for a target outside any swarm environment."""
    inventory = request.inventory()
    playbook = request.project.load_playbook("swarm")
    environments = swarm_environments(inventory, inventory.select(request.target), "swarm")
    return finish([form(inventory, env, playbook, request.options, report) for env in environments], report)


def swarm_environments(inventory: Inventory, hosts: list[Host], task: str) -> list[Environment]:
    """The environments of ``hosts``, in order; ``InputError`` when one is not a swarm."""
    names = list(dict.fromkeys(host.environment for host in hosts))
    for name in names:
        env = inventory.environments[name]
        if env.orchestrator != "swarm":
            raise InputError(f"{task} forms a Docker Swarm, and environment '{name}' is not one: give it "
                             "orchestrator: swarm and each of its hosts a swarm_role", env.location)
    return [inventory.environments[name] for name in names]


def is_swarm(inventory: Inventory, host: Host) -> bool:
    """Whether ``host`` is a node of a swarm environment."""
    return inventory.environments[host.environment].orchestrator == "swarm"


def first_manager(inventory: Inventory, env: Environment) -> Host:
    """The host that initialises the swarm and runs its deploys: the first manager listed."""
    return next(inventory.hosts[name] for name in env.hosts
                if (node := inventory.hosts[name].swarm) is not None and node.role == "manager")


def deploy_targets(inventory: Inventory, hosts: list[Host]) -> list[Host]:
    """``hosts`` with each swarm node replaced by its swarm's first manager (once): a swarm has one
    release ledger, lock and stack, on that manager."""
    chosen: list[Host] = []
    for host in hosts:
        target = first_manager(inventory, inventory.environments[host.environment]) if host.swarm else host
        if target not in chosen:
            chosen.append(target)
    return chosen


def prepared(request: Request, report: Report, inventory: Inventory, host: Host) -> Outcome | None:
    """Before a deploy on a swarm's first manager ``host``: the swarm formed and the images on the
    other nodes.  None when that went well (or ``host`` is no swarm's); else the failed outcome."""
    if host.swarm is None or request.options.check:
        return None
    env = inventory.environments[host.environment]
    playbook = request.project.load_playbook("swarm")
    formed = form(inventory, env, playbook, request.options, report)
    if not formed.ok:
        return formed
    others = [inventory.hosts[name] for name in env.hosts if name != host.name]
    stage = _Stages(playbook, request.options, report, host.name)
    if others and stage.failed(stage.run(inventory, 3, others)):
        return stage.outcome
    return None


def form(inventory: Inventory, env: Environment, playbook: Playbook, options: RunOptions,
         report: Report) -> Outcome:
    """Steps 1-3 of the module docstring on ``env``'s hosts; the outcome is the first manager's."""
    if len(playbook.plays) != len(PLAYS):
        raise InputError(f"{playbook.path} must have {len(PLAYS)} plays ({', '.join(PLAYS)}), in order")
    hosts = [inventory.hosts[name] for name in env.hosts]
    leader = first_manager(inventory, env)
    others = [host for host in hosts if host is not leader]
    nodes = {host.name: _node(host) for host in hosts}
    base = inventory.with_variables({"swarm_nodes": nodes})
    stage = _Stages(playbook, options, report, leader.name)

    result = stage.run(base, 0, [leader])
    if stage.failed(result):
        return stage.outcome
    tokens = result.collected(leader.name, "swarm_tokens")
    if not tokens:  # check mode: the manager said whether it would initialise; nothing to join with
        return Outcome(leader.name, True, f"check mode: swarm {env.name} not changed; the joins and labels "
                       "need the manager's tokens, so they were not checked")
    ids = {leader.name: result.collected(leader.name, "swarm_node_ids")[0]}
    if others:
        manager = nodes[leader.name]["advertise_addr"]
        joining = base.with_variables({"swarm_tokens": tokens[0], "swarm_manager": manager})
        result = stage.run(joining, 1, others)
        if stage.failed(result):
            return stage.outcome
        ids |= {host.name: result.collected(host.name, "swarm_node_ids")[0] for host in others}
    labels = {ids[host.name]: nodes[host.name]["labels"] for host in hosts if nodes[host.name]["labels"]}
    if labels and stage.failed(stage.run(base.with_variables({"swarm_node_labels": labels}), 2, [leader])):
        return stage.outcome
    managers = sum(1 for node in nodes.values() if node["role"] == "manager")
    return Outcome(leader.name, True, f"swarm {env.name}: {len(hosts)} node(s), {managers} manager(s), "
                   f"{len(hosts) - managers} worker(s); {stage.changed} change(s)")


def _node(host: Host) -> dict[str, Any]:
    assert host.swarm is not None  # the inventory gives every host of a swarm environment one
    return {"role": host.swarm.role, "advertise_addr": host.swarm.advertise_addr, "labels": dict(host.swarm.labels)}


class _Stages:
    """Runs one play of the swarm playbook at a time and keeps the first failure's sentence."""

    def __init__(self, playbook: Playbook, options: RunOptions, report: Report, leader: str) -> None:
        self.playbook, self.options, self.report, self.leader = playbook, options, report, leader
        self.outcome = Outcome(leader, True, "")
        self.changed = 0

    def run(self, inventory: Inventory, index: int, hosts: list[Host]) -> RunResult:
        one = replace(self.playbook, plays=[self.playbook.plays[index]])
        result = Runner(inventory, self.options, self.report).run(one, hosts)
        self.changed += sum(1 for records in result.tasks.values() for r in records if r.status == "changed")
        return result

    def failed(self, result: RunResult) -> bool:
        """Whether ``result`` failed or was interrupted (then ``outcome`` says so)."""
        if not result.failed_hosts and not result.interrupted:
            return False
        hosts = sorted(result.failed_hosts | set(result.interrupted))
        failures = [f"{host}: '{r.task}': {(r.message or '').splitlines()[0] if r.message else 'failed'}"
                    for host in hosts for r in result.tasks.get(host, []) if r.status == "failed"]
        self.outcome = Outcome(self.leader, False, "forming the swarm stopped at " + ("; ".join(failures) or
                               ", ".join(hosts)), interrupted=bool(result.interrupted) and not result.failed_hosts)
        return True
