"""PostgreSQL data operations: ``postgres_backup`` (now), ``backup_job`` (daily, cron) and
``postgres_restore``.  The shell they run is built in ``moorage.operations.backups.scripts``; the restore of a
live database needs a permit from ``moorage.operations.backups.guard``."""

from __future__ import annotations

import posixpath
from typing import Any

from moorage.connection.base import Connection
from moorage.operations.backups import guard, scripts
from moorage.operations.backups.naming import SAFE
from moorage.operations.base import (
    Change,
    FactRequest,
    Facts,
    Operation,
    OpResult,
    Permit,
    PlanError,
    Shell,
    TaskFailed,
    register,
)
from moorage.operations.file_writes import PATH, plan_write
from moorage.operations.shell import Raw, sh

NAME = {"type": "string", "pattern": f"^{SAFE}$"}
DATABASES: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "additionalProperties": False, "required": ["service"], "properties": {
        "service": {**NAME, "description": "The compose service running PostgreSQL."},
        "database": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_$-]*$",
                     "description": "Database to dump (default: the service's POSTGRES_DB)."},
        "label": {**NAME, "description": "Name in the backup files (default: the service)."}}},
    "description": "Databases to back up: [{service, database, label}], e.g. [{service: db}]; [] for none.",
}
MEDIA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "object", "additionalProperties": False,
              "oneOf": [{"required": ["path"]}, {"required": ["volume"]}], "properties": {
                  "path": {**PATH, "description": "A directory on the host (read as the connecting user)."},
                  "volume": {**NAME, "description": "A named volume of the compose project (or a Docker volume so "
                                                    "named), read through a container: no root needed."},
                  "image": {"type": "string", "pattern": "^[^\\s]+$",
                            "description": "The image whose tar reads the volume (default: the image of a container "
                                           "that mounts it)."},
                  "label": {**NAME, "description": "Name in the backup files (default media)."}}},
    "description": "Media saved as verified tarballs: [{path, label}] or [{volume, label}].",
}
BACKUP_ARGS: dict[str, Any] = {
    "backup_dir": {**PATH, "description": "Where backups go, on the host, outside every Docker volume."},
    "project_name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$",
                     "description": "The compose project (-p) whose containers are backed up."},
    "prefix": {**NAME, "description": "Start of every file name: project-environment."},
    "databases": DATABASES,
    "media": MEDIA,
    "keep_days": {"type": "integer", "minimum": 0, "default": 14,
                  "description": "Remove backups older than this many days (0: no age limit)."},
    "keep_count": {"type": "integer", "minimum": 0, "default": 30,
                   "description": "Keep at most this many backups per database or media dir (0: no limit)."},
}
REQUIRED = ["backup_dir", "project_name", "prefix", "databases"]


def _script_args(args: dict[str, Any]) -> dict[str, Any]:
    return {"backup_dir": args["backup_dir"], "project_name": args["project_name"], "prefix": args["prefix"],
            "databases": args["databases"], "media": args.get("media") or [],
            "keep_days": args.get("keep_days", 14), "keep_count": args.get("keep_count", 30)}


def _images_of(args: dict[str, Any]) -> tuple[str, ...]:
    pair = args.get("unless_same_images") or {}
    return (pair["release"], pair["previous"]) if pair.get("release") and pair.get("previous") else ()


def failures(stderr: str) -> str:
    """The script's ``FAILED:`` sentences, joined."""
    lines = [line.split("FAILED: ", 1)[1] for line in stderr.splitlines() if "FAILED: " in line]
    return "; ".join(lines)


def _shell(change: Change) -> Shell:
    return next(step for step in change.steps if isinstance(step, Shell))


def _labels(args: dict[str, Any]) -> str:
    names = [scripts.database_label(d) for d in args["databases"]]
    names += [m.get("label") or "media" for m in args.get("media") or []]
    return ", ".join(names)


class _Retention(Operation):
    """Backups older than the retention are removed from ``backup_dir``: a bounded delete."""

    def deleted_paths(self) -> dict[str, str]:
        return {"backup_dir": self.args["backup_dir"]} if self.args.get("prune", True) else {}


