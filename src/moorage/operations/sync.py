"""The ``sync`` operation: keep a remote directory tree in step with a local one.

The destination's manifest travels with the play's facts (one command for every task up to
the next command), so a sync whose tree already matches plans no change and runs nothing: a
no-change run is one command per host.  Otherwise the transfer decides what to send:

- **rsync** when the controller and the host both have it, its stream carried on
  a channel of the host's existing connection (``sync_transport``).
  rsync writes each file under a temporary name and, with ``--delay-updates``,
  renames them all into place at the end.
- **tar** otherwise: the probe also lists the destination (the manifest), the
  difference is computed here (``moorage.facts.sync``), and one tar stream
  carries the new and changed files into a staging directory inside ``dest``
  from which each is renamed into place, then deletions.  No per-file round trips.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from moorage.connection.base import Connection
from moorage.facts import patterns
from moorage.facts import sync as tree
from moorage.facts.paths import PathFacts
from moorage.facts.sync import Outcome
from moorage.operations.base import (
    Change,
    FactRequest,
    Facts,
    Operation,
    OpResult,
    PlanError,
    TaskFailed,
    Transfer,
    register,
)
from moorage.operations.file_writes import MODE, normalize_mode
from moorage.operations.shell import sh
from moorage.operations.sync_transport import TAR_RUN, Meter, TarStream, run_rsync

_FULL = ("No space left on device", "Disk quota exceeded")
# A source tree at least this large sends rsync's stream over the controller's OpenSSH client
# (C) rather than through Python (Paramiko): below it, the second login costs more than it saves.
DIRECT_FROM = 8_000_000


def human_size(size: float) -> str:
    """``1.2 MB``-style sizes for summaries."""
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def describe(outcome: Outcome, dry_run: bool) -> str:
    """One line saying what a sync did (or would do), naming the first deletions."""
    verb, remove = ("would send", "would delete") if dry_run else ("sent", "deleted")
    parts = [f"{verb} {len(outcome.sent)} file(s) ({human_size(outcome.bytes)})"]
    if outcome.deleted:
        more = len(outcome.deleted) - 5
        parts.append(f"{remove} {len(outcome.deleted)}: {', '.join(outcome.deleted[:5])}"
                     + (f" and {more} more" if more > 0 else ""))
    if outcome.other:
        parts.append(f"{outcome.other} directory/mode/owner change(s)")
    return ", ".join(parts)


@register
class Sync(Operation):
    """Make the directory ``dest`` on the host hold what the local directory ``src`` holds,
    sending only new and changed files (compared by size and modification time, or by
    content with ``checksum: true``).

    Uses rsync when both ends have it (its stream's path: ``via`` below), otherwise
    one manifest command and one tar stream.  Every file lands atomically (temporary name,
    then rename), so a web server never serves half a file; an interrupted sync leaves
    whole files only and the next run finishes the job.  Files on the host absent from
    ``src`` are removed only with ``delete: true`` (check mode names them); a delete into a
    ``dest`` holding moorage's own bookkeeping (a ``.moorage`` directory up to three levels
    down, or an app's ``releases/`` beside ``current``) is refused before anything is sent,
    checked on the host in the same command as the transfer.  A symlink in
    ``src`` pointing outside it is refused.  Changed iff something was sent, removed, or
    had its mode/owner set; ``--json`` carries the counts (``files``, ``bytes``, ``deleted``,
    ``wire_bytes``, ``transport``) and ``via``: a tree of 8 MB or more sends rsync's stream over
    the controller's OpenSSH client (``openssh``: a second login, trusting only the host key
    moorage verified), else over moorage's own connection (``paramiko``; also when ssh cannot
    log in, with its reason).
    """

    name = "sync"
    batched = False
    invalidates_facts = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["src", "dest"],
        "properties": {
            "src": {"type": "string", "minLength": 1,
                    "description": "Local directory whose content is synced; a relative path is relative "
                                   "to the project root (the directory holding the inventory directory)."},
            "dest": {"type": "string", "pattern": "^/[^\n]*$",
                     "description": "Directory on the host (created when missing)."},
            "delete": {"type": "boolean", "default": False,
                       "description": "Remove files on the host that are absent from src (excluded ones "
                                      "are kept); refused when dest holds moorage's bookkeeping (.moorage, "
                                      "an app's releases/ and current)."},
            "exclude": {"type": "array", "items": {"type": "string", "minLength": 1},
                        "description": "rsync's patterns, left out of the transfer and kept on the host by "
                                       "`delete` in every transport: `*.tmp` (a name at any depth), "
                                       "`/drafts` (anchored at src), `cache/` (a directory and all it "
                                       "holds), `a/b` (nested), `*`/`?` (within a name), `**` (across "
                                       "directories). Rule prefixes (`+ `, `- `, `!`), `***` and "
                                       "backslash escapes are refused."},
            "only": {"type": "array", "items": {"type": "string", "minLength": 1},
                     "description": "Send only these paths of src (files, or folders with all they hold; "
                                    "relative, no ..); with delete, everything else in dest goes (excluded "
                                    "entries stay). Uses the tar transport: the difference is computed here."},
            "checksum": {"type": "boolean", "default": False,
                         "description": "Compare file contents instead of size and modification time."},
            "mode": {**MODE, "description": "Set every file's mode (default: the local file's)."},
            "dir_mode": {**MODE, "description": "Set every directory's mode (default: the local one's)."},
            "owner": {"type": "string", "minLength": 1, "pattern": "^[^:\\s]*(:[^:\\s]+)?$",
                      "description": "Owner of what is synced: `user`, `user:group` or `:group` "
                                     "(needs root on the host, e.g. become)."},
            "transport": {"enum": ["auto", "rsync", "tar"], "default": "auto",
                          "description": "auto (rsync when both ends have it, else tar), rsync, or tar."},
        },
    }

    def deleted_paths(self) -> dict[str, str]:
        return {"dest": self.args["dest"]} if self.args.get("delete") else {}

    def validate(self) -> None:
        """Exclude patterns outside the subset both transports implement alike are refused, and
        ``only`` with ``transport: rsync``."""
        if "only" in self.args and self.args.get("transport") == "rsync":
            raise ValueError("only uses the tar transport; leave transport out or set it to tar")
        for pattern in self.args.get("exclude", []):
            reason = patterns.unsupported(pattern)
            if reason:
                raise ValueError(f"exclude pattern {pattern!r}: {reason}")

    # -- planning (pure: reads only the controller's source tree) --------------------
    @property
    def dest(self) -> str:
        return self.args["dest"].rstrip("/") or "/"

    def source(self) -> Path:
        """``src`` as an absolute path on the controller."""
        src = Path(self.args["src"]).expanduser()
        if src.is_absolute():
            return src
        inventory_dir = self.context.variables.get("inventory_dir")
        return (Path(inventory_dir).parent if inventory_dir else Path.cwd()) / src

    def tree_request(self) -> tree.TreeRequest:
        return tree.TreeRequest(self.dest, bool(self.args.get("checksum")), bool(self.args.get("delete")))

    def facts_needed(self) -> FactRequest:
        """The destination's manifest, gathered with the play's other facts."""
        return FactRequest(trees={self.tree_request()})

    def plan(self, facts: Facts) -> Change | None:
        if ".." in self.args["dest"].split("/"):
            raise PlanError(f"sync dest {self.args['dest']} contains '..'; give the directory's real path")
        try:
            self.local = self.context.once.get(("sync source", *self._scan_key()), self._scan)
        except tree.SourceError as exc:
            raise PlanError(f"cannot sync to {self.context.host}:{self.dest}: {exc}") from None
        if self._in_sync(facts.tree(self.tree_request())):
            return None
        return Change(f"sync {self.args['src']}/ -> {self.dest} ({self._files()} files, "
                      f"{human_size(self._total())})", [self.transfer(dry_run=True), self.transfer(dry_run=False)],
                      after=[PathFacts(self.dest, "dir")])  # what a check-mode run after it must not trust

    def _scan_key(self) -> tuple[str, tuple[str, ...], bool, tuple[str, ...] | None]:
        only = self.args.get("only")
        return (str(self.source()), tuple(self.args.get("exclude", [])), bool(self.args.get("checksum")),
                tuple(only) if only is not None else None)

    def _scan(self) -> dict[str, tree.Entry]:
        """The source tree as the plan compares it; made once for every host of the play (the
        executor's ``once``) and only read afterwards."""
        _, exclude, checksum, only = self._scan_key()
        if only is not None:
            return tree.scan_only(self.source(), only, exclude, checksum)
        return tree.scan_local(self.source(), exclude, checksum)

    def _in_sync(self, probe: tree.Probe | None) -> bool:
        """The gathered manifest already matches the source — unless an earlier task of the play
        writes inside ``dest`` (the manifest predates it): then the transfer decides."""
        inside = self.dest.rstrip("/") + "/"
        if probe is None or any(p == self.dest or p.startswith(inside) for p in self.context.changed_paths):
            return False
        tar = "only" in self.args or self.args.get("transport") == "tar"  # tar leaves dest's own mode alone
        root = None if tar else self.source().stat().st_mode & 0o7777
        return tree.in_sync(self.local, root, probe,
                            checksum=bool(self.args.get("checksum")), delete=bool(self.args.get("delete")),
                            exclude=self.args.get("exclude", []), file_mode=_octal(self.args.get("mode")),
                            dir_mode=_octal(self.args.get("dir_mode")), owner=self.args.get("owner", ""))

    def _files(self) -> int:
        return sum(1 for e in self.local.values() if e.kind == "f")

    def _total(self) -> int:
        return sum(e.size for e in self.local.values() if e.kind == "f")

    def transfer(self, dry_run: bool) -> Transfer:
        """What the sync runs: rsync's argv behind the host's checks, or the manifest command
        and the tar stream's unpacking."""
        return Transfer(str(self.source()) + "/", self.dest, ("rsync", *self._rsync_options(dry_run)),
                        tree.guard_command(self.dest, dry_run, bool(self.args.get("delete"))) + "exec ",
                        tree.probe_command(self.dest, bool(self.args.get("checksum")), bool(self.args.get("delete"))),
                        TAR_RUN.format(dest=sh(self.dest)), dry_run)

    # -- running ---------------------------------------------------------------------------
    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The transfer; in check mode its dry run, which says what would be sent and deleted
        (nothing is written) in the task's summary, data and diff."""
        step = [s for s in change.steps if isinstance(s, Transfer)][-1]
        outcome = self._sync(conn, step)
        if step.dry_run:
            change.summary, change.data = f"{describe(outcome, True)} -> {self.dest}", self._data(outcome)
            listed = [f"+ {rel}" for rel in outcome.sent] + [f"- {rel}" for rel in outcome.deleted]
            change.diff = "".join(f"{line}\n" for line in listed) or None  # --check --diff lists every file
            return OpResult(outcome.changed, data=self._data(outcome))
        if not outcome.changed:
            return OpResult(False, message=f"{self.dest} in sync ({self._files()} files)", data=self._data(outcome))
        change.summary = f"{describe(outcome, False)} -> {self.dest}"
        return OpResult(True, message=change.summary, data=self._data(outcome))

    def _sync(self, conn: Connection, step: Transfer) -> Outcome:
        """rsync when both ends have it (the host's answer comes with the rsync command itself),
        else the manifest and a tar stream."""
        transport = self.args.get("transport", "auto")
        self.via = "local" if conn.target.connection == "local" else "paramiko"
        if "only" in self.args:  # rsync's filter rules can't say "these paths, delete the rest" alike
            transport = "tar"
        if transport != "tar" and shutil.which("rsync"):
            outcome = self._rsync(conn, step)
            if outcome is not None:
                return outcome
            if transport == "rsync":
                raise TaskFailed(f"transport rsync asked for, but {self.context.host} has no rsync", "command -v rsync")
        elif transport == "rsync":
            raise TaskFailed("transport rsync asked for, but the controller has no rsync", "command -v rsync")
        return self._tar_sync(conn, step)

    def _data(self, outcome: Outcome) -> dict[str, Any]:
        """The outcome's counts and the way its bytes went (``via``: openssh, paramiko, local)."""
        return {**outcome.data(), "via": self.via}

    def _refuse(self, status: int, stderr: str, user: str) -> None:
        """The host's answer to the checks before rsync (``guard_command``), as an error."""
        host = self.context.host
        if status == tree.BOOKKEEPING:
            found = next((ln[14:] for ln in stderr.splitlines() if ln.startswith("@@bookkeeping ")), self.dest)
            raise TaskFailed(f"refusing to sync with delete to {host}:{self.dest}: it holds moorage's own "
                             f"bookkeeping ({found}: releases, the staged .env or the audit log), which the delete "
                             "would remove; give the sync a directory of its own; nothing was changed")
        if status == tree.NOT_A_DIR:
            raise TaskFailed(f"{host}:{self.dest} exists and is not a directory; move it away first")
        if status == tree.UNWRITABLE:
            base = next((ln[7:] for ln in stderr.splitlines() if ln.startswith("@@base ")), self.dest)
            where = self.dest if base == self.dest else f"{base} (to create {self.dest} in it)"
            raise TaskFailed(f"cannot write to {host}:{where}: not writable by {user} (fix its owner or mode, "
                             "or use become); nothing was changed", f"test -w {where}")

    # -- transport 1: rsync ------------------------------------------------------------
    def _rsync_options(self, dry_run: bool) -> list[str]:
        """Recursive, symlinks as symlinks, modes and mtimes (not directories'), itemized
        changes and stats (what changed, how many bytes), files renamed into place together
        at the end, deletions after the transfer."""
        opts = ["-rlpt", "--omit-dir-times", "--itemize-changes", "--stats", "--delay-updates",
                "--dry-run" if dry_run else "--info=progress2"]
        if self.args.get("delete"):
            opts.append("--delete-delay")
        if self.args.get("checksum"):
            opts.append("--checksum")
        opts += [f"--exclude={pattern}" for pattern in self.args.get("exclude", [])]
        chmod = [f"{kind}{normalize_mode(self.args[arg])}" for kind, arg in (("F", "mode"), ("D", "dir_mode"))
                 if self.args.get(arg)]
        if chmod:
            opts.append(f"--chmod={','.join(chmod)}")
        if self.args.get("owner"):
            opts.append(f"--chown={self.args['owner']}")
        return opts

    def _rsync(self, conn: Connection, step: Transfer) -> Outcome | None:
        """Run the local rsync with its stream on a channel of ``conn``, behind the host's
        checks; None when the host has no rsync."""
        meter = Meter(self.context.progress, f"sync {self._files()} files -> {self.dest}", self._total())
        run = run_rsync(list(step.rsync), step.src, f"{step.dest}/", conn, step.guard, meter,
                        direct=self._total() >= DIRECT_FROM)
        self.via = run.via
        self._refuse(run.status, run.err, conn.target.user)
        if run.status == tree.NO_RSYNC:
            return None
        if run.status == tree.ABSENT:  # check mode, nothing there yet: everything would be sent
            return Outcome("rsync", [rel for rel, e in self.local.items() if e.kind in "fl"], self._total(), other=1)
        # The host's rsync may fail where the local one doesn't know it (exit 23 "could not make way
        # for new regular file": a non-empty directory where src has a file): its own status counts.
        code = run.code or max(run.status, 0)
        if code != 0:
            raise self._failure("rsync", code, run.err, "files already in place are intact")
        return tree.parse_rsync(run.out)

    def _failure(self, what: str, code: int, stderr: str, kept: str) -> TaskFailed:
        where = f"{self.context.host}:{self.dest}"
        if any(text in stderr for text in _FULL):
            message = f"the disk holding {where} is full; {kept}"
        elif "Permission denied" in stderr:
            message = f"permission denied writing to {where}; {kept}"
        elif blocked := re.findall(r"^(?:cannot delete non-empty directory|could not make way for new [\w ]+): (.+)$",
                                  stderr, re.M):
            named = ", ".join(list(dict.fromkeys(blocked))[:5])
            message = (f"{named} in {where} are directories holding files where src has a file or link; "
                       f"replacing them deletes their content: set delete: true to allow it; {kept}")
        else:
            message = f"{what} to {where} failed (exit {code}); {kept}"
        return TaskFailed(message, what, code, "\n".join(stderr.splitlines()[-10:]))

    # -- transport 2: manifest + tar ---------------------------------------------------------
    def _tar_sync(self, conn: Connection, step: Transfer) -> Outcome:
        """One command lists ``dest``; the difference travels as one tar stream."""
        checksum, dry_run = bool(self.args.get("checksum")), step.dry_run
        result = conn.run(step.manifest)
        if not result.ok:
            raise TaskFailed(f"cannot list {self.context.host}:{self.dest}", "sync manifest", result.exit_code,
                             result.stderr_tail())
        probe = tree.parse_probe(result.stdout)
        if probe.bookkeeping:
            self._refuse(tree.BOOKKEEPING, f"@@bookkeeping {probe.bookkeeping}", conn.target.user)
        if probe.dest == "other":
            self._refuse(tree.NOT_A_DIR, "", conn.target.user)
        if not probe.writable and not dry_run:
            self._refuse(tree.UNWRITABLE, f"@@base {probe.base}", conn.target.user)
        diff = tree.compare(self.local, probe.manifest or {}, checksum=checksum,
                            delete=bool(self.args.get("delete")), exclude=self.args.get("exclude", []),
                            file_mode=_octal(self.args.get("mode")), dir_mode=_octal(self.args.get("dir_mode")),
                            owner=self.args.get("owner", ""))
        if diff.blocked:
            raise TaskFailed(f"{', '.join(diff.blocked[:5])} in {self.context.host}:{self.dest} are directories "
                             "holding files where src has a file or link; replacing them deletes their content: "
                             "set delete: true to allow it")
        # what a replacement removes (a host directory where src has a file, with all it holds, or
        # a host file where src has a directory) is named among the deletions, as rsync names it
        replaced = [rel for rel in sorted(probe.manifest or {}) for top in diff.replace
                    if rel == top or rel.startswith(top + "/")]
        return self._tar(conn, diff, step, replaced)

    def _tar(self, conn: Connection, diff: tree.TreeDiff, step: Transfer, replaced: list[str]) -> Outcome:
        sizes = [self.local[rel].size for rel in diff.send if self.local[rel].kind == "f"]
        touched = {*diff.mkdir, *diff.replace, *diff.chown, *(p for ps in diff.chmod.values() for p in ps)}
        deleted = list(dict.fromkeys([*diff.delete, *replaced]))
        outcome = Outcome("tar", list(diff.send), sum(sizes), deleted, len(touched - set(diff.send)))
        if step.dry_run or diff.empty:
            return outcome
        before = conn.stats.bytes_sent
        stream = TarStream(self.source(), diff, self.args.get("owner", ""), _octal(self.args.get("mode")),
                           Meter(self.context.progress, f"send {len(diff.send)} files -> {self.dest}", outcome.bytes))
        try:
            result = conn.run(step.unpack, stdin=stream)
        finally:
            stream.close()
        if not result.ok or "@@synced" not in result.text:
            kept = "nothing was replaced" if result.exit_code in (97, 98) else "files already in place are intact"
            raise self._failure("tar stream", result.exit_code, result.stderr.decode("utf-8", "replace"), kept)
        outcome.wire_bytes = conn.stats.bytes_sent - before
        return outcome


def _octal(mode: Any) -> int | None:
    return int(normalize_mode(mode) or "0", 8) or None

