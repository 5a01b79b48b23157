"""Accounts: ``user`` (exists, shell, groups) and ``authorized_key`` (keys that may log in as it)."""

from __future__ import annotations

import posixpath
import re

from moorage.operations.base import (
    Change,
    FactRequest,
    Facts,
    Operation,
    PathFacts,
    PlanError,
    Shell,
    Step,
    Upload,
    register,
)
from moorage.operations.file_writes import attribute_changes, content_diff, q, sha256
from moorage.operations.scripted import DID, ScriptedOperation, each

NAME = {"type": "string", "pattern": "^[a-z_][a-z0-9_-]*[$]?$", "maxLength": 32,
        "description": "The account's name."}
_KEY = re.compile(r"^(?:ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+=*( .*)?$")


@register
class User(ScriptedOperation):
    """Ensure a local account exists, with its shell, and is a member of ``groups``.

    A new account gets a home directory, a group of its own and a locked password (it logs in
    with keys only).  Groups are added, never removed; a group that doesn't exist is an error
    (install what provides it first: ``docker.io`` creates ``docker``).
    """

    name = "user"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": NAME,
            "groups": {"type": "array", "items": NAME, "default": [],
                       "description": "Supplementary groups it must belong to (added, never removed)."},
            "shell": {"type": "string", "pattern": "^/", "description": "Login shell (new accounts: /bin/bash)."},
            "home": {"type": "string", "pattern": "^/", "description": "Home of a new account (default /home/NAME)."},
        },
    }

    def summary(self) -> str:
        groups = self.args.get("groups") or []
        return f"user {self.args['name']}" + (f" in {', '.join(groups)}" if groups else "")

    def _member(self) -> str:
        return f"id -nG {q(self.args['name'])} | tr ' ' '\\n' | grep -qx \"$g\""

    def _shell_is(self) -> str:
        return f"[ \"$(getent passwd {q(self.args['name'])} | cut -d: -f7)\" = {q(self.args['shell'])} ]"

    def check(self) -> str:
        parts = [f"getent passwd {q(self.args['name'])} >/dev/null"]
        if self.args.get("shell"):
            parts.append(self._shell_is())
        if self.args.get("groups"):
            parts.append(f"for g in {each(self.args['groups'])}; do {self._member()} || exit 1; done")
        return " && ".join(parts)

    def script(self) -> str:
        name, groups, shell = q(self.args["name"]), self.args.get("groups") or [], self.args.get("shell")
        lines = []
        if groups:
            lines.append(f"for g in {each(groups)}; do getent group \"$g\" >/dev/null || {{ echo \"group $g does "
                         "not exist: install what provides it first (docker.io creates docker)\" >&2; exit 3; }; done")
        create = ["useradd --create-home --user-group", f"--shell {q(shell or '/bin/bash')}"]
        if self.args.get("home"):
            create.append(f"--home-dir {q(self.args['home'])}")
        if groups:
            create.append(f"--groups {q(','.join(groups))}")
        lines.append(f"if ! getent passwd {name} >/dev/null; then")
        lines.append(f"  {' '.join(create)} {name}")
        lines.append(f"  echo '{DID}create user '{name}")
        lines.append("else")
        if shell:
            lines.append(f"  {self._shell_is()} || {{ usermod --shell {q(shell)} {name}; "
                         f"echo '{DID}shell of '{name}' -> '{q(shell)}; }}")
        if groups:
            lines.append(f"  for g in {each(groups)}; do {self._member()} || {{ usermod -a -G \"$g\" {name}; "
                         f"echo \"{DID}add {self.args['name']} to group $g\"; }}; done")
        lines.append("  :")
        lines.append("fi")
        return "\n".join(lines)


@register
class AuthorizedKey(Operation):
    """Ensure public keys may log in as ``user``: each missing key is appended to its
    ``~/.ssh/authorized_keys`` (others are kept), with the modes sshd insists on (0700, 0600)."""

    name = "authorized_key"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["user", "keys"],
        "properties": {
            "user": NAME,
            "keys": {"type": "array", "minItems": 1,
                     "items": {"type": "string", "pattern": _KEY.pattern},
                     "description": "Public key lines, as in a .pub file: TYPE BASE64 [comment]."},
            "home": {"type": "string", "pattern": "^/",
                     "description": "The user's home (default /home/USER, /root for root)."},
            "group": {"type": "string", "minLength": 1,
                      "description": "Group owning ~/.ssh (default: a group named like the user)."},
        },
    }

    @property
    def home(self) -> str:
        user = self.args["user"]
        return self.args.get("home") or ("/root" if user == "root" else f"/home/{user}")

    def _paths(self) -> tuple[str, str]:
        ssh_dir = posixpath.join(self.home, ".ssh")
        return ssh_dir, posixpath.join(ssh_dir, "authorized_keys")

    def facts_needed(self) -> FactRequest:
        ssh_dir, keys_file = self._paths()
        return FactRequest({self.home, ssh_dir, keys_file}, {keys_file})

    def plan(self, facts: Facts) -> Change | None:
        user, group = self.args["user"], self.args.get("group") or self.args["user"]
        ssh_dir, keys_file = self._paths()
        if facts[self.home].kind != "dir":
            raise PlanError(f"the home directory {self.home} of {user} does not exist; create the user first")
        steps: list[Step] = []
        described: list[str] = []
        after: list[PathFacts] = []
        current_dir = facts[ssh_dir]
        if not current_dir.exists:
            steps.append(Shell(f"mkdir -- {q(ssh_dir)}\nchmod 0700 {q(ssh_dir)}\nchown {q(f'{user}:{group}')} "
                               f"{q(ssh_dir)}"))
            described.append(f"create {ssh_dir}")
            after.append(PathFacts(ssh_dir, "dir", "0700", user, group))
        else:
            commands, what = attribute_changes(current_dir, "0700", user, group)
            if commands:
                steps.append(Shell("\n".join(commands)))
                described += [f"{ssh_dir}: {w}" for w in what]
        current = facts[keys_file]
        old = current.content or b""
        known = {_key_id(line) for line in old.decode("utf-8", "replace").splitlines()}
        missing = [key for key in self.args["keys"] if _key_id(key) not in known]
        diff = None
        if missing:
            data = old + (b"\n" if old and not old.endswith(b"\n") else b"") + "".join(
                f"{key}\n" for key in missing).encode()
            steps.append(Upload(keys_file, data, "0600", user, group))
            described.append(f"authorize {len(missing)} key(s) for {user}")
            diff = content_diff(keys_file, current.content, data)
            after.append(PathFacts(keys_file, "file", "0600", user, group, sha256(data), content=data))
        elif current.kind == "file":
            commands, what = attribute_changes(current, "0600", user, group)
            if commands:
                steps.append(Shell("\n".join(commands)))
                described += [f"{keys_file}: {w}" for w in what]
        if not steps:
            return None
        return Change("; ".join(described), steps, diff=diff, after=after)


def _key_id(line: str) -> tuple[str, str] | None:
    """A key line's (type, base64) — its identity whatever the options or comment around it."""
    words = line.split()
    for index, word in enumerate(words[:-1]):
        if _KEY.match(f"{word} {words[index + 1]}"):
            return word, words[index + 1]
    return None
