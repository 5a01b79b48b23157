"""Backup file names: ``PREFIX-LABEL-STAMP.EXT``, sortable by time, readable by a person.

``PREFIX`` is ``project-environment`` (``shop-staging``), ``LABEL`` names what was saved (the compose
service of a database, ``db``; or ``media``), ``STAMP`` is the UTC time to the second
(``20260102T023000Z``), ``EXT`` is ``dump`` (``pg_dump -Fc``) or ``tar.gz`` (a media directory).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
STAMP_GLOB = "[0-9]" * 8 + "T" + "[0-9]" * 6 + "Z"  # matches a stamp in sh patterns
EXTENSIONS = {"db": "dump", "media": "tar.gz"}
SAFE = r"[A-Za-z0-9][A-Za-z0-9_.-]*"  # project, environment and label names (no glob or shell specials)
_NAME = re.compile(rf"^(?P<stem>{SAFE})-(?P<stamp>\d{{8}}T\d{{6}}Z)\.(?P<ext>dump|tar\.gz)$")


@dataclass(frozen=True)
class BackupName:
    """A parsed backup file name."""

    stem: str  # PREFIX-LABEL
    stamp: str
    ext: str

    @property
    def kind(self) -> str:
        return "db" if self.ext == "dump" else "media"

    @property
    def created(self) -> float:
        """The stamp as seconds since the epoch (UTC)."""
        return stamp_time(self.stamp)


def stamp_time(stamp: str) -> float:
    """Seconds since the epoch of a UTC stamp."""
    import calendar

    return float(calendar.timegm(time.strptime(stamp, STAMP_FORMAT)))


def parse(name: str) -> BackupName | None:
    """The parts of a backup file name, or None when it isn't one."""
    match = _NAME.match(name)
    return BackupName(match["stem"], match["stamp"], match["ext"]) if match else None
