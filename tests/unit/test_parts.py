"""Parts (the inventory's ``parts``) without a server: ``--part`` resolved to services, the compose
lines of up and down (never a volume removed, the release's scale kept), the lock and the audit
line, refusals with did-you-mean (exit 2) before anything runs."""

from __future__ import annotations

import json

import pytest
import yaml
from fakes import FakeConnection
from inputkit import HOSTS, write_project
from invoke.exceptions import Exit
from test_compose_services import COMPOSE
from test_compose_services import problems as check_problems
from test_role_variables import line_of, project

from moorage.cli.service_tasks import down, up
from moorage.errors import HostError, InputError
from moorage.operations import server_state
from moorage.project import locate
from moorage.recipes import day2, parts, services
from moorage.recipes.check import run_check
from moorage.recipes.play import Request

SERVICES = yaml.safe_dump({"services": {name: {"image": "x"} for name in ("api", "worker", "db", "cache")}})
PARTS = "  parts: {db: [db, cache], app: [api, worker]}\n"


@pytest.fixture
def host(tmp_path, monkeypatch):
    """web1 of a project with parts db and app; its fake host runs release R1 scaled {api: 3}."""
    conn = (FakeConnection("web1").answer(r"^readlink /srv/demo/current .*config --services",
                                          stdout="releases/R1\napi\nworker\ndb\ncache\n")
            .answer(r"\.moorage-scale\.json", stdout=json.dumps({"api": 3}))
            .answer(r"docker inspect", stdout=""))
    for module in (day2, services, server_state):
        monkeypatch.setattr(module, "connect", lambda target: conn)
    hosts = HOSTS.replace("  app_dir: /srv/demo\n", "  app_dir: /srv/demo\n" + PARTS)
    root = write_project(tmp_path, {"compose.yml": SERVICES, "inventory/hosts.yml": hosts})
    return Request(locate(str(root)), "web1"), conn


def test_part_names_split_on_commas_once_each():
    assert parts.split_names(["db, app", "db", ""]) == ["db", "app"]


def test_parts_resolve_to_their_services_after_the_named_ones(host):
    app = day2.app_of(host[0])
    assert parts.services_of(app, ["db", "app"], ["worker"]) == ["worker", "db", "cache", "api"]


def test_an_unknown_part_is_refused_with_did_you_mean_before_any_connection(host):
    request, conn = host
    with pytest.raises(InputError) as refused:
        services.control(request, "stop", [], parts=["dbb"])
    assert str(refused.value) == "--part dbb: host 'web1' has no part 'dbb' (did you mean 'db'?); its parts: app, db"
    assert conn.calls == []


def test_down_removes_containers_never_volumes_inside_the_lock_audited(host, capsys):
    request, conn = host
    assert services.control(request, "down", [], parts=["db"]) == 0
    commands = [call.command for call in conn.calls]
    act = next(i for i, c in enumerate(commands) if " rm --stop" in c)
    assert commands[act].endswith("rm --stop --force db cache") and " -v" not in commands[act]
    lock = next(i for i, c in enumerate(commands) if "/lock" in c and "mkdir" in c)
    audit = next(i for i, c in enumerate(commands) if "audit.log" in c)
    assert lock < act < audit and "down by=" in commands[audit]
    assert "result=ok services=db,cache parts=db" in commands[audit]
    assert "web1: part db: db, cache removed (containers only; volumes kept) (release R1)" in capsys.readouterr().out


def test_up_keeps_the_release_scale_and_waits_for_readiness(host, capsys):
    request, conn = host
    assert services.control(request, "up", [], parts=["app"]) == 0
    commands = [call.command for call in conn.calls]
    assert any(c.endswith("up -d --no-deps --scale api=3 api worker") for c in commands), commands
    assert any("ps -a -q api worker" in c for c in commands)   # the readiness gate, on these services only
    assert "web1: part app: api, worker up and ready (release R1)" in capsys.readouterr().out


def test_an_unready_service_after_up_fails_the_task_and_is_audited(host):
    request, conn = host
    conn.answer(r"docker inspect|ps -a -q", exit_code=1, stderr="boom")
    conn._answers.insert(0, conn._answers.pop())  # first match wins
    with pytest.raises(HostError, match="api, worker started but not ready"):
        services.control(request, "up", ["api", "worker"])
    assert any("result=failed" in call.command for call in conn.calls if "audit.log" in call.command)


@pytest.mark.parametrize("task", [up, down])
def test_up_and_down_need_a_service_or_a_part(task, tmp_path, capsys):
    root = write_project(tmp_path, {"compose.yml": SERVICES})
    with pytest.raises(Exit) as refused:
        task.body(None, project=str(root), host="web1")
    assert refused.value.code == 2
    assert "needs --host HOST and --service SERVICE or --part PART" in capsys.readouterr().err


def test_check_finds_each_service_of_each_part_at_its_line(tmp_path, monkeypatch):
    report = run_check(project(tmp_path, monkeypatch, "parts: {db: [db], app: [web, wrker]}", COMPOSE), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", "parts:")
    assert check_problems(report) == [
        f"inventory/hosts.yml:{line}: host 'staging': variable 'parts' (part 'app') names the compose service "
        "'wrker', "
        "which compose.yml does not define (did you mean 'worker'?); its services: db, web, worker"]
