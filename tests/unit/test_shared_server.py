"""Two environments on one server (same SSH address and port) each need their own app_dir,
compose project and, behind a proxy that routes by name, domain: a staging given production's
domain passed check, deployed, and its health gate was answered by production's site."""

from __future__ import annotations

import pytest
from inputkit import run, write_project

HOSTS = """\
project: shop
known_hosts: known_hosts
environments:
  staging:
    vars: {{app_dir: {staging_dir}, compose_project: {staging_project}, domain: {staging_domain}, proxy: {proxy}}}
    hosts:
      stage: {{address: 203.0.113.10, port: 22}}
  production:
    vars: {{app_dir: /opt/shop, compose_project: shop, domain: shop.example.com, proxy: {proxy}}}
    hosts:
      prod: {{address: {prod_address}, port: 22}}
"""
OWN = {"staging_dir": "/opt/shop-staging", "staging_project": "shop-staging", "staging_domain": "stage.example.com",
       "proxy": "host_nginx", "prod_address": "203.0.113.10"}


def check(tmp_path, **changes: str):
    hosts = HOSTS.format(**{**OWN, **changes})
    root = write_project(tmp_path, {"inventory/hosts.yml": hosts, "compose.yml": "services: {web: {image: w}}\n",
                                    "inventory/group_vars/all.yml": "host_nginx_server_name: '{{ domain }}'\n"
                                                                    "host_nginx_locations: [{path: /, port: 8080}]\n"})
    return run("check --host", root, host="stage")


def test_environments_with_their_own_settings_share_a_server(tmp_path):
    outcome = check(tmp_path)
    assert outcome.code == 0, outcome.stdout + outcome.stderr


@pytest.mark.parametrize(("key", "value", "why"), [
    ("staging_domain", "shop.example.com", "the same domain 'shop.example.com': the proxy would send one "
                                           "environment's requests (and its health gate) to the other's app"),
    ("staging_dir", "/opt/shop", "the same app_dir '/opt/shop': one deploy would replace the other's releases"),
    ("staging_project", "shop", "the same compose_project 'shop': one deploy would replace the other's containers"),
])
def test_a_shared_setting_is_refused_at_its_line(tmp_path, key, value, why):
    outcome = check(tmp_path, **{key: value})
    assert outcome.code == 2
    assert ("inventory/hosts.yml:5: host 'stage' and host 'prod' are on one server (203.0.113.10:22) with "
            f"{why}; give each environment its own") in outcome.stderr, outcome.stderr


@pytest.mark.parametrize("change", [{"proxy": "none"}, {"prod_address": "203.0.113.11"}])
def test_one_domain_is_fine_without_a_routing_proxy_or_on_two_servers(tmp_path, change):
    outcome = check(tmp_path, staging_domain="shop.example.com", **change)
    assert outcome.code == 0, outcome.stderr
