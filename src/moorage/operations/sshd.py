"""``sshd_config``: sshd settings in a drop-in file, proven before sshd is told to reload.

A mistake in sshd's configuration can lock everyone out, so the new drop-in goes live only when
``sshd -t`` accepts the whole configuration *and* ``sshd -T`` shows every asked setting in effect
(another drop-in read earlier, or the main file, can win: sshd keeps the first value it reads).
Otherwise the previous file is put back and sshd is not reloaded.  The previous file is kept as
``.NAME.moorage-previous`` so a caller that finds it can't log in any more can ``restore_script``.
"""

from __future__ import annotations

import posixpath
from typing import Any

from moorage.operations.base import Change, FactRequest, Facts, Operation, register
from moorage.operations.config import candidate_path, through_candidate
from moorage.operations.file_writes import plan_write, q
from moorage.operations.scripted import PATH_PRELUDE

DROP_IN = "/etc/ssh/sshd_config.d/00-moorage.conf"  # 00-: read before the distribution's (e.g. cloud-init's 50-)

RELOAD = "\n".join([
    # sshd re-executes itself on SIGHUP (systemd's reload sends one too) and writes its pid file
    # again once it listens with the new configuration: wait for that, so the next login meets it.
    "stamp=$(stat -c %y /run/sshd.pid 2>/dev/null || true)",
    "if [ -d /run/systemd/system ]; then",
    "  systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || systemctl is-active -q ssh.socket "
    "|| { echo 'the new sshd configuration is in place but reloading sshd failed (systemctl reload ssh)' >&2; "
    "exit 1; }",
    "elif [ -n \"$stamp\" ]; then",
    '  kill -HUP "$(cat /run/sshd.pid)"',
    "else",
    "  echo 'the new sshd configuration is in place but sshd could not be told to reload: no systemd and no "
    "/run/sshd.pid' >&2; exit 1",
    "fi",
    "i=0; while [ -n \"$stamp\" ]; do now=$(stat -c %y /run/sshd.pid 2>/dev/null || true)",
    '  if [ -n "$now" ] && [ "$now" != "$stamp" ]; then break; fi',
    "  i=$((i+1)); if [ $i -gt 100 ]; then echo 'sshd did not confirm its reload within 10 s (its pid file "
    "was not written again)' >&2; exit 1; fi; sleep 0.1",
    "done",
])


def previous_path(path: str) -> str:
    """Where the file sshd used before the last change is kept (sshd never reads it)."""
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.moorage-previous")


def restore_script(path: str = DROP_IN) -> str:
    """Shell that puts back the configuration from before the last change and reloads sshd."""
    current, previous = q(path), q(previous_path(path))
    return "\n".join([PATH_PRELUDE, f"if [ -e {previous} ]; then cp -p -- {previous} {current}; "
                      f"else rm -f -- {current}; fi", RELOAD])


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@register
class SshdConfig(Operation):
    """Ensure sshd runs with ``settings`` (e.g. ``PermitRootLogin: "no"``), written to a drop-in file.

    The change goes live only after ``sshd -t`` accepts the configuration and ``sshd -T`` shows each
    setting in effect; then sshd reloads (systemd, or SIGHUP to the pid in /run/sshd.pid).  Sessions
    already open stay open.  On any refusal the previous file is put back and the task fails
    saying why.  Write settings as ``sshd -T`` prints them (canonical names, not aliases).
    """

    name = "sshd_config"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["settings"],
        "properties": {
            "settings": {"type": "object", "minProperties": 1,
                         "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9]*$"},
                         "additionalProperties": {"type": ["string", "integer", "boolean"]},
                         "description": "sshd keywords and their values; true/false become yes/no."},
            "path": {"type": "string", "pattern": "^/etc/ssh/[^\n]*\\.conf$", "default": DROP_IN,
                     "description": "The drop-in file (default /etc/ssh/sshd_config.d/00-moorage.conf); "
                                    "sshd_config must Include it."},
            "reload": {"type": "boolean", "default": True, "description": "Reload sshd after a change."},
        },
    }

    @property
    def path(self) -> str:
        return str(self.args.get("path", DROP_IN))

    def facts_needed(self) -> FactRequest:
        return FactRequest({self.path}, {self.path} if self.context.diff else set())

    def content(self) -> str:
        lines = [f"{key} {_word(value)}" for key, value in self.args["settings"].items()]
        return "# Managed by moorage: proven with `sshd -t` and `sshd -T` before sshd reloads.\n" + \
            "".join(f"{line}\n" for line in lines)

    def plan(self, facts: Facts) -> Change | None:
        change = plan_write(self.path, self.content().encode(), facts, "0644", "root", "root")
        return through_candidate(change, self.path, self._install())

    def _install(self) -> str:
        path, candidate, previous = q(self.path), q(candidate_path(self.path)), q(previous_path(self.path))
        expected = " ".join(q(f"{key.lower()} {_word(value).lower()}") for key, value in self.args["settings"].items())
        back = "the previous configuration is back in place and sshd was not reloaded"
        lines = [
            PATH_PRELUDE,
            f"if [ -e {path} ]; then cp -p -- {path} {previous}; else rm -f -- {previous}; fi",
            f"mv -f -- {candidate} {path}",
            f"restore() {{ if [ -e {previous} ]; then cp -p -- {previous} {path}; else rm -f -- {path}; fi; }}",
            "if ! out=$(sshd -t 2>&1); then",
            "  restore; printf '%s\\n' \"$out\" >&2",
            f"  echo {q(f'sshd -t rejected the configuration with the new {self.path}; {back}')} >&2; exit 1",
            "fi",
            "effective=$(sshd -T 2>/dev/null) || effective=''; missing=''",
            f"for want in {expected}; do",
            "  printf '%s\\n' \"$effective\" | grep -qixF -- \"$want\" || missing=\"$missing, $want\"",
            "done",
            'if [ -n "$missing" ]; then',
            "  restore",
            "  echo \"sshd would not apply:${missing#,} (another file of sshd_config.d or sshd_config sets it first, "
            f"or sshd_config does not Include {posixpath.dirname(self.path)}/*.conf); {back}\" >&2; exit 1",
            "fi",
        ]
        if self.args.get("reload", True):
            lines.append(RELOAD)
        return "\n".join(lines)
