"""`moorage onboard` of a bare server (OpenSSH, root key login, root password login, no Docker),
then `moorage deploy` of the DM stack on it as the deploy user — the way a new user runs it.

One server for the module (installing Docker from Debian's packages takes a while); the tests run
in order: first contact refused without --trust-host-key, onboarding, the deploy, what the
hardening refuses, the firewall, and a second onboard that changes nothing.
"""

from __future__ import annotations

import socket
import time

import paramiko
import pytest
import yaml
from testbed.dm import DM_HOST, prepare_project
from testbed.dm_images import WEBAPP_V1, ensure_dm_image

from .helpers import moorage, request

APP = "/srv/dm"
SSL_REQUEST = bytes([0, 0, 0, 8, 4, 210, 22, 47])  # what a PostgreSQL client sends first; the server answers N or S
# A service of the server's own on a port the firewall must close: it greets every connection.
GREETER = ("nohup python3 -c \"import socket\ns = socket.socket()"
           "\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', {port})); s.listen(8)"
           "\nwhile True:\n    c, _ = s.accept(); c.sendall(b'hello'); c.close()\" >/dev/null 2>&1 &")


@pytest.fixture(scope="module")
def bare(testbed, tmp_path_factory):
    """A bare server and a copy of the project whose `nexus` host is it, reached as `deploy`,
    with no host key pinned yet."""
    server = testbed.start("bare", name="onboard", publish=(80, 5432, 8080))
    server.exec(GREETER.format(port=8080))
    refs = {name: ensure_dm_image(name) for name in ("webapp", "postgres", "nginx", "traefik")}
    # The inner engine's containers go under the test server's own cgroup (removed with it).
    cgroup = server.exec("awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/1/cgroup").stdout.decode().strip()
    inventory = prepare_project(server, {**refs, "webapp": WEBAPP_V1}, tmp_path_factory.mktemp("project"),
                                health_timeout=90, compose_wait_timeout=120,
                                db_publish="5432",  # PostgreSQL published on every interface: the firewall must hold
                                docker_daemon_options={"cgroup-parent": cgroup} if cgroup not in ("", "/") else {})
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())
    hosts["environments"]["nexus"]["user"] = "deploy"
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    (inventory / "known_hosts").unlink()
    yield server, inventory, refs
    testbed.stop(server)


def onboard(inventory, *args: str):
    return moorage("onboard", "--host", "nexus", "--inventory", inventory, "--json", *args, timeout=1500)


def outcome(run) -> dict:
    return next(e for e in run.events if e["kind"] == "outcome")


