"""Messages a user can act on, on real sshd servers: an onboarded server that refuses the deploy
user's key, a private key file that isn't there, validations that pass, a check-mode failure, and
the deploy lock — each one sentence naming the host once, counted in the recap.
"""

from __future__ import annotations

import subprocess

import yaml
from testbed.dm import ROOT

from .helpers import moorage, write_playbook


def project_for(tmp_path, server, write_inventory, **host):
    """An inventory (host `web1` = ``server``) beside the repository's playbooks and roles."""
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": server}, extra_vars={"app_dir": "/srv/msg"}, host_fields={"web1": host})
    for part in ("playbooks", "roles"):
        (tmp_path / part).symlink_to(ROOT / part)
    return inventory


def test_an_onboarded_server_refusing_the_deploy_users_key_says_so(fresh_server, tmp_path, write_inventory):
    server = fresh_server("sshd")
    # As onboarding leaves it: a deploy user (with a key of its own), root no longer reachable with ours.
    server.exec("useradd -m -s /bin/sh deploy && rm -f /root/.ssh/authorized_keys")
    inventory = project_for(tmp_path, server, write_inventory)
    data = yaml.safe_load((inventory / "hosts.yml").read_text())
    data["environments"]["web1"]["user"] = "deploy"
    data["environments"]["web1"]["hosts"]["web1"].pop("user", None)
    (inventory / "hosts.yml").write_text(yaml.safe_dump(data))
    run = moorage("onboard", "--host", "web1", "--inventory", inventory, "--json", timeout=120)
    assert run.code == 1
    message = next(e for e in run.events if e["kind"] == "outcome")["message"]
    assert f"the key {server.key_file} was refused both as the deploy user deploy and as root" in message
    assert "root login is off and deploy is the way in" in message and "~deploy/.ssh/authorized_keys" in message
    assert run.recap("web1")["failed"] == 1
    assert "web1: web1:" not in run.stderr


def test_a_missing_private_key_is_named_as_missing(tmp_path, sshd_server, write_inventory):
    missing = tmp_path / "keys" / "id_deploy"
    inventory = project_for(tmp_path, sshd_server, write_inventory, ssh_key=str(missing), user="deploy")
    playbook = write_playbook(tmp_path / "book", [{"command": {"cmd": "true"}}])
    run = moorage("play", playbook, "--host", "web1", "--inventory", inventory)
    assert run.code == 1
    assert f"the private key {missing} (the inventory's ssh_key) does not exist" in run.stdout
    assert "failed=1" in run.stdout
    onboard = moorage("onboard", "--host", "web1", "--inventory", inventory, "--set", "firewall=none")
    assert onboard.code == 2
    assert f"web1: the private key {missing} (the inventory's ssh_key) does not exist" in onboard.stderr
    assert ".pub" not in onboard.stderr


def test_a_passed_validation_is_ok_check_passed_and_a_failed_one_says_why(tmp_path, sshd_server, write_inventory):
    inventory = project_for(tmp_path, sshd_server, write_inventory)
    refuse = {"name": "mode is fast or safe", "validation": True, "when": "mode not in ['fast', 'safe']",
              "command": {"cmd": "echo 'mode is '{{ mode | quote }}': set it to fast or safe' >&2; exit 1"}}
    playbook = write_playbook(tmp_path / "book", [refuse])
    run = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--set", "mode=fast", "--json")
    assert run.code == 0
    task = run.tasks("web1")[0]
    assert (task["status"], task["summary"]) == ("ok", "check passed")
    assert (run.recap("web1")["ok"], run.recap("web1")["skipped"]) == (1, 0)
    human = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--set", "mode=fast", "--verbose")
    assert "check passed" in human.stdout and "condition is false" not in human.stdout
    wrong = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--set", "mode=slow")
    assert wrong.code == 1 and "mode is slow: set it to fast or safe" in wrong.stdout


def test_a_check_that_fails_in_check_mode_is_a_failed_task_not_a_traceback(tmp_path, sshd_server, write_inventory):
    inventory = project_for(tmp_path, sshd_server, write_inventory)
    tasks = [{"name": "the config is valid", "command": {"cmd": "echo 'line 3: unknown key' >&2; exit 1",
                                                         "check_only": True}},
             {"name": "never reached", "command": {"cmd": "touch /tmp/msg-never"}}]
    playbook = write_playbook(tmp_path / "book", tasks)
    run = moorage("play", playbook, "--host", "web1", "--inventory", inventory, "--check")
    assert run.code == 1
    assert "Traceback" not in run.stdout + run.stderr
    assert "TASK the config is valid" in run.stdout and "failed: [web1] command exited with status 1" in run.stdout
    assert "line 3: unknown key" in run.stdout and "failed=1" in run.stdout
    assert sshd_server.exec("test -e /tmp/msg-never").returncode != 0


def test_a_held_deploy_lock_names_the_host_once(tmp_path, sshd_server, write_inventory):
    inventory = project_for(tmp_path, sshd_server, write_inventory)
    holder = '{"by": "ops@elsewhere", "pid": 1, "since": "2026-01-01T00:00:00Z", "action": "deploy"}'
    sshd_server.exec(f"mkdir -p /srv/msg/.moorage/lock && printf '%s' '{holder}' > /srv/msg/.moorage/lock/holder")
    try:
        run = moorage("deploy", "--host", "web1", "--inventory", inventory)
        assert run.code == 1
        assert "error: web1: deploy lock on /srv/msg is held: deploy by ops@elsewhere" in run.stderr
        assert "web1: web1" not in run.stdout + run.stderr
        assert "failed=1" in run.stdout
    finally:
        subprocess.run(["docker", "exec", sshd_server.container_id, "rm", "-rf", "/srv/msg"], check=False,
                       timeout=60)
