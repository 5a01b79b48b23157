"""The shared proxy (roles traefik + nginx_static, playbooks/proxy.yml) on a real server.

A test server with its own Docker engine gets Traefik and nginx-static exactly as a user
deploys them (`moorage play playbooks/proxy.yml`); requests then go through the server's
published loopback port with `Host: dm.nexus.local`, like the seed's check
`curl -I http://dm.nexus.local/media/products/forest_path.png` -> `Server: nginx`.

The docker_server fixture is shared by the session: this module uses its own compose
project names, network and directories, and removes them at the end.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import time
from pathlib import Path

import pytest
from testbed.images import ensure_image

from .helpers import moorage

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = "proxy"  # the built-in playbook, by name
MEDIA_FILE = ROOT / "examples" / "dm" / "media" / "products" / "forest_path.png"
DOMAIN = "dm.nexus.local"
BASE = "/srv/proxytest"
MEDIA_DIR = f"{BASE}/media"
TRAEFIK_DIR = f"{BASE}/shared/traefik"
NGINX_DIR = f"{BASE}/shared/nginx-static"
TRAEFIK_PROJECT = "proxytest-traefik"
NGINX_PROJECT = "proxytest-nginx-static"
NETWORK = "proxytest"
MEDIA_PATH = "/media/products/forest_path.png"




# -- HTTP through the server's published loopback ports ------------------------------
def get(port: int, path: str, host: str = DOMAIN, tls: bool = False) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` on 127.0.0.1:``port`` with ``Host: host`` (and SNI ``host`` over TLS)."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE

        class Loopback(http.client.HTTPSConnection):
            def connect(self) -> None:  # to 127.0.0.1, with the virtual host as SNI
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
                self.sock = context.wrap_socket(sock, server_hostname=self.host)

        conn: http.client.HTTPConnection = Loopback(host, port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def server_state(server) -> str:
    """Checksums of every file the roles manage, and the containers (id, start time)."""
    files = server.exec(f"cd {BASE}/shared && find . -type f | sort | xargs sha256sum; "
                        f"stat -c '%n %a' traefik/traefik.yml nginx-static/conf.d/media.conf").stdout.decode()
    containers = server.exec("docker ps -aq --filter label=com.docker.compose.project | sort | "
                             "xargs -r docker inspect --format '{{.Name}} {{.Id}} {{.State.StartedAt}}'"
                             ).stdout.decode()
    return files + containers


# -- the deployed proxy ----------------------------------------------------------------
@pytest.fixture(scope="module")
def proxy(testbed, docker_server, tmp_path_factory):
    """The docker server, the media file in place, and an inventory.  No registry is reachable: the
    roles ship their images from this machine themselves (traefik_image_source, nginx_image_source)."""
    server = docker_server
    ensure_image("traefik")
    ensure_image("nginx")
    server.exec(f"mkdir -p {MEDIA_DIR}/products && cat > {MEDIA_DIR}/products/forest_path.png",
                input=MEDIA_FILE.read_bytes())
    inventory = tmp_path_factory.mktemp("proxy") / "inventory"
    from testbed import write_inventory

    write_inventory(inventory, {"nexus": server}, project="dm", extra_vars={
        "domain": DOMAIN,
        "proxy": "traefik",                   # the proxy playbook runs its roles for such hosts
        "media_served_by": "nginx-static",
        "tls": "none",
        "media_dir": MEDIA_DIR,
        "traefik_dir": TRAEFIK_DIR,
        "traefik_image": "moorage-test/traefik:latest",
        "traefik_image_source": "ship",
        "nginx_image_source": "ship",
        "traefik_project": TRAEFIK_PROJECT,
        "nginx_static_dir": NGINX_DIR,
        "nginx_image": "moorage-test/nginx:latest",
        "nginx_static_project": NGINX_PROJECT,
        "proxy_network": NETWORK,
        # the role's own gate: the media file answers through Traefik before the run ends
        "nginx_static_check_url": server.url(80, MEDIA_PATH),
    })
    yield server, inventory
    server.exec(f"for p in {NGINX_PROJECT} {TRAEFIK_PROJECT}; do docker compose -p $p down --timeout 5; done; "
                f"docker network rm {NETWORK}; rm -rf {BASE}")


def play(inventory: Path, *args: str):
    return moorage("play", PLAYBOOK, "--host", "nexus", "--inventory", inventory, "--json", *args)


@pytest.fixture(scope="module")
def first_run(proxy):
    _, inventory = proxy
    t0 = time.monotonic()
    run = play(inventory)
    print(f"\nfirst run (images shipped by the roles) {time.monotonic() - t0:.1f}s")
    assert run.code == 0, run.stdout + run.stderr
    return run


def test_media_is_served_by_nginx_through_traefik(proxy, first_run):
    server, _ = proxy
    recap = first_run.recap("nexus")
    assert recap["failed"] == 0 and recap["changed"] > 0
    status = {e["task"]: e["status"] for e in first_run.tasks("nexus")}
    assert status["traefik image on the server"] in ("changed", "ok")     # shipped unless already there
    assert status["nginx-static image on the server"] in ("changed", "ok")
    status, headers, body = get(server.ports[80], MEDIA_PATH)
    assert status == 200
    assert headers["server"] == "nginx"
    assert hashlib.sha256(body).digest() == hashlib.sha256(MEDIA_FILE.read_bytes()).digest()
    assert headers["cache-control"] == "max-age=604800"  # nginx_media_expires: 7d
    # only /media/ of this domain goes to nginx-static (the app router would take the rest)
    assert get(server.ports[80], "/")[0] == 404
    assert get(server.ports[80], MEDIA_PATH, host="other.example")[0] == 404
    assert get(server.ports[80], "/media/products/missing.png")[0] == 404

    state = server.exec(f"stat -c '%a' {NGINX_DIR}/conf.d/media.conf; docker network inspect {NETWORK} "
                        f"--format '{{{{.Name}}}}'; cat {TRAEFIK_DIR}/traefik.yml; "
                        f"docker inspect {NGINX_PROJECT}-nginx-static-1 --format "
                        f"'{{{{index .Config.Labels \"traefik.http.routers.dm-media.priority\"}}}}'"
                        ).stdout.decode()
    assert state.startswith(f"644\n{NETWORK}\n")
    assert "exposedByDefault: false" in state and f'network: "{NETWORK}"' in state
    assert "websecure" not in state and "certificatesResolvers" not in state  # tls: none
    assert state.rstrip().endswith("100")


def test_a_second_run_changes_nothing(proxy, first_run):
    server, inventory = proxy
    before = server_state(server)
    t0 = time.monotonic()
    rerun = play(inventory)
    seconds = time.monotonic() - t0
    assert rerun.code == 0, rerun.stdout + rerun.stderr
    recap = rerun.recap("nexus")
    assert recap["changed"] == 0, [t for t in rerun.tasks("nexus") if t.get("status") == "changed"]
    assert recap["failed"] == 0
    assert server_state(server) == before
    print(f"\nno-change rerun {seconds:.1f}s, {recap['commands']} commands")


def test_check_mode_shows_the_change_and_changes_nothing(proxy, first_run):
    server, inventory = proxy
    before = server_state(server)
    check = moorage("play", PLAYBOOK, "--host", "nexus", "--inventory", inventory, "--check", "--diff",
                    "--set", "nginx_media_expires=1d", "--set", "traefik_log_level=DEBUG")
    assert check.code == 0, check.stdout + check.stderr
    assert "-        expires 7d;" in check.stdout and "+        expires 1d;" in check.stdout
    assert '+  level: "DEBUG"' in check.stdout
    assert server_state(server) == before
    assert get(server.ports[80], MEDIA_PATH)[0] == 200


def test_a_config_nginx_rejects_fails_the_run_and_the_old_one_keeps_serving(proxy, first_run):
    server, inventory = proxy
    live = server.exec(f"cat {NGINX_DIR}/conf.d/media.conf").stdout
    container = server.exec(f"docker inspect {NGINX_PROJECT}-nginx-static-1 --format '{{{{.Id}}}}'").stdout
    try:
        bad = play(inventory, "--set", "nginx_extra_config=bogus_directive on;")
        assert bad.code == 1, bad.stdout + bad.stderr
        failed = bad.tasks("nexus", "failed")
        assert [t["task"] for t in failed] == ["nginx-static configuration tested and live"]
        stderr = failed[0]["data"]["stderr"]
        assert "nginx -t rejected the new configuration" in stderr
        assert 'unknown directive "bogus_directive"' in stderr
        assert "nginx keeps serving it" in stderr

        # the live config never changed, the container was neither replaced nor broken
        assert server.exec(f"cat {NGINX_DIR}/conf.d/media.conf").stdout == live
        assert server.exec(f"docker inspect {NGINX_PROJECT}-nginx-static-1 --format '{{{{.Id}}}}'"
                           ).stdout == container
        status, headers, body = get(server.ports[80], MEDIA_PATH)
        assert (status, headers["server"]) == (200, "nginx")
        assert body == MEDIA_FILE.read_bytes()
        assert b"bogus_directive" in server.exec(f"cat {NGINX_DIR}/candidate/conf.d/media.conf").stdout
    finally:
        fixed = play(inventory)
    assert fixed.code == 0, fixed.stdout + fixed.stderr
    # only the candidate goes back; the live config was already the good one
    assert [t["task"] for t in fixed.tasks("nexus", "changed")] == ["nginx-static candidate configuration"]


def test_a_config_change_is_reloaded_without_replacing_the_container(proxy, first_run):
    server, inventory = proxy
    container = server.exec(f"docker inspect {NGINX_PROJECT}-nginx-static-1 --format '{{{{.Id}}}}'").stdout
    try:
        run = play(inventory, "--set", "nginx_media_expires=1h")
        assert run.code == 0, run.stdout + run.stderr
        changed = [t["task"] for t in run.tasks("nexus", "changed")]
        assert changed == ["nginx-static candidate configuration", "nginx-static configuration tested and live"]
        assert get(server.ports[80], MEDIA_PATH)[1]["cache-control"] == "max-age=3600"
        assert server.exec(f"docker inspect {NGINX_PROJECT}-nginx-static-1 --format '{{{{.Id}}}}'"
                           ).stdout == container
        assert b"expires 7d;" in server.exec(f"cat {NGINX_DIR}/conf.d.previous/media.conf").stdout
    finally:
        back = play(inventory)
    assert back.code == 0, back.stdout + back.stderr
    assert get(server.ports[80], MEDIA_PATH)[1]["cache-control"] == "max-age=604800"


def test_a_static_config_change_restarts_traefik(proxy, first_run):
    server, inventory = proxy
    inspect = f"docker inspect {TRAEFIK_PROJECT}-traefik-1 --format '{{{{.Id}}}} {{{{.State.StartedAt}}}}'"
    container_id, started = server.exec(inspect).stdout.decode().split()
    try:
        run = play(inventory, "--set", "traefik_log_level=DEBUG")
        assert run.code == 0, run.stdout + run.stderr
        assert [t["task"] for t in run.tasks("nexus", "changed")] == ["traefik static configuration",
                                                                      "restart traefik"]
        now_id, now_started = server.exec(inspect).stdout.decode().split()
        assert now_id == container_id and now_started != started  # restarted, not replaced
        assert b" DBG " in server.exec(f"docker logs --tail 50 {now_id} 2>&1").stdout  # read the new file
        assert get(server.ports[80], MEDIA_PATH)[0] == 200  # healthy again when the run ends
    finally:
        back = play(inventory)
    assert back.code == 0, back.stdout + back.stderr
    assert get(server.ports[80], MEDIA_PATH)[0] == 200


# letsencrypt: the CA is a closed loopback port, so nothing leaves the machine; Traefik
# logs the failed order and serves its default certificate, like selfsigned.
@pytest.mark.parametrize("tls", ["selfsigned", "letsencrypt"])
def test_tls_serves_https_and_redirects_http(tls, proxy, first_run):
    server, inventory = proxy
    tls_args = ("--set", f"tls={tls}",
                "--set", f"nginx_static_check_url={server.url(443, MEDIA_PATH, 'https')}")
    if tls == "letsencrypt":
        tls_args += ("--set", "letsencrypt_email=ops@example.org",
                     "--set", "letsencrypt_ca_server=https://127.0.0.1:9/directory",
                     "--set", "nginx_static_check_validate_certs=false")
    try:
        run = play(inventory, *tls_args)
        assert run.code == 0, run.stdout + run.stderr
        status, headers, body = get(server.ports[443], MEDIA_PATH, tls=True)
        assert (status, headers["server"]) == (200, "nginx")
        assert body == MEDIA_FILE.read_bytes()
        status, headers, _ = get(server.ports[80], MEDIA_PATH)
        assert status in (301, 308) and headers["location"] == f"https://{DOMAIN}{MEDIA_PATH}"
        config = server.exec(f"cat {TRAEFIK_DIR}/traefik.yml").stdout.decode()
        assert "websecure:" in config
        label = server.exec(f"docker inspect {NGINX_PROJECT}-nginx-static-1 --format "
                            "'{{index .Config.Labels \"traefik.http.routers.dm-media.tls.certresolver\"}}'"
                            ).stdout.decode().strip()
        if tls == "letsencrypt":
            assert 'email: "ops@example.org"' in config and "httpChallenge:" in config
            assert label == "letsencrypt"
            acme = server.exec(f"stat -c '%a' {TRAEFIK_DIR}/acme {TRAEFIK_DIR}/acme/acme.json").stdout
            assert acme == b"700\n600\n"
        else:
            assert "certificatesResolvers" not in config and label == ""
        again = play(inventory, *tls_args)
        assert again.code == 0 and again.recap("nexus")["changed"] == 0, again.stdout
    finally:
        back = play(inventory)
    assert back.code == 0, back.stdout + back.stderr
    assert get(server.ports[80], MEDIA_PATH)[0] == 200


def test_letsencrypt_without_an_email_is_refused_before_anything_changes(proxy, first_run):
    server, inventory = proxy
    before = server_state(server)
    run = moorage("play", PLAYBOOK, "--host", "nexus", "--inventory", inventory, "--set", "tls=letsencrypt")
    assert run.code == 1
    assert "tls is letsencrypt but letsencrypt_email is not set" in run.stdout
    assert server_state(server) == before
