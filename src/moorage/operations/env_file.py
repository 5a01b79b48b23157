"""The ``env_file`` operation: a ``.env`` that docker compose reads, secrets kept."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

from moorage.operations.base import Change, FactRequest, Facts, Operation, PlanError, register
from moorage.operations.dotenv import EnvSyntaxError, env_refusal, parse_env, quote_env
from moorage.operations.file_writes import GROUP, MODE, OWNER, PATH, content_diff, normalize_mode, plan_write
from moorage.secrets import MASK

_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|API_KEY|_KEY$", re.I)
_ALPHABET = string.ascii_letters + string.digits
_BARE_LINE = re.compile(r"^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z0-9_./:,@+=%-]*)$", re.M)
HEADER = "# Managed by moorage: edits here are replaced on the next deploy.\n"
__all__ = ["EnvFile", "env_refusal", "is_generated", "parse_env", "quote_env"]


def is_generated(value: Any) -> bool:
    """Whether ``value`` asks for a secret generated on first write: ``{generate: N}``."""
    return isinstance(value, Mapping) and "generate" in value


@register
class EnvFile(Operation):
    """Write a ``.env`` file from ``values``, quoted the way docker compose reads it.

    A value ``{generate: N}`` is an N-character random secret created the first
    time and kept on every later run (read back from the file on the host), so a
    deploy never rotates a secret by accident.  Secret values are masked in
    diffs and output.  Mode defaults to 0600.

    Every value reads back unchanged through docker compose, as a service's
    ``env_file:`` and as ``--env-file``: it is written bare, in ``'...'`` or in
    ``"..."`` by compose-go's dotenv rules (docs/variables.md).  A value no
    ``.env`` can hold (a NUL byte, invalid Unicode) fails the task naming the
    variable; ``check --host`` refuses it before any run.
    """

    name = "env_file"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "values"],
        "properties": {
            "path": PATH,
            "values": {
                "type": "object",
                "description": "Variable name -> value; {generate: N} creates an N-char secret once.",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {
                    "anyOf": [
                        {"type": ["string", "number", "boolean", "null"]},
                        {"type": "object", "additionalProperties": False, "required": ["generate"],
                         "properties": {"generate": {"type": "integer", "minimum": 16, "maximum": 256}}},
                    ]
                },
            },
            "mode": {**MODE, "default": "0600"},
            "owner": OWNER,
            "group": GROUP,
        },
    }

    @property
    def path(self) -> str:
        return str(self.args["path"])

    def facts_needed(self) -> FactRequest:
        return FactRequest({self.path}, {self.path})  # the current values: generated secrets are kept

    def plan(self, facts: Facts) -> Change | None:
        current = facts[self.path]
        existing = _read_current(current.content) if current.content else {}
        resolved, secret_keys = self._resolve(existing)
        for key, value in resolved.items():
            if reason := env_refusal(value):  # the value itself is never shown: it may be a secret
                raise PlanError(f"cannot write {self.path}: the value of {key} {reason}")
        data = (HEADER + "".join(f"{k}={quote_env(v)}\n" for k, v in resolved.items())).encode()
        change = plan_write(self.path, data, facts, normalize_mode(self.args.get("mode")) or "0600",
                            self.args.get("owner"), self.args.get("group"), default_mode="0600",
                            mask=self.context.mask)
        if change and change.diff is not None:
            change.diff = _masked_diff(self.path, existing if current.content is not None else None,
                                       resolved, secret_keys)
        return change

    def _resolve(self, existing: Mapping[str, str]) -> tuple[dict[str, Any], set[str]]:
        resolved: dict[str, Any] = {}
        secret_keys: set[str] = set()
        for key, value in self.args["values"].items():
            if is_generated(value):
                kept = existing.get(key)
                value = kept if kept else "".join(secrets.choice(_ALPHABET)
                                                  for _ in range(int(value["generate"])))
                secret_keys.add(key)
                self.context.register_secret(value)
            elif _SECRET_NAME.search(key) or (value and self.context.mask(str(value)) != str(value)):
                secret_keys.add(key)
            resolved[key] = value
        return resolved, secret_keys


def _read_current(data: bytes) -> dict[str, str]:
    """The values of the file on the host, as compose reads them.

    A file compose can't read (edited by hand, or written by a moorage before
    the writer followed compose-go's rules) still gives its bare ``KEY=value``
    lines: generated secrets are always written bare, so none is lost.
    """
    text = data.decode(errors="replace")
    try:
        return parse_env(text)
    except EnvSyntaxError:
        return {m.group(1): m.group(2) for m in _BARE_LINE.finditer(text)}


def _masked_diff(path: str, old: Mapping[str, str] | None, new: Mapping[str, Any],
                 secret_keys: set[str]) -> str:
    """Diff of the variables with secret values replaced; a changed secret says so."""

    def render(values: Mapping[str, Any], other: Mapping[str, Any] | None) -> bytes:
        lines = []
        for key, value in values.items():
            if key in secret_keys:
                note = " (changed)" if other is not None and key in other and \
                    str(other[key]) != str(value) else ""
                lines.append(f"{key}={MASK}{note}\n")
            else:
                lines.append(f"{key}={quote_env(value)}\n")
        return "".join(lines).encode()

    before = render(old, None) if old is not None else None
    return content_diff(path, before, render(new, old))
