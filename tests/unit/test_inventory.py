"""Loading an inventory: hosts, targets, selection, and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.errors import InputError
from moorage.inventory import load_inventory

HOSTS = """\
project: dm
known_hosts: keys/known_hosts
ssh_key: keys/id_ed25519
environments:
  pc:
    connection: local
    hosts:
      pc: {}
  nexus:
    user: deploy
    port: 2222
    hosts:
      nexus: {address: 192.0.2.10}
  vps:
    production: true
    user: deploy
    become: true
    hosts:
      vps: {address: pyxalix.devamalix.fr, port: 22, ssh_key: /keys/vps, become: false,
            fingerprint: "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}
      vps2: {}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``; return ``root``."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def inv(tmp_path):
    return load_inventory(write(tmp_path, {"hosts.yml": HOSTS}))


def test_environments_and_hosts(inv, tmp_path):
    assert inv.project == "dm"
    assert inv.path == tmp_path
    assert list(inv.environments) == ["pc", "nexus", "vps"]
    assert list(inv.hosts) == ["pc", "nexus", "vps", "vps2"]
    assert inv.environments["vps"].hosts == ["vps", "vps2"]
    assert [h.production for h in inv.hosts.values()] == [False, False, True, True]
    assert inv.hosts["vps2"].environment == "vps"


@pytest.mark.parametrize(("host", "connection", "address", "port", "user", "key", "become"), [
    ("nexus", "ssh", "192.0.2.10", 2222, "deploy", "keys/id_ed25519", False),   # environment defaults
    ("vps", "ssh", "pyxalix.devamalix.fr", 22, "deploy", "/keys/vps", False),    # host's own settings win
    ("vps2", "ssh", "vps2", 22, "deploy", "keys/id_ed25519", True),              # address = host name
    ("pc", "local", "pc", 22, None, "keys/id_ed25519", False),
])
def test_targets(inv, tmp_path, host, connection, address, port, user, key, become):
    target = inv.hosts[host].target
    assert (target.name, target.connection, target.address, target.port, target.become) == (
        host, connection, address, port, become)
    if user:
        assert target.user == user
    expected_key = key if key.startswith("/") else str(tmp_path / key)
    assert target.key_file == expected_key
    assert target.known_hosts == (str(tmp_path / "keys/known_hosts"),)


def test_fingerprint_and_location(inv, tmp_path):
    assert inv.hosts["vps"].fingerprint == "SHA256:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
    assert inv.hosts["vps"].location.line == 19
    assert inv.hosts["nexus"].fingerprint is None


@pytest.mark.parametrize(("pattern", "hosts"), [
    ("vps2", ["vps2"]),
    ("vps", ["vps", "vps2"]),                   # an environment
    ("all", ["pc", "nexus", "vps", "vps2"]),
    ("vps2,pc", ["pc", "vps2"]),                # inventory order, commas allowed
    (["nexus", "vps", "vps2"], ["nexus", "vps", "vps2"]),
    ("pc, pc", ["pc"]),
])
def test_select(inv, pattern, hosts):
    assert [h.name for h in inv.select(pattern)] == hosts


@pytest.mark.parametrize(("pattern", "message"), [
    ("vsp", "unknown host or environment 'vsp' (did you mean 'vps'?); known: pc, nexus, vps, vps2"),
    ("nexsu", "unknown host or environment 'nexsu' (did you mean 'nexus'?); known: pc, nexus, vps, vps2"),
    ("prod", "unknown host or environment 'prod'; known: pc, nexus, vps, vps2"),
    ("", "no host given; name a host, an environment or all (known: pc, nexus, vps, vps2)"),
])
def test_select_unknown(inv, pattern, message):
    with pytest.raises(InputError) as caught:
        inv.select(pattern)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_inventory_path_may_name_hosts_yml(tmp_path):
    write(tmp_path, {"hosts.yml": HOSTS})
    assert list(load_inventory(tmp_path / "hosts.yml").hosts) == ["pc", "nexus", "vps", "vps2"]


def test_missing_inventory(tmp_path):
    with pytest.raises(InputError, match=r"no inventory at .*nowhere \(expected .*nowhere/hosts.yml\); "
                                         r"pass --inventory PATH"):
        load_inventory(tmp_path / "nowhere")


def errors_of(tmp_path: Path, files: dict[str, str]) -> list[str]:
    write(tmp_path, files)
    with pytest.raises(InputError) as caught:
        load_inventory(tmp_path)
    return [line.replace(str(tmp_path) + "/", "") for line in str(caught.value).splitlines()]


MINI = "project: dm\nenvironments:\n  pc:\n    hosts: {pc: {}}\n  vps:\n    hosts: {vps: {}}\n"


@pytest.mark.parametrize(("files", "expected"), [
    ({"group_vars/vsp.yml": "a: 1\n"},
     ["group_vars/vsp.yml: 'vsp.yml' names no environment (did you mean 'vps'?)"]),
    ({"host_vars/pcc.yml": "a: 1\n"},
     ["host_vars/pcc.yml: 'pcc.yml' names no host (did you mean 'pc'?)"]),
    ({"group_vars/all.yml": "- a list\n"},
     ["group_vars/all.yml:1: (top level): the file's content must be a mapping, not a list"]),
    ({"group_vars/vps.yml": "a: [1\n"},
     ["group_vars/vps.yml:2: invalid YAML: did not find expected ',' or ']'"]),
    ({"host_vars/vps.yml": "project: other\n"},
     ["host_vars/vps.yml:1: project: 'project' is set by moorage and can't be a variable; rename it"]),
])
def test_var_file_errors(tmp_path, files, expected):
    assert errors_of(tmp_path, {"hosts.yml": MINI, **files}) == expected


def test_host_names_are_unique(tmp_path):
    text = "project: dm\nenvironments:\n  a:\n    hosts: {web: {}}\n  b:\n    hosts:\n      web: {}\n"
    assert errors_of(tmp_path, {"hosts.yml": text}) == [
        "hosts.yml:7: environments.b.hosts.web: host 'web' is already in environment 'a'; "
        "a host name is unique across the inventory"]


def test_every_file_problem_is_reported_at_once(tmp_path):
    text = "project: dm\nenvironments:\n  pc:\n    conection: local\n    hosts: {pc: {}}\n"
    assert errors_of(tmp_path, {"hosts.yml": text, "group_vars/pcc.yml": ""}) == [
        "group_vars/pcc.yml: 'pcc.yml' names no environment (did you mean 'pc'?)",
        "hosts.yml:4: environments.pc.conection: unknown key 'conection' (did you mean 'connection'?)",
    ]


def test_empty_hosts_file(tmp_path):
    assert errors_of(tmp_path, {"hosts.yml": "# nothing yet\n"}) == [
        "hosts.yml is empty; it needs at least 'project' and 'environments'"]


def test_files_lists_what_was_read(tmp_path):
    write(tmp_path, {"hosts.yml": MINI, "group_vars/all.yml": "a: 1\n", "host_vars/vps.yml": "{}\n",
                     "group_vars/README": "x"})
    assert [p.name for p in load_inventory(tmp_path).files] == ["hosts.yml", "all.yml", "vps.yml"]
