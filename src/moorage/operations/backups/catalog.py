"""What a host's backup directory holds: one listing command, parsed into ``Backup`` records.

Each backup file ``NAME`` has a sidecar ``NAME.json`` written when it passed verification (size,
sha256, service, database, why it was taken).  A file without one was never verified and does
not count; one whose size differs from the record, or that a later verification found unreadable
(``"state": "corrupt"``), does not count either.  Ages come from the file's mtime, like the
``find -mtime`` retention in the backup script (so both agree on a backup's age).
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from moorage.operations.backups import naming

VERIFIED = "verified"


@dataclass(frozen=True)
class Backup:
    """One backup file on a host, with what its sidecar recorded."""

    name: str
    size: int
    mtime: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        parsed = naming.parse(self.name)
        return self.meta.get("kind") or (parsed.kind if parsed else "db")

    @property
    def label(self) -> str:
        return str(self.meta.get("label") or "")

    @property
    def service(self) -> str:
        return str(self.meta.get("service") or "")

    @property
    def state(self) -> str:
        """verified, corrupt (a later check failed), changed (size differs from the record), unverified."""
        if not self.meta:
            return "unverified"
        if self.meta.get("state") == "corrupt":
            return "corrupt"
        if self.meta.get("size") != self.size:
            return "changed"
        return VERIFIED

    @property
    def verified(self) -> bool:
        return self.state == VERIFIED

    def age(self, now: float | None = None) -> float:
        """Seconds since the file was written."""
        return max(0.0, (time.time() if now is None else now) - self.mtime)


def list_command(backup_dir: str) -> str:
    """One command printing every backup file (size, mtime, name) and its sidecar."""
    return f"""cd {shlex.quote(backup_dir)} 2>/dev/null || exit 0
for f in *.dump *.tar.gz; do
  [ -f "$f" ] || continue
  printf '@@file %s %s\\n' "$(stat -c '%s %Y' "$f")" "$f"
  if [ -f "$f.json" ]; then printf '@@meta '; tr -d '\\n' < "$f.json"; echo; fi
done"""


def parse_listing(text: str) -> list[Backup]:
    """The backups printed by ``list_command``, newest first (by the stamp in their names)."""
    found: list[Backup] = []
    for line in text.splitlines():
        if line.startswith("@@file "):
            size, mtime, name = line[len("@@file "):].split(" ", 2)
            if naming.parse(name):
                found.append(Backup(name, int(size), float(mtime)))
        elif line.startswith("@@meta ") and found:
            try:
                meta = json.loads(line[len("@@meta "):])
            except ValueError:
                continue  # an unreadable sidecar: the backup stays unverified
            if isinstance(meta, dict):
                last = found[-1]
                found[-1] = Backup(last.name, last.size, last.mtime, meta)
    return sorted(found, key=lambda b: (naming.parse(b.name).stamp, b.name), reverse=True)  # type: ignore[union-attr]


def newest_verified(backups: Iterable[Backup], label: str | None = None, kind: str = "db") -> Backup | None:
    """The most recently written verified backup (of ``label``, of ``kind``)."""
    candidates = [b for b in backups if b.verified and b.kind == kind and (label is None or b.label == label)]
    return max(candidates, key=lambda b: b.mtime, default=None)


def staleness(backups: Iterable[Backup], max_age_hours: float, now: float | None = None,
              labels: Iterable[str] | None = None) -> str | None:
    """A warning when some database has no verified backup newer than ``max_age_hours``, else None."""
    backups = list(backups)
    wanted: list[str | None] = [*labels] if labels is not None else [
        *sorted({b.label for b in backups if b.kind == "db"})] or [None]
    problems = []
    for label in wanted:
        newest = newest_verified(backups, label)
        what = f"of {label} " if label else ""
        if newest is None:
            problems.append(f"no verified database backup {what}on this host")
        elif newest.age(now) > max_age_hours * 3600:
            problems.append(f"the newest verified backup {what}is {human_age(newest.age(now))} old "
                            f"({newest.name}), more than {max_age_hours:g} h")
    return "; ".join(problems) or None


def human_age(seconds: float) -> str:
    """``45 s``, ``12 min``, ``5 h``, ``3 days``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def human_size(size: int) -> str:
    """``812 B``, ``4.1 KB``, ``97.3 MB``."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover


def as_json(backup: Backup, now: float | None = None) -> dict[str, Any]:
    """A backup for ``--json`` output."""
    return {"name": backup.name, "kind": backup.kind, "label": backup.label, "size": backup.size,
            "age_seconds": round(backup.age(now)), "state": backup.state, "reason": backup.meta.get("reason", ""),
            "sha256": backup.meta.get("sha256", "")}
