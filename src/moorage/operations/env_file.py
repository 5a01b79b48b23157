"""The ``env_file`` operation: a ``.env`` that docker compose reads, secrets kept."""

from __future__ import annotations

import posixpath
import re
import secrets
import string
from collections.abc import Mapping
from typing import Any

from moorage.operations.base import Change, FactRequest, Facts, Operation, PlanError, Shell, register
from moorage.operations.dotenv import EnvSyntaxError, env_refusal, parse_env, quote_env
from moorage.operations.file_writes import GROUP, MODE, OWNER, PATH, content_diff, normalize_mode, plan_write
from moorage.operations.shell import sh
from moorage.secrets import MASK
from moorage.serverpaths import home_of

_SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|API_KEY|_KEY$", re.I)
_ALPHABET = string.ascii_letters + string.digits
_BARE_LINE = re.compile(r"^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z0-9_./:,@+=%-]*)$", re.M)
HEADER = "# Managed by moorage: edits here are replaced on the next deploy.\n"
STORE_HEADER = ("# moorage: the generated secrets of a compose project, read back by every deploy (so a new\n"
                "# app_dir or environment keeps them); do not edit.\n")
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
            "keep_secrets_as": {"type": "string", "pattern": "^([a-z0-9][a-z0-9_-]*)?$",
                                "description": "Also keep the generated secrets in ~/.moorage/secrets/NAME.env of "
                                               "the connecting user (NAME: the compose project), read back when "
                                               "the .env lacks them: a new app_dir keeps its passwords."},
            "mode": {**MODE, "default": "0600"},
            "owner": OWNER,
            "group": GROUP,
        },
    }

    @property
    def path(self) -> str:
        return str(self.args["path"])

    @property
    def store(self) -> str:
        """The secrets store (``~/.moorage/secrets/NAME.env``), or "" when not kept there."""
        name = self.args.get("keep_secrets_as") or ""
        if not name or not self.context.user or not any(is_generated(v) for v in self.args["values"].values()):
            return ""
        return posixpath.join(home_of(self.context.user), ".moorage", "secrets", f"{name}.env")

    def facts_needed(self) -> FactRequest:
        paths = {self.path, self.store} - {""}
        return FactRequest(paths, paths)  # the current values: generated secrets are kept

    def plan(self, facts: Facts) -> Change | None:
        current = facts[self.path]
        existing = _read_current(current.content) if current.content else {}
        stored = _read_current(facts[self.store].content or b"") if self.store else {}
        resolved, secret_keys = self._resolve(existing, stored)
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
        generated = [k for k, v in self.args["values"].items() if is_generated(v)]
        new = [k for k in generated if not existing.get(k) and not stored.get(k)]
        kept = self._keep(facts, stored, {k: resolved[k] for k in generated})
        return _joined([c for c in (change, kept) if c is not None], {"new_secrets": new} if new else {})

    def _keep(self, facts: Facts, stored: dict[str, str], generated: dict[str, Any]) -> Change | None:
        """The store holding ``generated`` (other projects' keys it had are kept), or None."""
        if not self.store:
            return None
        values = {**stored, **generated}
        if values == stored and facts[self.store].exists:
            return None
        data = (STORE_HEADER + "".join(f"{k}={quote_env(v)}\n" for k, v in values.items())).encode()
        write = plan_write(self.store, data, facts, "0600", None, None, default_mode="0600", mask=self.context.mask)
        if write is None:
            return None
        mkdir = [] if facts[self.store].exists else [Shell(sh("mkdir", "-p", "-m", "0700",
                                                              posixpath.dirname(self.store)))]
        return Change(write.summary, [*mkdir, *write.steps], after=write.after,
                      diff=_masked_diff(self.store, stored if facts[self.store].exists else None, values, set(values)))

    def _resolve(self, existing: Mapping[str, str], stored: Mapping[str, str]) -> tuple[dict[str, Any], set[str]]:
        resolved: dict[str, Any] = {}
        secret_keys: set[str] = set()
        for key, value in self.args["values"].items():
            if is_generated(value):
                kept = existing.get(key) or stored.get(key)
                value = kept if kept else "".join(secrets.choice(_ALPHABET)
                                                  for _ in range(int(value["generate"])))
                secret_keys.add(key)
                self.context.register_secret(value)
            elif _SECRET_NAME.search(key) or (value and self.context.mask(str(value)) != str(value)):
                secret_keys.add(key)
            resolved[key] = value
        return resolved, secret_keys


def _joined(changes: list[Change], data: dict[str, Any]) -> Change | None:
    """One change of the .env and the store (None when neither changes)."""
    if not changes:
        return None
    if len(changes) == 1 and not data:
        return changes[0]
    return Change("; ".join(c.summary for c in changes), [s for c in changes for s in c.steps],
                  diff="".join(c.diff or "" for c in changes) or None, after=[a for c in changes for a in c.after],
                  data=data)


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
