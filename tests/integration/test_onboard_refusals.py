"""`moorage onboard` refusing what it must refuse, on real sshd servers, before it changes anything:
an unreachable server, a key the server doesn't accept, a host key that doesn't match, a server
that isn't Debian/Ubuntu, a server whose firewall can't be managed (a plain test container has no
CAP_NET_ADMIN), an inventory that reaches the server as root.  Each says so in one sentence and
leaves the server as it was.
"""

from __future__ import annotations

import socket
import subprocess

import pytest
import yaml

from .helpers import moorage


@pytest.fixture(scope="module")
def plain(testbed):
    """A plain sshd server (root key login, no CAP_NET_ADMIN), shared: the tests only get refused."""
    server = testbed.start("sshd", name="refusals")
    yield server
    testbed.stop(server)


def inventory_for(project, server, pinned: bool = True, **host):
    """A project (built-in playbooks and roles) whose inventory's host `box` is ``server``,
    reached as `deploy`; known_hosts pinned or absent.  Returns the inventory directory."""
    directory = project / "inventory"
    directory.mkdir(parents=True, exist_ok=True)
    entry = {"address": server.address, "port": server.port, "ssh_key": str(server.key_file), **host}
    data = {"project": "test", "vars": {"app_dir": "/srv/box"},
            "environments": {"box": {"user": "deploy", "hosts": {"box": entry}}}}
    (directory / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    if pinned:
        (directory / "known_hosts").write_text(server.known_hosts_file.read_text())
    return directory


def onboard(inventory, *args: str):
    return moorage("onboard", "--host", "box", "--inventory", inventory, "--json", *args, timeout=300)


def outcome(run) -> str:
    return next(e for e in run.events if e["kind"] == "outcome")["message"]


def untouched(server) -> bool:
    """No deploy user, no sudoers file, sshd as it was: what onboarding would have changed first."""
    return (server.exec("id deploy").returncode != 0
            and server.exec("test -e /etc/sudoers.d/moorage-deploy").returncode != 0
            and server.exec("test -e /etc/ssh/sshd_config.d/00-moorage.conf").returncode != 0)


def fingerprint(server) -> str:
    return server.exec("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.decode().split()[1]


def test_an_unreachable_server_is_named(plain, tmp_path):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = onboard(inventory_for(tmp_path, plain, port=port), "--trust-host-key")
    assert run.code == 1
    assert f"cannot reach 127.0.0.1:{port}" in outcome(run) and "Nothing was changed" in outcome(run)
    assert f"cannot reach 127.0.0.1:{port}" in run.stderr


def test_a_key_the_server_refuses_is_named_and_nothing_changes(plain, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    run = onboard(inventory_for(tmp_path / "project", plain, ssh_key=str(other)))
    assert run.code == 1
    message = outcome(run)
    assert f"the key {other} was refused both as the deploy user deploy and as root" in message
    assert "--user" in message and "authorized_keys" in message
    assert run.recap("box")["failed"] == 1  # the refused login is a failed step, not only an exit status
    assert untouched(plain)


def test_a_host_key_other_than_the_inventorys_fingerprint_is_refused_even_when_trusted(plain, tmp_path):
    wrong = "SHA256:" + "A" * 43
    inventory = inventory_for(tmp_path, plain, pinned=False, fingerprint=wrong)
    run = onboard(inventory, "--trust-host-key")
    assert run.code == 1
    assert f"does not match the inventory's fingerprint {wrong}" in outcome(run)
    assert not (inventory / "known_hosts").exists() and untouched(plain)


def test_a_changed_host_key_is_refused(plain, tmp_path):
    inventory = inventory_for(tmp_path / "project", plain, pinned=False)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True,
                   timeout=30)
    someone_else = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    (inventory / "known_hosts").write_text(f"[{plain.address}]:{plain.port} {someone_else}\n")
    run = onboard(inventory, "--trust-host-key")
    assert run.code == 1, run.stderr
    assert "host key CHANGED" in outcome(run) and fingerprint(plain) in outcome(run)
    assert untouched(plain)


def test_the_inventorys_fingerprint_pins_the_key_and_a_host_without_net_admin_is_refused_before_any_change(
        plain, tmp_path):
    inventory = inventory_for(tmp_path, plain, pinned=False, fingerprint=fingerprint(plain))
    run = onboard(inventory)
    assert run.code == 1, run.stdout[-3000:]
    assert f"[{plain.address}]:{plain.port} {plain.host_key}" in (inventory / "known_hosts").read_text()
    message = outcome(run)
    assert "'the firewall can be managed here' failed" in message and "CAP_NET_ADMIN" in message
    assert "firewall: none" in message and "Changed before stopping (1): host key" in message
    assert untouched(plain)


def test_a_server_that_is_not_debian_or_ubuntu_is_refused(fresh_server, tmp_path):
    server = fresh_server("sshd")
    server.exec("rm /etc/os-release && printf 'ID=fedora\\nPRETTY_NAME=\"Fedora Linux 40\"\\n' >/etc/os-release")
    run = onboard(inventory_for(tmp_path, server))
    assert run.code == 1
    assert "this host runs Fedora Linux 40: onboarding supports Debian and Ubuntu only" in outcome(run)
    assert "Nothing was changed" in outcome(run) and untouched(server)


def test_an_inventory_reaching_the_server_as_root_is_bad_input(plain, tmp_path):
    inventory = inventory_for(tmp_path, plain)
    data = yaml.safe_load((inventory / "hosts.yml").read_text())
    data["environments"]["box"]["user"] = "root"
    (inventory / "hosts.yml").write_text(yaml.safe_dump(data))
    run = onboard(inventory)
    assert run.code == 2
    assert "reaches box as root" in run.stderr and "user: deploy" in run.stderr
