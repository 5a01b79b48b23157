"""`moorage onboard --user admin` with `firewall: ufw` on a bare server whose root has no key (a
cloud image's shape: a sudo-capable admin user): ufw active with SSH, 80 and 443 allowed and
everything else denied; the guard on ports Docker publishes is still there; a second onboard
changes nothing."""

from __future__ import annotations

import pytest
import yaml
from testbed.dm import prepare_project

from .helpers import moorage
from .test_onboard import GREETER, greeted, greeted_inside


@pytest.fixture(scope="module")
def ufw_server(testbed, tmp_path_factory):
    server = testbed.start("bare", name="ufw", publish=(80, 8080))
    for port in (80, 8080):
        server.exec(GREETER.format(port=port))
    server.exec("useradd -m admin && install -d -o admin -m 0700 /home/admin/.ssh"
                " && mv /root/.ssh/authorized_keys /home/admin/.ssh/ && chown admin /home/admin/.ssh/authorized_keys"
                " && echo 'admin ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/admin")
    cgroup = server.exec("awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/1/cgroup").stdout.decode().strip()
    inventory = prepare_project(server, {"webapp": "-", "postgres": "-", "nginx": "-", "traefik": "-"},
                                tmp_path_factory.mktemp("project"), firewall="ufw",
                                docker_daemon_options={"cgroup-parent": cgroup} if cgroup not in ("", "/") else {})
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    hosts["environments"]["nexus"]["user"] = "deploy"
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    yield server, inventory
    testbed.stop(server)


def onboard(inventory):
    return moorage("onboard", "--host", "nexus", "--inventory", inventory, "--user", "admin", "--json",
                   timeout=1500)


def test_ufw_allows_ssh_http_and_https_only(ufw_server):
    server, inventory = ufw_server
    assert greeted(server.ports[8080])
    run = onboard(inventory)
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    assert next(e for e in run.tasks("nexus") if e["task"] == "log in")["summary"] == "as admin (first contact)"
    status = server.exec("ufw status verbose").stdout.decode()
    assert "Status: active" in status and "deny (incoming)" in status
    for port in (22, 80, 443):
        assert f"{port}/tcp" in status
    assert greeted(server.ports[80])  # allowed
    assert greeted_inside(server, 8080) and not greeted(server.ports[8080])  # denied from outside
    guard = server.exec("nft list table inet moorage").stdout.decode()
    assert "chain forward" in guard and "chain input" not in guard  # ufw has the host's ports


def test_a_second_onboard_with_ufw_changes_nothing(ufw_server):
    _, inventory = ufw_server
    run = onboard(inventory)
    assert run.code == 0, run.stdout[-3000:]
    assert run.recap("nexus")["changed"] == 0, run.tasks("nexus", "changed")
