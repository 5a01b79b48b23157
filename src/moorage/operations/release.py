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
from moorage.facts.paths import PathFacts
from moorage.operations.base import Change, Check, Facts, Operation, OpResult, PlanError, Shell, TaskFailed, register
from moorage.operations.file_writes import changed_under
from moorage.operations.image import IMAGE_ITEM, image_refs
from moorage.operations.shell import Raw, sh

_MARK = "@@release "
# The compose_app role's default release_id: set only by a run that isn't `moorage deploy`
# (which gives every release its own id).  Recording it would give two releases one id.
PLACEHOLDER_ID = "manual"
_RECORDED = 3  # the script's exit status when the id names a release already recorded
# The server gives each release the next number (the highest recorded, or the counter, plus one):
# history is ordered by it, not by the id's time, which comes from the controller's clock.
_SEQ_OF = "sed -n 's/^{\"id\": \"[^\"]*\", \"seq\": \\([0-9][0-9]*\\),.*/\\1/p'"
_SEQUENCE = f"""seq=$( {{ cat .moorage/sequence 2>/dev/null || true
  cat releases/*/release.json 2>/dev/null | {_SEQ_OF}; }} | sort -n | tail -n 1)
seq=$(( ${{seq:-0}} + 1 ))
mkdir -p .moorage && printf '%s\\n' "$seq" > .moorage/sequence"""


