"""Paths on a server that moorage never removes with all they hold: ``/``, system directories,
the connecting user's home, and paths whose rendering went wrong (an empty part, ``..``).

Pure rules, read by the operations that delete trees (``operations/bounds.py``) and by the
schema format ``owned-dir`` (``app_dir``, ``backup_dir``), so ``check`` refuses a directory a
later prune could not touch.
"""

from __future__ import annotations

# Top-level directories of a Linux system (FHS 3.0, plus what distributions add) and the
# second-level ones that hold a system's programs and state.
SYSTEM_DIRS = frozenset({
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/lost+found", "/media",
    "/mnt", "/nix", "/opt", "/proc", "/root", "/run", "/sbin", "/snap", "/srv", "/sys", "/tmp", "/usr", "/var",
    "/usr/bin", "/usr/lib", "/usr/lib64", "/usr/local", "/usr/sbin", "/usr/share", "/var/lib", "/var/log",
    "/var/cache", "/var/spool", "/var/tmp",
})


def home_of(user: str) -> str:
    """Where ``user``'s home is by convention (``/root``, else ``/home/USER``)."""
    return "/root" if user == "root" else f"/home/{user}"


def delete_refusal(path: str, user: str = "") -> str | None:
    """Why removing ``path`` and all it holds is refused (a phrase), or None when it is allowed.

    Refused: a relative path, an empty component (``//``), a trailing ``/``, a ``.`` or ``..``
    component, ``/``, a system directory (``SYSTEM_DIRS``, ``/lib*``) and the home of ``user``.
    """
    if not path.startswith("/"):
        return "it is not an absolute path"
    if path == "/":
        return "it is /"
    if "//" in path:
        return "it has an empty component ('//')"
    if path.endswith("/"):
        return "it ends with '/'"
    if {".", ".."} & set(path.split("/")):
        return "it has a '.' or '..' component"
    if user and path in (home_of(user), f"/home/{user}"):
        return f"it is the home of {user}, the user moorage connects as"
    if path in SYSTEM_DIRS or (path.count("/") == 1 and path.startswith("/lib")):
        return "it is a system directory"
    return None
