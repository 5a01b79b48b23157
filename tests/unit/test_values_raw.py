"""`{% raw %}` works wherever a template is accepted, and `check` accepts exactly what a run can
render (both compile with moorage.templating)."""

from __future__ import annotations

import pytest
from valuekit import operation, registered, runs, written

from moorage import templating
from moorage.errors import InputError
from moorage.playbook.tasks import tasks_problems
from moorage.yamlsrc import parse_yaml

GO_TEMPLATE = "docker ps --format '{% raw %}{{.Names}}{% endraw %}'"


def test_raw_in_a_command_and_its_unless():
    op = operation(f'command: {{cmd: "{GO_TEMPLATE}", unless: "test -n \'{{% raw %}}{{{{x}}}}{{% endraw %}}\'"}}',
                   {})
    assert op.args["cmd"] == "docker ps --format '{{.Names}}'"
    assert op.args["unless"] == "test -n '{{x}}'"


@pytest.mark.parametrize(("content", "expected"), [
    ("{% raw %}{{ .Values.x }}{% endraw %}", "{{ .Values.x }}"),
    ("a {{ name }} {% raw %}{{ literal }} {% if %}{% endraw %} b", "a dm {{ literal }} {% if %} b"),
    ("{{ '{{' }}x}}", "{{x}}"),
])
def test_raw_in_file_content(content, expected):
    assert written(f"file: {{path: /x, content: {content!r}}}", {"name": "dm"}) == expected


def test_raw_in_a_when():
    variables = {"out": registered(False, stdout="{{x}}")}
    assert runs("\"out.stdout == '{% raw %}{{x}}{% endraw %}'\"", variables)
    assert not runs("\"out.stdout == '{% raw %}{{y}}{% endraw %}'\"", variables)


def test_raw_in_a_template_file(tmp_path):
    (tmp_path / "t.j2").write_text("{% raw %}\n{{ .Go }}\n{% if %}\n{% endraw %}\nname={{ name }}\n")
    assert written("template: {src: t.j2, dest: /x}", {"name": "dm"}, tmp_path) == "{{ .Go }}\n{% if %}\nname=dm\n"


def _check(task_yaml: str) -> list[str]:
    return [p.message for p in tasks_problems(parse_yaml(task_yaml, "t.yml"), [], "t.yml", [])]


@pytest.mark.parametrize("task_yaml", [
    f'- command: {{cmd: "{GO_TEMPLATE}"}}',
    "- command: {cmd: x}\n  when: \"out == '{% raw %}{{{% endraw %}'\"",
    "- file: {path: /x, content: \"{% raw %}{{{% endraw %}\"}",
    "- file: {path: /x, content: \"{{ x | to_json }}\"}",
])
def test_check_accepts_what_a_run_renders(task_yaml):
    assert _check(task_yaml) == []
    task = parse_yaml(task_yaml, "t.yml")[0]
    args = next(v for k, v in task.items() if k not in ("when", "name"))
    templating.render_value(args, {"x": 1, "out": "{{"})  # and the run renders it


@pytest.mark.parametrize(("task_yaml", "reason"), [
    ('- command: {cmd: "echo {{ x }"}', "unexpected '}'"),
    ('- command: {cmd: "echo {% raw %}{{"}', "Missing end of raw directive"),
    ("- command: {cmd: x}\n  when: \"x ==\"", "unexpected 'end of template'"),
    ('- command: {cmd: "{{ x | no_such_filter }}"}', "No filter named 'no_such_filter'"),
])
def test_check_refuses_what_a_run_would_refuse(task_yaml, reason):
    (message,) = _check(task_yaml)
    assert message.startswith(f"Jinja2 syntax error: {reason}")
    task = parse_yaml(task_yaml, "t.yml")[0]
    with pytest.raises(InputError):
        if "when" in task:
            templating.evaluate(task["when"], {"x": 1})
        else:
            templating.render_value(task["command"], {"x": 1})
