"""The ``nginx_site`` operation: one site of the host's own nginx, written, enabled, tested, reloaded.

Debian's layout: the site file in ``sites-available/NAME``, a link to it in ``sites-enabled/NAME``.
The **whole** configuration is tested (``nginx -t``), not the site alone: a site that is valid by
itself can still break nginx beside another one (two ``default_server`` on one port, the same
``server_name`` twice on one ``listen``).  So the new file and link are put in place first, nginx
tests everything, and when the test or the reload fails, the previous file and link (or their
absence) are put back in the same script before it exits: nginx keeps serving what it served, and
the task's message is nginx's own error line.

Everything happens in one round trip (the site text travels on stdin, never in a command line):
the script compares the file and the link with what is asked first and stops there when they
match (``changed=0``, no reload).
"""

from __future__ import annotations

from pathlib import Path

from moorage.connection.base import Connection
from moorage.operations.base import (
    Change,
    Check,
    FactRequest,
    Facts,
    Operation,
    OpResult,
    Shell,
    register,
)
from moorage.operations.file_writes import content_diff
from moorage.operations.files import find_source
from moorage.operations.scripted import DID, TIMEOUT, apply_fed
from moorage.operations.shell import argv, sh

_COMMAND = {"type": ["string", "array"], "items": {"type": "string", "minLength": 1}, "minLength": 1}
# nginx's own complaint among `nginx -t`'s lines ("nginx: [emerg] a duplicate default server ..."), or its last line.
# Its time stamp and pid#tid dropped: "[emerg] a duplicate default server for 0.0.0.0:80 in FILE:22".
WHY = (r"""why=$({ printf '%s\n' "$out" | grep -m1 -E '\[(emerg|alert|crit|error)\]' """
        r"""|| printf '%s\n' "$out" | tail -n 1; } | sed -E 's/^[0-9\/: ]+\[/[/; s/\] [0-9]+#[0-9]+: /] /')""")
# With systemd: its unit (started when it isn't running).  Without (a container): the running
# master's pid file, else nginx is started.
RELOAD = ("if [ -d /run/systemd/system ]; then systemctl reload-or-restart nginx; "
           "elif [ -s /run/nginx.pid ] && kill -0 \"$(cat /run/nginx.pid)\" 2>/dev/null; then nginx -s reload; "
           "else nginx; fi")


