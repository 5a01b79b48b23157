"""migrate_command as a list: each item one word, rendered and never split (a value with quotes
or spaces stays one argument); the string form is split like a shell (documented), and check
accepts both."""

from __future__ import annotations

import pytest
from test_role_variables import project
from test_values_quoting import build, shell_words

from moorage import builtin
from moorage.errors import InputError
from moorage.playbook import load_role
from moorage.recipes.check import run_check

HOSTILE = "one' 'two --flag"


def migration_task():
    """The compose_app role's migrations task, as written."""
    role = load_role(builtin.ROLES / "compose_app")
    (task,) = [t for t in role.tasks if t.op == "compose_run"]
    return task


def words(command, **values) -> list[str]:
    variables = {"app_dir": "/srv/shop", "compose_project": "shop", "compose_file": "compose.yml",
                 "migrate_service": "web", "migrate_command": command, **values}
    task = migration_task()
    op = build("compose_run", task.args, variables)
    line = shell_words(op.command().split(" && ", 1)[1])
    return line[line.index("-T") + 2:]  # after `run --rm -T SERVICE`


def test_a_list_keeps_each_rendered_value_one_word():
    command = ["python3", "-c", "import sys; print(sys.argv)", "{{ greeting }}"]
    assert words(command, greeting=HOSTILE) == ["python3", "-c", "import sys; print(sys.argv)", HOSTILE]


def test_a_secret_with_a_quote_in_a_list_is_one_word():
    assert words(["app", "migrate", "--token", "{{ token }}"], token="it's")[-1] == "it's"


def test_the_string_form_is_split_like_a_shell_and_says_to_use_a_list():
    assert words("app migrate --note 'a b'") == ["app", "migrate", "--note", "a b"]
    with pytest.raises(InputError, match=r"cannot be split into words: No closing quotation; .*give the command "
                                         r"as a list of words"):
        words("app migrate {{ token }}", token="it's")


@pytest.mark.parametrize("setting", ['migrate_command: [app, migrate, "{{ project }}"]',
                                     "migrate_command: app migrate"])
def test_check_accepts_both_forms(tmp_path, monkeypatch, setting):
    report = run_check(project(tmp_path, monkeypatch, setting), "staging")
    assert not [p for p in report.problems if "migrate_command" in str(p)]


def test_check_refuses_a_list_of_non_words(tmp_path, monkeypatch):
    report = run_check(project(tmp_path, monkeypatch, "migrate_command: [app, {x: 1}]"), "staging")
    assert any("migrate_command" in str(p) for p in report.problems)
