"""Directory-tree facts for ``sync``: the local tree, the remote manifest, their difference.

``scan_local(root, exclude)`` walks the controller's source directory (refusing
symlinks that leave it); ``probe_command(dest)`` is the one remote
command that says what ``dest`` is, whether it is writable and — for the tar
transport — lists every entry under it (type, size, mtime, mode, owner, link
target, optionally sha256; GNU find, NUL-separated, so any file name survives);
``parse_probe`` reads it back; ``compare`` says what the tar transport has to
send, change and delete.  The probe also travels with a play's facts
(``TreeRequest``), so a sync whose tree already matches is decided without a
command of its own.  All pure but the local scan.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shlex
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.facts.patterns import excluded

# Names the transports use inside the destination while they work; never synced, never listed.
STAGING_PREFIX = ".moorage-sync."
RSYNC_PARTIAL_DIR = ".~tmp~"


class SourceError(ValueError):
    """The source tree can't be synced as it is (missing, not a directory, a path escaping it)."""


@dataclass(frozen=True)
class Entry:
    """One path of a tree: kind ``f`` (file), ``d`` (directory) or ``l`` (symlink)."""

    kind: str
    size: int = 0
    mtime: int = 0  # whole seconds: what both tar and rsync's default comparison keep
    mode: int = 0  # permission bits
    target: str = ""  # symlinks
    owner: str = ""  # owner:group (remote entries)
    sha256: str = ""  # with checksum: true


@dataclass(frozen=True)
class TreeRequest:
    """A directory tree a play's facts should list (``probe_command``'s arguments)."""

    dest: str
    checksum: bool = False
    delete: bool = False

    def command(self) -> str:
        return probe_command(self.dest, self.checksum, self.delete)


def _inside(root: Path, rel_link: str, target: str) -> bool:
    """Whether a relative symlink at ``rel_link`` (relative to ``root``) stays inside ``root``."""
    if target.startswith("/"):
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel_link), target))
    return joined != ".." and not joined.startswith("../")


def scan_local(root: Path, exclude: Iterable[str] = (), checksum: bool = False) -> dict[str, Entry]:
    """Every entry under ``root`` by relative path (excluded ones left out).

    Raises ``SourceError`` naming the path when ``root`` is not a directory or a symlink in it
    points outside it (absolute targets included: they would mean another thing on the host).
    """
    if not root.is_dir():
        raise SourceError(f"source directory {root} does not exist" if not root.exists()
                          else f"source {root} is not a directory")
    patterns = list(exclude)
    tree: dict[str, Entry] = {}
    pending = [""]  # one lstat per entry (scandir), as this runs on every sync
    while pending:
        top = pending.pop()
        with os.scandir(root / top) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:
            rel = f"{top}/{entry.name}" if top else entry.name
            st = entry.stat(follow_symlinks=False)
            if excluded(rel, stat.S_ISDIR(st.st_mode), patterns):
                continue
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(entry.path)
                if not _inside(root, rel, target):
                    raise SourceError(f"{entry.path} is a symlink to {target}, outside the source directory "
                                      f"{root}; refusing to sync it (replace it with a copy or exclude it)")
                tree[rel] = Entry("l", target=target, mtime=int(st.st_mtime))
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = Entry("d", mode=st.st_mode & 0o7777)
                pending.append(rel)
            elif stat.S_ISREG(st.st_mode):
                digest = _sha256(Path(entry.path)) if checksum else ""
                tree[rel] = Entry("f", st.st_size, int(st.st_mtime), st.st_mode & 0o7777, sha256=digest)
            # sockets, fifos, devices: not media; left out like rsync without -D
    return tree


def scan_only(root: Path, paths: Iterable[str], exclude: Iterable[str] = (),
              checksum: bool = False) -> dict[str, Entry]:
    """The entries of ``root`` that ``paths`` name (files, or folders with all they hold) and the
    folders leading to them, by relative path; the rest of ``root`` is never walked.

    Raises ``SourceError`` naming the path when one is missing, absolute, or has a ``..``.
    """
    if not root.is_dir():
        raise SourceError(f"source directory {root} does not exist")
    tree: dict[str, Entry] = {}
    for given in paths:
        rel = posixpath.normpath(given.strip("/")) if given.strip("/") else ""
        if given.startswith("/") or rel in ("", ".") or rel == ".." or rel.startswith("../"):
            raise SourceError(f"{given!r} is not a path inside {root} (relative, no ..)")
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            tree.setdefault(folder, Entry("d", mode=(root / folder).stat().st_mode & 0o7777))
        path = root / rel
        if not path.exists() and not path.is_symlink():
            raise SourceError(f"{path} does not exist")
        if path.is_dir() and not path.is_symlink():
            tree[rel] = Entry("d", mode=path.stat().st_mode & 0o7777)
            tree.update({f"{rel}/{sub}": entry for sub, entry in scan_local(path, (), checksum).items()
                         if not excluded(f"{rel}/{sub}", entry.kind == "d", list(exclude))})
        else:
            tree.update(_one(path, rel, root, checksum))
    return tree


