"""The ``release`` operation: snapshot the staged config as a release and switch ``current``.

Capistrano's shape: ``releases/<id>/`` holds exactly what is applied (compose
files, ``.env``, ``release.json`` with the image IDs), ``current`` points at the
live one (switched atomically), the last ``keep`` are kept.  A release is made
only when the config or an image differs from the current release's, so a
no-change deploy creates nothing.
"""

from __future__ import annotations

import json

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, TaskFailed, register
from moorage.operations.file_writes import q

_MARK = "@@release "


@register
class Release(Operation):
    """Record ``config_dir`` (compose files + ``.env``) and the IDs of ``images`` as release
    ``id`` under ``app_dir/releases/``, point ``app_dir/current`` at it, and keep the newest
    ``keep`` releases (never removing the current or the previous one).

    Nothing happens when the current release already has the same content hash.
    Registers ``release`` (the live id), ``previous`` and ``created``.
    """

    name = "release"
    batched = False
    invalidates_facts = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["app_dir", "id", "images"],
        "properties": {
            "app_dir": {"type": "string", "pattern": "^/", "description": "The application's directory."},
            "config_dir": {"type": "string", "pattern": "^/",
                           "description": "Staged config to record (default: app_dir/config)."},
            "id": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$", "description": "The new release's id."},
            "images": {"type": "array", "items": {"type": "string"},
                       "description": "Image references whose IDs are recorded."},
            "keep": {"type": "integer", "minimum": 2, "default": 5, "description": "Releases kept."},
            "metadata": {"type": "object", "description": "Extra fields for release.json (revision, by)."},
            "rollback_to": {"type": "string", "pattern": "^[A-Za-z0-9._-]*$",
                            "description": "Instead of recording: make this recorded release current again "
                                           "(image tags moved back to the recorded IDs; nothing rebuilt)."},
        },
    }

    def deleted_paths(self) -> dict[str, str]:
        """Old releases are pruned from ``app_dir/releases``."""
        return {"app_dir": f"{self.args['app_dir']}/releases"}

    def plan(self, facts: Facts) -> Change | None:
        if self.args.get("rollback_to"):
            return Change(f"make release {self.args['rollback_to']} current again",
                          data={"release": self.args["rollback_to"], "created": False})
        return Change(f"record release {self.args['id']} in {self.args['app_dir']} if the config changed",
                      data={"release": self.args["id"], "created": True})

    def would_change(self, change: Change, conn: Connection) -> bool:
        """Check mode: a release is recorded when an earlier task changes the staged config, or
        when the staged config and images on the host differ from the current release (read-only).
        The registered value is predicted like the real run's: ``created``, and ``previous`` (the
        release ``current`` points at now), so tasks guarded by them (a backup before migrations)
        show in the plan as they will run."""
        if self.args.get("rollback_to"):
            return True
        config = self.args.get("config_dir") or f"{self.args['app_dir']}/config"
        staged = any(path.startswith(config.rstrip("/") + "/") for path in self.context.changed_paths)
        current = f"readlink {q(self.args['app_dir'] + '/current')} 2>/dev/null | sed 's|^releases/||' || true"
        compare = "" if staged else \
            "\n" + self._hash_script() + '\n[ "$(cat current/.content-hash 2>/dev/null)" = "$hash" ]'
        probe = conn.run(current + compare)
        staged = staged or probe.exit_code != 0
        previous = probe.text.splitlines()[0].strip() if probe.text.strip() else ""
        change.data.update(created=staged, previous=previous if staged else "")
        return staged

    def _hash_script(self) -> str:
        """Sets ``$hash``: the staged config files and the images' IDs, hashed (read-only)."""
        app = self.args["app_dir"]
        config = self.args.get("config_dir") or f"{app}/config"
        images = " ".join(q(i) for i in self.args["images"])
        return f"""set -e
cd {q(app)}
ids=$(for i in {images}; do
  printf '%s %s\\n' "$i" "$(docker image inspect --format '{{{{.Id}}}}' "$i" 2>/dev/null)"; done)
hash=$( (cd {q(config)} && find . -maxdepth 1 -type f ! -name '.*.moorage-tmp' | LC_ALL=C sort \\
        | xargs sha256sum; printf '%s\\n' "$ids") | sha256sum | cut -c1-64)"""

    def script(self) -> str:
        """One round trip: hash config + image IDs, compare with current, create/switch/prune."""
        app, release_id = self.args["app_dir"], self.args["id"]
        config = self.args.get("config_dir") or f"{app}/config"
        keep = int(self.args.get("keep", 5))
        metadata = json.dumps(self.args.get("metadata") or {}, sort_keys=True)
        return self._hash_script() + f"""
previous=$(readlink current 2>/dev/null | sed 's|^releases/||' || true)
if [ -n "$previous" ] && [ "$(cat "current/.content-hash" 2>/dev/null)" = "$hash" ]; then
  echo "{_MARK}unchanged $previous"; exit 0
fi
mkdir -p releases
new=releases/{q(release_id)}
rm -rf "$new.partial" && mkdir "$new.partial"
cp -a {q(config)}/. "$new.partial/"
printf '%s\\n' "$hash" > "$new.partial/.content-hash"
images_json=$(printf '%s\\n' "$ids" | awk 'NF{{printf "%s\\"%s\\": \\"%s\\"", (n++?", ":""), $1, $2}}')
printf '{{"id": "%s", "created": "%s", "previous": "%s", "images": {{%s}}, "meta": %s}}\\n' \\
  {q(release_id)} "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$previous" "$images_json" {q(metadata)} \\
  > "$new.partial/release.json"
mv -T "$new.partial" "$new"
ln -sfn "$new" current.moorage-link && mv -fT current.moorage-link current
ls -1 releases | grep -v '\\.partial$' | LC_ALL=C sort -r | tail -n +{keep + 1} | while read -r old; do
  [ "$old" = {q(release_id)} ] || [ "$old" = "$previous" ] || rm -rf "releases/$old"
done
echo "{_MARK}created {release_id} $previous"
"""

    def apply(self, change: Change, conn: Connection) -> OpResult:
        if self.args.get("rollback_to"):
            return self._roll_back(conn, self.args["rollback_to"])
        result = conn.run(self.script())
        if not result.ok:
            raise TaskFailed("recording the release failed; current is unchanged", "release",
                             result.exit_code, result.stderr_tail())
        line = next((ln for ln in result.text.splitlines() if ln.startswith(_MARK)), "")
        parts = [*line[len(_MARK):].split(), "", "", ""]
        created = parts[0] == "created"
        live = parts[1]
        previous = parts[2] if created else ""
        return OpResult(changed=created, message=f"release {live} unchanged" if not created else "",
                        data={"release": live, "previous": previous, "created": created})

    def _roll_back(self, conn: Connection, release_id: str) -> OpResult:
        app = q(self.args["app_dir"])
        found = conn.run(f"cd {app} && cat releases/{q(release_id)}/release.json && echo && readlink current")
        if not found.ok:
            listing = conn.run(f"ls -1 {app}/releases 2>/dev/null | sort -r").text.split()
            raise TaskFailed(f"no release {release_id} on this host; recorded: {', '.join(listing) or 'none'}",
                             f"cat releases/{release_id}/release.json", found.exit_code)
        record_text, _, current = found.text.strip().rpartition("\n")
        record = json.loads(record_text)
        retag = [f'[ "$(docker image inspect --format \'{{{{.Id}}}}\' {q(ref)} 2>/dev/null)" = {q(image_id)} ] '
                 f"|| {{ docker tag {q(image_id)} {q(ref)} && echo retagged {q(ref)}; }}"
                 for ref, image_id in record.get("images", {}).items()]
        switch = [] if current == f"releases/{release_id}" else [
            f"ln -sfn releases/{q(release_id)} current.moorage-link && mv -fT current.moorage-link current"
            f" && echo switched"]
        result = conn.run(" && ".join([f"cd {app}", *(f"( {r} )" for r in retag), *switch]))
        if not result.ok:
            raise TaskFailed(f"could not bring release {release_id} back (its images may have been "
                             "removed from the host)", "docker tag / ln", result.exit_code, result.stderr_tail())
        changed = bool(result.text.strip())
        return OpResult(changed=changed, message=f"release {release_id} already current" if not changed else "",
                        data={"release": release_id, "previous": current.removeprefix("releases/"),
                              "created": False})
