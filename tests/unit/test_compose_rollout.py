"""The zero-downtime switch as a user meets it: which services go start-first and why, that a
no-change deploy runs nothing but the survey, that a failed new container leaves the old ones
serving (all new ones removed), and the commands of a successful switch in order."""

from __future__ import annotations

import json

import pytest
from fakes import FakeConnection

from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.compose_rollout import ComposeRollout
from moorage.operations.compose_strategy import decide, fixed_ports, local_services

ROUTED = {"traefik.enable": "true"}
CONFIG = {"services": {
    "api": {"labels": ROUTED, "ports": [{"target": 8000, "protocol": "tcp"}]},
    "admin": {"labels": ROUTED, "ports": [{"target": 8000, "published": "8080"}]},
    "named": {"labels": ROUTED, "container_name": "shop-named"},
    "worker": {},
    "db": {}}}


def test_routed_services_without_a_host_port_or_name_go_start_first_and_the_plan_says_why() -> None:
    decided = decide(CONFIG["services"], {}, False)
    assert decided["api"] == ("start-first", "routed by the proxy: traefik.enable, no fixed host port")
    assert decided["admin"] == ("stop-first", "publishes host port 8080: two containers can't bind it")
    assert decided["named"][0] == "stop-first" and "container_name shop-named" in decided["named"][1]
    assert decided["worker"] == ("stop-first", "not routed by the proxy: it may not run twice")
    overridden = decide(CONFIG["services"], {"api": "stop-first", "worker": "start-first", "admin": "start-first"},
                        False)
    assert overridden["api"] == ("stop-first", "switch_strategy sets it")
    assert overridden["worker"] == ("start-first", "switch_strategy sets it")
    assert overridden["admin"][0] == "stop-first"   # an override can't make a host port bind twice
    assert {s for s, _ in decide(CONFIG["services"], {}, True).values()} == {"stop-first"}


def test_the_plan_reads_the_projects_compose_files(tmp_path) -> None:
    (tmp_path / "compose.yml").write_text(
        "services:\n  web:\n    labels: [traefik.enable=true]\n  worker: {}\n  db:\n    ports: ['5432:5432']\n")
    assert set(local_services(tmp_path, ["compose.yml"])) == {"web", "worker", "db"}
    op = ComposeRollout({"project_dir": "/srv/shop/current", "project_name": "shop", "source": str(tmp_path),
                         "source_files": ["compose.yml"]}, OpContext("web1", {}))
    summary = op.plan(Facts()).summary
    assert summary.startswith("zero-downtime switch: db stop-first (publishes host port 5432")
    assert "web start-first (routed by the proxy:" in summary and "worker stop-first" in summary
    warned = ComposeRollout({"project_dir": "/srv/shop/current", "project_name": "shop",
                             "migrations_break_old_code": True}, OpContext("web1", {}))
    assert "WARNING" in warned.plan(Facts()).summary


def _survey(listing: str, api_hash: str = "h2") -> str:
    return (json.dumps(CONFIG) + "\n@@moorage-rollout\n" + f"api {api_hash}\nworker w1\n"
            + "@@moorage-rollout\n" + listing)


def _op(**args: object) -> ComposeRollout:
    return ComposeRollout({"project_dir": "/srv/shop/current", "project_name": "shop", "drain_delay": 0, **args},
                          OpContext("web1", {}))


def test_a_no_change_deploy_runs_the_survey_alone_and_changes_nothing() -> None:
    conn = FakeConnection().answer("config --format json", stdout=_survey("o1 running api h2\nw running worker w1\n"))
    op = _op()
    result = op.apply(op.plan(Facts()), conn)
    assert not result.changed and result.data["switched"] == []
    assert len(conn.commands) == 1


def test_a_switch_starts_beside_gates_the_new_then_drains_the_old() -> None:
    conn = FakeConnection()
    conn.answer("config --format json", stdout=_survey("o1 running api h1\no2 running api h1\n"))
    conn.answer("compose up -d --no-deps --no-recreate", stdout="@@moorage-rollout\no1 running api h1\n"
                "o2 running api h1\nn1 running api h2\nn2 running api h2\n")
    conn.answer("docker inspect", stdout='1800000000\nn1|0|api||{"Status":"running","Health":{"Status":"healthy"}}\n'
                'n2|0|api||{"Status":"running","Health":{"Status":"healthy"}}\n')
    op = _op()
    result = op.apply(op.plan(Facts()), conn)
    assert result.changed and result.data["switched"] == ["api"]
    start, poll, drain = conn.calls[1:4]
    assert start.stdin == b"api 4\n"   # two old + two new, side by side
    assert poll.stdin == b"n1 n2" and drain.stdin == b"o1 o2"
    assert "docker stop -t 10 $ids" in drain.command and len(conn.calls) == 4


