"""The ``registry_login`` operation: the host's docker logged in to a private registry.

The token never travels in a command line: the script reads it from stdin and hands it to
``docker login --password-stdin`` through ``printf`` (a shell builtin, so no process shows it).
Before logging in, the script compares what docker keeps for the registry in the connecting
user's ``~/.docker/config.json`` (``auths.REGISTRY.auth``, base64 of ``user:token``) with the
value expected, also read from stdin: an unchanged login changes nothing (``changed=0``).
"""

from __future__ import annotations

import base64
from typing import Any

from moorage.connection.base import Connection
from moorage.operations.base import Change, Check, Facts, Operation, OpResult, Shell, register
from moorage.operations.scripted import DID, apply_fed
from moorage.operations.shell import Raw, sh

# Docker Hub's logins are kept under its v1 index URL, whatever name `docker login` was given.
_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
_HUB_KEY = "https://index.docker.io/v1/"
_NO_BREAK = "^[^\n\r]+$"
LOGIN = {
    "type": "object",
    "additionalProperties": False,
    "required": ["registry", "username", "password"],
    "properties": {
        "registry": {"type": "string", "pattern": "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]+)?$",
                     "description": "The registry's host[:port], as image references name it "
                                    "(ghcr.io, registry.example.org:5000); docker.io for Docker Hub."},
        "username": {"type": "string", "pattern": _NO_BREAK, "description": "The user to log in as."},
        "password": {"type": "string", "pattern": _NO_BREAK,
                     "description": "The password or token, e.g. {secret: \"env:REGISTRY_TOKEN\"} in the "
                                    "inventory: sent on stdin, never in a command line, never shown."},
    },
}

# Returns 0 when the config file's entry for registry key $1 holds auth "$want".
# The file is read with its white space removed, so docker's layout (tabs, key order) doesn't matter.
_LOGGED_IN = r"""cfg="${DOCKER_CONFIG:-$HOME/.docker}/config.json"
logged_in() {
  [ -r "$cfg" ] && flat=$(tr -d ' \t\r\n' < "$cfg") || return 1
  case "$flat" in *"\"$1\":{"*) ;; *) return 1;; esac
  entry=${flat#*"\"$1\":{"}; entry=${entry%%\}*}
  case "$entry" in *"\"auth\":\"$want\""*) return 0;; esac
  return 1
}"""


@register
class RegistryLogin(Operation):
    """Log the host's docker in to ``registry`` as ``username`` with ``password`` (or each of
    ``logins``, a list of such mappings), with ``docker login --password-stdin``.

    Reads first, in the same round trip, what docker keeps for the registry in the connecting
    user's ``~/.docker/config.json``: when it is already this user and token, nothing happens
    (``changed=0``).  The token and the expected value travel on stdin only; the token is never
    in a command line, the output or the report.  A docker configured with a credential store
    keeps no token in config.json: then the login runs (and counts as a change) every time.
    """

    name = "registry_login"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **LOGIN["properties"],  # type: ignore[dict-item]
            "logins": {"type": "array", "items": LOGIN,
                       "description": "Several logins at once, each {registry, username, password} "
                                      "(instead of the three arguments above)."},
        },
    }

    def logins(self) -> list[dict[str, str]]:
        """Each login asked for: ``logins``, or the one the three arguments give."""
        if "logins" in self.args:
            return [dict(login) for login in self.args["logins"]]
        return [{key: self.args[key] for key in ("registry", "username", "password")}]

    def validate(self) -> None:
        """Either ``logins`` or all of ``registry``, ``username`` and ``password``."""
        single = [key for key in ("registry", "username", "password") if key in self.args]
        if "logins" in self.args and single:
            raise ValueError(f"give either logins or {', '.join(single)}, not both")
        if "logins" not in self.args and len(single) != 3:
            missing = sorted({"registry", "username", "password"} - set(single))
            raise ValueError(f"missing {', '.join(missing)} (or give logins: a list of "
                             "{registry, username, password})")

    def plan(self, facts: Facts) -> Change | None:
        """A ``Check`` (exits 0 when every login is already in config.json; stdin: the expected
        values, one a line) and the script that logs in where it isn't (stdin: expected value and
        token of each login, one a line).  No login asked for: nothing to do."""
        logins = self.logins()
        if not logins:
            return None
        wants = [_expected(login) for login in logins]
        for secret in (*wants, *(login["password"] for login in logins)):
            self.context.register_secret(secret)
        check = [_LOGGED_IN, *(sh(Raw("IFS= read -r want && logged_in"), _key(login["registry"]), Raw("|| exit 1"))
                               for login in logins)]
        act = [_LOGGED_IN, *(_login_lines(login) for login in logins)]
        summary = "docker logged in to " + ", ".join(f"{login['registry']} as {login['username']}"
                                                     for login in logins)
        tokens = "".join(f"{want}\n{login['password']}\n" for want, login in zip(wants, logins, strict=True))
        return Change(summary, [Check("\n".join(check), stdin="".join(f"{w}\n" for w in wants).encode()),
                                Shell("\n".join(act), stdin=tokens.encode())])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The script (or, in check mode, the ``Check`` alone: changed when a login is missing or
        differs).  Changed when a ``docker login`` ran."""
        return apply_fed(self.name, change, conn, "already logged in")


def _expected(login: dict[str, Any]) -> str:
    """What docker keeps as ``auth`` after this login: base64 of ``user:token``."""
    return base64.b64encode(f"{login['username']}:{login['password']}".encode()).decode("ascii")


def _key(registry: str) -> str:
    """The registry's key in config.json's ``auths``."""
    return _HUB_KEY if registry in _HUB else registry


def _login_lines(login: dict[str, Any]) -> str:
    """Read this login's expected value and token; log in unless config.json already holds it."""
    registry, user = login["registry"], login["username"]
    failed = f"docker login to {registry} as {user} failed (see the error above)"
    return "\n".join([
        "IFS= read -r want && IFS= read -r token",
        sh(Raw("if ! logged_in"), _key(registry), Raw("; then")),
        sh(Raw("  printf '%s' \"$token\" |"), "docker", "login", registry, "-u", user, "--password-stdin",
           Raw(">/dev/null || {"), "echo", failed, Raw(">&2; exit 1; }")),
        sh(Raw("  echo"), f"{DID}logged in to {registry} as {user}"),
        "fi",
        "token=",
    ])
