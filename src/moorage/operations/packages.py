"""The ``apt`` operation: Debian/Ubuntu packages installed (or absent)."""

from __future__ import annotations

import math

from moorage.operations.base import register
from moorage.operations.scripted import DID, TIMEOUT, ScriptedOperation, each

STAMP = "/var/lib/apt/lists/.moorage-updated"  # touched after each successful `apt-get update`
APT = "apt-get -q -y -o DPkg::Lock::Timeout=120"
_INSTALLED = "dpkg-query -W -f='${Status}' \"$p\" 2>/dev/null | grep -q ' installed$'"


@register
class Apt(ScriptedOperation):
    """Ensure Debian/Ubuntu packages are installed (or absent), with ``apt-get``.

    Only the packages that are missing are installed.  The package lists are refreshed first when
    moorage has not refreshed them within ``cache_valid_time`` seconds.  apt waits up to two
    minutes for another apt (e.g. unattended upgrades) to release its lock.
    """

    name = "apt"
    default_timeout = 1800
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["packages"],
        "properties": {
            "packages": {"type": "array", "minItems": 1,
                         "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9+.-]*(:[a-z0-9]+)?$"},
                         "description": "Package names, e.g. [docker.io, nftables]."},
            "state": {"enum": ["present", "absent"], "default": "present",
                      "description": "present (default): installed; absent: removed (configuration kept)."},
            "cache_valid_time": {"type": "integer", "minimum": 0, "default": 3600,
                                 "description": "Refresh the package lists before installing when the last "
                                                "refresh by moorage is older than this many seconds (0: "
                                                "always, e.g. right after adding a source)."},
            "install_recommends": {"type": "boolean", "default": False,
                                   "description": "Also install the packages' recommended packages."},
            "timeout": {**TIMEOUT, "description": "Seconds before the task counts as failed (default 1800)."},
        },
    }

    @property
    def present(self) -> bool:
        return bool(self.args.get("state", "present") == "present")

    def summary(self) -> str:
        verb = "install" if self.present else "remove"
        return f"{verb} {', '.join(self.args['packages'])}"

    def check(self) -> str:
        wrong = "exit 1" if self.present else ":"
        right = ":" if self.present else "exit 1"
        return f"for p in {each(self.args['packages'])}; do if {_INSTALLED}; then {right}; else {wrong}; fi; done"

    def script(self) -> str:
        packages = each(self.args["packages"])
        if not self.present:
            return "\n".join([
                "export DEBIAN_FRONTEND=noninteractive",
                f'todo=""; for p in {packages}; do if {_INSTALLED}; then todo="$todo $p"; fi; done',
                f"{APT} remove $todo >&2 || {{ echo \"apt-get could not remove$todo (see above)\" >&2; exit 1; }}",
                f'echo "{DID}remove$todo"',
            ])
        valid = self.args.get("cache_valid_time", 3600)
        stale = f'[ -z "$(find {STAMP} -mmin -{math.ceil(valid / 60)} 2>/dev/null)" ]' if valid else "true"
        recommends = "" if self.args.get("install_recommends") else " --no-install-recommends"
        return "\n".join([
            "export DEBIAN_FRONTEND=noninteractive",
            f'todo=""; for p in {packages}; do {_INSTALLED} || todo="$todo $p"; done',
            f"if {stale}; then",
            f"  {APT} update >&2 || {{ echo 'apt-get update failed: the package sources can not be read "
            "(network, proxy, or /etc/apt/sources.list)' >&2; exit 1; }",
            f"  touch {STAMP}",
            "fi",
            f"{APT} install{recommends} $todo >&2 || {{ echo \"apt-get could not install$todo (see above)\" >&2; "
            "exit 1; }",
            f'echo "{DID}install$todo"',
        ])
