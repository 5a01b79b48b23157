"""The POSIX sh that puts a media tarball back (pure: no connection here).

A named volume is emptied and unpacked inside a throwaway container (root inside it, no network,
the volume mounted on ``/v``), so the connecting user needs no root; a directory on the host is
emptied and unpacked as the connecting user.  Each tarball is read back (``gzip -t``, ``tar -t``)
before anything is removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from moorage.operations.backups.scripts import PRELUDE, VOLUME_FUNCTIONS
from moorage.operations.shell import sh

_RESTORE_MEDIA = r"""restore_volume() {  # FILE VOLUME IMAGE
  f="$dir/$1"
  [ -f "$f" ] || { fail "no backup $1 in $dir"; return; }
  verify_tar "$f" || { fail "$1 is not a readable tarball (above); nothing was changed"; return; }
  v=$(volume_of "$2")
  [ -n "$v" ] || { fail "no Docker volume $2 (of compose project $project, or so named); nothing was changed"; return; }
  img=$(image_for "$v" "$3")
  [ -n "$img" ] || { fail "no image to write volume $v with: set image: in its backup_media entry"; return; }
  if ! gzip -dc "$f" | in_volume "$v" "$img" rw sh -c 'find /v -mindepth 1 -delete && tar -xpf - -C /v'; then
    fail "restoring $1 into volume $v failed (above); the safety backup holds what the volume had"
    return
  fi
  echo "@@restored $1 $v $(in_volume "$v" "$img" ro sh -c 'find /v -mindepth 1 | wc -l')"
}
restore_path() {  # FILE DIRECTORY
  f="$dir/$1"
  [ -f "$f" ] || { fail "no backup $1 in $dir"; return; }
  verify_tar "$f" || { fail "$1 is not a readable tarball (above); nothing was changed"; return; }
  [ -d "$2" ] || { fail "$2 is not a directory; nothing was changed"; return; }
  if ! { find "$2" -mindepth 1 -delete && tar -xzf "$f" -C "$2"; }; then
    fail "restoring $1 into $2 failed (above); the safety backup holds what the directory had"
    return
  fi
  echo "@@restored $1 $2 $(find "$2" -mindepth 1 | wc -l)"
}
"""


def restore_media_script(*, backup_dir: str, project_name: str, items: Iterable[Mapping[str, str]]) -> str:
    """Restore each ``{file, volume | path, image}`` in order, stopping at the first failure; prints
    ``@@restored FILE WHERE ENTRIES`` for each."""
    lines = ["set -u", f"dir={sh(backup_dir)}", f"project={sh(project_name)}", "reason=", "stamp=", "failures=0",
             PRELUDE.rstrip(), VOLUME_FUNCTIONS.rstrip(), _RESTORE_MEDIA.rstrip()]
    for item in items:
        lines.append(sh("restore_path", item["file"], item["path"]) if item.get("path")
                     else sh("restore_volume", item["file"], item["volume"], item.get("image") or ""))
        lines.append('[ "$failures" -eq 0 ] || exit 1')
    return "\n".join(lines) + "\n"
