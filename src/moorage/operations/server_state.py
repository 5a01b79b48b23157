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
        say = None if report is None else (lambda text: report.emit("info", host=target.name, message=text))
        broken, partials, took_over = server_lock.acquire(conn, app_dir, action, break_lock, say)
        if broken:
            audit(conn, app_dir, "break-lock", "", "ok", previous_holder=broken)
        if took_over:
            _took_over(conn, app_dir, action, took_over, report)
        if partials and report is not None:
            report.emit("warning", host=target.name, message="removed half-written release directories left by "
                        f"an interrupted run: {', '.join(partials)}")
        try:
            yield conn
        finally:
            server_lock.release(conn, app_dir)
    finally:
        conn.close()


def _took_over(conn: Connection, app_dir: str, action: str, holder_text: str, report: Report | None) -> None:
    """Say and audit that a stale lock (its holder's connection gone) was taken over."""
    described = server_lock.LockState(True, holder_text).describe()
    audit(conn, app_dir, "take-over-lock", "", "ok", previous_holder=holder_text)
    if report is not None:
        report.emit("warning", host=conn.target.name, message=f"took over a stale lock from {described}: its "
                    "connection to the server is gone (an interrupted run); this run checks what it left")


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
# A release's state, in ``releases/<id>/.state``: ``pending`` when recorded (the release
# operation), ``live`` once its deploy passed the gates (or a rollback brought it back), then
# ``superseded`` by a later live one, ``failed`` when its deploy failed, ``rolled-back`` when a
# rollback replaced it.  Only releases that once were live are rollback targets.
STATES = ("pending", "live", "failed", "superseded", "rolled-back")
GOOD = frozenset({"live", "superseded", "rolled-back"})
PREVIOUS = frozenset({"live", "superseded"})   # what `--to previous` picks among the GOOD ones


@dataclass
class Ledger:
    """The releases recorded on a host, newest first (by the server's sequence number), and which
    one is current.  Each release dict holds its ``state``; ``inferred`` names the releases
    recorded before states existed (no state file: the current one counts as live, the others
    as superseded)."""

    current: str | None
    releases: list[dict[str, Any]] = field(default_factory=list)
    inferred: set[str] = field(default_factory=set)

    def get(self, release_id: str) -> dict[str, Any] | None:
        return next((r for r in self.releases if r.get("id") == release_id), None)

    def state(self, release_id: str) -> str:
        """The release's state; empty when it isn't recorded."""
        return str((self.get(release_id) or {}).get("state", ""))

    def find(self, tag: str) -> dict[str, Any] | None:
        """A release by id, by unique id prefix, or by recorded revision; ``previous`` = the newest
        good release (one that was live) before the current one — after an interruption, before
        what was live: a current release that never passed its gate (a cut deploy) goes back to
        the live one, and a current one a cut rollback switched to is the rollback to finish."""
        if tag == "previous":
            return self._previous()
        exact = self.get(tag)
        if exact:
            return exact
        matches = [r for r in self.releases
                   if r.get("id", "").startswith(tag) or r.get("meta", {}).get("revision") == tag]
        return matches[0] if len(matches) == 1 else None

    def _previous(self) -> dict[str, Any] | None:
        current = self.current or ""
        live = self.live_besides(current)
        if live is None or self.state(current) == "live":
            return self.good_before(current)
        if self.state(current) in GOOD:  # a rollback was cut after its switch: the same target again
            return self.good_before(str(live["id"]))
        return live  # pending or failed current: the release that was live before it

    def good_before(self, release_id: str) -> dict[str, Any] | None:
        """The newest release older than ``release_id`` that was live and was not replaced by a
        rollback (never a failed one): a release someone rolled back from is what they refused, so
        after a redeploy ``previous`` is the release that served before, not the refused one (it
        stays a target by its id)."""
        ids = [r.get("id") for r in self.releases]
        start = ids.index(release_id) + 1 if release_id in ids else len(ids)
        return next((r for r in self.releases[start:] if r.get("state") in PREVIOUS), None)

    def live_besides(self, release_id: str) -> dict[str, Any] | None:
        """The live release other than ``release_id``: during a deploy, the one it replaces."""
        return next((r for r in self.releases if r.get("state") == "live" and r.get("id") != release_id), None)

    def rolled_back_from(self) -> dict[str, Any] | None:
        """A release newer than the current one that a rollback replaced: the current one is
        live because of that rollback, and the next deploy replaces it."""
        for release in self.releases:
            if release.get("id") == self.current:
                return None
            if release.get("state") == "rolled-back":
                return release
        return None

    def newer(self, first: str, second: str) -> bool:
        """Whether release ``first`` comes after ``second`` in the server's order."""
        ids = [r.get("id") for r in self.releases]
        return first in ids and (second not in ids or ids.index(first) < ids.index(second))


def _order(release: dict[str, Any]) -> tuple[int, int, str]:
    """Newest first by the server's sequence number; a release recorded before sequence numbers
    is older than every numbered one (numbers began after it), and among those the id orders."""
    seq = release.get("seq")
    numbered = isinstance(seq, int)
    return (1 if numbered else 0, seq if isinstance(seq, int) else 0, str(release.get("id", "")))


def read_ledger(conn: Connection, app_dir: str) -> Ledger:
    """One command: every release's state and release.json, and the current link."""
    app = shlex.quote(app_dir)
    result = conn.run(f"cd {app} 2>/dev/null || exit 0; readlink current || echo; "
                      "for d in releases/*/; do [ -f \"${d}release.json\" ] || continue; "
                      "printf '%s ' \"$(cat \"${d}.state\" 2>/dev/null || echo -)\"; "
                      "tr -d '\\n' < \"${d}release.json\"; echo; done")
    lines = result.text.splitlines()
    current = (lines[0].removeprefix("releases/") if lines else "") or None
    releases, inferred = [], set()
    for line in lines[1:]:
        state, _, text = line.partition(" ")
        try:
            release = json.loads(text)
        except ValueError:
            continue
        if state not in STATES:
            inferred.add(str(release.get("id", "")))
            state = "live" if release.get("id") == current else "superseded"
        releases.append({**release, "state": state})
    releases.sort(key=_order, reverse=True)
    return Ledger(current, releases, inferred)


def set_states(conn: Connection, app_dir: str, states: dict[str, str]) -> None:
    """Write release states (``id -> state``, one of ``STATES``) in one command; a release no
    longer recorded is skipped."""
    writes = [f"[ ! -d {shlex.quote(f'releases/{rid}')} ] || printf '%s\\n' {shlex.quote(state)} "
              f"> {shlex.quote(f'releases/{rid}/.state')}" for rid, state in sorted(states.items()) if rid]
    if writes:
        conn.run(f"cd {shlex.quote(app_dir)} && " + " && ".join(f"{{ {w}; }}" for w in writes))


def mark_live(conn: Connection, ledger: Ledger, app_dir: str, release_id: str, replaced: str = "superseded") -> None:
    """``release_id`` passed its gates: it is live, every other live release becomes ``replaced``."""
    changes = {r["id"]: replaced for r in ledger.releases if r.get("state") == "live" and r.get("id") != release_id}
    if ledger.state(release_id) != "live" or release_id in ledger.inferred:
        changes[release_id] = "live"
    set_states(conn, app_dir, changes)
