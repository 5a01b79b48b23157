"""Scalars keep the text that was written: inventory and --set values reach templates, commands
and .env exactly as typed (YAML 1.2 core schema, numbers keep their text); where a type is
required, check says at file:line what was read and how to write it."""

from __future__ import annotations

import shlex

import pytest
from valuekit import host, operation, written

from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.inventory.variables import display
from moorage.playbook import load_playbook
from moorage.playbook.tasks import tasks_problems
from moorage.yamlsrc import parse_yaml

# written in the inventory -> the text every consumer must see
TEXTS = ["NO", "no", "Off", "on", "yes", "Y", "3.10", "0755", "1e3", "0x1F", "0o17", "~", "+12", "1_000",
         "2024-01-31", "12:30", ".5", "1.", "007", "-0", ".inf", "1.0e+3"]


@pytest.mark.parametrize("text", TEXTS)
def test_an_inventory_value_reaches_env_file_template_and_command_as_written(tmp_path, text):
    (tmp_path / "t.j2").write_text("v={{ v }}\n")
    variables = host(tmp_path, f"v: {text}\napp_env: {{V: {text}}}").variables()
    assert written('env_file: {path: /e, values: "{{ app_env }}"}', variables).splitlines()[-1] in (
        f"V={text}", f"V='{text}'")
    assert written("template: {src: t.j2, dest: /t}", variables, tmp_path) == f"v={text}\n"
    assert written('file: {path: /f, content: "{{ v }}"}', variables) == text
    op = operation('command: {cmd: "echo {{ v }}", env: {V: "{{ v }}", W: "{{ app_env.V }}"}}', variables)
    assert op.args["cmd"] == f"echo {text}"
    assert op.environment().decode().splitlines() == [f"export V={shlex.quote(text)}", f"export W={shlex.quote(text)}"]


@pytest.mark.parametrize("text", ["1.10", "NO", "0755", "3.10.2", "1e3", "off"])
def test_a_set_value_keeps_its_text(tmp_path, text):
    variables = host(tmp_path, "a: 1", flags=(f"app_version={text}",)).variables()
    assert written('file: {path: /f, content: "{{ app_version }}"}', variables) == text
    assert written('env_file: {path: /e, values: {V: "{{ app_version }}"}}', variables).endswith(f"V={text}\n")


def test_a_number_still_counts_where_a_number_is_wanted(tmp_path):
    variables = host(tmp_path, "timeout: 030", flags=("retries=3",)).variables()
    assert variables["timeout"] + 1 == 31 and variables["retries"] * 2 == 6
    op = operation('wait_http: {url: "http://x/", timeout: "{{ timeout }}"}', variables)
    assert op.args["timeout"] == 30


def test_invoke_inventory_shows_the_text_written(tmp_path):
    assert display(parse_yaml("v: {a: 3.10, b: 1e3, c: 0755, d: NO}", "x")["v"]) == \
        '{"a": 3.10, "b": 1e3, "c": 755, "d": "NO"}'


def test_an_unquoted_number_for_a_text_argument_is_its_text():
    assert operation("dir: {path: /srv/x, mode: 0750}", {}).args["mode"] == "0750"
    assert _check("- dir: {path: /srv/x, mode: 0750}") == []


@pytest.mark.parametrize(("task_yaml", "message"), [
    ("- wait_http: {url: 'http://x/', timeout: '30'}",
     "t.yml:1: [0].wait_http.timeout: 'timeout' must be a number, not a string ('30'); "
     "write it without quotes to make it a number"),
    ("- dir: {path: /srv/x, mode: 0999}",
     "t.yml:1: [0].dir.mode: 'mode' is '0999', which is not valid: Octal permissions, e.g. "
     "\"0644\" (a bare 0644 is taken as written, the text 0644)."),
])
def test_check_says_what_was_read_and_how_to_write_it(task_yaml, message):
    assert _check(task_yaml, full=True) == [message]


@pytest.mark.parametrize("word", ["yes", "No", "off", "ON"])
def test_a_yaml_11_boolean_for_a_boolean_key_is_refused_with_the_fix(tmp_path, word):
    (tmp_path / "deploy.yml").write_text(f"- hosts: all\n  become: {word}\n  tasks: []\n")
    with pytest.raises(InputError) as caught:
        load_playbook(tmp_path / "deploy.yml")
    assert str(caught.value).endswith(
        f":2: [0].become: 'become' must be true or false, not a string ('{word}'); "
        f"YAML 1.2 reads {word} as text: write true or false")


def _check(task_yaml: str, full: bool = False) -> list[str]:
    problems = tasks_problems(parse_yaml(task_yaml, "t.yml"), [], "t.yml", [])
    return [str(p) if full else p.message for p in problems]


def test_a_port_written_in_the_inventory_is_a_plain_int(tmp_path):
    (tmp_path / "hosts.yml").write_text("project: dm\nenvironments:\n  vps:\n    hosts:\n      vps: {port: 2222}\n")
    port = load_inventory(tmp_path).hosts["vps"].target.port
    assert type(port) is int and port == 2222  # socket.getaddrinfo refuses int subclasses
