"""Data tasks: backup (now, --list, --verify, --fetch) and restore (live, --into scratch, --destroy-data)."""

from __future__ import annotations

import re
from pathlib import Path

from invoke.context import Context
from invoke.tasks import task

from moorage.cli.flags import (
    HOST_HELP,
    INVENTORY_HELP,
    JSON_HELP,
    LOCK_HELP,
    PROJECT_HELP,
    SET_HELP,
    exit_with,
    reports_errors,
    request,
    required_host,
    run_options,
)
from moorage.errors import InputError
from moorage.progname import command


@task(auto_shortflags=False, iterable=["set_"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    "check": "Plan only: say what would be backed up, change nothing.",
    "fetch_": "Also copy the new backups to this machine (--fetch-dir), checked against their sha256.",
    "fetch_dir": "Where --fetch puts them (default: ./backups/HOST).",
    "list_": "List the host's backups with age, size and verification state; back up nothing.",
    "verify": "Check backups again (recorded sha256, read back by pg_restore / tar); --file for one.",
    "file": "With --verify: only this backup.",
    "verbose": "Show a summary line for unchanged tasks too.",
})
@reports_errors
def backup(c: Context, host: str = "", inventory: str = "", project: str = "", json_: bool = False,
           set_: list[str] | None = None, check: bool = False, fetch_: bool = False, fetch_dir: str = "",
           list_: bool = False, verify: bool = False, file: str = "", verbose: bool = False) -> None:
    """Back up a host's databases (pg_dump -Fc, verified by pg_restore) and media; install the daily job."""
    from moorage.recipes import backup as backup_recipe
    from moorage.report import make_report

    asked = request(required_host(host), project, inventory, set_, run_options(check))
    if verify:
        exit_with(backup_recipe.verify(asked, file=file, json_=json_))
    elif list_:
        exit_with(backup_recipe.list_backups(asked, json_=json_))
    elif fetch_dir and not fetch_:
        raise InputError("--fetch-dir goes with --fetch (it says where the fetched backups go)")
    elif file:
        raise InputError("--file goes with --verify (to back up, leave it out; to restore, see "
                         f"`{command('restore')}`)")
    else:
        exit_with(backup_recipe.backup(asked, make_report(json_, False, verbose), fetch_new=fetch_,
                                       fetch_dir=Path(fetch_dir) if fetch_dir else None))


@task(auto_shortflags=False, iterable=["set_", "database"], help={
    "host": HOST_HELP, "inventory": INVENTORY_HELP, "project": PROJECT_HELP, "json_": JSON_HELP, "set_": SET_HELP,
    **LOCK_HELP,
    "file": f"Backup to restore (see `{command('backup', '--list')}`); default: the newest verified one of each "
            "database.",
    "backup": "Same as --file.",
    "database": "Restore only this database of backup_databases (its label; repeatable): the newest verified "
                "backup of it; the others are untouched.",
    "into": "Restore into this scratch database instead (created, marked as moorage's); the live one is untouched.",
    "yes": "Confirm without the typed confirmation (scripts); otherwise type the environment's name.",
    "destroy_data": "Drop the live database and replace it by a fresh restored copy (an exact copy: tables "
                    "the backup doesn't have go too); needs a verified backup newer than "
                    "data_guard_max_age_hours (24).",
    "media": "Restore the media (backup_media: volumes or directories) instead of the databases: the newest "
             "verified tarball of each, or --file; a safety tarball of the media first.",
})
@reports_errors
def restore(c: Context, host: str = "", inventory: str = "", project: str = "", file: str = "", backup: str = "",
            into: str = "", yes: bool = False, destroy_data: bool = False, json_: bool = False,
            set_: list[str] | None = None, break_lock: bool = False, media: bool = False,
            database: list[str] | None = None) -> None:
    """Restore a database from a verified backup: writers stopped, pg_restore in one transaction, health gate."""
    from moorage.recipes import restore as restore_recipe
    from moorage.recipes import restore_media
    from moorage.report import make_report

    required_host(host, "the host (or its environment) whose database is restored")
    labels = list(dict.fromkeys(name for name in database or [] if name))
    if labels and (file or backup or media):
        raise InputError("--database picks the newest verified backup of a database; --file names one (and --media "
                         "restores the media): give one of them")
    if media:
        if into or destroy_data:
            raise InputError("--into and --destroy-data are for databases; --media replaces the media with the "
                             "tarball (after a safety tarball of them): leave them out")
        exit_with(restore_media.restore_media(request(host, project, inventory, set_), make_report(json_, False),
                                              files=[n for n in (file, backup) if n], yes=yes,
                                              break_lock=break_lock))
        return
    if into and destroy_data:
        raise InputError("--destroy-data replaces the live database; a restore --into a scratch database destroys "
                         "nothing: leave --destroy-data out")
    if into and not re.fullmatch(r"[a-z_][a-z0-9_]*", into):
        raise InputError(f"--into {into!r}: name the scratch database with lowercase letters, digits and _ "
                         "(e.g. --into restore_check)")
    exit_with(restore_recipe.restore(request(host, project, inventory, set_), make_report(json_, False),
                                     files=[n for n in (file, backup) if n], into=into, destroy=destroy_data,
                                     yes=yes, break_lock=break_lock, labels=labels))
