"""Role host_nginx: the site its built-in template writes (plain HTTP; TLS with certbot's paths and
the redirect), and `check --host` refusing a location that isn't one, at its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_role_variables import line_of, project, role_problems

from moorage import builtin
from moorage.recipes.check import run_check
from moorage.templating import render_file

ROLE = Path(builtin.ROLES) / "host_nginx"


def site(**values: object) -> str:
    variables = {**yaml.safe_load((ROLE / "defaults.yml").read_text()), "project": "shop",
                 "environment_name": "production", "host_nginx_site": "shop-production",
                 "host_nginx_server_name": "shop.example.org",
                 "host_nginx_locations": [{"path": "/", "port": 8080}, {"path": "/api/", "port": "8000"}], **values}
    return render_file(ROLE / "templates" / "site.conf.j2", variables)


def test_plain_http_sends_each_path_to_its_loopback_port():
    text = site()
    assert "    listen 80;\n    server_name shop.example.org;\n" in text
    assert "    location / {\n        proxy_pass http://127.0.0.1:8080;\n" in text
    assert "    location /api/ {\n        proxy_pass http://127.0.0.1:8000;\n" in text
    assert "ssl" not in text and "default_server" not in text
    assert text.count("{") == text.count("}") == 3


def test_tls_listens_with_the_certificates_and_redirects_http():
    text = site(host_nginx_ssl_certificate="/etc/letsencrypt/live/shop.example.org/fullchain.pem",
                host_nginx_ssl_certificate_key="/etc/letsencrypt/live/shop.example.org/privkey.pem",
                host_nginx_default_server=True)
    first, second = text.split("\n}\n")[:2]
    assert "listen 80 default_server;" in first and "return 301 https://$host$request_uri;" in first
    assert "listen 443 ssl default_server;" in second
    assert "ssl_certificate /etc/letsencrypt/live/shop.example.org/fullchain.pem;" in second
    assert "proxy_pass http://127.0.0.1:8080;" in second and "proxy_pass" not in first


def test_tls_without_the_redirect_is_one_server_on_both_ports():
    text = site(host_nginx_ssl_certificate="/c.pem", host_nginx_ssl_certificate_key="/k.pem",
                host_nginx_https_redirect=False)
    assert text.count("server {") == 1 and "listen 80;" in text and "listen 443 ssl;" in text


def test_a_location_naming_a_service_proxies_to_its_upstream_once_per_service_and_port():
    text = site(host_nginx_locations=[{"path": "/", "service": "web", "port": 8000}, {"path": "/s/", "port": 8080},
                                      {"path": "/v2/", "service": "web", "port": 8000, "uri": "/"}])
    assert text.count("upstream moorage-shop-production-web-8000 {\n    server 127.0.0.1:9 down;\n"
                      "    include /etc/nginx/moorage-upstreams/shop-production.web.8000.con[f];\n}\n") == 1
    assert "    location / {\n        proxy_pass http://moorage-shop-production-web-8000;\n" in text
    assert "    location /v2/ {\n        proxy_pass http://moorage-shop-production-web-8000/;\n" in text
    assert "    location /s/ {\n        proxy_pass http://127.0.0.1:8080;\n" in text


@pytest.mark.parametrize(("setting", "expected"), [
    ("host_nginx_locations: [{path: /, port: '80; return 200'}]",
     "variable host_nginx_locations[0].port: "),
    ("host_nginx_locations: [{port: 8080}]", "variable host_nginx_locations[0]: missing required key 'path'"),
    ("host_nginx_server_name: 'a.org; evil'", "variable 'host_nginx_server_name' is 'a.org; evil', which is not valid"),
])
def test_check_refuses_a_value_that_would_break_the_site_at_its_line(tmp_path, monkeypatch, setting, expected):
    proj = project(tmp_path, monkeypatch, f"proxy: host_nginx\n{setting}")
    report = run_check(proj, "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", setting.split(":")[0] + ":")
    assert [p for p in role_problems(report) if p.startswith(f"inventory/hosts.yml:{line}: {expected}")], \
        role_problems(report)