def _one(path: Path, rel: str, root: Path, checksum: bool) -> dict[str, Entry]:
    """One file or symlink of ``scan_only``, as ``scan_local`` records it."""
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(path)
        if not _inside(root, rel, target):
            raise SourceError(f"{path} is a symlink to {target}, outside the source directory {root}")
        return {rel: Entry("l", target=target, mtime=int(st.st_mtime))}
    digest = _sha256(path) if checksum else ""
    return {rel: Entry("f", st.st_size, int(st.st_mtime), st.st_mode & 0o7777, sha256=digest)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def probe_command(dest: str, checksum: bool = False, delete: bool = False) -> str:
    """One remote command: ``dest`` a dir, absent, something else?  writable?
    And every entry under ``dest`` (the manifest the tar transport compares with); with
    ``delete``, also ``@@bookkeeping PATH`` when ``dest`` holds moorage's own (``bookkeeping``)."""
    d = shlex.quote(dest)
    listing = (
        f"cd {d} && printf '@@manifest\\0' && find . -mindepth 1 \\( -name '{STAGING_PREFIX}*' -o -name "
        f"'{RSYNC_PARTIAL_DIR}' \\) -prune -o -printf '%y %s %T@ %m %u:%g\\0%P\\0%l\\0'"
    )
    if checksum:
        listing += (f" && printf '@@sha\\0' && find . -mindepth 1 \\( -name '{STAGING_PREFIX}*' -o -name "
                    f"'{RSYNC_PARTIAL_DIR}' \\) -prune -o -type f -print0 | xargs -0 -r sha256sum -z --")
    found = bookkeeping('echo "@@bookkeeping $b"') if delete else ""
    return (
        f"D={d}\n"
        'if [ -d "$D" ]; then echo @@dir; stat -c \'@@root %a %U:%G\' -- "$D"; '
        'elif [ -e "$D" ] || [ -L "$D" ]; then echo @@other; fi\n'
        f"{found}"
        'p="$D"; while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done\n'
        '[ -w "$p" ] && echo @@writable; echo "@@base $p"\n'
        f'if [ -d "$D" ]; then {listing}; fi\n'
        "exit 0"
    )


# Exit statuses of ``guard_command``: why rsync was not started.
UNWRITABLE, NOT_A_DIR, NO_RSYNC, ABSENT, BOOKKEEPING = 91, 92, 93, 94, 95


def bookkeeping(then: str) -> str:
    """Shell lines (``$D`` is dest) running ``then`` with ``$b`` set to moorage's own bookkeeping
    found in ``$D``: a ``.moorage`` directory (deploy lock, audit log) at most three levels down,
    or an app's ``releases/`` beside its ``current`` link in ``$D`` or a directory of it.  A sync
    with delete refuses such a dest whatever the role checked: deleting there would remove
    releases, the staged .env and the audit log.  Bounded (``-maxdepth 3``, first match) so it
    stays cheap on a large media tree."""
    return ('b=$(find "$D" -maxdepth 3 -type d -name .moorage -print -quit 2>/dev/null)\n'
            'for a in "$D" "$D"/*; do [ -z "$b" ] && [ -d "$a/releases" ] && [ -L "$a/current" ] '
            '&& b="$a/releases"; done\n'
            f'if [ -n "$b" ]; then {then}; fi\n')


def guard_command(dest: str, dry_run: bool, delete: bool = False) -> str:
    """The checks run on the host just before ``exec rsync --server`` (same command, no extra
    round trip): ``dest`` not something else than a directory, rsync installed, and for a real
    run the nearest existing ancestor writable (``@@base PATH`` on stderr if not) and ``dest``
    created; for a dry run, ``dest`` present; with ``delete``, no moorage ``bookkeeping`` in
    ``dest`` (``@@bookkeeping PATH`` on stderr).  Exits with one of the codes above when not."""
    lines = [f"D={shlex.quote(dest)}",
             f'if [ -e "$D" ] && [ ! -d "$D" ]; then exit {NOT_A_DIR}; fi',
             f"command -v rsync >/dev/null 2>&1 || exit {NO_RSYNC}"]
    if delete:
        lines.append(bookkeeping(f'echo "@@bookkeeping $b" >&2; exit {BOOKKEEPING}').rstrip("\n"))
    if dry_run:
        lines.append(f'[ -d "$D" ] || exit {ABSENT}')
    else:
        lines += ['p="$D"; while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done',
                  f'[ -w "$p" ] || {{ echo "@@base $p" >&2; exit {UNWRITABLE}; }}',
                  f'mkdir -p -- "$D" || exit {UNWRITABLE}']
    return "\n".join(lines) + "\n"


@dataclass
class Probe:
    """What ``probe_command`` found on the host."""

    dest: str = "absent"  # dir | absent | other
    writable: bool = False
    base: str = ""  # the nearest existing ancestor (dest itself when it exists)
    bookkeeping: str = ""  # moorage's own files found in dest (probed only for a delete)
    manifest: dict[str, Entry] | None = None  # None when dest is not a directory
    root: Entry | None = None  # dest itself (its mode and owner), when a directory


def parse_probe(output: bytes) -> Probe:
    """Read ``probe_command``'s output back."""
    head, marker, tail = output.partition(b"@@manifest\0")
    probe = Probe()
    for line in head.decode("utf-8", "replace").splitlines():
        if line in ("@@dir", "@@other"):
            probe.dest = line[2:]
        elif line == "@@writable":
            probe.writable = True
        elif line.startswith("@@base "):
            probe.base = line[7:]
        elif line.startswith("@@bookkeeping "):
            probe.bookkeeping = line[14:]
        elif line.startswith("@@root "):
            mode, _, owner = line[7:].partition(" ")
            probe.root = Entry("d", mode=int(mode, 8), owner=owner)
    if marker:
        probe.manifest = _parse_manifest(tail)
    return probe


def _parse_manifest(data: bytes) -> dict[str, Entry]:
    tokens = data.split(b"\0")
    # entries are (meta, path, link target) triples; ``@@sha`` where a meta token stands (a meta
    # token is never that) starts the checksums — a file may well be *named* ``@@sha``
    end = next((i for i in range(0, len(tokens), 3) if tokens[i] == b"@@sha"), len(tokens))
    sums = b"\0".join(tokens[end + 1:])
    tree: dict[str, Entry] = {}
    for i in range(0, end - 2, 3):
        meta, rel, target = (t.decode("utf-8", "surrogateescape") for t in tokens[i:i + 3])
        kind, size, mtime, mode, owner = meta.split(" ", 4)
        tree[rel] = Entry(kind if kind in "fdl" else "o", int(size), int(float(mtime)), int(mode, 8),
                          target, owner)
    for record in sums.split(b"\0"):
        digest, sep, path = record.decode("utf-8", "surrogateescape").partition("  ")
        rel = path.removeprefix("./")
        if sep and rel in tree:
            tree[rel] = Entry(**{**tree[rel].__dict__, "sha256": digest})
    return tree


@dataclass
class TreeDiff:
    """What the tar transport does to make the remote tree match the local one."""

    send: list[str] = field(default_factory=list)  # files and symlinks, travelling in the tar
    mkdir: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)  # remote paths of another kind, removed first
    chmod: dict[int, list[str]] = field(default_factory=dict)  # mode -> paths already there
    chown: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # host directories with content where src has a file

    @property
    def empty(self) -> bool:
        return not (self.send or self.mkdir or self.replace or self.chmod or self.chown or self.delete)


