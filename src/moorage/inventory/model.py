"""The inventory as the engine sees it: environments, hosts, and their variables."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.errors import InputError, Location
from moorage.inventory.files import file_problems
from moorage.inventory.variables import Layer, Origin, VarSource, explain, merge_layers, resolve
from moorage.scalars import data
from moorage.schema import Problem, suggest
from moorage.target import Target


@dataclass
class Environment:
    """One environment (pc, nexus, vps): how its hosts are reached and which they are."""

    name: str
    connection: str
    production: bool
    hosts: list[str]
    location: Location
    orchestrator: str = "compose"  # or "swarm": the hosts are the nodes of one Docker Swarm


@dataclass(frozen=True)
class SwarmNode:
    """A host's part in its environment's swarm: ``role`` manager|worker, node ``labels``, and
    ``advertise_addr``: the address its peers reach it at."""

    role: str
    advertise_addr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Host:
    """One host: its target (how to reach it) and its layered variables."""

    name: str
    environment: str
    production: bool
    target: Target
    location: Location
    project: str
    fingerprint: str | None = None
    key_location: Location | None = None  # where its ssh_key is written (None: no key set)
    swarm: SwarmNode | None = None  # set in an environment with orchestrator: swarm
    layers: list[Layer] = field(default_factory=list, repr=False)
    inventory_dir: Path = field(default=Path("."), repr=False)

    @property
    def magic(self) -> dict[str, str]:
        """The variables moorage always sets (data: never rendered as templates); ``project_dir`` is
        the project root, the inventory directory's parent (where compose files and media are read);
        ``orchestrator`` its environment's: compose, or swarm (roles choose their steps by it)."""
        inventory_dir = self.inventory_dir.resolve()
        magic: dict[str, str] = data({"inventory_hostname": self.name, "environment_name": self.environment,
                     "project": self.project, "inventory_dir": str(inventory_dir),
                     "project_dir": str(inventory_dir.parent),
                     "orchestrator": "swarm" if self.swarm is not None else "compose"})
        return magic

    def _merged(self, defaults: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Origin]]:
        layers = [Layer(1, defaults)] if defaults else []
        return merge_layers([*layers, *self.layers])

    def variables(self, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The host's variables merged over ``defaults`` (level 1), secrets resolved."""
        values, origin = self._merged(defaults)
        return {**resolve(values, origin, self.inventory_dir), **self.magic}

    def unresolved(self, defaults: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Origin]]:
        """``(values, origin)``: the merged values as written (secrets still references, templates
        unrendered) and each one's ``(level, Location | None)``: where it was set."""
        return self._merged(defaults)

    def explain(self, defaults: Mapping[str, Any] | None = None) -> list[VarSource]:
        """Each variable's masked value, level and ``file:line`` (secrets must resolve)."""
        values, origin = self._merged(defaults)
        resolve(values, origin, self.inventory_dir)
        return explain(values, origin, self.magic)


@dataclass
class Inventory:
    """A loaded, validated inventory."""

    project: str
    path: Path
    environments: dict[str, Environment]
    hosts: dict[str, Host]
    known_hosts: Path
    files: list[Path] = field(default_factory=list)
    known_hosts_at: Location = field(default_factory=lambda: Location(""))  # where known_hosts is set

    def file_problems(self, hosts: list[Host] | None = None, present: bool = True) -> list[Problem]:
        """What is wrong with the known_hosts and private key files ``hosts`` (default: all) need
        (``inventory.files``); ``present``: a missing file is wrong too (before a run)."""
        chosen = list(self.hosts.values()) if hosts is None else hosts
        return file_problems(self.known_hosts, self.known_hosts_at, chosen, present)

    def with_variables(self, values: Mapping[str, Any], *, under_set: bool = False) -> Inventory:
        """A copy whose hosts also have ``values`` at level 5 (a recipe's own variables:
        ``release_id``, ``rollback_to``...), as data, never rendered.  They win over ``--set``,
        unless ``under_set``: then a ``--set`` of the same name wins."""
        if not values:
            return self
        layer = Layer(5, data(dict(values)))

        def layered(host: Host) -> list[Layer]:
            if not under_set:
                return [*host.layers, layer]
            below = [item for item in host.layers if item.level < 5]
            return [*below, layer, *host.layers[len(below):]]

        hosts = {name: dataclasses.replace(host, layers=layered(host)) for name, host in self.hosts.items()}
        return dataclasses.replace(self, hosts=hosts)

    def known_names(self) -> list[str]:
        """Environment and host names, in inventory order, without repeats."""
        names = list(self.environments)
        for env in self.environments.values():
            names += [h for h in env.hosts if h not in names]
        return names

    def select(self, pattern: str | list[str], location: Location | None = None) -> list[Host]:
        """The hosts named by ``pattern``: host names, environment names, ``all``; commas allowed."""
        items = [pattern] if isinstance(pattern, str) else list(pattern)
        names = [n.strip() for item in items for n in item.split(",") if n.strip()]
        if not names:
            raise InputError("no host given; name a host, an environment or all "
                             f"(known: {', '.join(self.known_names())})", location)
        chosen: list[str] = []
        for name in names:
            chosen += [h for h in self._expand(name, location) if h not in chosen]
        order = list(self.hosts)
        return [self.hosts[h] for h in sorted(chosen, key=order.index)]

    def _expand(self, name: str, location: Location | None) -> list[str]:
        if name == "all":
            return list(self.hosts)
        if name in self.environments:
            return list(self.environments[name].hosts)
        if name in self.hosts:
            return [name]
        known = self.known_names()
        raise InputError(f"unknown host or environment '{name}'{suggest(name, [*known, 'all'])}; "
                         f"known: {', '.join(known)}", location)
