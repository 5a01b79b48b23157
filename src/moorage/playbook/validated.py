"""Role files whose content-only checks passed before, remembered on disk.

Loading a playbook validates every role file it uses: the file against its schema, each task's
operation arguments, the Jinja2 syntax of every templated value, the variable declarations.
Those checks read nothing but the file's bytes and moorage's own code, and a deploy runs them on
the same built-in roles every time (~0.2 s of a no-change deploy).  So a file that passed is
remembered by a key over its bytes, the check's name and a fingerprint of the code that checks
(every module and schema of the installed moorage, by path, size and mtime, and the Jinja2 and
jsonschema versions): the next load of the same bytes with the same code skips them.  Only
passes are remembered — a file with a problem is checked, and reported, every time — and what
depends on other files (a ``template`` task's source existing, its syntax) is checked every run.

The cache lives in ``$XDG_CACHE_HOME/moorage/validated`` (default ``~/.cache``), one empty file
per key; ``MOORAGE_NO_CACHE=1`` turns it off.  Any error reading or writing it only means the
checks run.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib.metadata import version
from pathlib import Path

import moorage
from moorage.operations import REGISTRY


@functools.cache
def _fingerprint() -> bytes:
    """What the checks' outcome depends on besides the file: moorage's code and schemas (path,
    size, mtime of each), the operations registered (a plugin or a test may add one), Jinja2's
    and jsonschema's versions."""
    digest = hashlib.sha256(f"{version('jinja2')}\0{version('jsonschema')}\0{sorted(REGISTRY)}\0".encode())
    root = Path(moorage.__file__).parent
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".json", ".yml")):
                stat = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.digest()


def _cache_dir() -> Path | None:
    if os.environ.get("MOORAGE_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "moorage" / "validated"


def key(check: str, data: bytes) -> str:
    """The key of ``check`` (e.g. the schema's name) over ``data`` with this code."""
    return hashlib.sha256(_fingerprint() + check.encode() + b"\0" + data).hexdigest()


def passed(key: str) -> bool:
    """Whether the checks of ``key`` passed before."""
    folder = _cache_dir()
    return folder is not None and (folder / key).is_file()


def remember(key: str) -> None:
    """Record that the checks of ``key`` passed (silently nothing when the cache can't be written)."""
    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
    except OSError:
        pass
