"""``config_file``: a configuration file that its program checks before it goes live.

The new content lands beside the file under a name its program ignores
(``.NAME.moorage-candidate``: sudo skips names with a dot, sshd and nft only read what they are
told), the validator runs on that candidate, and only then is it renamed over the file.  So a
rejected sudoers line never locks sudo, a broken ruleset never reaches the firewall's file.
"""

from __future__ import annotations

import posixpath

from moorage.operations.base import Change, FactRequest, Facts, Operation, Shell, Upload, register
from moorage.operations.file_writes import ATTRIBUTES, PATH, normalize_mode, plan_write, q
from moorage.operations.files import find_source


def candidate_path(path: str) -> str:
    """Where the new content waits while it is checked: hidden, beside the file."""
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.moorage-candidate")


def through_candidate(change: Change | None, path: str, install: str) -> Change | None:
    """Redirect a write planned for ``path`` to its candidate, followed by ``install`` (a shell
    script that checks the candidate and moves it into place).  Attribute-only changes stay."""
    if change is None or not any(isinstance(s, Upload) and s.path == path for s in change.steps):
        return change
    candidate = candidate_path(path)
    steps = [Upload(candidate, s.data, s.mode, s.owner, s.group) if isinstance(s, Upload) and s.path == path
             else s for s in change.steps]
    change.steps = [*steps, Shell(install)]
    return change


@register
class ConfigFile(Operation):
    """Ensure a configuration file has the given content, checked by ``validate`` before it is
    put in place (``%s`` in it is replaced by the candidate file's path).

    A rejected file never replaces the current one: the task fails with the validator's output.
    The content is ``content``, a file of the role's/playbook's ``files/`` (``src``), or a Jinja2
    template of ``templates/`` (``template``).
    """

    name = "config_file"
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "validate"],
        "oneOf": [{"required": ["content"]}, {"required": ["src"]}, {"required": ["template"]}],
        "properties": {
            "path": PATH,
            "content": {"type": "string", "description": "The file's content."},
            "src": {"type": "string", "minLength": 1, "description": "A file in files/ to copy."},
            "template": {"type": "string", "minLength": 1, "description": "A Jinja2 template in templates/."},
            "validate": {"type": "string", "pattern": "%s",
                         "description": "Command that checks the candidate, e.g. `visudo -cqf %s`, "
                                        "`nft -c -f %s`."},
            **ATTRIBUTES,
        },
    }

    @property
    def path(self) -> str:
        return str(self.args["path"])

    def facts_needed(self) -> FactRequest:
        return FactRequest({self.path}, {self.path} if self.context.diff else set())

    def data(self) -> bytes:
        if "content" in self.args:
            return str(self.args["content"]).encode()
        if "src" in self.args:
            return find_source(self.args["src"], self.context.file_dirs, "files").read_bytes()
        source = find_source(self.args["template"], self.context.template_dirs, "templates")
        return self.context.render_file(source, self.context.variables).encode()

    def plan(self, facts: Facts) -> Change | None:
        change = plan_write(self.path, self.data(), facts, normalize_mode(self.args.get("mode")),
                            self.args.get("owner"), self.args.get("group"), mask=self.context.mask)
        candidate = q(candidate_path(self.path))
        validate = self.args["validate"].replace("%s", candidate)
        shown = self.args["validate"].replace("%s", self.path)
        rejected = f"`{shown}` rejected the new content of {self.path}; the current one stays in place"
        install = "\n".join([
            f"if ! out=$({validate} 2>&1); then",
            f"  rm -f -- {candidate}",
            "  printf '%s\\n' \"$out\" >&2",
            f"  echo {q(rejected)} >&2",
            "  exit 1",
            "fi",
            f"mv -f -- {candidate} {q(self.path)}",
        ])
        return through_candidate(change, self.path, install)
