"""A host's data settings: the postgres_backup role's defaults (through playbooks/backup.yml) under
the inventory's variables and ``--set``, rendered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moorage.errors import InputError
from moorage.inventory import Host, Inventory
from moorage.operations.backups import scripts
from moorage.playbook import Playbook
from moorage.project import Project
from moorage.recipes import swarm
from moorage.templating import render_keys

KEYS = ("app_dir", "backup_dir", "backup_prefix", "backup_databases", "backup_media", "compose_project",
        "data_guard_max_age_hours", "backup_keep_days", "backup_keep_count")


@dataclass
class DataSettings:
    """Where one host's backups are and what they cover."""

    host: Host
    app_dir: str
    backup_dir: str
    prefix: str
    project_name: str
    databases: list[dict[str, Any]]
    media: list[dict[str, Any]] = field(default_factory=list)
    max_age_hours: float = 24.0
    keep_days: int = 14
    keep_count: int = 30

    @property
    def labels(self) -> list[str]:
        """The labels of the databases, in order."""
        return [scripts.database_label(d) for d in self.databases]

    def service_of(self, label: str) -> str:
        """The compose service of a database label (the first database's when unknown; "" with no database)."""
        for entry in self.databases:
            if scripts.database_label(entry) == label:
                return str(entry["service"])
        return str(self.databases[0]["service"]) if self.databases else ""

    def backup_args(self, **extra: object) -> dict[str, Any]:
        """The arguments of a ``postgres_backup`` of the databases (no media)."""
        return {"backup_dir": self.backup_dir, "project_name": self.project_name, "prefix": self.prefix,
                "databases": self.databases, "keep_days": self.keep_days, "keep_count": self.keep_count, **extra}


def load(inventory: Inventory, target: str, project: Project) -> list[DataSettings]:
    """The data settings of every host ``target`` selects (from the backup playbook's roles: the
    project's ``playbooks/backup.yml`` or the built-in one); of a swarm environment, its first
    manager alone (where its releases, backups and — pinned there — its database are)."""
    return of_hosts(swarm.deploy_targets(inventory, inventory.select(target)), project.load_playbook("backup"))


def of_hosts(hosts: Sequence[Host], playbook: Playbook) -> list[DataSettings]:
    """The data settings of ``hosts`` under ``playbook``'s defaults."""
    defaults = playbook.defaults()
    return [_settings(host, defaults) for host in hosts]


def one(hosts: list[DataSettings], target: str) -> DataSettings:
    """The single host a command about one host's backups needs."""
    if len(hosts) != 1:
        raise InputError(f"--host must name one host here, '{target}' selects {len(hosts)}")
    return hosts[0]


def _settings(host: Host, defaults: Mapping[str, Any]) -> DataSettings:
    variables = host.variables(defaults)
    values = render_keys(variables, KEYS)
    return DataSettings(host, str(values["app_dir"]), str(values["backup_dir"]), str(values["backup_prefix"]),
                        str(values["compose_project"]), list(values["backup_databases"]),
                        list(values["backup_media"] or []), float(values["data_guard_max_age_hours"]),
                        int(values["backup_keep_days"]), int(values["backup_keep_count"]))
