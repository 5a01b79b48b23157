"""YAML with line numbers: every key and item knows its line; bad YAML names its line."""

from __future__ import annotations

import pytest

from moorage.errors import InputError
from moorage.yamlsrc import LineDict, format_path, load_yaml, location_of, merge_sourced, parse_yaml

DOC = """\
project: dm
environments:
  vps:
    hosts:
      vps:
        port: 22
tasks:
  - name: first
  - name: second
    dir: {path: /srv}
"""


@pytest.mark.parametrize(("path", "line"), [
    ([], 1),
    (["project"], 1),
    (["environments", "vps"], 3),
    (["environments", "vps", "hosts", "vps", "port"], 6),
    (["tasks", 1], 9),
    (["tasks", 1, "dir", "path"], 10),
    (["tasks", 5, "name"], 7),          # past the end: the closest known line
    (["environments", "nexus"], 2),     # unknown key: its parent's line
])
def test_location_of_points_at_the_key_or_item(path, line):
    data = parse_yaml(DOC, "hosts.yml")
    assert str(location_of(data, path)) == f"hosts.yml:{line}"


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\nb: [1, 2\n", "f.yml:3: invalid YAML: did not find expected ',' or ']'"),
    ("a: b: c\n", "f.yml:1: invalid YAML: mapping values are not allowed in this context"),
    ("a:\n  - x\n - y\n", "f.yml:3: invalid YAML: did not find expected key"),
    ("x: 1\ny: 2\nx: 3\n", "f.yml:3: duplicate key 'x' (first written on line 1); keep only one"),
    ("e:\n  h:\n    port: 1\n    port: 2\n",
     "f.yml:4: duplicate key 'port' (first written on line 3); keep only one"),
])
def test_bad_yaml_is_an_input_error_naming_the_line(text, message):
    with pytest.raises(InputError) as caught:
        parse_yaml(text, "f.yml")
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


def test_merge_keys_are_not_duplicates():
    data = parse_yaml("base: &b {k: 1, j: 2}\nm:\n  <<: *b\n  k: 3\n", "f.yml")
    assert data["m"] == {"k": 3, "j": 2}
    assert data["m"].key_lines["k"] == 4


def test_load_yaml_names_a_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.yml does not exist"):
        load_yaml(tmp_path / "nope.yml")


def test_empty_file_is_none(tmp_path):
    (tmp_path / "e.yml").write_text("# only a comment\n")
    assert load_yaml(tmp_path / "e.yml") is None


def test_merge_sourced_keeps_each_keys_origin():
    a = parse_yaml("x: 1\ny: 2\n", "a.yml")
    b = parse_yaml("\n\ny: 3\n", "b.yml")
    merged = merge_sourced(a, b, {"z": 4})
    assert merged == {"x": 1, "y": 3, "z": 4}
    assert isinstance(merged, LineDict)
    assert str(merged.location("x")) == "a.yml:1"
    assert str(merged.location("y")) == "b.yml:3"


@pytest.mark.parametrize(("path", "text"), [
    ([], "(top level)"),
    (["environments", "vps", "hosts"], "environments.vps.hosts"),
    ([0, "tasks", 2, "dir"], "[0].tasks[2].dir"),
])
def test_format_path(path, text):
    assert format_path(path) == text
