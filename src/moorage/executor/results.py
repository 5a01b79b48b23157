"""What a run did, for the recipes that act on it: failed hosts, round trips, and each host's task
results in order (so a recipe reads what a task made without reading the report back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskRecord:
    """One task's result on one host: its displayed name, status (ok, changed, skipped, failed),
    the failure's sentence, and the operation's ``data`` (e.g. the ``backups`` a backup made)."""

    task: str
    status: str
    message: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """What a run did: failed hosts, hosts Ctrl-C stopped at a safe point, the exit status, round
    trips and task results per host."""

    failed_hosts: set[str] = field(default_factory=set)
    commands: dict[str, int] = field(default_factory=dict)
    connections: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, list[TaskRecord]] = field(default_factory=dict)
    interrupted: dict[str, str] = field(default_factory=dict)  # host -> where Ctrl-C stopped it: "after 'TASK'"

    @property
    def exit_code(self) -> int:
        return 1 if self.failed_hosts else 130 if self.interrupted else 0

    def round_trips(self) -> dict[str, dict[str, int]]:
        """Per host: SSH connections opened and commands run."""
        return {host: {"connections": self.connections[host], "commands": self.commands[host]}
                for host in self.commands}

    def collected(self, host: str, key: str) -> list[Any]:
        """Every item of the list ``data[key]`` of ``host``'s tasks, in task order (``[]`` when none)."""
        return [item for record in self.tasks.get(host, []) for item in record.data.get(key, [])]
