"""The controller's ``docker save`` archives, made once per run and shared by every host's task.

A run shipping the same images to several hosts (or to a swarm's nodes) needs one ``docker save``:
each host's task then reads the same archive and sends what that host lacks (``image_layers``).
Archives are keyed by the images' IDs (a ref retagged in between gets a new archive), saved under
a lock per key (the executor runs hosts in threads: the first saves, the others wait and reuse),
kept while the run may ask again, removed oldest first, when unused, beyond ``KEEP_BYTES``, and
all of them at process exit.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from moorage.operations.base import TaskFailed

KEEP_BYTES = 4 << 30  # unused archives kept beyond this are removed (the one in use never is)


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    path: Path | None = None
    size: int = 0
    users: int = 0
    used: float = 0.0


class SavedImages:
    """``docker save`` archives on the controller, one per set of image IDs, shared by threads."""

    def __init__(self, keep_bytes: int = KEEP_BYTES) -> None:
        self.keep_bytes = keep_bytes
        self._lock = threading.Lock()
        self._entries: dict[tuple[tuple[str, str], ...], _Entry] = {}
        self._dir: Path | None = None
        self.saves = 0  # docker save runs so far (for tests and traces)

    @contextmanager
    def archive(self, images: dict[str, str]) -> Iterator[tuple[Path, bool]]:
        """The archive of ``images`` (ref -> local image ID) and whether it was there already
        (``False``: this call ran ``docker save``).  The file stays while the block runs.  Raises
        ``TaskFailed`` when ``docker save`` fails (the next caller tries again)."""
        key = tuple(sorted(images.items()))
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            entry.users += 1
        try:
            with entry.lock:
                reused = entry.path is not None
                if entry.path is None:
                    path = self._new_path()
                    _save(list(images), path)
                    entry.path, entry.size = path, path.stat().st_size
                    self.saves += 1
                    with self._lock:
                        self._evict()  # the bound holds while the new archive is sent
            yield entry.path, reused
        finally:
            with self._lock:
                entry.users -= 1
                entry.used = time.monotonic()
                self._evict()

    def _new_path(self) -> Path:
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="moorage-ship-"))
                atexit.register(self.clear)
            handle, name = tempfile.mkstemp(suffix=".tar", dir=self._dir)
            os.close(handle)  # docker save writes the file by its name
            return Path(name)

    def _evict(self) -> None:
        """Unused archives, oldest first, while all of them take more than ``keep_bytes`` (under
        ``_lock``)."""
        total = sum(entry.size for entry in self._entries.values())
        for key, entry in sorted(self._entries.items(), key=lambda item: item[1].used):
            if total <= self.keep_bytes:
                return
            if entry.users == 0 and entry.path is not None:
                entry.path.unlink(missing_ok=True)
                total -= entry.size
                del self._entries[key]

    def clear(self) -> None:
        """Remove every archive and the directory (at exit; only files this object made)."""
        with self._lock:
            for entry in self._entries.values():
                if entry.path is not None:
                    entry.path.unlink(missing_ok=True)
            self._entries.clear()
            if self._dir is not None:
                for stray in self._dir.glob("*.tar"):  # a save that failed half way
                    stray.unlink(missing_ok=True)
                self._dir.rmdir()
                self._dir = None


def _save(refs: list[str], path: Path) -> None:
    proc = subprocess.run(["docker", "save", "-o", str(path), *refs], capture_output=True, check=False)
    if proc.returncode != 0:
        path.unlink(missing_ok=True)
        raise TaskFailed("docker save failed on the controller", f"docker save {' '.join(refs)}",
                         proc.returncode, proc.stderr.decode("utf-8", "replace")[-2000:])


SAVED = SavedImages()  # the process's: a run is one process