def compare(local: dict[str, Entry], remote: dict[str, Entry], *, checksum: bool = False,
            delete: bool = False, exclude: Iterable[str] = (), file_mode: int | None = None,
            dir_mode: int | None = None, owner: str = "") -> TreeDiff:
    """The difference, compared the way rsync does: size + mtime (or sha256 with ``checksum``)."""
    diff = TreeDiff()
    for rel, want in local.items():
        have = remote.get(rel)
        mode = (dir_mode if want.kind == "d" else file_mode) or want.mode
        if have is not None and have.kind != want.kind and (have.kind == "d" or want.kind == "d"):
            if have.kind == "d" and not delete and any(p.startswith(rel + "/") for p in remote):
                diff.blocked.append(rel)  # replacing it would delete what it holds: only when asked
                continue
            diff.replace.append(rel)
            have = None
        if want.kind == "d":
            if have is None:
                diff.mkdir.append(rel)
                diff.chmod.setdefault(mode, []).append(rel)
                continue
        elif want.kind == "l":
            if have is None or have.kind != "l" or have.target != want.target:
                diff.send.append(rel)
            continue
        elif have is None or have.kind != "f" or _differs(want, have, checksum):
            diff.send.append(rel)
            continue
        if have.mode != mode:
            diff.chmod.setdefault(mode, []).append(rel)
        if owner and not _owned(have.owner, owner):
            diff.chown.append(rel)
    if delete:
        diff.delete = _deletions(local, remote, list(exclude), diff.replace)
    return diff