@register
class Release(Operation):
    """Record ``config_dir`` (the whole staged tree: compose files, ``.env``, config folders) and
    the IDs of ``images`` as release ``id`` under ``app_dir/releases/``, point ``app_dir/current``
    at it, and keep the newest ``keep`` releases (never removing the current or the previous one).

    Nothing happens when the current release already has the same content hash.  Refuses the
    placeholder id ``manual`` (``PlanError``) and an id already recorded (``TaskFailed``): release
    ids are unique.  Registers ``release`` (the live id), ``previous``, ``created`` and ``resumed``:
    the current release has the same content but is still ``pending`` (switched to, never passed its
    gate: a deploy was interrupted), so this run finishes it (its backup, migrations, up, gates).
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
            "images": {"type": "array", "items": IMAGE_ITEM,
                       "description": "Image references whose IDs are recorded (as the image operation "
                                      "takes them: a ref or `{ref, source}`; each ref once)."},
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
        """Recording: a ``Check`` (read-only: prints the release ``current`` points at, exits 0 when
        the staged config and image IDs hash as the current release's — or, when earlier tasks
        change the staged config, never), then the script that records, switches and prunes (it
        compares again itself).  Rolling back: read the recorded release (and list the recorded
        ones, to say which exist when it isn't there); the image tags and the switch follow
        from the record (``restore_command``)."""
        app = self.args["app_dir"]
        if self.args.get("rollback_to"):
            release_id = self.args["rollback_to"]
            return Change(f"make release {release_id} current again", [
                Shell(sh("cd", app, Raw("&&"), "cat", f"releases/{release_id}/release.json", Raw("&& echo &&"),
                         "readlink", "current")),
                Shell(sh("ls", "-1", f"{app}/releases", Raw("2>/dev/null | sort -r")))],
                data={"release": release_id, "created": False})
        if self.args["id"] == PLACEHOLDER_ID:
            raise PlanError(f"release id {PLACEHOLDER_ID!r} is the placeholder of a run that is not a deploy: "
                            "release with `moorage deploy` (it takes the lock, runs the preflight and gives the "
                            "release its own id)")
        config = self.args.get("config_dir") or f"{app}/config"
        staged = changed_under(self.context.changed_paths, config.rstrip("/"))
        current = sh("readlink", f"{app}/current", Raw("2>/dev/null | sed 's|^releases/||' || true"))
        compare = "exit 1" if staged else self._hash_script() + (  # a pending current is finished: a change
            '\n[ "$(cat current/.content-hash 2>/dev/null)" = "$hash" ]'
            ' && [ "$(cat current/.state 2>/dev/null)" != pending ]')
        return Change(f"record release {self.args['id']} in {app} if the config changed",
                      [Check(f"{current}\n{compare}"), Shell(self.script())],
                      data={"release": self.args["id"], "created": True},
                      after=[PathFacts(f"{app}/current", "link")])  # check mode: what runs there waits

    def _hash_script(self) -> str:
        """Sets ``$hash``: every file of the staged tree (sub-folders included: a changed config in
        ``configs/`` is a new release) and the images' IDs, hashed (read-only)."""
        app = self.args["app_dir"]
        config = self.args.get("config_dir") or f"{app}/config"
        images = " ".join(sh(i) for i in image_refs(self.args["images"]))
        return f"""set -e
cd {sh(app)}
ids=$(for i in {images}; do
  printf '%s %s\\n' "$i" "$(docker image inspect --format '{{{{.Id}}}}' "$i" 2>/dev/null)"; done)
hash=$( (cd {sh(config)} && find . -type f ! -name '.*.moorage-tmp' -print0 | LC_ALL=C sort -z \\
        | xargs -0r sha256sum; printf '%s\\n' "$ids") | sha256sum | cut -c1-64)"""

    def script(self) -> str:
        """One round trip: hash config + image IDs, compare with current, create/switch/prune."""
        app, release_id = self.args["app_dir"], self.args["id"]
        config = self.args.get("config_dir") or f"{app}/config"
        keep = int(self.args.get("keep", 5))
        metadata = json.dumps(self.args.get("metadata") or {}, sort_keys=True)
        return self._hash_script() + f"""
previous=$(readlink current 2>/dev/null | sed 's|^releases/||' || true)
if [ -n "$previous" ] && [ "$(cat "current/.content-hash" 2>/dev/null)" = "$hash" ]; then
  if [ "$(cat current/.state 2>/dev/null)" = pending ]; then
    echo "{_MARK}resumed $previous $(sed -n 's/.*"previous": "\\([^"]*\\)".*/\\1/p' current/release.json)"; exit 0
  fi
  echo "{_MARK}unchanged $previous"; exit 0
fi
mkdir -p releases
new=releases/{sh(release_id)}
if [ -e "$new" ]; then echo "release {release_id} is already recorded" >&2; exit {_RECORDED}; fi
rm -rf "$new.partial" && mkdir "$new.partial"
cp -a {sh(config)}/. "$new.partial/"
printf '%s\\n' "$hash" > "$new.partial/.content-hash"
images_json=$(printf '%s\\n' "$ids" | awk 'NF{{printf "%s\\"%s\\": \\"%s\\"", (n++?", ":""), $1, $2}}')
{_SEQUENCE}
printf 'pending\\n' > "$new.partial/.state"
printf '{{"id": "%s", "seq": %s, "created": "%s", "previous": "%s", "images": {{%s}}, "meta": %s}}\\n' \\
  {sh(release_id)} "$seq" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$previous" "$images_json" {sh(metadata)} \\
  > "$new.partial/release.json"
mv -T "$new.partial" "$new"
ln -sfn "$new" current.moorage-link && mv -fT current.moorage-link current
""" + prune_script(release_id, keep) + f"""
echo "{_MARK}created {release_id} $previous"
"""

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The recording script (or the rollback); in check mode the ``Check`` alone, predicting
        ``created`` and ``previous`` as the real run will register them."""
        if self.args.get("rollback_to"):
            return self._roll_back(conn, change)
        run = next((s for s in change.steps if isinstance(s, Shell)), None)
        if run is None:
            probe = conn.run(change.required_check().script)
            created = probe.exit_code != 0
            previous = probe.text.splitlines()[0].strip() if probe.text.strip() else ""
            return OpResult(changed=created, data={"release": self.args["id"], "created": created,
                                                   "previous": previous if created else ""})
        result = conn.run(run.script)
        if result.exit_code == _RECORDED:
            raise TaskFailed(f"release {self.args['id']} is already recorded in {self.args['app_dir']}/releases: "
                             "a release id names one release; current is unchanged", "release", result.exit_code)
        if not result.ok:
            raise TaskFailed("recording the release failed; current is unchanged", "release",
                             result.exit_code, result.stderr_tail())
        line = next((ln for ln in result.text.splitlines() if ln.startswith(_MARK)), "")
        parts = [*line[len(_MARK):].split(), "", "", ""]
        created, resumed = parts[0] == "created", parts[0] == "resumed"
        live = parts[1]
        previous = parts[2] if created or resumed else ""
        message = "" if created else f"release {live} unchanged"
        if resumed:
            message = (f"release {live} is current but never passed its gate (an interrupted deploy): "
                       "this run finishes it")
        return OpResult(changed=created, message=message,
                        data={"release": live, "previous": previous, "created": created, "resumed": resumed})

    def _roll_back(self, conn: Connection, change: Change) -> OpResult:
        release_id = self.args["rollback_to"]
        find, listing = (step.script for step in change.steps)  # type: ignore[union-attr]
        found = conn.run(find)
        if not found.ok:
            recorded = conn.run(listing).text.split()
            raise TaskFailed(f"no release {release_id} on this host; recorded: {', '.join(recorded) or 'none'}",
                             f"cat releases/{release_id}/release.json", found.exit_code)
        record_text, _, current = found.text.strip().rpartition("\n")
        record = json.loads(record_text)
        result = conn.run(restore_command(self.args["app_dir"], release_id, record.get("images", {}), current))
        if not result.ok:
            raise TaskFailed(f"could not bring release {release_id} back (its images may have been "
                             "removed from the host)", "docker tag / ln", result.exit_code, result.stderr_tail())
        changed = bool(result.text.strip())
        return OpResult(changed=changed, message=f"release {release_id} already current" if not changed else "",
                        data={"release": release_id, "previous": current.removeprefix("releases/"),
                              "created": False})


def restore_command(app_dir: str, release_id: str, images: dict[str, str], current: str) -> str:
    """Bring a recorded release back: each image tag moved to its recorded ID (when it isn't
    there already), then ``current`` switched (unless it already points there).  Prints one line
    per thing it did.  ``images``: ref -> ID as recorded in the release's release.json; ``current``:
    where the ``current`` link points now."""
    retag = [sh(Raw('[ "$('), "docker", "image", "inspect", "--format", "{{.Id}}", ref, Raw('2>/dev/null)" ='),
                image_id, Raw("] || {"), "docker", "tag", image_id, ref, Raw("&&"), "echo", "retagged", ref,
                Raw("; }"))
             for ref, image_id in images.items()]
    switch = [] if current == f"releases/{release_id}" else [
        sh("ln", "-sfn", f"releases/{release_id}", "current.moorage-link", Raw("&&"), "mv", "-fT",
           "current.moorage-link", "current", Raw("&& echo switched"))]
    return " && ".join([sh("cd", app_dir), *(f"( {r} )" for r in retag), *switch])


def prune_script(release_id: str, keep: int) -> str:
    """Keep ``keep`` releases: never the new one, the one it replaced (``$previous``) or a live one;
    failed releases go first, then the oldest by server sequence (a release recorded before sequence
    numbers counts as older than every numbered one, and among those the id orders)."""
    return f"""total=$(ls -1 releases | grep -vc '\\.partial$' || true)
if [ "$total" -gt {keep} ]; then
  for dir in releases/*/; do
    old=${{dir#releases/}}; old=${{old%/}}
    case "$old" in *.partial) continue ;; esac
    state=$(cat "releases/$old/.state" 2>/dev/null || true)
    [ "$old" = {sh(release_id)} ] || [ "$old" = "$previous" ] || [ "$state" = live ] && continue
    n=$({_SEQ_OF} "releases/$old/release.json" 2>/dev/null || true)
    printf '%s %s %s\\n' "$([ "$state" = failed ] && echo 0 || echo 1)" "${{n:-0}}" "$old"
  done | LC_ALL=C sort -k1,1n -k2,2n -k3,3 | head -n $((total - {keep})) | while read -r _ _ old; do
    rm -rf "releases/$old"
  done
fi"""
