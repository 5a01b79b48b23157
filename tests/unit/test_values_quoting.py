"""Values reach the shell quoted: the token builder, docker names checked with compose's rules at
file:line before anything runs, and the commands the compose operations plan."""

from __future__ import annotations

import subprocess

import pytest

from moorage.errors import InputError
from moorage.executor.tasks import build_operation
from moorage.operations.base import Facts, OpContext
from moorage.operations.command import Command
from moorage.operations.compose_run import ComposeRun
from moorage.operations.shell import Raw, sh
from moorage.playbook.tasks import build_task

HOSTILE = ["dm$(touch /tmp/x)", "a;b", "`id`", "it's", 'say "hi"', "$HOME", "a b", "-rf", "x\ny", "*", ""]


def shell_words(line: str) -> list[str]:
    """What a real sh makes of ``line``: its words, one per line (printf), nothing else run."""
    out = subprocess.run(["sh", "-c", f"printf '%s\\0' {line}"], capture_output=True, check=True).stdout
    return out.decode().split("\0")[:-1]


@pytest.mark.parametrize("value", HOSTILE)
def test_every_token_reaches_the_shell_as_one_word(value: str) -> None:
    assert shell_words(sh("-p", value, ["--flag", value])) == ["-p", value, "--flag", value]


def test_raw_is_for_operators_only() -> None:
    assert sh("cd", "/srv/my app", Raw("&&"), "ls") == "cd '/srv/my app' && ls"


def build(op: str, args: dict, variables: dict):
    return build_operation(build_task({op: args}), variables, OpContext("web", variables))


@pytest.mark.parametrize("name", ["dm$(touch /tmp/x)", "Shop", "-shop", "_shop", "shop app", "shop.v2", ""])
def test_a_compose_project_name_follows_compose_rules(name: str) -> None:
    with pytest.raises(InputError) as caught:
        build("compose", {"project_dir": "/srv/app", "project_name": "{{ p }}"}, {"p": name})
    assert "argument 'project_name'" in str(caught.value) and "lowercase letters, digits" in str(caught.value)


@pytest.mark.parametrize("name", ["shop", "0shop", "shop_2-a"])
def test_valid_project_names_pass(name: str) -> None:
    assert build("compose", {"project_dir": "/srv/app", "project_name": name}, {}) is not None


@pytest.mark.parametrize("service", ["web app migrate;touch /tmp/x;true", "web;id", ".web", "-web", "we b"])
def test_a_service_name_with_anything_else_is_refused(service: str) -> None:
    with pytest.raises(InputError) as caught:
        build("compose_run", {"project_dir": "/srv/app", "service": "{{ s }}", "command": "app migrate"},
              {"s": service})
    assert "argument 'service'" in str(caught.value)


def test_a_one_off_command_is_split_into_quoted_words() -> None:
    op = ComposeRun({"project_dir": "/srv/my app", "project_name": "shop", "files": ["compose.yml"],
                     "service": "web", "command": "app migrate --note 'it is $HOME; fine'"}, OpContext("web", {}))
    assert op.command() == ("cd '/srv/my app' && docker compose -p shop -f compose.yml run --rm -T web "
                            "app migrate --note 'it is $HOME; fine'")
    assert shell_words(op.command().split(" && ", 1)[1])[-4:] == ["app", "migrate", "--note", "it is $HOME; fine"]


def test_an_unbalanced_quote_in_a_command_is_refused() -> None:
    with pytest.raises(InputError, match="cannot be split into words"):
        build("compose_run", {"project_dir": "/srv/app", "service": "web", "command": "app 'migrate"}, {})


def test_image_build_arguments_are_words_and_the_project_name_is_checked() -> None:
    with pytest.raises(InputError, match="not a valid compose project name"):
        build("image", {"images": ["shop:1"], "source": "build", "project_dir": "/srv/app",
                        "compose_args": "-p {{ p }} -f compose.yml"}, {"p": "dm$(touch /tmp/x)"})


def test_env_values_travel_on_stdin_not_in_the_script() -> None:
    op = Command({"cmd": "docker login", "env": {"TOKEN": "s3cr3t'$(id)", "ON": True}}, OpContext("web", {}))
    assert "s3cr3t" not in op.plan(Facts()).steps[-1].script
    script = op.environment().decode()
    assert shell_words_after(script, "TOKEN") == "s3cr3t'$(id)" and shell_words_after(script, "ON") == "true"


def shell_words_after(exports: str, name: str) -> str:
    """The value a real sh holds for ``name`` after reading ``exports`` as the command does."""
    out = subprocess.run(["sh", "-c", f'eval "$(cat)"; printf %s "${name}"'], input=exports.encode(),
                         capture_output=True, check=True).stdout
    return out.decode()


def test_env_names_must_be_shell_names() -> None:
    with pytest.raises(InputError, match="argument 'env'"):
        build("command", {"cmd": "true", "env": {"A;touch /tmp/x": "1"}}, {})