def in_sync(local: dict[str, Entry], local_root: int | None, probe: Probe, *, checksum: bool = False,
            delete: bool = False, exclude: Iterable[str] = (), file_mode: int | None = None,
            dir_mode: int | None = None, owner: str = "") -> bool:
    """Whether a sync of ``local`` into the probed ``dest`` would change nothing: ``dest`` a
    directory holding no moorage bookkeeping, its own mode and owner as rsync would set them
    (from its root's mode ``local_root``; None: the transfer leaves ``dest`` itself alone, as the
    tar transport does), and ``compare`` finding nothing to send, change or delete."""
    if probe.dest != "dir" or probe.manifest is None or probe.root is None or probe.bookkeeping:
        return False
    if local_root is not None and (probe.root.mode != (dir_mode or local_root)
                                   or (owner and not _owned(probe.root.owner, owner))):
        return False
    diff = compare(local, probe.manifest, checksum=checksum, delete=delete, exclude=exclude,
                   file_mode=file_mode, dir_mode=dir_mode, owner=owner)
    return diff.empty and not diff.blocked


def _deletions(local: dict[str, Entry], remote: dict[str, Entry], patterns: list[str],
               replaced: list[str]) -> list[str]:
    """What ``--delete`` removes, as rsync does: entries absent from ``local`` and not excluded;
    a directory holding an excluded entry stays, only the rest of what it holds goes."""
    protected = {rel for rel, have in remote.items() if excluded(rel, have.kind == "d", patterns)}
    holding = {"/".join(rel.split("/")[:depth]) for rel in protected for depth in range(1, rel.count("/") + 1)}
    gone: list[str] = []
    for rel in sorted(remote):  # sorted: a removed directory comes before what it holds
        if rel in local or rel in protected or rel in holding:
            continue
        if not any(rel.startswith(top + "/") for top in (*gone, *replaced)):
            gone.append(rel)
    return gone


def _differs(want: Entry, have: Entry, checksum: bool) -> bool:
    if checksum:
        return want.size != have.size or want.sha256 != have.sha256
    return want.size != have.size or want.mtime != have.mtime


def _owned(have: str, want: str) -> bool:
    """``want`` is ``owner``, ``owner:group`` or ``:group``; ``have`` is ``owner:group``."""
    h_user, _, h_group = have.partition(":")
    w_user, _, w_group = want.partition(":")
    return (not w_user or w_user == h_user) and (not w_group or w_group == h_group)


@dataclass
class Outcome:
    """What a sync did (or, in check mode, would do), from either transport."""

    transport: str
    sent: list[str] = field(default_factory=list)  # files (and symlinks) transferred
    bytes: int = 0  # their total size
    deleted: list[str] = field(default_factory=list)
    other: int = 0  # directories created, modes/owners changed
    wire_bytes: int = 0  # what went over the connection

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.deleted or self.other)

    def data(self) -> dict[str, Any]:
        """The counts ``--json`` and ``register`` carry."""
        return {"transport": self.transport, "files": len(self.sent), "bytes": self.bytes,
                "deleted": len(self.deleted), "other": self.other, "wire_bytes": self.wire_bytes}


_STAT = re.compile(r"^(Total transferred file size|Total bytes sent): ([\d,]+)", re.M)


def parse_rsync(stdout: str) -> Outcome:
    """rsync's ``--itemize-changes`` lines and ``--stats`` block, as an ``Outcome``.

    An item line is ``YXcstpoguax NAME``: ``<f``/``>f`` a file sent, ``*deleting`` a removal,
    anything else (``cd`` a new directory, ``.f...p...`` a mode change) counts as ``other``.
    """
    outcome = Outcome("rsync")
    for line in stdout.split("\n"):
        line = line.rpartition("\r")[2]  # progress lines end in \r, before the next item
        item, name = line[:11], line[12:]
        if len(line) < 13 or not re.match(r"^[<>ch.*][fdLDS*]", item):
            continue
        if item.startswith("*deleting"):
            outcome.deleted.append(name)
        elif item[0] in "<>" or item[:2] == "cL":
            outcome.sent.append(name.partition(" -> ")[0])
        else:
            outcome.other += 1
    stats = {key: int(value.replace(",", "")) for key, value in _STAT.findall(stdout)}
    outcome.bytes = stats.get("Total transferred file size", 0)
    outcome.wire_bytes = stats.get("Total bytes sent", 0)
    return outcome