@register
class NginxSite(Operation):
    """Make ``site`` a site of the host's nginx: its text (``content``, or the template ``src``
    rendered) in ``available_dir/SITE``, the link ``enabled_dir/SITE`` to it, the whole configuration
    tested with ``test_command`` (``nginx -t``), then nginx reloaded.

    When the test or the reload fails, the previous file and link are put back (or removed when
    there were none) before the task fails with nginx's own error line; nothing is reloaded after a
    failed test.  Unchanged file and link: nothing happens (``changed=0``, no reload).  A regular
    file where the link should be is refused (it isn't moorage's to replace).  Needs root (or a
    connecting user allowed to write the site directories and run nginx).
    """

    name = "nginx_site"
    batched = False
    invalidates_facts = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["site"],
        "oneOf": [{"required": ["content"]}, {"required": ["src"]}],
        "properties": {
            "site": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                     "description": "The site's file name in sites-available and sites-enabled, "
                                    "e.g. shop.example.org."},
            "content": {"type": "string", "description": "The site's text (server blocks)."},
            "src": {"type": "string", "minLength": 1,
                    "description": "A template rendered with the host's variables: in the role's or playbook's "
                                   "templates/, or relative to base, or absolute."},
            "base": {"type": "string", "pattern": "^/",
                     "description": "The controller directory a relative src is read from "
                                    "(e.g. \"{{ project_dir }}\"), instead of templates/."},
            "available_dir": {"type": "string", "pattern": "^/", "default": "/etc/nginx/sites-available",
                              "description": "Where the site file goes."},
            "enabled_dir": {"type": "string", "pattern": "^/", "default": "/etc/nginx/sites-enabled",
                            "description": "Where the link that enables it goes."},
            "test_command": {**_COMMAND, "default": "nginx -t",
                             "description": "Tests the whole configuration (a string split like a shell, or a list)."},
            "reload_command": {**_COMMAND,
                               "description": "Reloads nginx; default: `systemctl reload-or-restart nginx` under "
                                              "systemd, else `nginx -s reload` (or `nginx` when it isn't running)."},
            "timeout": TIMEOUT,
        },
    }

    def text(self) -> str:
        """The site's text: ``content``, or ``src`` rendered."""
        if "content" in self.args:
            return str(self.args["content"])
        dirs = [Path(self.args["base"])] if self.args.get("base") else self.context.template_dirs
        return self.context.render_file(find_source(self.args["src"], dirs, "templates"), self.context.variables)

    def paths(self) -> tuple[str, str]:
        """The site file and its link."""
        site = self.args["site"]
        available = str(self.args.get("available_dir", "/etc/nginx/sites-available")).rstrip("/")
        enabled = str(self.args.get("enabled_dir", "/etc/nginx/sites-enabled")).rstrip("/")
        return f"{available}/{site}", f"{enabled}/{site}"

    def facts_needed(self) -> FactRequest:
        """The site file's content, with ``--diff`` (the change then shows what the site gains)."""
        file = self.paths()[0]
        return FactRequest({file}, {file}) if self.context.diff else FactRequest()

    def plan(self, facts: Facts) -> Change | None:
        """A ``Check`` (exit 0 when the file holds the text and the link points at it) and the script
        that writes, enables, tests, reloads, or puts everything back; both read the text on stdin."""
        file, link = self.paths()
        text = self.text().encode()
        test = sh(argv(self.args.get("test_command", "nginx -t")))
        reload = sh(argv(self.args["reload_command"])) if "reload_command" in self.args else RELOAD
        head = [f"site={sh(self.args['site'])}; file={sh(file)}; link={sh(link)}"]
        same = 'cmp -s "$new" "$file" && [ "$(readlink "$link" 2>/dev/null)" = "$file" ]'
        check = "\n".join([*head, 'new=/dev/stdin', same])
        script = "\n".join([*head, *_script(same, test, reload)])
        diff = None
        if self.context.diff and facts[file].content != text:
            diff = content_diff(file, facts[file].content, text, self.context.mask)
        return Change(f"nginx site {self.args['site']}: {file}, enabled, nginx -t, reload",
                      [Check(check, stdin=text), Shell(script, stdin=text, timeout=self.args.get("timeout"))],
                      diff=diff)

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """The script (in check mode the ``Check`` alone: changed when the file or link differ)."""
        return apply_fed(self.name, change, conn, "already so")


def _script(same: str, test: str, reload: str) -> list[str]:
    """Write the new file beside the old one, stop when nothing differs; else keep the old file and
    link, switch both, test, reload; on a failure put both back and say nginx's error last."""
    return [
        'new="$file.moorage-new"; old="$file.moorage-previous"',
        'umask 022; cat > "$new" || { echo "cannot write $new" >&2; exit 1; }',
        f'if {same}; then rm -f "$new"; exit 0; fi',
        'if [ -e "$link" ] && [ ! -L "$link" ]; then rm -f "$new"; '
        'echo "$link is a file, not a link: refusing to replace it (move it away, or name the site otherwise)" >&2; '
        'exit 1; fi',
        'had=; back="$file and its link are removed again (there was no such site before)"',
        'if [ -f "$file" ]; then cp -p "$file" "$old" && had=1 || exit 1; '
        'back="the previous $file and its link are back"; fi',
        'was=; if [ -L "$link" ]; then was=$(readlink "$link"); fi',
        'put_back() {',
        '  if [ -n "$had" ]; then mv -f "$old" "$file"; else rm -f "$file"; fi',
        '  if [ -n "$was" ]; then ln -sfn "$was" "$link.moorage-new" && mv -fT "$link.moorage-new" "$link"; '
        'else rm -f "$link"; fi',
        '}',
        'mv -f "$new" "$file" && ln -sfn "$file" "$link.moorage-new" && mv -fT "$link.moorage-new" "$link" '
        '|| { put_back; echo "cannot enable site $site" >&2; exit 1; }',
        f'if ! out=$({test} 2>&1); then',
        '  put_back; printf \'%s\\n\' "$out" >&2',
        f'  {WHY}',
        '  echo "nginx -t refused the configuration with site $site, so $back (nothing reloaded): $why" >&2',
        '  exit 1',
        'fi',
        f'if ! out=$({reload} 2>&1); then',
        '  put_back; printf \'%s\\n\' "$out" >&2',
        f'  {WHY}',
        '  echo "the nginx reload failed with site $site, so $back: $why" >&2',
        '  exit 1',
        'fi',
        'rm -f "$old"',
        f'echo "{DID}nginx site $site written to $file and enabled, configuration tested, nginx reloaded"',
    ]
