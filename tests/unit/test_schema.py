"""Schema errors read as sentences with file:line; the schemas document every property."""

from __future__ import annotations

import json

import pytest

from moorage.errors import InputError
from moorage.schema import SCHEMA_DIR, problems, validate
from moorage.yamlsrc import parse_yaml

INVENTORY = """\
project: dm
environments:
  pc:
    connection: local
    hosts:
      pc: {}
"""


def inventory_with(line_3_onwards: str) -> str:
    return "project: dm\nenvironments:\n" + line_3_onwards


# (YAML, the one message a user sees)
INVENTORY_CASES = [
    ("projet: dm\nenvironments: {pc: {hosts: {pc: {}}}}\n",
     ["inv.yml:1: (top level): missing required key 'project'",
      "inv.yml:1: projet: unknown key 'projet' (did you mean 'project'?)"]),
    (inventory_with("  pc:\n    conection: local\n    hosts: {pc: {}}\n"),
     ["inv.yml:4: environments.pc.conection: unknown key 'conection' (did you mean 'connection'?)"]),
    (inventory_with("  pc:\n    connection: sssh\n    hosts: {pc: {}}\n"),
     ["inv.yml:4: environments.pc.connection: 'connection' is 'sssh'; allowed values: ssh, local "
      "(did you mean 'ssh'?)"]),
    (inventory_with("  vps:\n    hosts:\n      vps:\n        port: '22'\n"),
     ["inv.yml:6: environments.vps.hosts.vps.port: 'port' must be an integer, not a string ('22'); "
      "write it without quotes to make it a number"]),
    (inventory_with("  vps:\n    hosts:\n      vps: {port: 70000}\n"),
     ["inv.yml:5: environments.vps.hosts.vps.port: 'port' must be at most 65535, not 70000"]),
    (inventory_with("  vps:\n    production: maybe\n    hosts: {vps: {}}\n"),
     ["inv.yml:4: environments.vps.production: 'production' must be true or false, not a string ('maybe')"]),
    (inventory_with("  vps:\n    hosts: {}\n"),
     ["inv.yml:4: environments.vps.hosts: 'hosts' must not be empty (at least 1 needed)"]),
    (inventory_with("  vps:\n    vars: {bad-name: 1}\n    hosts: {vps: {}}\n"),
     ["inv.yml:4: environments.vps.vars.bad-name: name 'bad-name' is not valid: a variable name is "
      "letters, digits and underscores, not starting with a digit"]),
    (inventory_with("  vps:\n    vars:\n      pw: {secret: 'vault:x'}\n    hosts: {vps: {}}\n"),
     ["inv.yml:5: environments.vps.vars.pw.secret: 'secret' is 'vault:x', which is not valid: where the "
      "secret comes from, written 'env:NAME' (an environment variable of the controller) or 'file:PATH' "
      "(a file, relative to the inventory directory)"]),
    (inventory_with("  vps:\n    vars:\n      key: {generate: 4}\n    hosts: {vps: {}}\n"),
     ["inv.yml:5: environments.vps.vars.key.generate: 'generate' must be at least 8, not 4"]),
    ("- just\n- a list\n",
     ["inv.yml:1: (top level): the file's content must be a mapping, not a list"]),
]


@pytest.mark.parametrize(("text", "expected"), INVENTORY_CASES)
def test_inventory_schema_messages(text, expected):
    data = parse_yaml(text, "inv.yml")
    assert [str(p) for p in problems(data, "inventory", "inv.yml")] == expected


PLAYBOOK_CASES = [
    ("- hsts: all\n",
     ["pb.yml:1: [0]: missing required key 'hosts'",
      "pb.yml:1: [0].hsts: unknown key 'hsts' (did you mean 'hosts'?)"]),
    ("- hosts: all\n  serial: 30 percent\n",
     ["pb.yml:2: [0].serial: 'serial' is '30 percent', which is not valid: rolling batches, written as a "
      "number of hosts (at least 1) or a percentage such as \"25%\""]),
    ("- hosts: all\n  max_fail_percentage: 150\n",
     ["pb.yml:2: [0].max_fail_percentage: 'max_fail_percentage' must be at most 100, not 150"]),
    ("- hosts: all\n  tasks:\n    - name: x\n      register: 1bad\n",
     ["pb.yml:4: [0].tasks[0].register: 'register' is '1bad', which is not valid: Store the task's result "
      "in this variable for later tasks (letters, digits and underscores, not starting with a digit)."]),
    ("- hosts: all\n  tasks:\n    - notify: {a: 1}\n",
     ["pb.yml:3: [0].tasks[0].notify: 'notify' must be a string or a list, not a mapping"]),
    ("- hosts: [all]\n  serial: '{{ batch }}'\n", []),   # templated values are checked after rendering
    ("- hosts: all\n  serial: 25%\n  become: true\n  vars: {x: 1}\n  roles: []\n  tasks: []\n"
     "  handlers: []\n", []),
]


@pytest.mark.parametrize(("text", "expected"), PLAYBOOK_CASES)
def test_playbook_schema_messages(text, expected):
    data = parse_yaml(text, "pb.yml")
    assert [str(p) for p in problems(data, "playbook", "pb.yml")] == expected


def test_validate_raises_one_error_listing_every_problem():
    text = inventory_with("  pc:\n    conection: local\n    user: 3\n    hosts: {pc: {}}\n")
    data = parse_yaml(text, "inv.yml")
    with pytest.raises(InputError) as caught:
        validate(data, "inventory", "inv.yml")
    assert str(caught.value).splitlines() == [
        "inv.yml:4: environments.pc.conection: unknown key 'conection' (did you mean 'connection'?)",
        "inv.yml:5: environments.pc.user: 'user' must be a string, not an integer (3)",
    ]
    assert caught.value.exit_code == 2


def test_valid_inventory_has_no_problems():
    assert problems(parse_yaml(INVENTORY, "inv.yml"), "inventory", "inv.yml") == []


def _properties(node, where=""):
    """Every (path, property schema) declared under a ``properties`` keyword."""
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            yield f"{where}.{name}", sub
        for key, sub in node.items():
            yield from _properties(sub, f"{where}.{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from _properties(sub, f"{where}[{i}]")


@pytest.mark.parametrize("name", ["inventory", "playbook", "role-tasks", "role-defaults"])
def test_every_property_is_documented(name):
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    defs = schema.get("$defs", {})
    missing = []
    for path, sub in _properties(schema):
        target = defs.get(sub.get("$ref", "").rpartition("/")[2], {}) if "$ref" in sub else {}
        if not sub.get("description") and not target.get("description"):
            missing.append(path)
    assert missing == []
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
