"""How the executor behaves on real SSH servers: round trips, failures, handlers, batches."""

from __future__ import annotations

import threading
import time

import pytest

from .helpers import moorage, write_playbook


def file_tasks(count: int, root: str) -> list[dict]:
    tasks = [{"name": "root", "dir": {"path": root}}]
    for i in range(count - 1):
        op, args = [("dir", {"path": f"{root}/d{i}", "mode": "0750"}),
                    ("file", {"path": f"{root}/f{i}.conf", "content": f"n = {i}\n"}),
                    ("link", {"path": f"{root}/l{i}", "target": f"{root}/f{i - 1}.conf"})][i % 3]
        tasks.append({"name": f"{op} {i}", op: args})
    return tasks


@pytest.mark.parametrize("size", [5, 30])
def test_a_no_change_rerun_costs_one_command_whatever_the_number_of_tasks(size, tmp_path, sshd_server,
                                                                             write_inventory):
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    playbook = write_playbook(tmp_path, file_tasks(size, f"/srv/rt{size}"))
    first = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    assert first.code == 0, first.stdout
    assert first.recap("web1")["changed"] == size
    # facts in one command, every change in one batch
    assert first.recap("web1")["commands"] == 2
    rerun = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    recap = rerun.recap("web1")
    assert (recap["ok"], recap["changed"]) == (size, 0)
    assert (recap["connections"], recap["commands"]) == (1, 1)


def test_a_handler_notified_before_a_failure_still_runs(tmp_path, sshd_server, write_inventory):
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    playbook = write_playbook(tmp_path, [
        {"name": "config", "file": {"path": "/srv/hf/app.conf", "content": "v1\n"}, "notify": "reload app"},
        {"name": "broken step", "command": {"cmd": "echo about to fail; echo 'disk on fire' >&2; exit 3"}},
        {"name": "never reached", "file": {"path": "/srv/hf/after", "content": "x"}},
    ], handlers=[{"name": "reload app", "command": {"cmd": "echo reloaded > /srv/hf/reloaded"}}])
    sshd_server.exec("mkdir -p /srv/hf && rm -f /srv/hf/*")
    run = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--json")
    assert run.code == 1
    failed = run.tasks("web1", "failed")[0]
    assert failed["task"] == "broken step"
    assert failed["data"]["exit_code"] == 3 and "disk on fire" in failed["data"]["stderr"]
    assert "exit 3" in failed["data"]["command"]
    assert sshd_server.exec("cat /srv/hf/reloaded").stdout == b"reloaded\n"
    assert sshd_server.exec("test -e /srv/hf/after").returncode != 0

    human = moorage("play", playbook, "--host", "web1", "--inventory", inventory)
    assert "exit code: 3" in human.stdout and "disk on fire" in human.stdout
    assert "web1         ok=1 changed=0 failed=1 skipped=0" in human.stdout


def test_a_host_that_drops_mid_run_fails_while_the_others_finish(tmp_path, fresh_servers, testbed,
                                                                  write_inventory):
    servers = fresh_servers({"a": "sshd", "b": "sshd", "c": "sshd"})
    inventory = tmp_path / "inventory"
    write_inventory(inventory, servers, environments={"staging": ["a", "b", "c"]})
    playbook = write_playbook(tmp_path, [
        {"name": "before", "file": {"path": "/srv/before", "content": "1"}},
        {"name": "slow step", "command": {"cmd": "sleep 3"}},
        {"name": "after", "file": {"path": "/srv/after", "content": "2"}},
    ])
    killer = threading.Timer(1.5, lambda: testbed.stop(servers["b"]))
    killer.start()
    started = time.monotonic()
    run = moorage("play", playbook, "--host", "staging", "--inventory", inventory, "--json", timeout=120)
    killer.join()
    assert run.code == 1
    assert time.monotonic() - started < 60, "the run waited on the dead host"
    assert run.recap("b")["failed"] == 1
    for name in ("a", "c"):
        assert run.recap(name)["failed"] == 0 and run.recap(name)["changed"] == 3
        assert servers[name].exec("cat /srv/after").stdout == b"2"


def test_serial_batches_and_max_fail_percentage_stop_the_run(tmp_path, fresh_servers, write_inventory):
    servers = fresh_servers({"a": "sshd", "b": "sshd", "c": "sshd", "d": "sshd"})
    inventory = tmp_path / "inventory"
    write_inventory(inventory, servers, environments={"prod": ["a", "b", "c", "d"]})
    servers["a"].exec("touch /srv/broken")
    playbook = write_playbook(tmp_path, [
        {"name": "refuse when broken", "command": {"cmd": "test ! -e /srv/broken"}},
        {"name": "mark", "file": {"path": "/srv/deployed", "content": "yes"}},
    ], serial=2, max_fail_percentage=0)
    run = moorage("play", playbook, "--host", "prod", "--inventory", inventory, "--json")
    assert run.code == 1
    assert run.recap("a")["failed"] == 1
    assert servers["b"].exec("cat /srv/deployed").stdout == b"yes"  # same batch: finished
    hosts_seen = {e["host"] for e in run.tasks()}
    assert hosts_seen == {"a", "b"}, "the second batch ran after the failure limit was passed"
    assert any("max_fail_percentage" in e.get("message", "") for e in run.events if e["kind"] == "warning")


def test_become_runs_as_root_through_sudo_for_a_non_root_user(tmp_path, fresh_server, write_inventory):
    server = fresh_server("sshd")
    setup = ("useradd -m -s /bin/sh deploy && install -d -m 700 -o deploy -g deploy /home/deploy/.ssh && "
             "install -m 600 -o deploy -g deploy /root/.ssh/authorized_keys /home/deploy/.ssh/ && "
             "echo 'deploy ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/deploy && chmod 440 /etc/sudoers.d/deploy")
    assert server.exec(setup).returncode == 0
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": server}, host_fields={"web1": {"user": "deploy"}})
    as_user = write_playbook(tmp_path, [{"name": "mine", "file": {"path": "/home/deploy/mine", "content": "x"}}],
                             name="user.yml")
    as_root = write_playbook(tmp_path, [
        {"name": "root dir", "dir": {"path": "/etc/moorage-test", "mode": "0700"}},
        {"name": "root file", "file": {"path": "/etc/moorage-test/conf", "content": "secret\n", "mode": "0600"}},
        {"name": "whoami", "command": {"cmd": "id -un > /etc/moorage-test/who"}},
    ], name="root.yml", become=True)
    assert moorage("play", as_user, "--host", "web1", "--inventory", inventory).code == 0
    assert server.exec("stat -c %U /home/deploy/mine").stdout.strip() == b"deploy"
    denied = moorage("play", write_playbook(tmp_path, [{"dir": {"path": "/etc/nope"}}], name="denied.yml"),
                     "--host", "web1", "--inventory", inventory)
    assert denied.code == 1 and "Permission denied" in denied.stdout
    run = moorage("play", as_root, "--host", "web1", "--inventory", inventory, "--json")
    assert run.code == 0, run.stdout[-2000:]
    assert server.exec("stat -c '%U %a' /etc/moorage-test/conf; cat /etc/moorage-test/who").stdout == \
        b"root 600\nroot\n"
    rerun = moorage("play", as_root, "--host", "web1", "--inventory", inventory, "--json")
    assert rerun.recap("web1")["changed"] == 1  # only the command; the root-owned files are seen as they are