@register
class PostgresBackup(_Retention):
    """Back up now: ``pg_dump -Fc`` inside each database's compose service, written to
    ``backup_dir`` on the host (outside every Docker volume) as ``PREFIX-LABEL-STAMP.dump``,
    verified at once by ``pg_restore`` (table of contents, then every data block; an unverified
    dump counts as failed and is deleted), recorded with its size and sha256 in ``NAME.json``;
    media directories as verified ``.tar.gz``.  Retention (``keep_days``, ``keep_count``) runs
    only for what was just backed up, so a failure — a full disk — keeps every older backup.

    ``record_in``: a release's ``release.json`` that gets ``"backup": {"files", "data_of"}``
    (the deploy's backup before migrations).  Registers ``backups`` (the new file names).
    """

    name = "postgres_backup"
    batched = False
    invalidates_facts = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": REQUIRED,
        "properties": {
            **BACKUP_ARGS,
            "reason": {"type": "string", "pattern": "^[a-z][a-z-]*$", "default": "manual",
                       "description": "Why it was taken, kept in the record (manual, pre-migrate, pre-restore)."},
            "data_of": {"type": "string", "pattern": "^[A-Za-z0-9._-]*$",
                        "description": "The release whose data this is (the one live while it was taken)."},
            "record_in": {**PATH, "description": "A release.json to record the backup in."},
            "prune": {"type": "boolean", "default": True, "description": "Apply the retention afterwards."},
            "unless_same_images": {
                "type": "object", "additionalProperties": False, "properties": {"release": PATH, "previous": PATH},
                "description": "Two release.json files ({release, previous}): back up only when their image IDs "
                               "differ (a new release whose images migrate at start); absent or {}: always."},
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        when = " if the release's images changed" if self.args.get("unless_same_images") else ""
        return Change(f"back up {_labels(self.args)} of {self.args['project_name']} to {self.args['backup_dir']} "
                      f"(verified by pg_restore){when}", [Shell(self.script())])

    def script(self) -> str:
        """The backup script, as ``backup_job`` installs it, with this run's reason."""
        return scripts.backup_script(**_script_args(self.args), reason=self.args.get("reason", "manual"),
                                     data_of=self.args.get("data_of", ""), record_in=self.args.get("record_in", ""),
                                     prune=self.args.get("prune", True), images_of=_images_of(self.args))

    def apply(self, change: Change, conn: Connection) -> OpResult:
        result = conn.run(_shell(change).script)
        made = [line.split()[1] for line in result.text.splitlines() if line.startswith("@@backup ")]
        stderr = result.stderr.decode("utf-8", "replace")
        if result.ok and "@@skipped " in result.text:
            why = ("its backup was taken before the interruption (recorded in its release.json)"
                   if "@@skipped recorded" in result.text else "the release's images did not change")
            return OpResult(changed=False, stdout=result.text, message=f"no backup: {why}", data={"backups": []})
        if not result.ok:
            kept = f" (made: {', '.join(made)})" if made else ""
            raise TaskFailed(f"backup failed: {failures(stderr) or 'see the output'}{kept}",
                             "pg_dump -Fc | pg_restore --list", result.exit_code, result.stderr_tail(15))
        return OpResult(changed=True, stdout=result.text, stderr=stderr, message=", ".join(made),
                        data={"backups": made})


@register
class BackupJob(_Retention):
    """Install the daily backup: the same script ``postgres_backup`` runs, written to ``script``
    (mode 0700), and a cron entry in ``cron_file`` running it on ``schedule`` as ``user``, its
    output appended to ``log_file``.  An empty ``schedule`` removes the cron entry.  Needs a cron
    daemon on the host (Debian: the ``cron`` package)."""

    name = "backup_job"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": [*REQUIRED, "script", "cron_file", "log_file"],
        "properties": {
            **BACKUP_ARGS,
            "script": {**PATH, "description": "Where the backup script is written."},
            "cron_file": {"type": "string", "pattern": "^/[^\n]*/[A-Za-z0-9_-]+$",
                          "description": "The cron.d file (its name: letters, digits, - and _ only)."},
            "schedule": {"type": "string", "pattern": "^$|^(\\S+\\s+){4}\\S+$", "default": "30 2 * * *",
                         "description": "Cron schedule (five fields); empty removes the job."},
            "user": {"type": "string", "pattern": "^[a-z_][a-z0-9_-]*$", "default": "root",
                     "description": "User the job runs as (needs docker access)."},
            "log_file": {**PATH, "description": "File the job's output is appended to."},
        },
    }

    def facts_needed(self) -> FactRequest:
        paths = {self.args["script"], self.args["cron_file"]}
        return FactRequest({*paths, posixpath.dirname(self.args["cron_file"])}, paths)

    def cron_entry(self) -> str:
        """The cron.d file's content."""
        return (f"# moorage: backups of {self.args['project_name']} ({self.args['prefix']}); written by "
                "moorage backup, do not edit\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                f"/usr/bin:/sbin:/bin\n{self.args.get('schedule', '30 2 * * *')} {self.args.get('user', 'root')} "
                f"{sh(self.args['script'], 'scheduled', Raw('>>'), self.args['log_file'], Raw('2>&1'))}\n")

    def plan(self, facts: Facts) -> Change | None:
        script = scripts.backup_script(**_script_args(self.args), installed=True, reason="scheduled")
        changes = [plan_write(self.args["script"], script.encode(), facts, "0700", None, None)]
        cron = self.args["cron_file"]
        if self.args.get("schedule", "30 2 * * *"):
            if facts[posixpath.dirname(cron)].kind != "dir":
                return _unscheduled(posixpath.dirname(cron), [c for c in changes if c is not None])
            changes.append(plan_write(cron, self.cron_entry().encode(), facts, "0644", None, None))
        elif facts[cron].exists:
            changes.append(Change(f"remove {cron}", [Shell(sh("rm", "-f", cron))], after=[facts[cron].evolve(
                kind="absent", sha256=None, content=None)]))
        done = [c for c in changes if c is not None]
        if not done:
            return None
        return Change("; ".join(c.summary for c in done), [s for c in done for s in c.steps],
                      diff="".join(c.diff or "" for c in done) or None, after=[a for c in done for a in c.after])