def test_a_new_container_that_fails_is_removed_with_all_new_ones_and_the_old_keep_serving() -> None:
    conn = FakeConnection()
    conn.answer("config --format json", stdout=_survey("o1 running api h1\n"))
    conn.answer("compose up -d --no-deps --no-recreate", stdout="@@moorage-rollout\no1 running api h1\n"
                "n1 running api h2\n")
    conn.answer("docker inspect", stdout='1800000000\nn1|0|api||{"Status":"running","Health":{"Status":"unhealthy"}}\n')
    conn.answer("docker logs", stdout="api  | boom\n")
    op = _op()
    with pytest.raises(TaskFailed) as failed:
        op.apply(op.plan(Facts()), conn)
    assert "api is unhealthy" in str(failed.value) and "the old ones keep serving" in str(failed.value)
    assert "boom" in failed.value.stderr
    undo = conn.calls[-1]
    assert "docker rm -f $ids" in undo.command and undo.stdin == b"n1"
    assert not any(b"o1" in call.stdin for call in conn.calls)   # the old container is never touched


def test_an_up_that_fails_half_way_removes_the_containers_it_created() -> None:
    conn = FakeConnection()
    conn.answer("config --format json", stdout=_survey("o1 running api h1\n"))
    conn.answer("compose up -d --no-deps --no-recreate", exit_code=1,
                stdout="no space left\n@@moorage-rollout\no1 running api h1\nn1 created api h2\n")
    op = _op()
    with pytest.raises(TaskFailed, match="the old ones keep serving"):
        op.apply(op.plan(Facts()), conn)
    assert "docker rm -f $ids" in conn.calls[-1].command and conn.calls[-1].stdin == b"n1"


@pytest.mark.parametrize(("ports", "fixed"), [
    (["8000"], []), (["127.0.0.1::8000"], []), (["::8000"], []), (["8000/tcp"], []),
    ([{"target": 8000, "host_ip": "127.0.0.1"}], []), ([{"target": 8000, "published": ""}], []),
    (["80:8000"], ["80"]), (["127.0.0.1:8080:8000"], ["8080"]), ([{"target": 8000, "published": 80}], ["80"]),
])
def test_only_a_host_port_number_is_fixed(ports: list[object], fixed: list[str]) -> None:
    assert fixed_ports({"ports": ports}) == fixed


def test_a_service_a_host_nginx_upstream_names_goes_start_first_unless_its_host_port_is_fixed() -> None:
    services = {"web": {"ports": ["127.0.0.1::8000"]}, "admin": {"ports": ["127.0.0.1:8080:8000"]}, "worker": {}}
    decided = decide(services, {}, False, {"web", "admin"})
    assert decided["web"] == ("start-first", "routed by host nginx (upstream), no fixed host port")
    assert decided["admin"][0] == "stop-first" and "8080" in decided["admin"][1]
    assert decided["worker"][0] == "stop-first"


UPSTREAMS = {"dir": "/etc/nginx/up", "site": "shop", "targets": [{"path": "/", "service": "api", "port": 8000}]}
PORTS = 'n1 api {"8000/tcp":[{"HostIp":"127.0.0.1","HostPort":"32801"}]}\n'


def _switching(conn: FakeConnection) -> FakeConnection:
    conn.answer("config --format json", stdout=_survey("o1 running api h1\n"))
    conn.answer("compose up -d --no-deps --no-recreate", stdout="@@moorage-rollout\no1 running api h1\n"
                "n1 running api h2\n")
    conn.answer(r"\{\{json .NetworkSettings.Ports\}\}", stdout=PORTS)
    conn.answer("docker inspect", stdout='1800000000\nn1|0|api||{"Status":"running","Health":{"Status":"healthy"}}\n')
    return conn


def test_behind_host_nginx_the_upstream_lists_the_new_containers_before_the_old_ones_stop() -> None:
    conn = _switching(FakeConnection())
    op = _op(upstreams=UPSTREAMS)
    result = op.apply(op.plan(Facts()), conn)
    assert result.changed and result.data["switched"] == ["api"]
    ports, write, drain = conn.calls[3:6]   # after the survey, the start and the poll
    assert ports.stdin == b"n1"
    assert write.become and write.stdin == (b"0 # moorage (nginx_upstream): project shop, service api, container "
                                            b"port 8000\n0 server 127.0.0.1:32801;\n")
    assert "nginx -t" in write.command and drain.stdin == b"o1"


