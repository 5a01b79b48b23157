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
from moorage.data.catalog import Backup
from moorage.errors import HostError


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
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / backup.name
    partial = dest / f".{backup.name}.partial"
    partial.write_bytes(result.stdout)
    os.replace(partial, target)
    (dest / f"{backup.name}.json").write_text(json.dumps(backup.meta, sort_keys=True) + "\n")
    return target
