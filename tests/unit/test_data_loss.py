"""Commands that destroy Docker volumes: found by their words, refused in a project's command tasks
(exit 2 naming file:line) unless the task says ``allow_data_loss: true``; and no built-in role or
operation ever runs one."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml

from moorage import builtin
from moorage.errors import InputError
from moorage.operations.data_loss import destroys_volumes
from moorage.playbook import load_playbook

SRC = Path(__file__).resolve().parents[2] / "src" / "moorage"
CASES = Path(__file__).parent / "cases"

DESTROYS = [
    "docker compose down -v",
    "docker compose down --volumes",
    "docker compose -f compose.yml -p shop down --remove-orphans -v",
    "docker compose --profile nginx down -tv",
    "docker-compose down -v",
    "cd /srv/app && sudo -u root docker compose down -v",
    "FOO=1 docker compose down --volumes=true",
    "docker compose rm -fsv",
    "docker volume rm stratum_pg_data",
    "docker volume remove stratum_pg_data",
    "docker volume prune -f",
    "docker volume ls -q | xargs -r docker volume rm",
    "docker -H unix:///run/docker.sock volume prune -af",
    "docker system prune -af --volumes",
    "docker rm -fv db",
    "docker container rm --volumes db",
    "sh -c 'docker compose down -v'",
    "bash -lc \"docker volume rm x\"",
    "eval docker volume rm x",
    "x=$(docker volume rm x)",
    "echo start; `docker volume prune -f`",
    "timeout 60 docker compose down -v",
    "rm -rf /var/lib/docker/volumes/stratum_pg_data",
    "set -e\ncd /srv\ndocker compose stop\ndocker compose down -v\n",
]
KEEPS = [
    "docker compose down",
    "docker compose down --remove-orphans --rmi local",
    "docker compose down --volumes=false",
    "docker compose stop backend frontend",
    "docker system prune -af",
    "docker volume ls",
    "docker volume inspect stratum_pg_data",
    "docker run --rm -v stratum_pg_data:/data busybox ls /data",
    "docker compose run --rm backend migrate -v 2",
    "echo 'never run: docker compose down -v'",
    "# docker volume rm stratum_pg_data\necho ok",
    "rm -rf /srv/app/releases/old",
    "docker rm -f old-container",
]


@pytest.mark.parametrize("cmd", DESTROYS)
def test_a_command_that_destroys_volumes_is_found(cmd: str) -> None:
    assert destroys_volumes(cmd)


@pytest.mark.parametrize("cmd", KEEPS)
def test_a_command_that_keeps_volumes_is_not(cmd: str) -> None:
    assert destroys_volumes(cmd) is None


def _project(tmp_path: Path, task: dict[str, Any]) -> Path:
    (tmp_path / "roles" / "reset" ).mkdir(parents=True)
    (tmp_path / "roles" / "reset" / "tasks.yml").write_text(yaml.safe_dump([task], sort_keys=False))
    (tmp_path / "site.yml").write_text("- hosts: all\n  roles: [reset]\n")
    return tmp_path / "site.yml"


def test_a_command_task_that_destroys_volumes_is_refused_at_its_line(tmp_path: Path) -> None:
    playbook = _project(tmp_path, {"name": "reset the database", "command": {"cmd": "docker compose down -v"}})
    with pytest.raises(InputError) as caught:
        load_playbook(playbook)
    text = str(caught.value)
    assert "roles/reset/tasks.yml:3" in text
    assert "this command destroys data: `docker compose down -v`" in text
    assert "allow_data_loss: true" in text


def test_allow_data_loss_lets_the_task_through(tmp_path: Path) -> None:
    playbook = _project(tmp_path, {"name": "reset the database", "allow_data_loss": True,
                                   "command": {"cmd": "docker compose down -v"}})
    assert load_playbook(playbook).plays


def test_allow_data_loss_must_be_a_boolean(tmp_path: Path) -> None:
    playbook = _project(tmp_path, {"allow_data_loss": "yes", "command": {"cmd": "docker volume rm x"}})
    with pytest.raises(InputError) as caught:
        load_playbook(playbook)
    assert "allow_data_loss" in str(caught.value)


def _builtin_commands() -> list[tuple[str, str]]:
    """Every command task of the built-in roles and playbooks: (file, cmd)."""
    root = Path(builtin.__file__).parent
    found = []
    for path in [*root.glob("roles/*/*.yml"), *root.glob("playbooks/*.yml")]:
        stack: list[Any] = [yaml.safe_load(path.read_text())]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("command"), dict):
                    found.append((path.name, str(item["command"].get("cmd", ""))))
                stack += list(item.values())
            elif isinstance(item, list):
                stack += item
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_no_built_in_role_runs_a_command_that_destroys_volumes() -> None:
    assert [(f, c) for f, c in _builtin_commands() if destroys_volumes(c)] == []


def test_no_operation_plans_a_command_that_destroys_volumes() -> None:
    """The exact commands every operation plans (its table cases), and every string in the engine's
    code that is not a docstring: none destroys a volume (``compose state: down`` has no -v)."""
    planned = [s for path in CASES.glob("*.yml") for case in yaml.safe_load(path.read_text())
               for s in _strings(case.get("expect"))]
    assert any("docker compose" in s for s in planned)  # the cases do hold the commands
    assert [s for s in planned if destroys_volumes(s)] == []
    literals = []
    for path in SRC.rglob("*.py"):
        if path.name == "data_loss.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr)}
        literals += [(path.name, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant)
                     and isinstance(n.value, str) and id(n) not in docstrings]
    assert [(f, s) for f, s in literals if destroys_volumes(s)] == []
