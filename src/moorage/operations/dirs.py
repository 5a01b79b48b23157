"""``dirs``: several directories with one owner and mode (playbooks have no loops)."""

from __future__ import annotations

from moorage.operations.base import Change, FactRequest, Facts, Operation, register
from moorage.operations.file_writes import ATTRIBUTES, PATH
from moorage.operations.files import Dir


@register
class Dirs(Operation):
    """Ensure each directory of ``paths`` exists (with parents) with the given mode and owner.

    The same as one ``dir`` task per path, in one task: e.g. every directory the deploy roles
    write to, owned by the deploy user.  An empty list does nothing.
    """

    name = "dirs"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["paths"],
        "properties": {
            "paths": {"type": "array", "items": PATH, "description": "Absolute paths of the directories."},
            **ATTRIBUTES,
        },
    }

    def _each(self) -> list[Dir]:
        attributes = {k: self.args[k] for k in ATTRIBUTES if k in self.args}
        return [Dir({"path": path, **attributes}, self.context) for path in dict.fromkeys(self.args["paths"])]

    def facts_needed(self) -> FactRequest:
        return FactRequest({path for path in self.args["paths"]})

    def plan(self, facts: Facts) -> Change | None:
        changes = [change for change in (one.plan(facts) for one in self._each()) if change is not None]
        if not changes:
            return None
        return Change("; ".join(c.summary for c in changes), [s for c in changes for s in c.steps],
                      after=[a for c in changes for a in c.after])