def test_when_nginx_refuses_the_new_upstream_the_new_containers_go_and_the_old_keep_serving() -> None:
    conn = _switching(FakeConnection()).answer("moorage-previous", exit_code=1, stderr="nginx: [emerg] boom")
    op = _op(upstreams=UPSTREAMS)
    with pytest.raises(TaskFailed, match=r"routing host nginx to the new containers failed.*the old ones keep serving"):
        op.apply(op.plan(Facts()), conn)
    assert "docker rm -f $ids" in conn.calls[-1].command and conn.calls[-1].stdin == b"n1"
    assert not any(b"o1" in call.stdin for call in conn.calls)


def test_the_upstream_refresh_rewrites_only_what_differs() -> None:
    from moorage.operations.nginx_upstream import NginxUpstream
    current = "# moorage (nginx_upstream): project shop, service api, container port 8000\nserver 127.0.0.1:32801;\n"
    op = NginxUpstream({"project_name": "shop", "upstreams": UPSTREAMS}, OpContext("web1", {}))
    same = FakeConnection().answer("docker ps -q", stdout=PORTS.replace("n1", "c1") + "@@moorage-upstream\n" + current)
    result = op.apply(op.plan(Facts()), same)
    assert not result.changed and len(same.calls) == 1 and "api:8000 -> 127.0.0.1:32801" in result.message
    moved = FakeConnection().answer("docker ps -q", stdout=PORTS.replace("32801", "32802") + "@@moorage-upstream\n"
                                    + current).answer("moorage-previous", stdout="@@did upstream(s) rewritten")
    assert op.apply(op.plan(Facts()), moved).changed and b"32802" in moved.calls[1].stdin
    bare = FakeConnection().answer("docker ps -q", stdout='c1 api {"8000/tcp":null}\n@@moorage-upstream\n')
    with pytest.raises(TaskFailed, match=r'api \(container c1\) publishes no host port for 8000: .*127.0.0.1::8000'):
        op.apply(op.plan(Facts()), bare)


def test_what_up_would_recreate_decides_not_the_hash_compose_config_prints() -> None:
    """With an env_file, `config --hash` never equals the label `up` writes (compose v2.40): the
    dry run's verdict wins, so an unchanged service is not switched and a changed one is."""
    listing = "o1 running api h1 shop-api-1\nw running worker w1 shop-worker-1\n"
    unchanged = _survey(listing, api_hash="h-of-config") + ("\n@@moorage-rollout\n DRY-RUN MODE -  Container "
                                                            "shop-api-1  Running\n")
    conn = FakeConnection().answer("config --format json", stdout=unchanged)
    op = _op()
    assert not op.apply(op.plan(Facts()), conn).changed and len(conn.commands) == 1
    assert _op().outdated(decide(CONFIG["services"], {}, False), {"api": "h1"}, listing,
                          {"shop-api-1"}) == {"api": ["o1"]}


def test_an_older_compose_without_dry_run_falls_back_to_the_hash() -> None:
    from moorage.operations.compose_rollout import recreated

    assert recreated("unknown flag: --dry-run\n") is None
    assert recreated(" DRY-RUN MODE -  Container shop-api-1  Recreate\n DRY-RUN MODE -  Container shop-api-1  "
                     "Recreated\n DRY-RUN MODE -  Container shop-db-1  Running\n") == {"shop-api-1"}


def test_on_the_server_a_start_first_override_never_runs_two_databases_on_one_volume() -> None:
    """compose's merged config gives volumes in the long form; the switch decides again from it."""
    merged = {"db": {"volumes": [{"type": "volume", "source": "dbdata", "target": "/var/lib/postgresql/data"}]},
              "cache": {"volumes": [{"type": "volume", "target": "/data"}]},          # anonymous: one each
              "web": {"labels": ROUTED, "volumes": [{"type": "volume", "source": "uploads", "target": "/m"}]}}
    decided = decide(merged, {"db": "start-first", "cache": "start-first", "web": "start-first"}, False)
    assert decided["db"][0] == "stop-first" and "mounts volume dbdata" in decided["db"][1]
    assert decided["db"][1].endswith("(switch_strategy start-first ignored)")
    assert decided["cache"] == ("start-first", "switch_strategy sets it")
    assert decided["web"] == ("start-first", "switch_strategy sets it")
