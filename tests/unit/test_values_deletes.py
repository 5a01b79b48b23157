"""Recursive deletes are bounded: `dir state: absent`, `sync delete`, release pruning and backup
retention refuse `/`, system directories, the connecting user's home, and any path whose rendering
left an empty part or a `..` — naming the template and the variable, before anything runs."""

from __future__ import annotations

import pytest

from moorage.errors import InputError
from moorage.executor.tasks import build_operation
from moorage.operations.base import OpContext
from moorage.operations.bounds import delete_refusal
from moorage.playbook.tasks import build_task

BACKUP = {"project_name": "shop", "prefix": "shop", "databases": [{"service": "db", "database": "shop"}]}


def build(op: str, args: dict, variables: dict | None = None, user: str = "deploy"):
    task = build_task({op: args})
    return build_operation(task, variables or {}, OpContext("web", variables or {}, user=user))


@pytest.mark.parametrize(("path", "reason"), [
    ("/", "it is /"), ("/srv//cache", "empty component"), ("/srv/app/", "ends with '/'"),
    ("/srv/app/../..", "'..'"), ("/srv/./app", "'.'"), ("/etc", "system directory"), ("/usr", "system directory"),
    ("/var/lib", "system directory"), ("/lib64", "system directory"), ("/home", "system directory"),
    ("/home/deploy", "home of deploy"), ("relative", "not an absolute path"),
])
def test_paths_no_recursive_delete_touches(path: str, reason: str) -> None:
    assert reason in (delete_refusal(path, "deploy") or "")


@pytest.mark.parametrize("path", ["/srv/app/cache", "/var/www/site", "/home/deploy/app", "/opt/tool/cache",
                                  "/srv/app/my cache", "/tmp/moorage-scratch"])
def test_paths_below_those_are_allowed(path: str) -> None:
    assert delete_refusal(path, "deploy") is None


def test_root_home_is_refused_when_connecting_as_root() -> None:
    assert "home of root" in delete_refusal("/root", "root")  # (also a system directory by name)


def test_an_empty_variable_is_named_with_its_template() -> None:
    variables = {"app_dir": "/srv/app", "cache_sub": ""}
    with pytest.raises(InputError) as caught:
        build("dir", {"path": "{{ app_dir }}/{{ cache_sub }}", "state": "absent"}, variables)
    message = str(caught.value)
    assert "'/srv/app/'" in message and "ends with '/'" in message
    assert "{{ app_dir }}/{{ cache_sub }}" in message and "cache_sub is ''" in message


def test_a_variable_equal_to_slash_is_refused_in_check_mode_too() -> None:
    variables = {"target": "/"}
    task = build_task({"dir": {"path": "{{ target }}", "state": "absent"}})
    with pytest.raises(InputError) as caught:
        build_operation(task, variables, OpContext("web", variables, user="deploy"))
    assert "it is /" in str(caught.value) and "target is '/'" in str(caught.value)


def test_the_same_path_is_fine_when_the_directory_is_created() -> None:
    assert build("dir", {"path": "/srv/app/"}) is not None  # present: nothing is deleted


@pytest.mark.parametrize(("op", "args", "argument"), [
    ("sync", {"src": "media", "dest": "{{ media_dir }}", "delete": True}, "dest"),
    ("release", {"app_dir": "{{ media_dir }}", "id": "r1", "images": []}, "app_dir"),
    ("postgres_backup", {**BACKUP, "backup_dir": "{{ media_dir }}"}, "backup_dir"),
])
def test_every_recursive_delete_is_bounded(op: str, args: dict, argument: str) -> None:
    variables = {"media_dir": "/"}
    with pytest.raises(InputError) as caught:
        build(op, args, variables)
    assert f"argument '{argument}'" in str(caught.value) and "media_dir is '/'" in str(caught.value)


def test_sync_without_delete_may_target_any_directory() -> None:
    assert build("sync", {"src": "media", "dest": "/srv"}) is not None


def test_a_trailing_slash_written_in_the_playbook_is_no_empty_variable() -> None:
    assert build("sync", {"src": "media", "dest": "/srv/media/", "delete": True}) is not None
    with pytest.raises(InputError, match="it is /"):
        build("sync", {"src": "media", "dest": "{{ d }}/", "delete": True}, {"d": ""})
