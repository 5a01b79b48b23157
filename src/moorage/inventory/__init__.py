"""The inventory: environments, hosts, how to reach them, and their variables.

``load_inventory(path)`` reads ``hosts.yml`` (validated against
``schemas/inventory.schema.json``), plus ``group_vars/all.yml``,
``group_vars/ENV.yml`` and ``host_vars/HOST.yml`` beside it when present.

Variable precedence — one order, five levels, lowest first:

1. role defaults (``roles/NAME/defaults.yml``), then the play's ``vars:``
2. the inventory's ``vars:``, then ``group_vars/all.yml``
3. the environment's ``vars:``, then ``group_vars/ENV.yml``
4. the host's ``vars:``, then ``host_vars/HOST.yml``
5. ``--set k=v`` on the command line

Within a level the group_vars/host_vars file overrides hosts.yml.  Merging is per
top-level key: a higher level replaces the whole value (a mapping is not merged
key by key).  ``inventory_hostname``, ``environment_name`` and ``project`` are
always set by moorage and can't be redefined.

Secrets (``{secret: "env:NAME"}``, ``{secret: "file:PATH"}``) are read when a
host's variables are resolved, registered with ``moorage.secrets`` and masked in
every output.  ``{generate: N}`` passes through untouched (the server makes it).
See docs/variables.md.
"""

from moorage.inventory.loader import load_inventory
from moorage.inventory.model import Environment, Host, Inventory, SwarmNode
from moorage.inventory.variables import LEVELS, MAGIC, VarSource, parse_overrides

__all__ = ["LEVELS", "MAGIC", "Environment", "Host", "Inventory", "SwarmNode", "VarSource", "load_inventory",
           "parse_overrides"]
