"""The POSIX sh that runs on the server, built from quoted tokens (pure: no connection here).

One prelude of small functions serves the three scripts:

- ``backup_script``: ``pg_dump -Fc`` inside each database's compose service, read back at once by
  ``pg_restore`` (``--list``, then every data block), recorded (sidecar ``NAME.json``: size,
  sha256, service, database), then named; media directories as verified tarballs; retention by
  age and count, run only for what was just backed up successfully.  The same text runs now
  (``postgres_backup``) and daily (``backup_job`` installs it for cron), so the two never drift.
- ``verify_script``: an existing backup against its recorded sha256, then read back in full;
  a failure marks the sidecar ``corrupt``.  A file without a record (copied back by hand) is
  read back and recorded when it passes.
- ``restore_script``: ``pg_restore --single-transaction --exit-on-error`` (nothing half-done):
  ``--clean --if-exists`` into the live database, into a scratch database, or into a fresh copy
  that then replaces the live one (``recreate``, guarded).

The database password never leaves the server: ``pg_dump``/``pg_restore`` run inside the
database container and read ``POSTGRES_PASSWORD`` from its environment when they need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from moorage.operations.backups import naming
from moorage.operations.shell import Raw, sh

SCRATCH_MARK = "moorage scratch restore"

PRELUDE = r"""say() { printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() { say "FAILED: $*" >&2; failures=$((failures + 1)); }
running() {  # SERVICE -> the id of its running container in this compose project (or swarm stack, on this node)
  { docker ps -q --no-trunc --filter "label=com.docker.compose.project=$project" \
      --filter "label=com.docker.compose.service=$1" --filter status=running
    docker ps -q --no-trunc --filter "label=com.docker.swarm.service.name=${project}_$1" --filter status=running
  } | head -n 1
}
verify_dump() {  # FILE CONTAINER: pg_restore reads the table of contents, then every data block
  [ -s "$1" ] || { echo "the file is empty" >&2; return 1; }
  docker exec -i "$2" pg_restore --list < "$1" > /dev/null || return 1
  docker exec -i "$2" pg_restore --file=/dev/null < "$1"
}
verify_tar() { [ -s "$1" ] || { echo "the file is empty" >&2; return 1; }; gzip -t "$1" && tar -tzf "$1" > /dev/null; }
json_str() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }
describe() {  # FILE NAME KIND LABEL EXTRA_JSON: write NAME.json, the record of a verified backup
  size=$(stat -c %s "$1") && sha=$(sha256sum "$1" | cut -c1-64) || return 1
  fields='"name": "%s", "kind": "%s", "label": "%s", "size": %s, "sha256": "%s", "created": "%s"'
  printf "{$fields"', "verified": "%s", "state": "verified", "reason": "%s"%s}\n' \
    "$2" "$3" "$4" "$size" "$sha" "$stamp" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(json_str "$reason")" "$5" \
    > "$dir/.$2.json.partial" && mv -f "$dir/.$2.json.partial" "$dir/$2.json" \
    || { rm -f "$dir/.$2.json.partial"; return 1; }
}
"""

VOLUME_FUNCTIONS = r"""volume_of() {  # NAME -> the compose project's volume NAME, else the Docker volume so named
  v=$(docker volume ls -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.volume=$1" | head -n 1)
  if [ -z "$v" ] && docker volume inspect "$1" > /dev/null 2>&1; then v=$1; fi
  printf %s "$v"
}
image_for() {  # VOLUME IMAGE -> IMAGE, else the image of a container that mounts VOLUME, else one of the project's
  if [ -n "$2" ]; then printf %s "$2"; return; fi
  c=$(docker ps -aq --filter "volume=$1" | head -n 1)
  [ -n "$c" ] || c=$(docker ps -aq --filter "label=com.docker.compose.project=$project" | head -n 1)
  [ -z "$c" ] || docker inspect --format '{{.Image}}' "$c"
}
in_volume() {  # VOLUME IMAGE MODE PROGRAM ARGS...: PROGRAM in a throwaway container (root, no network), VOLUME on /v
  v=$1; i=$2; m=$3; e=$4; shift 4
  docker run --rm -i --network none --user 0:0 --entrypoint "$e" -v "$v:/v:$m" "$i" "$@"
}
"""

BACKUP_FUNCTIONS = r"""keep() {  # TMP NAME KIND LABEL EXTRA_JSON: record the verified file, then give it its name
  if describe "$@" && mv -f "$1" "$dir/$2"; then
    echo "@@backup $2 $size $sha"
    say "ok: $2 ($size bytes, verified)"
    files="${files:+$files, }\"$2\""
    return 0
  fi
  rm -f "$1" "$dir/$2.json"
  return 1
}
prune() {  # LABEL EXT: keep the newest $keep_count, remove those older than $keep_minutes (never the newest)
  n=0
  for f in $(cd "$dir" && ls -1r -- "$prefix-$1-"STAMP_GLOB".$2" 2>/dev/null); do
    n=$((n + 1))
    [ "$n" -eq 1 ] && continue
    if { [ "$keep_count" -gt 0 ] && [ "$n" -gt "$keep_count" ]; } \
       || { [ "$keep_minutes" -gt 0 ] && [ -n "$(find "$dir/$f" -maxdepth 0 -mmin +"$keep_minutes")" ]; }; then
      rm -f "$dir/$f" "$dir/$f.json" && say "retention: removed $f"
    fi
  done
}
dump_db() {  # SERVICE DATABASE LABEL (DATABASE empty: the service's POSTGRES_DB)
  cid=$(running "$1")
  if [ -z "$cid" ]; then
    fail "$3: service $1 of compose project $project is not running (on a swarm: here, the first manager)," \
      "so it cannot be dumped; start the stack (deploy) and back up again"
    return
  fi
  db=$(docker exec -e MOORAGE_DB="$2" "$cid" \
    sh -c 'printf %s "${MOORAGE_DB:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}"')
  name="$prefix-$3-$stamp.dump"
  tmp="$dir/.$name.partial"
  if ! docker exec -e MOORAGE_DB="$db" "$cid" sh -c \
      'export PGPASSWORD="${POSTGRES_PASSWORD:-}"; exec pg_dump -U "${POSTGRES_USER:-postgres}" -d "$MOORAGE_DB" -Fc' \
      > "$tmp"; then
    rm -f "$tmp"
    fail "$3: pg_dump of database $db, or writing it to $dir, failed (above; a full disk?); older backups are kept"
    return
  fi
  if ! verify_dump "$tmp" "$cid"; then
    rm -f "$tmp"
    fail "$3: the dump of database $db failed verification: pg_restore cannot read it back" \
      "(above; a full disk?); older backups are kept"
    return
  fi
  record_extra=", \"service\": \"$(json_str "$1")\", \"database\": \"$(json_str "$db")\"$extra"
  if ! keep "$tmp" "$name" db "$3" "$record_extra"; then
    fail "$3: cannot record $name in $dir (a full disk?); older backups are kept"
    return
  fi
  [ "$prune" = yes ] && prune "$3" dump
}
tar_media() {  # PATH LABEL
  if [ ! -d "$1" ]; then
    fail "$2: $1 is not a directory"
    return
  fi
  name="$prefix-$2-$stamp.tar.gz"
  tmp="$dir/.$name.partial"
  if ! tar -czf "$tmp" -C "$1" . || ! verify_tar "$tmp"; then
    rm -f "$tmp"
    fail "$2: the tarball of $1 failed or failed verification (above; a full disk?); older backups are kept"
    return
  fi
  if ! keep "$tmp" "$name" media "$2" ", \"path\": \"$(json_str "$1")\"$extra"; then
    fail "$2: cannot record $name in $dir (a full disk?); older backups are kept"
    return
  fi
  [ "$prune" = yes ] && prune "$2" tar.gz
}
tar_volume() {  # VOLUME LABEL IMAGE: the volume read in a container (tar), compressed here as this user
  v=$(volume_of "$1")
  [ -n "$v" ] || { fail "$2: no Docker volume $1 (of compose project $project, or so named)"; return; }
  img=$(image_for "$v" "$3")
  [ -n "$img" ] || { fail "$2: no image to read volume $v with: set image: in its backup_media entry"; return; }
  name="$prefix-$2-$stamp.tar.gz"
  tmp="$dir/.$name.partial"
  rm -f "$tmp.failed"
  { in_volume "$v" "$img" ro tar -cf - -C /v . || : > "$tmp.failed"; } | gzip > "$tmp"
  if [ $? -ne 0 ] || [ -e "$tmp.failed" ] || ! verify_tar "$tmp"; then
    rm -f "$tmp" "$tmp.failed"
    fail "$2: the tarball of volume $v failed or failed verification (above; a full disk? no tar in $img?);" \
      "older backups are kept"
    return
  fi
  if ! keep "$tmp" "$name" media "$2" ", \"volume\": \"$(json_str "$1")\"$extra"; then
    fail "$2: cannot record $name in $dir (a full disk?); older backups are kept"
    return
  fi
  [ "$prune" = yes ] && prune "$2" tar.gz
}
outside_volumes() {  # refuse a backup directory that lives in Docker's storage or in a container's mount
  real=$(cd "$dir" && pwd -P)
  for m in $(docker info --format '{{.DockerRootDir}}' 2>/dev/null) $(docker ps -aq --filter \
      "label=com.docker.compose.project=$project" | xargs -r docker inspect --format \
      '{{range .Mounts}}{{.Source}} {{end}}' 2>/dev/null); do
    case "$real/" in
      "$m"/*) say "FAILED: the backup directory $dir is inside $m (Docker's storage or a container's volume);" \
                  "set backup_dir to a directory outside every volume" >&2
              exit 1 ;;
    esac
  done
}
taken() { for f in "$dir/$prefix"-*-"$1".*; do [ -e "$f" ] && return 0; done; return 1; }
record() {  # RELEASE_JSON: add what was just backed up to the release's record
  [ -n "$files" ] || return 0
  body=$(cat "$1") || { fail "cannot read $1 to record the backup in the release"; return; }
  body=${body%"}"}
  printf '%s, "backup": {"files": [%s], "data_of": "%s", "taken": "%s"}}\n' "$body" "$files" \
    "$(json_str "$data_of")" "$stamp" > "$1.partial" && mv -f "$1.partial" "$1" \
    || { rm -f "$1.partial"; fail "cannot record the backup in $1"; }
}
""".replace("STAMP_GLOB", naming.STAMP_GLOB)


def database_label(entry: Mapping[str, Any]) -> str:
    """The label naming a database's backups: ``label``, else the service (plus the database when given)."""
    if entry.get("label"):
        return str(entry["label"])
    return f"{entry['service']}-{entry['database']}" if entry.get("database") else str(entry["service"])


def backup_script(*, backup_dir: str, project_name: str, prefix: str, databases: Sequence[Mapping[str, Any]],
                  media: Sequence[Mapping[str, Any]] = (), reason: str = "manual", data_of: str = "",
                  record_in: str = "", prune: bool = True, keep_days: int = 14, keep_count: int = 30,
                  installed: bool = False, images_of: Sequence[str] = ()) -> str:
    """The backup script.  ``installed``: the reason comes from ``$1`` (cron passes ``scheduled``).
    ``images_of``: two ``release.json`` (the new release's, the one it replaces): when both record the
    same image IDs the script backs up nothing (prints ``@@skipped``) — the data-using services didn't
    change; an unreadable record counts as a change."""
    extra = f', "data_of": "{data_of}"' if data_of else ""
    lines = [
        "#!/bin/sh",
        f"# moorage: backups of {project_name} ({prefix}) into {backup_dir}; generated, do not edit",
        "set -u",
        "umask 077",
        f"dir={sh(backup_dir)}",
        f"project={sh(project_name)}",
        f"prefix={sh(prefix)}",
        f'reason="${{1:-{reason}}}"' if installed else f"reason={sh(reason)}",
        f"data_of={sh(data_of)}",
        f"extra={sh(extra)}",
        f"prune={'yes' if prune else 'no'}",
        f"keep_count={int(keep_count)}",
        f"keep_minutes={int(keep_days) * 1440}",
        "failures=0",
        "files=",
        PRELUDE.rstrip(),
        VOLUME_FUNCTIONS.rstrip(),
        BACKUP_FUNCTIONS.rstrip(),
        *_same_images(images_of),
        *_recorded(record_in),
        'mkdir -p "$dir" || { say "FAILED: cannot create the backup directory $dir" >&2; exit 1; }',
        "outside_volumes",
        "stamp=$(date -u +%Y%m%dT%H%M%SZ)",
        'n=0; while taken "$stamp" && [ "$n" -lt 5 ]; do sleep 1; n=$((n + 1)); stamp=$(date -u +%Y%m%dT%H%M%SZ); done',
        f'say "backup of $project ({len(databases)} database(s), {len(media)} media dir(s)) into $dir, reason $reason"',
    ]
    lines += [sh("dump_db", d["service"], d.get("database") or "", database_label(d)) for d in databases]
    lines += [sh("tar_media", m["path"], m.get("label") or "media") if m.get("path")
              else sh("tar_volume", m["volume"], m.get("label") or "media", m.get("image") or "") for m in media]
    if record_in:
        lines.append(sh("record", record_in))
    lines += ['[ "$failures" -eq 0 ] || { say "FAILED: $failures backup(s) failed; older backups are kept" >&2; '
              "exit 1; }", 'say "done"']
    return "\n".join(lines) + "\n"


def _recorded(record_in: str) -> list[str]:
    """A release whose record already names its backup (a deploy interrupted after it, rerun) gets no
    second one: after its migrations started, a new backup would hold the half-migrated data."""
    if not record_in:
        return []
    return [
        sh(Raw("if grep -q '\"backup\": {'"), record_in, Raw("2>/dev/null; then")),
        '  say "no backup: this release\'s backup was taken before the interruption (recorded in its release.json)"',
        '  echo "@@skipped recorded"; exit 0',
        "fi",
    ]


def _same_images(images_of: Sequence[str]) -> list[str]:
    if not images_of:
        return []
    new, old = images_of
    return [
        # the image IDs a release.json records, whatever its layout: every sha256:HEX in it, sorted
        "images() { grep -o 'sha256:[0-9a-f]\\{64\\}' \"$1\" 2>/dev/null | LC_ALL=C sort -u; }",
        f"new_images=$(images {sh(new)}); old_images=$(images {sh(old)})",
        'if [ -n "$new_images" ] && [ "$new_images" = "$old_images" ]; then',
        '  say "no backup: the new release runs the same images as the one it replaces"',
        '  echo "@@skipped same images"; exit 0',
        "fi",
    ]


def verify_script(*, backup_dir: str, project_name: str, items: Iterable[tuple[str, str, str]]) -> str:
    """Check backups ``(name, label, service)``: prints ``@@verify NAME ok|corrupt REASON|missing|...``."""
    lines = [
        "set -u", f"dir={sh(backup_dir)}", f"project={sh(project_name)}", "reason=adopted", "stamp=",
        "failures=0", PRELUDE.rstrip(), _CHECK.rstrip(),
    ]
    lines += [sh("check", name, label, service) for name, label, service in items]
    return "\n".join(lines) + "\n"


_CHECK = r"""corrupt() {  # NAME REASON: mark its record (make one for a file that had none)
  if [ -f "$dir/$1.json" ]; then
    sed 's/"state": "[a-z]*"/"state": "corrupt"/' "$dir/$1.json" > "$dir/.$1.json.partial"
  else
    printf '{"name": "%s", "size": %s, "state": "corrupt"}\n' "$1" "$(stat -c %s "$dir/$1")" > "$dir/.$1.json.partial"
  fi && mv -f "$dir/.$1.json.partial" "$dir/$1.json"
  echo "@@verify $1 corrupt $2"
}
check() {  # NAME LABEL SERVICE
  f="$dir/$1"
  if [ ! -f "$f" ]; then echo "@@verify $1 missing"; return; fi
  want=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "$f.json" 2>/dev/null)
  if [ -n "$want" ] && [ "$(sha256sum "$f" | cut -c1-64)" != "$want" ]; then
    corrupt "$1" "its sha256 differs from the one recorded when it was made"
    return
  fi
  case "$1" in
    *.dump)
      cid=$(running "$3")
      if [ -z "$cid" ]; then echo "@@verify $1 cannot: service $3 of $project is not running"; return; fi
      if ! err=$(verify_dump "$f" "$cid" 2>&1); then
        corrupt "$1" "pg_restore cannot read it: $(printf '%s' "$err" | tail -n 1)"
        return
      fi
      kind=db; extra=", \"service\": \"$(json_str "$3")\"" ;;
    *)
      if ! err=$(verify_tar "$f" 2>&1); then
        corrupt "$1" "it is not a readable tarball: $(printf '%s' "$err" | tail -n 1)"
        return
      fi
      kind=media; extra= ;;
  esac
  if [ -z "$want" ]; then
    stamp=$(printf '%s' "$1" | sed -n 's/.*-\([0-9]\{8\}T[0-9]\{6\}Z\)\..*/\1/p')
    describe "$f" "$1" "$kind" "$2" "$extra" || { echo "@@verify $1 cannot: writing its record failed"; return; }
    echo "@@verify $1 ok recorded"
    return
  fi
  echo "@@verify $1 ok"
}
"""

_RESTORE = r"""psql_in() {  # CONTAINER ARGS...: psql as the image's superuser; SQL on stdin
  c=$1; shift
  docker exec -i "$c" sh -c 'exec psql -X -q -v ON_ERROR_STOP=1 -U "${POSTGRES_USER:-postgres}" "$@"' psql "$@"
}
pg_restore_in() {  # CONTAINER DATABASE FILE FLAGS...
  c=$1; d=$2; src=$3; shift 3
  docker exec -i "$c" sh -c 'd=$1; shift; export PGPASSWORD="${POSTGRES_PASSWORD:-}"
    exec pg_restore -U "${POSTGRES_USER:-postgres}" -d "$d" --single-transaction --exit-on-error "$@"' \
    pg_restore "$d" "$@" < "$src"
}
scratch_db() {  # CONTAINER NAME: create it marked as ours, or accept it when it already carries our mark
  state=$(echo "SELECT 'db:' || coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database" \
    "WHERE datname = :'t';" | psql_in "$1" -d postgres -At -v t="$2") || return 1
  case "$state" in
    "") printf '%s\n' 'CREATE DATABASE :"t";' "COMMENT ON DATABASE :\"t\" IS '$mark';" \
          | psql_in "$1" -d postgres -v t="$2" ;;
    "db:$mark") return 0 ;;
    *) fail "database $2 already exists and was not made by moorage: restore into another name"; return 1 ;;
  esac
}
leftovers() {  # CONTAINER DATABASE FILE: tables in the database that the backup doesn't have
  dumped=" $(docker exec -i "$1" pg_restore --list < "$3" \
    | awk '$4 == "TABLE" && $5 != "DATA" {print $5 "." $6}' | tr '\n' ' ') "
  for t in $(echo "SELECT schemaname || '.' || tablename $USER_TABLES;" | psql_in "$1" -d "$2" -At); do
    case "$dumped" in *" $t "*) ;; *) echo "@@leftover $t" ;; esac
  done
}
restore_one() {  # NAME SERVICE [DATABASE] (default: the service's POSTGRES_DB)
  f="$dir/$1"
  [ -f "$f" ] || { fail "no backup $1 in $dir"; return; }
  cid=$(running "$2")
  if [ -z "$cid" ]; then
    fail "service $2 of compose project $project is not running: start the stack first (deploy)"
    return
  fi
  live=$(docker exec -e MOORAGE_DB="${3:-}" "$cid" \
    sh -c 'printf %s "${MOORAGE_DB:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}"')
  if [ -n "$into" ]; then
    [ "$into" != "$live" ] || { fail "--into must name a scratch database, not the live one ($live)"; return; }
    scratch_db "$cid" "$into" || { fail "cannot prepare the scratch database $into"; return; }
    if ! pg_restore_in "$cid" "$into" "$f" --clean --if-exists --no-owner; then
      fail "restoring $1 into $into failed (above); the scratch database is as it was"
      return
    fi
    target=$into
  elif [ "$recreate" = yes ]; then
    fresh="${live}__moorage_restore"
    scratch_db "$cid" "$fresh" || { fail "cannot prepare the database $fresh"; return; }
    if ! pg_restore_in "$cid" "$fresh" "$f" --clean --if-exists; then
      fail "restoring $1 into a fresh database failed (above); the live database $live is untouched"
      return
    fi
    if ! printf '%s\n' 'DROP DATABASE :"live" WITH (FORCE);' 'ALTER DATABASE :"fresh" RENAME TO :"live";' \
        'COMMENT ON DATABASE :"live" IS NULL;' | psql_in "$cid" -d postgres -v live="$live" -v fresh="$fresh"; then
      fail "replacing $live by the restored copy failed (above): the restored data is in database $fresh"
      return
    fi
    target=$live
  else
    if ! pg_restore_in "$cid" "$live" "$f" --clean --if-exists; then
      fail "restoring $1 into $live failed (above); it ran in one transaction, so $live is as it was"
      return
    fi
    leftovers "$cid" "$live" "$f"
    target=$live
  fi
  tables=$(echo "SELECT count(*) $USER_TABLES;" | psql_in "$cid" -d "$target" -At)
  echo "@@restored $1 $target $tables"
}
"""


def restore_script(*, backup_dir: str, project_name: str, backups: Iterable[Mapping[str, str]], into: str = "",
                   recreate: bool = False) -> str:
    """Restore each ``{file, service, database}`` in order; stops at the first failure."""
    lines = ["set -u", f"dir={sh(backup_dir)}", f"project={sh(project_name)}", f"into={sh(into)}",
             f"recreate={'yes' if recreate else 'no'}", f"mark={sh(SCRATCH_MARK)}", "reason=", "stamp=", "failures=0",
             "USER_TABLES=\"FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')\"",
             PRELUDE.rstrip(), _RESTORE.rstrip()]
    for item in backups:
        lines.append(sh("restore_one", item["file"], item["service"], item.get("database") or ""))
        lines.append('[ "$failures" -eq 0 ] || exit 1')
    return "\n".join(lines) + "\n"


def running_command(project_name: str, service: str) -> str:
    """Prints the id of the service's running container (nothing when it isn't running)."""
    return sh("docker", "ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={project_name}",
              "--filter", f"label=com.docker.compose.service={service}", "--filter", "status=running")
