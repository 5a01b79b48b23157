"""The run: plays in order, hosts in serial batches, hosts of a batch in parallel.

One connection per host serves every play of the run.  A failed host drops
out of the later plays; a batch whose failures pass ``max_fail_percentage``
(or where every host failed) stops the run.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from moorage.connection import Connection, connect
from moorage.errors import HostError, MoorageError
from moorage.executor.host_play import HostPlay
from moorage.executor.interrupt import INTERRUPT
from moorage.executor.options import RunOptions
from moorage.executor.results import RunResult, TaskRecord
from moorage.inventory import Host, Inventory
from moorage.operations.base import RunOnce
from moorage.playbook import Play, Playbook
from moorage.report import Report

H = TypeVar("H")


def batches(hosts: list[H], serial: int | str | None) -> list[list[H]]:
    """Split hosts into rolling batches: ``serial`` is a count, a ``"N%"`` share, or None (all)."""
    if not serial or not hosts:
        return [hosts] if hosts else []
    if isinstance(serial, str) and serial.endswith("%"):
        size = max(1, math.floor(len(hosts) * float(serial[:-1]) / 100))
    else:
        size = max(1, int(serial))
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


class Runner:
    """Runs a loaded playbook against hosts selected from an inventory."""

    def __init__(self, inventory: Inventory, options: RunOptions, report: Report,
                 connections: dict[str, Connection] | None = None) -> None:
        """``connections`` already open (e.g. holding a deploy lock) are used and left open."""
        self.inventory, self.options, self.report = inventory, options, report
        self.connections: dict[str, Connection] = dict(connections or {})
        self._borrowed = set(self.connections)
        self.result = RunResult()

    def run(self, playbook: Playbook, limit: list[Host]) -> RunResult:
        """Run every play of ``playbook`` on the hosts of ``limit`` that it targets."""
        try:
            for play in playbook.plays:
                allowed = {h.name for h in limit} - self.result.failed_hosts - set(self.result.interrupted)
                hosts = [h for h in self.inventory.select(play.hosts) if h.name in allowed]
                if hosts and INTERRUPT.stops_before("", True, True):  # between plays: a safe point
                    self.result.interrupted.update((h.name, f"before play '{play.name}'") for h in hosts)
                    break
                if not self._run_play(play, hosts):
                    break
        finally:
            for name, conn in self.connections.items():
                self.result.commands[name] = conn.stats.commands
                self.result.connections[name] = conn.stats.connections
                if name not in self._borrowed:
                    conn.close()
        return self.result

    def _run_play(self, play: Play, hosts: list[Host]) -> bool:
        self.report.emit("play", play=play.name, data={"hosts": [h.name for h in hosts]})
        total = len(hosts)
        failed_in_play: set[str] = set()
        once = RunOnce()  # e.g. a sync's scan of its source tree, made once for every host
        for group in batches(hosts, play.serial):
            workers = min(len(group), self.options.forks or len(group))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="host") as pool:
                outcomes = list(pool.map(lambda host: self._run_host(play, host, once), group))
            failed_in_play |= {h.name for h, ok in zip(group, outcomes, strict=True) if not ok}
            if self._should_stop(play, failed_in_play, group, total):
                return False
        return True

    def _should_stop(self, play: Play, failed: set[str], group: list[Host], total: int) -> bool:
        limit = play.max_fail_percentage
        if limit is not None and total and 100 * len(failed) / total > limit:
            self.report.emit("warning", message=f"play '{play.name}': {len(failed)} of {total} hosts "
                             f"failed, over max_fail_percentage {limit}; stopping the run")
            return True
        if group and all(h.name in failed for h in group):
            self.report.emit("warning", message=f"play '{play.name}': every host of the batch failed; "
                             "stopping the run")
            return True
        return False

    def _run_host(self, play: Play, host: Host, once: RunOnce) -> bool:
        try:
            conn = self.connections.get(host.name)
            if conn is None:
                conn = self.connections[host.name] = connect(host.target)
            host_play = HostPlay(play, host, conn, self.options, self.report, once)
            try:
                ok = host_play.run()
            finally:
                self.result.tasks.setdefault(host.name, []).extend(host_play.records)
            if host_play.interrupted is not None:
                self.result.interrupted[host.name] = host_play.interrupted
        except MoorageError as exc:
            self.report.recap_for(host.name).unreachable = isinstance(exc, HostError)
            self.report.emit("task", host=host.name, play=play.name, task="connect", status="failed",
                             message=exc.detail)
            self.result.tasks.setdefault(host.name, []).append(TaskRecord("connect", "failed", exc.detail))
            ok = False
        if not ok:
            self.result.failed_hosts.add(host.name)
        return ok
