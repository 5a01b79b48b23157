"""Zero-downtime deploys and rollbacks behind the host's own nginx (``proxy: host_nginx``, a
location naming the compose service: an upstream moorage rewrites) on a real test server.

tasklist (tests/testbed/zdt_nginx.py) on an nginxhost server (Debian's nginx + docker), its API
publishing 8000 on an ephemeral loopback port.  While ~50 requests a second go through nginx,
moorage deploys 1.0 -> 1.1, rolls back to 1.0, then deploys a release whose API crashes (the
upstream file stays, the new container goes): not one request fails, and the upstream file names
the new container's port.  Stop-first (zero_downtime off) drops requests but the upstream still
follows the recreated container.  A rerun changes nothing and doesn't reload nginx.
"""

from __future__ import annotations

import json
import time

import pytest
from testbed.load import Load
from testbed.zdt import prepare_images
from testbed.zdt_nginx import HOST, UPSTREAM, write_project

from .helpers import Run, moorage
from .test_zero_downtime import deploy, switch, version


@pytest.fixture(scope="module")
def app(testbed, tmp_path_factory):
    """An nginxhost test server and a project whose first release (1.0) is live behind its nginx."""
    prepare_images()
    server = testbed.start("nginxhost", name="zdtnginx")
    root = tmp_path_factory.mktemp("zdtnginx")
    write_project(root, server)
    first = deploy(root)
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    return server, root


def api_ports(server) -> list[str]:
    """The host ports the running API containers publish 8000 on."""
    ids = server.exec("docker ps -q --filter label=com.docker.compose.service=api").stdout.decode().split()
    ports = []
    for cid in ids:
        out = server.exec(f"docker inspect --format '{{{{json .NetworkSettings.Ports}}}}' {cid}").stdout.decode()
        ports += [b["HostPort"] for b in json.loads(out)["8000/tcp"]]
    return sorted(set(ports))


def upstream(server) -> str:
    return server.exec(f"cat {UPSTREAM}").stdout.decode()


def workers(server) -> str:
    return server.exec("pgrep -f '^nginx: worker' | sort").stdout.decode()


def took(run: Run, prefix: str) -> float:
    """Seconds the first task named ``prefix...`` took (from the event before it)."""
    tasks = run.tasks("zdt")
    at = next(i for i, t in enumerate(tasks) if t["task"].startswith(prefix))
    return float(tasks[at]["time"] - tasks[at - 1]["time"])


def explain(load: Load, run: Run) -> None:
    if load.failed:
        for t in run.tasks("zdt"):
            print(round(t["time"], 2), t["task"][:50], t.get("summary", "")[:100])
        print("failed at", load.failed_at)


def test_the_first_deploy_points_the_upstream_at_the_container(app):
    server, _ = app
    assert version(server, HOST) == "1.0"
    assert [line.split()[1] for line in upstream(server).splitlines() if line.startswith("server ")] == [
        f"127.0.0.1:{port};" for port in api_ports(server)]


def test_a_new_version_goes_live_through_nginx_without_a_failed_request(app):
    server, root = app
    before = api_ports(server)
    with Load(server.ports[80], "/version", host=HOST) as load:
        began = time.monotonic()
        run = deploy(root, "--set", "app_image=tasklist/app:1.1")
        spent = time.monotonic() - began
    print(f"\n1.0 -> 1.1 behind host nginx: {load.report()}, deploy {spent:.1f} s, "
          f"switch {took(run, 'zero-downtime switch'):.1f} s")
    explain(load, run)
    assert run.code == 0, run.stdout[-4000:] + run.stderr
    assert switch(run)["status"] == "changed"
    assert "api start-first (routed by host nginx (upstream), no fixed host port)" in switch(run)["summary"]
    assert version(server, HOST) == "1.1"
    assert load.sent > 50 and load.failed == 0, load.report()
    now = api_ports(server)
    assert len(now) == 1 and now != before
    assert f"server 127.0.0.1:{now[0]};" in upstream(server)


def test_a_rollback_goes_through_the_same_switch_without_a_failed_request(app):
    server, root = app
    with Load(server.ports[80], "/version", host=HOST) as load:
        run = moorage("rollback", "--host", "zdt", "--to", "previous", "--json", cwd=root, timeout=900)
    print(f"\nrollback 1.1 -> 1.0 behind host nginx: {load.report()}, switch {took(run, 'zero-downtime switch'):.1f} s")
    explain(load, run)
    assert run.code == 0, run.stdout[-4000:] + run.stderr
    assert switch(run)["status"] == "changed"
    assert version(server, HOST) == "1.0"
    assert load.sent > 50 and load.failed == 0, load.report()
    assert f"server 127.0.0.1:{api_ports(server)[0]};" in upstream(server)


def test_a_release_whose_api_crashes_leaves_the_upstream_and_the_old_container_serving(app):
    server, root = app
    before, ports = upstream(server), api_ports(server)
    with Load(server.ports[80], "/version", host=HOST) as load:
        run = deploy(root, "--set", "app_image=tasklist/app:1.1", "--set", "app_env_extra={API_MODE: crash}")
    print(f"\n1.0 -> crashing API behind host nginx: {load.report()}")
    assert run.code != 0
    assert "the old ones keep serving" in str(switch(run))
    assert version(server, HOST) == "1.0" and upstream(server) == before and api_ports(server) == ports
    assert load.sent > 20 and load.failed == 0, load.report()


def test_without_zero_downtime_the_upstream_follows_the_recreated_container(app):
    """Stop-first (compose recreates the API): requests fail while it restarts, and afterwards the
    upstream names the new container's port (not the dead one's)."""
    server, root = app
    with Load(server.ports[80], "/version", host=HOST) as load:
        run = deploy(root, "--set", "app_image=tasklist/app:1.1", "--set", "zero_downtime=false")
    print(f"\n1.0 -> 1.1 stop-first behind host nginx: {load.report()}, up {took(run, 'stack up'):.1f} s")
    assert run.code == 0, run.stdout[-4000:] + run.stderr
    assert version(server, HOST) == "1.1"
    assert f"server 127.0.0.1:{api_ports(server)[0]};" in upstream(server)


def test_a_rerun_changes_nothing_and_does_not_reload_nginx(app):
    server, root = app
    first = deploy(root)   # the inventory's own release (1.0) again
    assert first.code == 0, first.stdout[-3000:] + first.stderr
    pids = workers(server)
    again = deploy(root)
    assert again.code == 0, again.stdout[-3000:] + again.stderr
    assert again.recap("zdt")["changed"] == 0
    assert workers(server) == pids and pids.strip()


def test_a_restarted_service_gets_a_new_port_and_nginx_follows_it(app):
    """`moorage restart --service api`: docker gives the restarted container another ephemeral host
    port; the upstream is rewritten to it, so the site answers afterwards (it answered 502 before)."""
    server, root = app
    before = api_ports(server)
    run = moorage("restart", "--service", "api", "--host", "zdt", cwd=root)
    assert run.code == 0, run.stdout + run.stderr
    after = api_ports(server)
    assert after != before, "docker kept the port: this test no longer proves anything"
    assert f"server 127.0.0.1:{after[0]};" in upstream(server)
    assert version(server, HOST) in ("1.0", "1.1")
