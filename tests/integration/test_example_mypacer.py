"""examples/mypacer (seed 002) as its team runs it: images pulled by tag from a private registry
after a token login, staging and production on one server behind the server's own nginx (role
host_nginx, one site each, TLS with certbot's paths), the CI's staging deploy of a tag
(`deploy --set web_image_tag=...`), rollback, and nginx sites that nginx refuses: put back, the
previous configuration still served, nginx's own error in the message.

One test server (kind nginxhost: dockerhost + Debian's nginx with its `default` site, and Debian's
docker-registry on 127.0.0.1:5000 with htpasswd auth).  The stand-in images (examples/mypacer/app)
are built here, pushed to that registry, and removed from the server's engine so deploys pull them.
The tests share the server and run in order.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from testbed import mypacer
from testbed.mypacer import DOMAINS, HOSTS, REGISTRY

from .helpers import Run, moorage

TOKEN = "ghcr-T0ken-5a9e11"


@pytest.fixture(scope="module")
def server(testbed):
    """The team's server, its registry holding web v1.2.2-prod and v1.2.3-prod (= latest-prod)."""
    return mypacer.start_server(testbed, TOKEN)


@pytest.fixture(scope="module")
def project(server, tmp_path_factory) -> Path:
    """The example as the team keeps it, pointed at the test server and its registry."""
    return mypacer.prepare_project(server, tmp_path_factory.mktemp("example") / "mypacer")


def run(project: Path, task: str, env: str, *flags: str) -> Run:
    return moorage(task, "--host", HOSTS[env], *flags, cwd=project, timeout=900, env={"GHCR_TOKEN": TOKEN})


def page(server, env: str, path: str = "/") -> str:
    """What a browser gets from the site over HTTPS (the test server's nginx, by the site's name)."""
    domain = DOMAINS[env]
    for _ in range(50):   # `nginx -s reload` returns before the new workers answer
        out = server.exec(f"curl -sk --max-time 5 --resolve {domain}:443:127.0.0.1 https://{domain}{path}")
        if out.returncode == 0:
            return out.stdout.decode()
        time.sleep(0.1)
    raise AssertionError(f"https://{domain}{path} did not answer: {out.stderr.decode()}")


def site_files(server) -> str:
    """The host's site files and links, with their contents."""
    return server.exec("cd /etc/nginx && ls -l sites-enabled | sed 1d | awk '{print $9, $10, $11}' && "
                       "sha256sum sites-available/*").stdout.decode()


def workers(server) -> str:
    return server.exec("pgrep -P \"$(cat /run/nginx.pid)\" | sort").stdout.decode()


def test_staging_and_production_on_one_host_behind_its_nginx(server, project):
    for env in ("staging", "production"):
        deployed = run(project, "deploy", env, "--json")
        assert deployed.code == 0, deployed.stdout[-4000:] + deployed.stderr
        assert TOKEN not in deployed.stdout + deployed.stderr
    assert page(server, "staging") == "MyPacer web v1.2.3-prod (staging)\n"
    assert page(server, "production") == "MyPacer web v1.2.3-prod (production)\n"
    assert json.loads(page(server, "production", "/api/version")) == {"version": "v1.2.3-prod",
                                                                       "environment": "production"}
    redirect = server.exec("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: mypacer.fr' "
                           "http://127.0.0.1/api/version").stdout.decode()
    assert redirect == "301 https://mypacer.fr/api/version"
    links = site_files(server)
    for site in ("mypacer-staging", "mypacer-production"):
        assert f"{site} -> /etc/nginx/sites-available/{site}" in links
    assert server.exec("nginx -t").returncode == 0
    hook = server.exec("cat /etc/letsencrypt/renewal-hooks/deploy/moorage-reload-nginx").stdout.decode()
    assert "nginx -t" in hook
    config = json.loads(server.exec("cat /root/.docker/config.json").stdout)
    assert REGISTRY in config["auths"]
    count = "docker compose -p mypacer exec -T db psql -U mypacer -d mypacer -tAc 'select count(*) from scrape_runs'"
    assert int(server.exec(count).stdout.decode().strip() or 0) >= 1   # the scraper's periodic job ran

    before = workers(server)
    again = run(project, "deploy", "production", "--json")
    assert again.code == 0, again.stdout[-3000:]
    assert again.recap("prod")["changed"] == 0
    assert workers(server) == before   # nothing changed: no reload


def test_ci_deploys_a_tag_to_staging_then_rollback(server, project):
    ci = run(project, "deploy", "staging", "--set", "web_image_tag=v1.2.2-prod")
    assert ci.code == 0, ci.stdout[-3000:] + ci.stderr
    assert page(server, "staging") == "MyPacer web v1.2.2-prod (staging)\n"
    assert page(server, "production") == "MyPacer web v1.2.3-prod (production)\n"
    listed = run(project, "backup", "staging", "--list")   # the new images came after a verified backup
    assert listed.code == 0 and "verified" in listed.stdout, listed.stdout[-2000:]
    back = run(project, "rollback", "staging", "--tag", "previous")
    assert back.code == 0, back.stdout[-3000:] + back.stderr
    assert page(server, "staging") == "MyPacer web v1.2.3-prod (staging)\n"


def test_sites_nginx_refuses_are_put_back_and_the_previous_config_still_serves(server, project):
    before = site_files(server)
    current = server.exec("readlink /opt/mypacer/current").stdout

    clash = run(project, "deploy", "production", "--set", "host_nginx_default_server=true")
    assert clash.code == 1
    assert "[emerg] a duplicate default server for 0.0.0.0:80" in clash.stdout
    assert "the previous /etc/nginx/sites-available/mypacer-production and its link are back" in clash.stdout
    assert site_files(server) == before
    assert page(server, "production") == "MyPacer web v1.2.3-prod (production)\n"
    assert server.exec("readlink /opt/mypacer/current").stdout == current   # the app was not touched

    (project / "nginx").mkdir()
    (project / "nginx" / "site.conf.j2").write_text(
        "server {\n    listen 80;\n    server_name {{ domain }};\n    proxy_buffering offf;\n}\n")
    broken = run(project, "deploy", "staging", "--set", "host_nginx_template=nginx/site.conf.j2")
    assert broken.code == 1
    assert ('[emerg] invalid value "offf" in "proxy_buffering" directive, it must be "on" or "off" in '
            '/etc/nginx/sites-enabled/mypacer-staging:4') in broken.stdout
    assert site_files(server) == before
    assert page(server, "staging") == "MyPacer web v1.2.3-prod (staging)\n"
    assert server.exec("nginx -t").returncode == 0
