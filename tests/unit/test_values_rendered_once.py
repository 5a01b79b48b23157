"""The rendering rule: playbook and inventory text is a template, rendered once; secrets,
generated values, --set values, registered output and magic variables are data, never parsed."""

from __future__ import annotations

import pytest
from valuekit import host, operation, registered, runs, written

from moorage import secrets, templating
from moorage.errors import InputError
from moorage.operations.base import Facts, PathFacts
from moorage.operations.env_file import quote_env

# Values a password, a Go template or a shell snippet really holds: every one must arrive as is.
MARKUP = ["ab{{ inventory_hostname }}cd", "x{%D", "pass{{", "{% if %}", "{#", "}}{{", "{{ 1/0 }}",
          "{% raw %}a{% endraw %}", "{{ cycler.__init__.__globals__.os }}"]


@pytest.fixture(autouse=True)
def _clean_masker():
    secrets.forget_secrets()
    yield
    secrets.forget_secrets()


@pytest.mark.parametrize("value", MARKUP)
def test_a_secret_reaches_the_env_file_as_written(tmp_path, monkeypatch, value):
    monkeypatch.setenv("DM_DB_PASSWORD", value)
    variables = host(tmp_path, 'db_password: {secret: "env:DM_DB_PASSWORD"}\n'
                               'app_env: {DB_PASSWORD: "{{ db_password }}"}').variables()
    text = written('env_file: {path: /srv/dm/.env, values: "{{ app_env }}"}', variables)
    assert text.splitlines()[-1] == f"DB_PASSWORD={_quoted(value)}"


def _quoted(value: str) -> str:
    return quote_env(value)


@pytest.mark.parametrize("value", MARKUP)
def test_a_file_secret_in_an_argument_and_a_template_file(tmp_path, value):
    (tmp_path / "token").write_text(value + "\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "conf.j2").write_text("token={{ api_token }}\n")
    variables = host(tmp_path, 'api_token: {secret: "file:token"}').variables()
    assert written('file: {path: /x, content: "[{{ api_token }}]"}', variables) == f"[{value}]"
    assert written("template: {src: conf.j2, dest: /y}", variables, tmp_path / "templates") == f"token={value}\n"


@pytest.mark.parametrize("value", MARKUP)
def test_a_set_value_is_data(tmp_path, value):
    variables = host(tmp_path, 'greeting: "hi {{ name }}"', flags=(f"name={value}",)).variables()
    assert written('file: {path: /x, content: "{{ greeting }}"}', variables) == f"hi {value}"
    assert written('file: {path: /x, content: "{{ name }}"}', variables) == value


@pytest.mark.parametrize("value", MARKUP)
def test_registered_output_is_data(value):
    variables = {"out": registered(True, stdout=value), "want": registered(True, stdout=value)}
    assert written('file: {path: /x, content: "{{ out.stdout }}"}', variables) == value
    assert runs("out.stdout == want.stdout and out.stdout_lines == [want.stdout]", variables)


def test_the_magic_variables_are_data(tmp_path):
    inventory_dir = tmp_path / "in{{ x }}v"
    inventory_dir.mkdir()
    variables = host(inventory_dir, "a: 1").variables()
    assert written('file: {path: /x, content: "{{ inventory_dir }}"}', variables) == str(inventory_dir)


def test_a_generated_value_passes_untouched(tmp_path):
    variables = host(tmp_path, "key: {generate: 50}\napp_env: {KEY: \"{{ key }}\"}").variables()
    assert templating.render_value("{{ app_env }}", variables) == {"KEY": {"generate": 50}}


def test_inventory_text_is_a_template_rendered_where_used(tmp_path):
    variables = host(tmp_path, 'app_dir: "/srv/{{ project }}"\nmedia_dir: "{{ app_dir }}/media"\n'
                               'dirs: ["{{ media_dir }}", "{{ app_dir }}/x"]').variables()
    assert templating.render_value("{{ dirs }}", variables) == ["/srv/dm/media", "/srv/dm/x"]
    assert templating.render_keys(variables, ("media_dir", "nope")) == {"media_dir": "/srv/dm/media", "nope": ""}


def test_a_rendered_value_is_not_rendered_again():
    # b's value is template text whose *result* looks like a template: it stays that result
    variables = {"a": "{{ '{{' }} x }}", "x": "boom"}
    assert templating.render_value("[{{ a }}]", variables) == "[{{ x }}]"


@pytest.mark.parametrize(("variables", "chain"), [
    ({"a": "{{ a }}"}, "a -> a"),
    ({"a": "x{{ b }}", "b": "{{ c }}y", "c": "{{ a }}"}, "a -> b -> c -> a"),
])
def test_a_variable_defined_in_terms_of_itself_is_named(variables, chain):
    with pytest.raises(InputError, match=f"defined in terms of itself \\({chain}\\)"):
        templating.render_value("{{ a }}", variables)


def test_a_secret_is_masked_in_the_diff_of_a_changed_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DM_TOKEN", "ab{{ inventory_hostname }}cd")
    variables = host(tmp_path, 'token: {secret: "env:DM_TOKEN"}').variables()
    op = operation('file: {path: /x, content: "t={{ token }}"}', variables)
    op.context.diff = True
    facts = Facts()
    facts.record(PathFacts("/x", "file", "0644", "root", "root", sha256="0" * 64, content=b"t=old"))
    diff = op.plan(facts).diff or ""
    assert "ab{{" not in diff and "ablabcd" not in diff and "abvpscd" not in diff
    assert "+t=********" in diff