def _unscheduled(cron_dir: str, changes: list[Change]) -> Change:
    """No cron daemon: the script is written (a backup made now stands), the schedule is not, and
    the change says why (``data["unscheduled"]``: the sentence, read by the backup recipe)."""
    why = (f"the daily backup is not scheduled: no cron on this host ({cron_dir} is missing); install cron "
           '(Debian: apt-get install cron) and back up again, or set backup_schedule: "" to go without it')
    return Change("; ".join([*(c.summary for c in changes), why]), [s for c in changes for s in c.steps],
                  diff="".join(c.diff or "" for c in changes) or None, after=[a for c in changes for a in c.after],
                  data={"unscheduled": [why]})


@register
class PostgresRestore(Operation):
    """Restore backups from ``backup_dir`` with ``pg_restore --single-transaction --exit-on-error``
    (a failure leaves the database as it was), inside each backup's compose service:

    - ``into``: into that scratch database (created and marked as moorage's; an existing database
      without the mark is refused), leaving the live one untouched;
    - else into the live database with ``--clean --if-exists``; tables the backup doesn't have
      are reported (they stay);
    - ``recreate``: into a fresh database that then replaces the live one (an exact copy).

    Restoring into the live database needs ``permit``, which only the data guard gives
    (``restore`` / ``rollback --restore-db``, after their checks and confirmation).
    Registers ``restored`` and ``leftovers``.
    """

    name = "postgres_restore"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["backup_dir", "project_name", "backups"],
        "properties": {
            "backup_dir": BACKUP_ARGS["backup_dir"],
            "project_name": BACKUP_ARGS["project_name"],
            "backups": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["file", "service"], "properties": {
                    "file": {"type": "string", "pattern": f"^{SAFE}$", "description": "Backup file name."},
                    "service": {**NAME, "description": "The compose service to restore into."},
                    "database": {**DATABASES["items"]["properties"]["database"],
                                 "description": "The database it was dumped from (default: POSTGRES_DB)."}}},
                "description": "Backups to restore, in order: [{file, service, database}]."},
            "into": {"type": "string", "pattern": "^([a-z_][a-z0-9_]*)?$",
                     "description": "A scratch database to restore into instead of the live one."},
            "recreate": {"type": "boolean", "default": False,
                         "description": "Replace the live database by a fresh restored copy (guarded)."},
            "permit": {"type": "string", "description": "The data guard's permit (live restores only)."},
        },
    }

    def _what(self) -> str:
        files = ", ".join(b["file"] for b in self.args["backups"])
        if self.args.get("into"):
            return f"restore {files} into the scratch database {self.args['into']}"
        how = "a fresh copy replacing the live database" if self.args.get("recreate") else "the live database"
        return f"restore {files} into {how}"

    def plan(self, facts: Facts) -> Change | None:
        """The restore script; into the live database, behind the data guard's permit."""
        if self.args.get("into") and self.args.get("recreate"):
            raise PlanError("recreate replaces the live database; it can't be combined with into")
        permit = [] if self.args.get("into") else [Permit(self.args.get("permit", ""), self._what())]
        return Change(self._what(), [*permit, Shell(scripts.restore_script(
            backup_dir=self.args["backup_dir"], project_name=self.args["project_name"],
            backups=self.args["backups"], into=self.args.get("into", ""),
            recreate=self.args.get("recreate", False)))])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The permit checked (``GuardRefused`` when missing), then the restore."""
        for step in change.steps:
            if isinstance(step, Permit):
                guard.require_permit(step.token, step.what)
        result = conn.run(_shell(change).script)
        lines = result.text.splitlines()
        restored = [line.split()[1:] for line in lines if line.startswith("@@restored ")]
        leftovers = [line.split()[1] for line in lines if line.startswith("@@leftover ")]
        if not result.ok:
            done = f" (restored before it failed: {', '.join(r[0] for r in restored)})" if restored else ""
            raise TaskFailed(f"restore failed: {failures(result.stderr.decode('utf-8', 'replace')) or 'see above'}"
                             f"{done}", "pg_restore --single-transaction", result.exit_code, result.stderr_tail(15))
        summary = ", ".join(f"{r[0]} into {r[1]} ({r[2]} tables)" for r in restored if len(r) >= 3)
        if leftovers:
            summary += (f"; tables the backup doesn't have were left in place: {', '.join(leftovers)} "
                        "(restore with --destroy-data for an exact copy)")
        return OpResult(changed=True, stdout=result.text, message=summary,
                        data={"restored": [r[0] for r in restored], "leftovers": leftovers})
