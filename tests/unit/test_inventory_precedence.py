"""Variable precedence: five levels, files over hosts.yml within a level, per top-level key."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.errors import InputError
from moorage.inventory import load_inventory, parse_overrides
from moorage.yamlsrc import parse_yaml


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def hosts_yml(inventory: str = "", env: str = "", host: str = "") -> str:
    """An inventory whose only host vps sets ``x`` at the levels asked for."""
    return (
        "project: dm\n"
        f"vars: {{{inventory}}}\n"
        "environments:\n"
        "  vps:\n"
        f"    vars: {{{env}}}\n"
        "    hosts:\n"
        f"      vps: {{vars: {{{host}}}}}\n"
        "  pc:\n"
        "    hosts: {pc: {}}\n"
    )


DEFAULTS = {"x": "defaults"}

# (files, --set flags, expected value of x on vps, expected level, expected source)
CASES = [
    ({"hosts.yml": hosts_yml()}, [], "defaults", "1 defaults", "(defaults)"),
    ({"hosts.yml": hosts_yml(inventory="x: inventory")}, [], "inventory", "2 inventory", "hosts.yml:2"),
    ({"hosts.yml": hosts_yml(inventory="x: inventory"), "group_vars/all.yml": "x: all-file"}, [],
     "all-file", "2 inventory", "group_vars/all.yml:1"),
    ({"hosts.yml": hosts_yml(inventory="x: inventory", env="x: env"), "group_vars/all.yml": "x: all-file"},
     [], "env", "3 environment", "hosts.yml:5"),
    ({"hosts.yml": hosts_yml(env="x: env"), "group_vars/vps.yml": "\nx: env-file"}, [],
     "env-file", "3 environment", "group_vars/vps.yml:2"),
    ({"hosts.yml": hosts_yml(env="x: env", host="x: host"), "group_vars/vps.yml": "x: env-file"}, [],
     "host", "4 host", "hosts.yml:7"),
    ({"hosts.yml": hosts_yml(host="x: host"), "host_vars/vps.yml": "x: host-file"}, [],
     "host-file", "4 host", "host_vars/vps.yml:1"),
    ({"hosts.yml": hosts_yml(host="x: host"), "host_vars/vps.yml": "x: host-file"}, ["x=cli"],
     "cli", "5 --set", "--set"),
]


@pytest.mark.parametrize(("files", "flags", "value", "level", "source"), CASES)
def test_each_level_overrides_the_one_below(tmp_path, files, flags, value, level, source):
    inv = load_inventory(write(tmp_path, files), parse_overrides(flags))
    host = inv.hosts["vps"]
    assert host.variables(DEFAULTS)["x"] == value
    row = next(r for r in host.explain(DEFAULTS) if r.name == "x")
    shown = (row.value, row.level, row.source.replace(str(tmp_path) + "/", ""))
    assert shown == (f'"{value}"', level, source)


def test_environment_vars_stay_in_their_environment(tmp_path):
    files = {"hosts.yml": hosts_yml(env="x: env"), "group_vars/vps.yml": "y: 1"}
    inv = load_inventory(write(tmp_path, files))
    assert "x" not in inv.hosts["pc"].variables()
    assert "y" not in inv.hosts["pc"].variables()


def test_merge_replaces_whole_top_level_values(tmp_path):
    files = {"hosts.yml": hosts_yml(inventory="m: {a: 1, b: 2}", env="m: {b: 3}")}
    assert load_inventory(write(tmp_path, files)).hosts["vps"].variables()["m"] == {"b": 3}


def test_role_defaults_with_lines_are_explained_with_their_file(tmp_path):
    defaults = parse_yaml("\nport: 8000\n", "roles/web/defaults.yml")
    host = load_inventory(write(tmp_path, {"hosts.yml": hosts_yml()})).hosts["vps"]
    row = next(r for r in host.explain(defaults) if r.name == "port")
    assert row == ("port", "8000", "1 defaults", "roles/web/defaults.yml:2")


def test_magic_variables_are_always_there(tmp_path):
    variables = load_inventory(write(tmp_path, {"hosts.yml": hosts_yml()})).hosts["vps"].variables()
    assert {k: variables[k] for k in ("inventory_hostname", "environment_name", "project")} == {
        "inventory_hostname": "vps", "environment_name": "vps", "project": "dm"}


def test_defaults_cannot_redefine_magic_variables(tmp_path):
    host = load_inventory(write(tmp_path, {"hosts.yml": hosts_yml()})).hosts["vps"]
    with pytest.raises(InputError, match="'project' is set by moorage and can't be a variable"):
        host.variables({"project": "x"})


@pytest.mark.parametrize(("flag", "value"), [
    ("replicas=3", 3),
    ('debug="0"', "0"),
    ("debug=0", 0),
    ("tls=false", False),
    ("ratio=0.5", 0.5),
    ("name=dm", "dm"),
    ("empty=", ""),
    ("nothing=null", None),
    ("url=http://x:8000/a=b", "http://x:8000/a=b"),
    ("pair=a: b", "a: b"),       # block style: kept as text
    ("extra={A: '1'}", {"A": "1"}),  # flow style: a mapping
    ("hosts=[a, b]", ["a", "b"]),
    (" spaced =1", 1),
])
def test_set_values_are_yaml(flag, value):
    parsed = parse_overrides([flag])
    assert list(parsed.values()) == [value]
    assert isinstance(next(iter(parsed.values())), type(value))


@pytest.mark.parametrize(("flag", "message"), [
    ("replicas", "--set 'replicas': expected KEY=VALUE, e.g. --set replicas=3"),
    ("=3", "--set '=3': expected KEY=VALUE, e.g. --set replicas=3"),
    ("1x=3", "--set '1x=3': '1x' is not a variable name (letters, digits and underscores, not starting "
             "with a digit)"),
    ('k="open', "--set 'k=\"open': the value is not valid YAML"),
    ("project=x", "--set 'project=x': 'project' is set by moorage and can't be changed"),
])
def test_bad_set_flags_name_the_flag(flag, message):
    with pytest.raises(InputError) as caught:
        parse_overrides([flag])
    assert str(caught.value).startswith(message)
