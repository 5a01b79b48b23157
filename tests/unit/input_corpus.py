"""Malformed inputs, as data: what is written, which commands must refuse it, and what they say.

A row is ``Case(name, files, fragment, refused_by, links)``: ``files`` replace or add to
``inputkit.BASE`` (a valid one-host project); ``fragment`` must appear in the error message
(``file:line: ...`` where the input has a line); ``refused_by`` is a subset of ``CHID``: ``C``
check, ``H`` check --host web1, ``I`` inventory --host web1, ``D`` deploy --check --host web1.
The other commands must accept the input (exit 0; ``D`` is not run then: it would connect).
"""

from __future__ import annotations

from typing import NamedTuple

from inputkit import DIR, HOSTS


class Case(NamedTuple):
    name: str
    files: dict
    fragment: str
    refused_by: str = "CHID"
    links: dict = {}


def hosts_with(lines: str) -> dict:
    """hosts.yml with ``lines`` (each indented as a variable) added to ``vars:``: they start on line 5."""
    added = "".join(f"  {line}\n" for line in lines.splitlines())
    return {"inventory/hosts.yml": HOSTS.replace("  app_dir: /srv/demo\n", f"  app_dir: /srv/demo\n{added}")}


def hosts_replacing(old: str, new: str) -> dict:
    assert old in HOSTS
    return {"inventory/hosts.yml": HOSTS.replace(old, new)}


