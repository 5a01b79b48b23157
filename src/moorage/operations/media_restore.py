"""``media_restore``: put media tarballs back, behind the data guard's permit."""

from __future__ import annotations

from typing import Any

from moorage.connection.base import Connection
from moorage.operations.backups import guard
from moorage.operations.backups.media import restore_media_script
from moorage.operations.backups.naming import SAFE
from moorage.operations.base import Change, Facts, Operation, OpResult, Permit, Shell, TaskFailed, register
from moorage.operations.postgres import BACKUP_ARGS, MEDIA, failures


@register
class MediaRestore(Operation):
    """Replace media with verified tarballs from ``backup_dir``: a named volume of the compose
    project is emptied and unpacked inside a throwaway container (root inside it, no network), so
    the connecting user needs no ``become``; a directory on the host as the connecting user.  Each
    tarball is read back first.  It replaces data, so it needs ``permit``, which only the data
    guard gives (``restore --media``, after its checks, the safety backup and the confirmation).
    Registers ``restored`` (the file names).
    """

    name = "media_restore"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["backup_dir", "project_name", "media", "permit"],
        "properties": {
            "backup_dir": BACKUP_ARGS["backup_dir"],
            "project_name": BACKUP_ARGS["project_name"],
            "media": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["file"],
                "oneOf": [{"required": ["path"]}, {"required": ["volume"]}],
                "properties": {"file": {"type": "string", "pattern": f"^{SAFE}$", "description": "Tarball name."},
                               **{k: MEDIA["items"]["properties"][k] for k in ("path", "volume", "image")}}},
                "description": "Tarballs to restore, in order: [{file, volume | path, image}]."},
            "permit": {"type": "string", "description": "The data guard's permit."},
        },
    }

    def _what(self) -> str:
        return "replace " + ", ".join(f"{m.get('path') or 'volume ' + m['volume']} with {m['file']}"
                                      for m in self.args["media"])

    def plan(self, facts: Facts) -> Change | None:
        """The restore script, behind the data guard's permit."""
        return Change(self._what(), [Permit(self.args.get("permit", ""), self._what()), Shell(restore_media_script(
            backup_dir=self.args["backup_dir"], project_name=self.args["project_name"], items=self.args["media"]))])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The permit checked (``GuardRefused`` when missing), then the restore."""
        for step in change.steps:
            if isinstance(step, Permit):
                guard.require_permit(step.token, step.what)
        script = next(step for step in change.steps if isinstance(step, Shell)).script
        result = conn.run(script)
        restored = [line.split()[1:] for line in result.text.splitlines() if line.startswith("@@restored ")]
        if not result.ok:
            done = f" (restored before it failed: {', '.join(r[0] for r in restored)})" if restored else ""
            said = failures(result.stderr.decode("utf-8", "replace")) or "see above"
            raise TaskFailed(f"media restore failed: {said}{done}", "tar -x", result.exit_code, result.stderr_tail(15))
        summary = ", ".join(f"{r[0]} into {r[1]} ({r[2]} entries)" for r in restored if len(r) >= 3)
        data: dict[str, Any] = {"restored": [r[0] for r in restored]}
        return OpResult(changed=True, stdout=result.text, message=summary, data=data)
