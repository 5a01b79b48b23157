"""Copy backups from a host to the controller (``invoke backup --fetch``), checked against the sha256
recorded when they were made, written atomically beside a copy of their record."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shlex
from pathlib import Path

from moorage.connection.base import Connection
from moorage.errors import HostError
from moorage.operations.backups.catalog import Backup


def fetch(conn: Connection, backup_dir: str, backup: Backup, dest: Path) -> Path:
    """Download one backup into ``dest``; raise when the copy differs from its record.

    The file travels on the connection's stdout (held in memory: fine for dumps of a few hundred MB).
    """
    host = conn.target.name
    result = conn.run(f"cat {shlex.quote(posixpath.join(backup_dir, backup.name))}")
    if not result.ok:
        raise HostError(host, f"cannot read {backup.name} in {backup_dir}: {result.stderr_tail(3)}")
    digest = hashlib.sha256(result.stdout).hexdigest()
    recorded = backup.meta.get("sha256")
    if recorded and digest != recorded:
        raise HostError(host, f"the copy of {backup.name} differs from its record (sha256 {digest[:12]}..., "
                        f"recorded {recorded[:12]}...); nothing was written")
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = dest / backup.name
    _write(dest / f".{backup.name}.partial", result.stdout, target)
    _write(dest / f".{backup.name}.json.partial", (json.dumps(backup.meta, sort_keys=True) + "\n").encode(),
           dest / f"{backup.name}.json")
    return target


def _write(partial: Path, data: bytes, target: Path) -> None:
    """Readable by this user only (a dump holds every row), then renamed into place."""
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, target)
