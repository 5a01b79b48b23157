"""The executor (``Runner`` and ``HostPlay``) driven through in-memory connections: round trips,
handlers after a failure, ``when`` on a registered result, serial batches, the failure limit,
check mode, tags.  The same behaviours on real servers: tests/integration/test_play_executor.py."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fakes import FakeConnection, Node, quiet_report

from moorage.executor import Runner, RunOptions, RunResult
from moorage.facts import files as file_facts
from moorage.inventory import load_inventory
from moorage.operations.base import FactRequest
from moorage.playbook import load_playbook
from moorage.report import Report


def write_project(root: Path, hosts: list[str], tasks: list[dict[str, Any]],
                  handlers: list[dict[str, Any]] | None = None, plays: list[dict[str, Any]] | None = None,
                  **play: Any) -> tuple[Path, Path]:
    """An inventory with ``hosts`` in environment ``prod`` and a one-play playbook (or ``plays``)."""
    entries = {name: {"address": f"192.0.2.{i + 1}"} for i, name in enumerate(hosts)}
    (root / "inventory").mkdir(parents=True, exist_ok=True)
    (root / "inventory" / "hosts.yml").write_text(yaml.safe_dump(
        {"project": "t", "environments": {"prod": {"hosts": entries}}}))
    body = {"name": "test play", "hosts": "all", **play, "tasks": tasks}
    if handlers:
        body["handlers"] = handlers
    (root / "play.yml").write_text(yaml.safe_dump(plays or [body], sort_keys=False))
    return root / "inventory", root / "play.yml"


def run(root: Path, conns: dict[str, FakeConnection], tasks: list[dict[str, Any]] | None = None,
        options: RunOptions | None = None, **project: Any) -> tuple[RunResult, Report]:
    inventory_path, playbook_path = write_project(root, list(conns), tasks or [], **project)
    inventory = load_inventory(inventory_path)
    report = quiet_report()
    runner = Runner(inventory, options or RunOptions(), report, dict(conns))
    result = runner.run(load_playbook(playbook_path), inventory.select("all"))
    return result, report


def statuses(report: Report, host: str = "web1") -> list[tuple[str, str]]:
    return [(e.task, e.status) for e in report.events if e.kind == "task" and e.host == host]


APP_FILES = [
    {"name": "app dir", "dir": {"path": "/srv/app", "mode": "0750"}},
    {"name": "config", "file": {"path": "/srv/app/app.conf", "content": "port = 80\n"}},
    {"name": "link", "link": {"path": "/srv/app/current.conf", "target": "/srv/app/app.conf"}},
]


# -- the fake itself tells the truth -------------------------------------------------------
def test_the_fake_answers_a_facts_command_as_the_real_script_does(tmp_path: Path) -> None:
    owner = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True, check=True).stdout.strip()
    (tmp_path / "d").mkdir(mode=0o750)
    (tmp_path / "d").chmod(0o750)
    (tmp_path / "f").write_bytes(b"hello\n")
    (tmp_path / "f").chmod(0o640)
    (tmp_path / "l").symlink_to(tmp_path / "f")
    request = FactRequest({str(tmp_path / n) for n in ("d", "f", "l", "absent")}, {str(tmp_path / "f")})
    command = file_facts.gather_command(request)
    real = subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout
    fake = FakeConnection(paths={
        str(tmp_path / "d"): Node("dir", "0750", owner, group),
        str(tmp_path / "f"): Node("file", "0640", owner, group, b"hello\n"),
        str(tmp_path / "l"): Node("link", "0777", owner, group, target=str(tmp_path / "f")),
    }).run(command).text
    assert file_facts.parse(fake, request) == file_facts.parse(real, request)
    assert file_facts.parse(fake, request)[str(tmp_path / "f")].content == b"hello\n"


# -- round trips ---------------------------------------------------------------------------
def test_a_first_run_costs_one_facts_command_and_one_batch(tmp_path: Path) -> None:
    conn = FakeConnection()
    result, report = run(tmp_path, {"web1": conn}, APP_FILES)
    assert result.exit_code == 0
    assert statuses(report) == [("app dir", "changed"), ("config", "changed"), ("link", "changed")]
    assert [c.is_facts for c in conn.calls] == [True, False] and conn.calls[1].is_batch
    assert result.round_trips() == {"web1": {"connections": 1, "commands": 2}}
    # predicted facts: the file and the link are planned against the directory the first
    # task will create, so the one facts command asked about all three paths up front
    assert sorted(conn.calls[0].fact_paths()) == ["/srv/app", "/srv/app/app.conf", "/srv/app/current.conf"]
    assert "/srv/app/app.conf" in conn.calls[1].script and "ln " in conn.calls[1].script


def test_a_no_change_run_costs_one_command(tmp_path: Path) -> None:
    conn = FakeConnection(paths={
        "/srv/app": Node("dir", "0750"),
        "/srv/app/app.conf": Node("file", "0644", content=b"port = 80\n"),
        "/srv/app/current.conf": Node("link", "0777", target="/srv/app/app.conf"),
    })
    result, report = run(tmp_path, {"web1": conn}, APP_FILES)
    assert statuses(report) == [("app dir", "ok"), ("config", "ok"), ("link", "ok")]
    assert result.round_trips() == {"web1": {"connections": 1, "commands": 1}}
    assert not conn.closed, "a borrowed connection is left open"


def test_a_command_splits_the_batch_and_facts_are_gathered_again_after_it(tmp_path: Path) -> None:
    conn = FakeConnection()
    result, _ = run(tmp_path, {"web1": conn}, [
        {"name": "before", "file": {"path": "/srv/a", "content": "1"}},
        {"name": "migrate", "command": {"cmd": "run-migrations"}},
        {"name": "after", "file": {"path": "/srv/b", "content": "2"}},
    ])
    assert result.exit_code == 0
    kinds = ["facts" if c.is_facts else "batch" if c.is_batch else c.command for c in conn.calls]
    assert kinds == ["facts", "batch", "run-migrations", "facts", "batch"]
    assert conn.calls[0].fact_paths() == ["/srv/a"] and conn.calls[3].fact_paths() == ["/srv/b"]


def test_a_batch_never_mixes_become_settings(tmp_path: Path) -> None:
    conn = FakeConnection()
    run(tmp_path, {"web1": conn}, [
        {"name": "as root", "file": {"path": "/etc/a", "content": "1"}, "become": True},
        {"name": "as user", "file": {"path": "/home/u/b", "content": "2"}, "become": False},
    ])
    assert [(c.is_batch, c.become) for c in conn.acting()] == [(True, True), (True, False)]


# -- failures and handlers -------------------------------------------------------------------
def test_a_handler_notified_before_a_failure_still_runs(tmp_path: Path) -> None:
    conn = FakeConnection().answer("exit 3", exit_code=3, stdout="about to fail\n", stderr="disk on fire\n")
    result, report = run(tmp_path, {"web1": conn}, [
        {"name": "config", "file": {"path": "/srv/hf/app.conf", "content": "v1\n"}, "notify": "reload app"},
        {"name": "broken step", "command": {"cmd": "echo about to fail; exit 3"}},
        {"name": "never reached", "file": {"path": "/srv/hf/after", "content": "x"}},
    ], handlers=[{"name": "reload app", "command": {"cmd": "reload-app"}}])
    assert result.exit_code == 1 and result.failed_hosts == {"web1"}
    assert statuses(report) == [("config", "changed"), ("broken step", "failed"), ("reload app", "changed")]
    failed = next(e for e in report.events if e.status == "failed")
    assert failed.data["exit_code"] == 3 and "disk on fire" in failed.data["stderr"]
    assert conn.acting()[-1].command == "reload-app", "the handler ran after the failure"
    assert not any("/srv/hf/after" in c.script for c in conn.calls), "nothing after the failure ran"
    assert report.recaps["web1"].failed == 1


def test_a_failed_batch_names_the_task_whose_step_failed(tmp_path: Path) -> None:
    conn = FakeConnection().answer(r"/srv/\.b\.moorage-tmp", exit_code=1, stdout="@@done 0\n",
                                   stderr="No space left on device\n")  # the second upload's step
    result, report = run(tmp_path, {"web1": conn}, [
        {"name": "first", "file": {"path": "/srv/a", "content": "1"}},
        {"name": "second", "file": {"path": "/srv/b", "content": "2"}},
        {"name": "third", "file": {"path": "/srv/c", "content": "3"}},
    ])
    assert result.exit_code == 1
    assert statuses(report) == [("first", "changed"), ("second", "failed")]
    assert "No space left" in next(e for e in report.events if e.status == "failed").data["stderr"]


def test_an_unreachable_host_fails_alone(tmp_path: Path) -> None:
    from moorage.errors import HostError

    class Down(FakeConnection):
        def run(self, command, stdin=None, timeout=None, become=None):
            raise HostError(self.name, "cannot reach 192.0.2.2:22: Connection refused")

    up, down = FakeConnection("a"), Down("b")
    result, report = run(tmp_path, {"a": up, "b": down}, [{"name": "f", "file": {"path": "/srv/f", "content": "x"}}])
    assert result.failed_hosts == {"b"} and report.recaps["b"].unreachable
    assert statuses(report, "a") == [("f", "changed")]


# -- conditions and registered results -----------------------------------------------------
def test_when_reads_a_registered_result(tmp_path: Path) -> None:
    conn = FakeConnection().answer("cat /etc/flavour", stdout="bookworm\n")
    result, report = run(tmp_path, {"web1": conn}, [
        {"name": "ask", "command": {"cmd": "cat /etc/flavour"}, "register": "flavour"},
        {"name": "on bookworm", "command": {"cmd": "echo {{ flavour.stdout_lines[0] }}-only"},
         "when": "'bookworm' in flavour.stdout"},
        {"name": "on failure", "command": {"cmd": "repair"}, "when": "flavour.rc != 0"},
        {"name": "when changed", "file": {"path": "/srv/seen", "content": "{{ flavour.stdout }}"},
         "when": "flavour.changed"},
    ])
    assert result.exit_code == 0
    assert statuses(report) == [("ask", "changed"), ("on bookworm", "changed"), ("on failure", "skipped"),
                                ("when changed", "changed")]
    assert "echo bookworm-only" in conn.commands
    assert "repair" not in conn.commands
    assert b"bookworm\n" in conn.calls[-1].stdin, "the registered stdout reached the file's content"


def test_a_failed_command_stops_the_host(tmp_path: Path) -> None:
    conn = FakeConnection().answer("^false$", exit_code=1)
    _, report = run(tmp_path, {"web1": conn}, [
        {"name": "probe", "command": {"cmd": "false"}, "register": "probe"},
        {"name": "not reached", "command": {"cmd": "true"}},
    ])
    assert statuses(report) == [("probe", "failed")]
    assert conn.commands == ["false"]


# -- hosts: serial batches and the failure limit --------------------------------------------------
HOSTS = ["a", "b", "c", "d"]
GUARDED = [{"name": "refuse when broken", "command": {"cmd": "test ! -e /srv/broken"}},
           {"name": "mark", "file": {"path": "/srv/deployed", "content": "yes"}}]


def fleet(log: list[tuple[str, str]], broken: set[str] = frozenset()) -> dict[str, FakeConnection]:
    conns = {name: FakeConnection(name, log=log) for name in HOSTS}
    for name in broken:
        conns[name].answer("test ! -e /srv/broken", exit_code=1)
    return conns


def test_serial_runs_hosts_in_batches_one_batch_after_the_other(tmp_path: Path) -> None:
    log: list[tuple[str, str]] = []
    result, _ = run(tmp_path, fleet(log), GUARDED, serial=2)
    assert result.exit_code == 0
    order = [host for host, _ in log]
    second = min(order.index("c"), order.index("d"))  # within a batch, hosts run in any order
    assert set(order[:second]) == {"a", "b"}, "the second batch started before the first ended"
    assert set(order[second:]) == {"c", "d"}
    assert result.round_trips() == {h: {"connections": 1, "commands": 3} for h in HOSTS}


@pytest.mark.parametrize(("serial", "sizes"), [(None, [4]), (1, [1, 1, 1, 1]), (3, [3, 1]), ("50%", [2, 2]),
                                               ("10%", [1, 1, 1, 1])])
def test_serial_batch_sizes(serial: Any, sizes: list[int]) -> None:
    from moorage.executor.runner import batches

    assert [len(b) for b in batches(HOSTS, serial)] == sizes
    assert [h for b in batches(HOSTS, serial) for h in b] == HOSTS


def test_max_fail_percentage_stops_the_run_after_the_batch(tmp_path: Path) -> None:
    log: list[tuple[str, str]] = []
    conns = fleet(log, broken={"a"})
    result, report = run(tmp_path, conns, GUARDED, serial=2, max_fail_percentage=0)
    assert result.failed_hosts == {"a"} and result.exit_code == 1
    assert any("/srv/deployed" in c.script for c in conns["b"].calls), "the same batch finished"
    assert conns["c"].calls == [] and conns["d"].calls == [], "the next batch never started"
    assert {host for host, _ in log} == {"a", "b"}
    assert any("max_fail_percentage" in (e.message or "") for e in report.events if e.kind == "warning")


def test_under_the_failure_limit_the_run_goes_on(tmp_path: Path) -> None:
    conns = fleet([], broken={"a"})
    result, _ = run(tmp_path, conns, GUARDED, serial=2, max_fail_percentage=30)
    assert result.failed_hosts == {"a"}
    assert all(any("/srv/deployed" in c.script for c in conns[h].calls) for h in "bcd")


def test_a_batch_where_every_host_failed_stops_the_run(tmp_path: Path) -> None:
    conns = fleet([], broken={"a", "b"})
    result, report = run(tmp_path, conns, GUARDED, serial=2)
    assert result.failed_hosts == {"a", "b"}
    assert conns["c"].calls == [] and conns["d"].calls == []
    assert any("every host of the batch failed" in (e.message or "") for e in report.events)


def test_a_host_failed_in_one_play_is_left_out_of_the_next(tmp_path: Path) -> None:
    conns = fleet([], broken={"a"})
    plays = [{"name": "check", "hosts": "all", "tasks": GUARDED[:1]},
             {"name": "deploy", "hosts": "all", "tasks": GUARDED[1:]}]
    result, _ = run(tmp_path, conns, plays=plays)
    assert result.failed_hosts == {"a"}
    assert not any(c.is_batch for c in conns["a"].calls)
    assert all(any(c.is_batch for c in conns[h].calls) for h in "bcd")


# -- check mode and tags ------------------------------------------------------------------------
def test_check_mode_runs_no_acting_command(tmp_path: Path) -> None:
    conn = FakeConnection().answer("systemctl is-active app", exit_code=3)
    result, report = run(tmp_path, {"web1": conn}, [
        *APP_FILES,
        {"name": "restart", "command": {"cmd": "systemctl restart app"}},
        {"name": "start unless running", "command": {"cmd": "systemctl start app",
                                                     "unless": "systemctl is-active app"}},
    ], options=RunOptions(check=True))
    assert result.exit_code == 0
    assert statuses(report) == [("app dir", "changed"), ("config", "changed"), ("link", "changed"),
                                ("restart", "changed"), ("start unless running", "changed")]
    assert not any(c.is_batch for c in conn.calls), "check mode sent no batch"
    acting = [c.command for c in conn.acting()]
    assert len(acting) == 1 and "systemctl is-active app" in acting[0], "only the read-only guard ran"
    assert not any("systemctl restart" in c or "systemctl start" in c for c in conn.commands)


@pytest.mark.parametrize(("tags", "skip", "expected"), [
    (set(), set(), ["web config", "db config", "always there"]),
    ({"web"}, set(), ["web config", "always there"]),
    (set(), {"db"}, ["web config", "always there"]),
    ({"db"}, {"db"}, ["always there"]),
])
def test_tags_and_skip_tags_choose_the_tasks(tmp_path: Path, tags: set[str], skip: set[str],
                                             expected: list[str]) -> None:
    conn = FakeConnection()
    _, report = run(tmp_path, {"web1": conn}, [
        {"name": "web config", "file": {"path": "/srv/web", "content": "w"}, "tags": ["web"]},
        {"name": "db config", "file": {"path": "/srv/db", "content": "d"}, "tags": ["db"]},
        {"name": "always there", "file": {"path": "/srv/always", "content": "a"}, "tags": ["always"]},
    ], options=RunOptions(tags=frozenset(tags), skip_tags=frozenset(skip)))
    assert [task for task, _ in statuses(report)] == expected
    paths = {"web config": "/srv/web", "db config": "/srv/db", "always there": "/srv/always"}
    assert sorted(conn.calls[0].fact_paths()) == sorted(paths[name] for name in expected)