def bomb(levels: int = 9) -> str:
    """A "billion laughs": each line aliases the previous one nine times (9**levels strings)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def alias_chain(length: int) -> str:
    """Each anchor a list holding the previous one: shallow as written, ``length`` deep expanded."""
    return "c0: &c0 [x]\n" + "".join(f"c{i}: &c{i} [*c{i - 1}]\n" for i in range(1, length))


PLAYBOOK = "playbooks/deploy.yml"
HOST_VARS = "inventory/host_vars/web1.yml"
ALL_VARS = "inventory/group_vars/all.yml"

CASES = [
    # aliases: recursion, bombs, depth through aliases
    Case("recursive alias mapping", hosts_with("v: &v {x: *v}"), "inventory/hosts.yml:5: this alias refers to a "
         "value that contains it"),
    Case("recursive alias list", hosts_with("l: &l [a, *l]"), "inventory/hosts.yml:5: this alias refers"),
    Case("a vars file that is one template string", {HOST_VARS: "'{{ nope }}'\n"},
         "inventory/host_vars/web1.yml: (top level): the file's content must be a mapping, not a string"),
    Case("recursive alias in host_vars", {HOST_VARS: "a: 1\nb: &b\n  c: [*b]\n"},
         "inventory/host_vars/web1.yml:3: this alias refers"),
    Case("alias bomb in host_vars", {HOST_VARS: bomb()}, "inventory/host_vars/web1.yml:6: the aliases here expand "
         "to more than"),
    Case("alias bomb in group_vars", {ALL_VARS: bomb()}, "inventory/group_vars/all.yml:6: the aliases here expand"),
    Case("alias bomb in hosts.yml", hosts_with(bomb().replace("\n", "\n")), "inventory/hosts.yml:10: the aliases"),
    Case("alias bomb as a playbook", {PLAYBOOK: bomb()}, "playbooks/deploy.yml:6: the aliases here expand", "CHD"),
    Case("recursive alias in a playbook", {PLAYBOOK: "- &p\n  name: x\n  hosts: web1\n  tasks: [*p]\n"},
         "playbooks/deploy.yml:4: this alias refers", "CHD"),
    Case("alias chain deeper than the limit", {HOST_VARS: alias_chain(80)}, "levels deep here (through aliases)"),
    Case("merge key of a bomb", {HOST_VARS: bomb() + "m:\n  <<: {a: *l8}\n"}, "inventory/host_vars/web1.yml:6:"),
    # nesting, sizes
    Case("nesting 70 deep", hosts_with(f"deep: {nested(70)}"), "inventory/hosts.yml:5: values nest more than 64"),
    Case("nesting 10000 deep", {HOST_VARS: "x: " + nested(10000) + "\n"},  # libyaml's own limit may speak first
         "inventory/host_vars/web1.yml:1: "),
    Case("200,000-character project name", hosts_replacing("project: demo", "project: " + "d" * 200_000),
         "inventory/hosts.yml:1: project: 'project' has 200000 characters; at most 63"),
    Case("300,000-character value", hosts_with("big: " + "x" * 300_000), "inventory/hosts.yml:5: a value of 300000 "
         "characters"),
    Case("an environment named all", hosts_replacing("  web:\n", "  all:\n"), "inventory/hosts.yml:6: "
         "environments.all: name 'all' is not valid: a name is at most 63 letters, digits, '_', '.' and '-', "
         "starting with a letter or digit, and not 'all' (--host all means every host)", "CHI"),
    Case("a host named all", hosts_replacing("web1: {address", "all: {address"), "inventory/hosts.yml:9: "
         "environments.web.hosts.all: name 'all' is not valid", "CHI"),
    Case("64-character host name", hosts_replacing("web1: {address", "w" * 64 + ": {address"), "at most 63", "CHID"),
    Case("4000-character address", hosts_replacing("address: 127.0.0.1", "address: " + "a" * 4000),
         "inventory/hosts.yml:9: environments.web.hosts.web1.address: 'address' has 4000 characters"),
    # numbers
    Case("5000-digit integer", hosts_with("n: " + "9" * 5000), "inventory/hosts.yml:5: the number 999999999999..."),
    Case("5000-digit negative integer", hosts_with("n: -" + "1" * 5000), "inventory/hosts.yml:5: the number"),
    Case("5000-digit port", hosts_replacing("port: 1}", "port: " + "2" * 5000 + "}"), "inventory/hosts.yml:9: the "
         "number"),
    Case("huge hex integer", hosts_with("n: 0x" + "f" * 40), "inventory/hosts.yml:5: the number 0xffffffffff"),
    Case("2**64", hosts_with(f"n: {2**64}"), "is too large: a number is at most 64 bits"),
    Case("float overflowing to infinity", hosts_with("f: 1e999"), "inventory/hosts.yml:5: the number 1e999 is too "
         "large for a number"),
    Case("port out of range", hosts_replacing("port: 1}", "port: 70000}"), "inventory/hosts.yml:9: "
         "environments.web.hosts.web1.port: 'port' must be at most 65535"),
    Case("port as text", hosts_replacing("port: 1}", "port: abc}"), "'port' must be an integer, not a string"),
    # path kinds
    Case("hosts.yml a symbolic link loop", {"inventory/hosts.yml": None}, "inventory/hosts.yml is a symbolic link "
         "loop, not a file", links={"inventory/hosts.yml": "hosts.yml"}),
    Case("hosts.yml a link to nothing", {"inventory/hosts.yml": None}, "inventory/hosts.yml is a symbolic link to "
         "nothing", links={"inventory/hosts.yml": "elsewhere.yml"}),
    Case("hosts.yml a directory", {"inventory/hosts.yml": DIR}, "inventory/hosts.yml is a directory, not a file"),
    Case("known_hosts a directory", {"inventory/known_hosts": DIR}, "inventory/hosts.yml:2: known_hosts "
         "inventory/known_hosts is a directory, not a file"),
    Case("known_hosts a link loop", {"inventory/known_hosts": None}, "inventory/hosts.yml:2: known_hosts "
         "inventory/known_hosts is a symbolic link loop", links={"inventory/known_hosts": "known_hosts"}),
    Case("known_hosts missing", {"inventory/known_hosts": None}, "inventory/hosts.yml:2: known_hosts "
         "inventory/known_hosts is missing, not a file; pin the servers' keys with", "HD"),
    Case("known_hosts line of bad base64", {"inventory/known_hosts": "# pinned\n[127.0.0.1]:1 ssh-ed25519 no!b64\n"},
         "inventory/known_hosts:2: not a valid known_hosts line: the key is not valid base64"),
    Case("known_hosts line without a key", {"inventory/known_hosts": "[127.0.0.1]:1 ssh-ed25519\n"},
         "inventory/known_hosts:1: not a valid known_hosts line: expected HOST KEYTYPE BASE64"),
    Case("known_hosts key too short", {"inventory/known_hosts": "\n\n[127.0.0.1]:1 ssh-rsa AAAAB3NzaC1yc2E=\n"},
         "inventory/known_hosts:3: not a valid known_hosts line: the key does not decode"),
    Case("ssh_key missing", hosts_replacing("port: 1}", "port: 1, ssh_key: keys/nope}"), "inventory/hosts.yml:9: "
         "ssh_key inventory/keys/nope of host 'web1' is missing", "HD"),
    Case("ssh_key a directory", {**hosts_replacing("port: 1}", "port: 1, ssh_key: keys}"), "inventory/keys": DIR},
         "inventory/hosts.yml:9: ssh_key inventory/keys of host 'web1' is a directory"),
    Case("host_vars file a directory", {"inventory/host_vars/web1.yml": DIR}, "inventory/host_vars/web1.yml is a "
         "directory, not a file"),
    # empty and unreadable files
    Case("empty group_vars/all.yml", {ALL_VARS: ""}, "inventory/group_vars/all.yml: the file is empty"),
    Case("empty host_vars file", {HOST_VARS: "\n\n"}, "inventory/host_vars/web1.yml: the file is empty"),
    Case("empty hosts.yml", {"inventory/hosts.yml": ""}, "inventory/hosts.yml is empty"),
    Case("hosts.yml not UTF-8", {"inventory/hosts.yml": b"project: d\xe9mo\n"}, "inventory/hosts.yml is not UTF-8"),
    Case("NUL byte in YAML", {HOST_VARS: "a: 1\nb: \x00\n"}, "inventory/host_vars/web1.yml:2: invalid YAML: "
         "unacceptable character #x0000"),
    Case("unclosed bracket", {HOST_VARS: "a: [1\n"}, "inventory/host_vars/web1.yml:2: invalid YAML"),
    Case("tab indentation", {HOST_VARS: "a:\n\tb: 1\n"}, "inventory/host_vars/web1.yml:2: invalid YAML"),
    Case("duplicate key", hosts_with("x: 1\nx: 2"), "inventory/hosts.yml:6: duplicate key 'x'"),
    Case("a list as a mapping key", hosts_with("? [a]\n: b"), "inventory/hosts.yml:5: a mapping key must be text, "
         "not a list"),
    Case("a number as a mapping key", {HOST_VARS: "a: 1\n443: web\n"}, "inventory/host_vars/web1.yml:2: a mapping "
         "key must be text, not int 443; quote it: '443':"),
    # structure
    Case("hosts.yml a list", {"inventory/hosts.yml": "- project: demo\n"}, "inventory/hosts.yml:1: (top level): "
         "the file's content must be a mapping, not a list"),
    Case("environments a list", hosts_replacing("  web:\n", "  - web:\n"), "inventory/hosts.yml:5: environments: "
         "'environments' must be a mapping, not a list"),
    Case("hosts a string", {"inventory/hosts.yml": "project: demo\nenvironments:\n  web:\n    hosts: web1\n"},
         "inventory/hosts.yml:4: environments.web.hosts: 'hosts' must be a mapping, not a string"),
    Case("unknown top-level key", hosts_replacing("vars:", "varz: {}\nvars:"), "inventory/hosts.yml:3: varz: "
         "unknown key 'varz' (did you mean 'vars'?)"),
    Case("connection misspelt", hosts_replacing("connection: ssh", "connection: sssh"), "inventory/hosts.yml:7: "
         "environments.web.connection: 'connection' is 'sssh'; allowed values: ssh, local (did you mean 'ssh'?)"),
    Case("group_vars for no environment", {"inventory/group_vars/wbe.yml": "a: 1\n"}, "inventory/group_vars/wbe.yml:"
         " 'wbe.yml' names no environment (did you mean 'web'?)"),
    Case("magic variable redefined", {HOST_VARS: "project: other\n"}, "inventory/host_vars/web1.yml:1: project: "
         "'project' is set by moorage and can't be a variable"),
    Case("variable vars a list", hosts_replacing("vars:\n  app_dir: /srv/demo\n", "vars: [app_dir]\n"),
         "inventory/hosts.yml:3: vars: 'vars' must be a mapping, not a list"),
    Case("playbook a mapping", {PLAYBOOK: "name: x\nhosts: web1\n"}, "playbooks/deploy.yml:1: (top level): the "
         "file's content must be a list", "CHD"),
    Case("playbook unknown operation", {PLAYBOOK: "- name: x\n  hosts: web1\n  tasks:\n    - comand: {cmd: ls}\n"},
         "playbooks/deploy.yml:4: [0].tasks[0].comand: unknown operation 'comand' (did you mean 'command'?)", "CHD"),
    # values: templates, secrets, deletes
    Case("broken Jinja in a variable", hosts_with("z: '{{ oops'"), "inventory/hosts.yml:5: variable 'z': template "
         "syntax error"),
    Case("broken Jinja deep in a value", hosts_with("z: {a: [ok, '{% if %}']}"), "inventory/hosts.yml:5: variable "
         "'z': template syntax error"),
    Case("undefined name in a variable", hosts_with("z: '{{ nope }}'"), "inventory/hosts.yml:5: undefined variable "
         "'nope' in variable 'z'", "CHD"),
    Case("missing env secret", hosts_with("z: {secret: 'env:MOORAGE_TEST_UNSET_SECRET'}"), "inventory/hosts.yml:5: "
         "secret 'env:MOORAGE_TEST_UNSET_SECRET' for variable 'z' is not set", "HID"),
    Case("missing file secret", hosts_with("z: {secret: 'file:secrets/none'}"), "inventory/hosts.yml:5: secret "
         "'file:secrets/none' for variable 'z' is not set", "HID"),
    Case("app_dir /", hosts_replacing("app_dir: /srv/demo", "app_dir: /"), "inventory/hosts.yml:4: variable "
         "'app_dir' is '/', which can't be a directory moorage owns: it is /", "HD"),
    Case("app_dir a system directory", hosts_replacing("app_dir: /srv/demo", "app_dir: /etc"), "inventory/hosts.yml:4:"
         " variable 'app_dir' is '/etc', which can't be a directory moorage owns: it is a system directory", "HD"),
    Case("app_dir with ..", hosts_replacing("app_dir: /srv/demo", "app_dir: /srv/../etc"), "it has a '.' or '..' "
         "component", "HD"),
    Case("app_dir rendering to /", hosts_replacing("app_dir: /srv/demo", "app_dir: '/{{ sub }}'\n  sub: ''"),
         "inventory/hosts.yml:4: variable 'app_dir' is '/', which can't be a directory moorage owns", "HD"),
]