def fingerprint(server) -> str:
    """The host key's fingerprint as the server's console shows it (what the user compares)."""
    return server.exec("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.decode().split()[1]


def auth_methods(server, user: str) -> list[str]:
    """What the server offers ``user`` to authenticate with (what `ssh -v` shows)."""
    transport = paramiko.Transport(socket.create_connection((server.address, server.port), timeout=10))
    try:
        transport.start_client(timeout=10)
        try:
            transport.auth_none(user)
        except paramiko.BadAuthenticationType as exc:
            return list(exc.allowed_types)
        return ["none"]
    finally:
        transport.close()


def logs_in(server, inventory, user: str, **credentials) -> bool:
    """Whether an SSH client (host key checked against the inventory's known_hosts) logs in."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(inventory / "known_hosts"))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(server.address, server.port, username=user, look_for_keys=False, allow_agent=False,
                       timeout=10, banner_timeout=10, auth_timeout=10, **credentials)
        return True
    except paramiko.AuthenticationException:
        return False
    finally:
        client.close()


def greeted(port: int) -> bool:
    """Whether the server's greeter answers on 127.0.0.1:port (a published port of the test server)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.settimeout(5)
            return sock.recv(5) == b"hello"
    except OSError:
        return False


def greeted_inside(server, port: int) -> bool:
    probe = f"import socket; print(socket.create_connection(('127.0.0.1', {port}), 5).recv(5))"
    return server.exec(f'python3 -c "{probe}"').stdout.decode().strip() == "b'hello'"


def postgres_answers(port: int) -> bool:
    """Whether something answers a PostgreSQL client's first message on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.settimeout(5)
            sock.sendall(SSL_REQUEST)
            return sock.recv(1) in (b"N", b"S")
    except OSError:
        return False


def test_first_contact_without_trust_is_refused_and_changes_nothing(bare):
    server, inventory, _ = bare
    assert "password" in auth_methods(server, "root")  # the bare server takes root passwords today
    assert greeted(server.ports[8080])  # and every port is open
    run = onboard(inventory)
    assert run.code == 1, run.stdout[-3000:] + run.stderr
    message = outcome(run)["message"]
    assert fingerprint(server) in message and "--trust-host-key" in message and "Nothing was changed" in message
    assert not (inventory / "known_hosts").exists()
    assert server.exec("id deploy").returncode != 0
    assert server.exec("command -v dockerd").returncode != 0


def test_onboarding_makes_the_bare_server_a_deploy_target(bare):
    server, inventory, _ = bare
    started = time.monotonic()
    run = onboard(inventory, "--trust-host-key")
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    assert outcome(run)["status"] == "ok"
    pinned = (inventory / "known_hosts").read_text()
    assert f"[{server.address}]:{server.port} {server.host_key}" in pinned
    groups = server.exec("id -nG deploy").stdout.decode().split()
    assert "docker" in groups
    assert server.exec("su deploy -c 'sudo -n true'").returncode == 0
    assert server.exec("su deploy -c 'docker compose version'").returncode == 0
    for path in (APP, f"{APP}/media", f"{APP}/backups", "/srv/shared/traefik", "/srv/shared/nginx-static"):
        assert server.exec(f"stat -c %U {path}").stdout.decode().strip() == "deploy", path
    effective = server.exec("sshd -T").stdout.decode().splitlines()
    assert "permitrootlogin no" in effective and "passwordauthentication no" in effective
    assert server.exec("nft list table inet moorage").returncode == 0
    print(f"first onboard of a bare server: {elapsed:.1f} s, recap {run.recap('nexus')}")


def test_the_dm_stack_deploys_on_it_as_the_deploy_user(bare, testbed):
    server, inventory, refs = bare
    testbed.load_images(server, [refs["nginx"], refs["traefik"]])  # the proxy's images; the app's are shipped
    run = moorage("deploy", "--host", "nexus", "--inventory", inventory, "--json", timeout=1200)
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    page = request(server.ports[80], "/", host=DM_HOST)
    assert page.status == 200 and 'id="app-version">v1<' in page.text
    assert server.exec(f"stat -c %U {APP}/current/.env").stdout.decode().strip() == "deploy"
    assert "onboard" in server.exec(f"cat {APP}/.moorage/audit.log").stdout.decode()


def test_password_and_root_logins_are_refused(bare, ssh_key):
    server, inventory, _ = bare
    assert "password" not in auth_methods(server, "root")
    assert "password" not in auth_methods(server, "deploy")
    assert not logs_in(server, inventory, "root", password="moorage-test")
    assert not logs_in(server, inventory, "root", key_filename=str(ssh_key))
    assert logs_in(server, inventory, "deploy", key_filename=str(ssh_key))


def test_only_ssh_http_and_https_are_open_postgres_never(bare):
    server, _, _ = bare
    inside = server.exec("python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', 5432), 5); "
                         f"s.sendall({SSL_REQUEST!r}); print(s.recv(1))\"")
    assert inside.stdout.decode().strip() == "b'N'", inside.stderr  # PostgreSQL is published and answers inside
    assert not postgres_answers(server.ports[5432])  # but not from outside
    assert greeted_inside(server, 8080) and not greeted(server.ports[8080])  # the server's own services too
    assert request(server.ports[80], "/", host=DM_HOST).status == 200


def test_a_second_onboard_changes_nothing(bare):
    _, inventory, _ = bare
    started = time.monotonic()
    run = onboard(inventory)
    elapsed = time.monotonic() - started
    assert run.code == 0, run.stdout[-5000:] + run.stderr
    assert run.recap("nexus")["changed"] == 0, [e for e in run.tasks("nexus", "changed")]
    logged_in = next(e for e in run.tasks("nexus") if e["task"] == "log in")
    assert "as deploy" in logged_in["summary"]  # root can't log in any more
    print(f"second onboard: {elapsed:.1f} s")


def test_a_rejected_sshd_setting_leaves_sshd_as_it_was(bare):
    server, inventory, _ = bare
    before = server.exec("cat /etc/ssh/sshd_config.d/00-moorage.conf").stdout
    run = onboard(inventory, "--set", 'sshd_settings={PermitRootLogin: "no", NoSuchKeyword: "yes"}')
    assert run.code == 1
    assert "sshd -t rejected" in outcome(run)["message"]
    assert server.exec("cat /etc/ssh/sshd_config.d/00-moorage.conf").stdout == before
    assert "passwordauthentication no" in server.exec("sshd -T").stdout.decode().splitlines()


def test_a_hardening_that_would_lock_the_deploy_user_out_is_undone(bare, ssh_key):
    server, inventory, _ = bare
    locked_out = 'sshd_settings={PermitRootLogin: "no", PasswordAuthentication: "no", AllowUsers: nobody}'
    run = onboard(inventory, "--set", locked_out)
    assert run.code == 1
    message = outcome(run)["message"]
    assert "new login as the deploy user after hardening failed" in message
    assert "sshd's previous configuration is back" in message
    assert logs_in(server, inventory, "deploy", key_filename=str(ssh_key))  # access kept
    assert "allowusers" not in server.exec("cat /etc/ssh/sshd_config.d/00-moorage.conf").stdout.decode().lower()
    again = onboard(inventory)  # and onboarding as configured puts the firewall back
    assert again.code == 0, again.stdout[-3000:]
    assert server.exec("nft list table inet moorage").returncode == 0
