"""Per-service tasks without a server: flags, the command lines they send (a command's words stay
data, hostile ones included), the lock and the audit line, refusals (exit 2) before anything runs."""

from __future__ import annotations

import shlex

import pytest
import yaml
from fakes import FakeConnection
from inputkit import write_project
from invoke.exceptions import Exit

from moorage.cli.deploy_tasks import deploy, service_list
from moorage.cli.service_tasks import command_after_dashes
from moorage.errors import HostError, InputError
from moorage.operations import server_state
from moorage.project import locate
from moorage.recipes import day2, services
from moorage.recipes.play import Request

COMPOSE = yaml.safe_dump({"services": {"api": {"image": "a"}, "worker": {"image": "w"}, "db": {"image": "p"}}})
HOSTILE = ["sh", "-c", "echo $(touch /tmp/x); exit 3", "a;b", "it's", '"q"', "`id`", "--", "*", "$HOME"]


@pytest.fixture
def host(tmp_path, monkeypatch):
    """web1 of a small project whose fake host runs release 20261129T000000Z with api, worker, db."""
    conn = (FakeConnection("web1").answer(r"^readlink /srv/demo/current .*config --services",
                                          stdout="releases/20261129T000000Z\napi\nworker\ndb\n")
            .answer(r"config --services", stdout="api\nworker\ndb\n")
            .answer(r" exec ", exit_code=3, stdout="out\n"))
    monkeypatch.setattr(day2, "connect", lambda target: conn)
    monkeypatch.setattr(services, "connect", lambda target: conn)
    monkeypatch.setattr(server_state, "connect", lambda target: conn)
    root = write_project(tmp_path, {"compose.yml": COMPOSE})
    return Request(locate(str(root)), "web1"), conn


def test_the_words_after_dashes_are_kept_as_given():
    assert command_after_dashes(["moorage", "exec", "--service", "api", "--", "sh", "-c", "a b", "--"]) == \
        ["sh", "-c", "a b", "--"]
    assert command_after_dashes(["moorage", "exec"]) == []


def test_services_flag_is_split_on_commas_once_each():
    assert service_list(" api, worker,,api ") == ["api", "worker"]
    assert service_list("") == []


@pytest.mark.parametrize("mode", ["exec", "run"])
@pytest.mark.parametrize("tty", [True, False])
def test_a_commands_words_reach_compose_as_data(host, mode, tty):
    app = day2.app_of(host[0])
    line = services.command_line(app, mode, "api", HOSTILE, tty=tty)
    words = shlex.split(line.rsplit("; fi && ", 1)[1])  # after the choice of -f for a release without COMPOSE_FILE
    head = ["docker", "compose", "-p", "demo", "$@", mode, *(["--rm"] if mode == "run" else []),
            *([] if tty else ["-T"]), "api"]
    assert words == [*head, *HOSTILE]  # each word one argument, nothing expanded by the remote shell
    assert "'echo $(touch /tmp/x); exit 3'" in line


def test_exec_index_picks_a_container_of_a_scaled_service(host):
    app = day2.app_of(host[0])
    assert services.command_line(app, "exec", "api", ["ls"], tty=False, index=2).endswith("exec --index 2 -T api ls")
    assert " --index" not in services.command_line(app, "exec", "api", ["ls"], tty=False)
    with pytest.raises(InputError, match="--index counts a scaled service's containers from 1, got -1"):
        services.attach(host[0], "exec", "api", ["ls"], index=-1)


def test_exec_index_beyond_the_running_containers_is_refused_with_what_there_is(host):
    request, conn = host
    conn.answer(r" ps --status running --format '\{\{.Name\}\}' api", stdout="demo-api-1\ndemo-api-2\n")
    with pytest.raises(InputError) as refused:
        services.attach(request, "exec", "api", ["ls"], index=9)
    assert str(refused.value) == "web1: api has 2 running container(s) (--index 1, 2); there is no --index 9"
    assert not any(" exec " in call.command for call in conn.calls)
    assert services.attach(request, "exec", "api", ["ls"], index=2) == 3  # one that runs: compose execs


def test_exec_passes_the_remote_exit_status_back(host, capsys):
    request, conn = host
    assert services.attach(request, "exec", "api", ["sh", "-c", "exit 3"]) == 3
    assert capsys.readouterr().out == "out\n"
    assert conn.calls[-1].command.endswith("exec -T api sh -c 'exit 3'")


