"""Environments sharing one server must not share what makes an app its own there: two hosts of
the inventory with the same SSH address and port (staging and production on one VPS) need their
own ``app_dir`` and ``compose_project`` (else one deploy replaces the other's stack), and, where
a proxy routes by name (``proxy: traefik`` or ``host_nginx``), their own ``domain`` (else one
environment's health gate is answered by the other's app: a staging deploy passed on production's
site).  ``check --host H`` compares H with every other host on H's server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moorage.errors import InputError
from moorage.inventory import Host, Inventory
from moorage.playbook import Play
from moorage.schema import Problem
from moorage.templating import render_keys
from moorage.yamlsrc import merge_sourced

KEYS = ("app_dir", "compose_project", "domain", "proxy")
ROUTED = ("traefik", "host_nginx")


def shared_server_problems(host: Host, inventory: Inventory, plays_of: Callable[[Host], list[Play]]) -> list[Problem]:
    """A problem (at ``host``'s setting of the key) for each key ``host`` shares with another host
    on its server; [] when no other host is on it, or when values can't be rendered yet."""
    if host.target.connection != "ssh":
        return []
    mine = _values(host, plays_of(host))
    if mine is None:
        return []
    found = []
    for other in inventory.hosts.values():
        if other.name == host.name or other.target.connection != "ssh" or \
                (other.target.address, other.target.port) != (host.target.address, host.target.port):
            continue
        theirs = _values(other, plays_of(other))
        if theirs is None:
            continue
        keys = ["app_dir", "compose_project"]
        if mine["proxy"] in ROUTED and theirs["proxy"] in ROUTED and mine["domain"]:
            keys.append("domain")
        found += [_problem(host, plays_of(host), key, other, mine[key]) for key in keys
                  if mine[key] and mine[key] == theirs[key]]
    return found


def _values(host: Host, plays: list[Play]) -> dict[str, Any] | None:
    try:
        return render_keys(host.variables(merge_sourced(*(p.defaults() for p in plays))), KEYS)
    except InputError:
        return None


def _problem(host: Host, plays: list[Play], key: str, other: Host, value: Any) -> Problem:
    origin = host.unresolved(merge_sourced(*(p.defaults() for p in plays)))[1]
    why = {"app_dir": "one deploy would replace the other's releases",
           "compose_project": "one deploy would replace the other's containers",
           "domain": "the proxy would send one environment's requests (and its health gate) to the other's app"}[key]
    return Problem(origin.get(key, (0, None))[1] or host.location, "",
                   f"host '{host.name}' and host '{other.name}' are on one server "
                   f"({host.target.address}:{host.target.port}) with the same {key} {value!r}: {why}; "
                   f"give each environment its own")
