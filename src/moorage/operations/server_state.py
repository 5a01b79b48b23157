"""What moorage keeps on the server beside the app: the deploy lock, the audit log, the release ledger.

The recipes (deploy, rollback, restore, onboard, status) use them over a connection they hold.

Layout under ``app_dir``: ``.moorage/lock/`` (a directory: ``mkdir`` is atomic), its ``holder``
file, ``.moorage/audit.log`` (one line per deploy, rollback, restore), ``releases/<id>/release.json``
and the ``current`` link written by the ``release`` operation.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moorage.connection import connect
from moorage.connection.base import Connection
from moorage.operations import server_lock
from moorage.operations.server_lock import STATE, now, operator
from moorage.report import Report
from moorage.target import Target

__all__ = ["STATE", "Ledger", "audit", "locked", "new_release_id", "now", "operator", "read_audit", "read_ledger"]


def new_release_id() -> str:
    """A sortable, unique-enough release id: the UTC time to the second."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


# -- lock (moorage.operations.server_lock) ----------------------------------------------
@contextmanager
def locked(target: Target, app_dir: str, action: str, break_lock: bool,
           report: Report | None = None) -> Iterator[Connection]:
    """A connection to ``target`` holding the deploy lock (deploy, rollback, restore) until the block ends.

    Raises ``HostError`` when the lock can't be taken (``server_lock.LockHeld`` when another run holds
    it).  Half-written releases the lock's taking removed are reported as a warning on ``report``.
    """
    conn = connect(target)
    try:
        broken, partials = server_lock.acquire(conn, app_dir, action, break_lock)
        if broken:
            audit(conn, app_dir, "break-lock", "", "ok", previous_holder=broken)
        if partials and report is not None:
            report.emit("warning", host=target.name, message="removed half-written release directories left by "
                        f"an interrupted run: {', '.join(partials)}")
        try:
            yield conn
        finally:
            server_lock.release(conn, app_dir)
    finally:
        conn.close()


# -- audit --------------------------------------------------------------------------
def audit(conn: Connection, app_dir: str, action: str, release: str, result: str, **extra: object) -> None:
    """Append one line to the server's audit log: when, who, what, which release, result."""
    fields = " ".join(f"{k}={json.dumps(str(v)) if ' ' in str(v) else v}" for k, v in extra.items()
                      if v not in (None, ""))
    line = f"{now()} {action} by={operator()} release={release or '-'} result={result} {fields}".rstrip()
    path = shlex.quote(f"{app_dir}/{STATE}/audit.log")
    conn.run(f"mkdir -p {shlex.quote(f'{app_dir}/{STATE}')} && printf '%s\\n' {shlex.quote(line)} >> {path}")


def read_audit(conn: Connection, app_dir: str, lines: int = 20) -> list[str]:
    """The last lines of the audit log."""
    return conn.run(f"tail -n {int(lines)} {shlex.quote(f'{app_dir}/{STATE}/audit.log')} 2>/dev/null").text.splitlines()


# -- ledger -------------------------------------------------------------------------
@dataclass
class Ledger:
    """The releases recorded on a host, newest first, and which one is current."""

    current: str | None
    releases: list[dict[str, Any]] = field(default_factory=list)

    def get(self, release_id: str) -> dict[str, Any] | None:
        return next((r for r in self.releases if r.get("id") == release_id), None)

    def find(self, tag: str) -> dict[str, Any] | None:
        """A release by id, by unique id prefix, or by recorded revision; ``previous`` = before current."""
        if tag == "previous":
            current = self.get(self.current or "")
            return self.get(current.get("previous", "")) if current else None
        exact = self.get(tag)
        if exact:
            return exact
        matches = [r for r in self.releases
                   if r.get("id", "").startswith(tag) or r.get("meta", {}).get("revision") == tag]
        return matches[0] if len(matches) == 1 else None


def read_ledger(conn: Connection, app_dir: str) -> Ledger:
    """One command: every release.json and the current link."""
    app = shlex.quote(app_dir)
    result = conn.run(f"cd {app} 2>/dev/null || exit 0; readlink current || echo; "
                      "for f in releases/*/release.json; do [ -f \"$f\" ] && cat \"$f\" && echo; done")
    lines = result.text.splitlines()
    current = (lines[0].removeprefix("releases/") if lines else "") or None
    releases = []
    for line in lines[1:]:
        try:
            releases.append(json.loads(line))
        except ValueError:
            continue
    releases.sort(key=lambda r: r.get("id", ""), reverse=True)
    return Ledger(current, releases)