def test_exec_refuses_an_unknown_service_and_an_empty_command(host):
    request, conn = host
    with pytest.raises(InputError, match=r"no compose service 'wroker' .*did you mean 'worker'"):
        services.attach(request, "exec", "wroker", ["ls"])
    with pytest.raises(InputError, match="needs the command after --"):
        services.attach(request, "run", "api", [])
    assert not any(" exec " in call.command for call in conn.calls)


def test_restart_runs_inside_the_lock_and_is_audited(host, capsys):
    request, conn = host
    assert services.control(request, "restart", ["api", "worker"]) == 0
    commands = [call.command for call in conn.calls]
    lock = next(i for i, c in enumerate(commands) if "/lock" in c and "mkdir" in c)
    act = next(i for i, c in enumerate(commands) if c.endswith("restart api worker"))
    audit = next(i for i, c in enumerate(commands) if "audit.log" in c)
    unlock = next(i for i, c in enumerate(commands) if c.startswith("rm -rf") and "/lock" in c)
    assert lock < act < audit < unlock
    assert "restart by=" in commands[audit] and "release=20261129T000000Z result=ok services=api,worker" \
        in commands[audit]
    assert "api, worker restarted (release 20261129T000000Z)" in capsys.readouterr().out


def test_stop_refuses_an_unknown_service_before_touching_any(host):
    request, conn = host
    with pytest.raises(InputError, match="no compose service 'nosuch'"):
        services.control(request, "stop", ["api", "nosuch"])
    assert not any(call.command.endswith(" stop api nosuch") for call in conn.calls)


def test_no_current_release_is_said(host):
    request, conn = host
    conn.answer(r"^readlink /srv/demo/current", exit_code=79)
    conn._answers.insert(0, conn._answers.pop())  # first match wins
    with pytest.raises(HostError, match="no release is current in /srv/demo: deploy first"):
        services.control(request, "start", ["api"])


@pytest.mark.parametrize("since", ["10m", "1h30m", "45s", "1700000000", "2026-11-29", "2026-11-29T10:00:00Z"])
def test_since_takes_durations_and_times(since):
    assert day2.logs_arguments(5, since, follow=True) == ["logs", "--no-color", "--tail", "5", "--since", since,
                                                         "--follow"]


@pytest.mark.parametrize("since", ["ten minutes", "10x", "$(id)", "-1m"])
def test_since_refuses_what_docker_would_not_read(since):
    with pytest.raises(InputError, match="--since takes a duration"):
        day2.logs_arguments(5, since, follow=False)


def test_logs_follow_streams_and_ctrl_c_is_exit_0(host, monkeypatch):
    request, conn = host

    def interrupted(command, *, tty, stdin=True, become=None):
        assert command.endswith("logs --no-color --tail 100 --since 10m --follow api") and not tty and not stdin
        raise KeyboardInterrupt

    monkeypatch.setattr(conn, "interact", interrupted)
    assert services.follow_logs(request, service="api", since="10m") == 0


def test_deploy_services_names_an_unknown_service_with_did_you_mean(tmp_path, capsys):
    root = write_project(tmp_path, {"compose.yml": COMPOSE})
    with pytest.raises(Exit) as refused:
        deploy.body(None, project=str(root), host="web1", services="api,wroker")
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: host 'web1': --services names 'wroker' (did you mean 'worker'?), not a service of ")
    assert err.rstrip().endswith("compose.yml; its services: api, db, worker")


@pytest.mark.parametrize(("setting", "expected"), [("", True), ("health_validate_certs: false\n", False)])
def test_status_probes_health_with_the_deploys_certificate_setting(tmp_path, monkeypatch, setting, expected):
    # a staging site on a self-signed certificate passed the deploy's gate and was "FAILING" in status
    root = write_project(tmp_path, {"compose.yml": COMPOSE,
                                    "inventory/group_vars/all.yml": "health_url: https://127.0.0.1:9/\n" + setting})
    app = day2.app_of(Request(locate(str(root)), "web1"))
    assert app.health_validate_certs is expected
    seen = []
    monkeypatch.setattr(day2.WaitHttp, "apply", lambda self, change, conn: seen.append(self.args) or
                        type("R", (), {"message": "200"})())
    assert day2._health(app, FakeConnection("web1")) == "200"
    assert seen[0]["validate_certs"] is expected
