"""Booleans render one way everywhere: true / false (templates, file content, a command's env,
.env files, arguments declared text)."""

from __future__ import annotations

import pytest
from valuekit import host, operation, registered, written


@pytest.mark.parametrize(("written_as", "text"), [("true", "true"), ("True", "true"), ("FALSE", "false")])
def test_an_inventory_boolean_is_the_same_text_everywhere(tmp_path, written_as, text):
    (tmp_path / "t.j2").write_text("flag={{ flag }} {{ flag | string }} {{ [flag] | join(',') }}\n")
    variables = host(tmp_path, f"flag: {written_as}").variables()
    assert written('file: {path: /f, content: "{{ flag }}"}', variables) == text
    assert written("template: {src: t.j2, dest: /t}", variables, tmp_path) == f"flag={text} {text} {text}\n"
    assert written('env_file: {path: /e, values: {FLAG: "{{ flag }}"}}', variables).endswith(f"FLAG={text}\n")
    command = operation('command: {cmd: "echo {{ flag }}", env: {FLAG: "{{ flag }}", LIT: true}}', variables)
    assert command.environment().decode().splitlines() == [f"export FLAG={text}", "export LIT=true"]
    assert command.args["cmd"] == f"echo {text}"


def test_a_registered_boolean_in_a_text_argument():
    variables = {"result": registered(True)}
    assert operation('command: {cmd: "{{ result.changed }}"}', variables).args["cmd"] == "true"
    assert written('file: {path: /f, content: "{{ result.failed }}"}', variables) == "false"


def test_a_boolean_stays_a_boolean_where_one_is_wanted():
    op = operation('wait_http: {url: "http://x/", validate_certs: "{{ check }}"}', {"check": False})
    assert op.args["validate_certs"] is False
