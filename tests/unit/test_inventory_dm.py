"""The shipped DM inventory describes seed 000 as it is, and keeps secrets out of the repo."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from moorage import secrets
from moorage.errors import InputError
from moorage.inventory import load_inventory

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dm():
    return load_inventory(REPO / "inventory")


@pytest.fixture
def vps_vars(dm, monkeypatch):
    monkeypatch.setenv("DM_LETSENCRYPT_EMAIL", "ops@devamalix.example")
    return dm.hosts["vps"].variables()


def test_three_environments(dm):
    assert dm.project == "dm"
    assert {name: env.connection for name, env in dm.environments.items()} == {
        "pc": "local", "nexus": "ssh", "vps": "ssh"}
    assert [h.name for h in dm.select("all")] == ["pc", "nexus", "vps"]
    assert [h.name for h in dm.hosts.values() if h.production] == ["vps"]
    assert dm.hosts["nexus"].target.address == "192.0.2.10"
    assert dm.hosts["vps"].target.address == "pyxalix.devamalix.fr"
    assert dm.hosts["vps"].target.known_hosts == (str(REPO / "inventory/known_hosts"),)


@pytest.mark.parametrize(("host", "expected"), [
    ("pc", {"compose_file": "docker-compose.dev.yml", "django_debug": "1", "media_served_by": "django",
            "http_port": 8000, "db_port_exposed": False}),
    ("nexus", {"compose_file": "docker-compose.nexus.yml", "django_debug": "0", "domain": "dm.nexus.local",
               "tls": "none", "media_served_by": "nginx-static", "db_port_exposed": True,
               "app_dir": "/home/deploy/nexus/dev-web/dm", "traefik_entrypoint": "web"}),
    ("vps", {"compose_file": "docker-compose.yml", "django_debug": "0", "domain": "pyxalix.devamalix.fr",
             "tls": "letsencrypt", "media_served_by": "nginx-static", "db_port_exposed": False,
             "django_allowed_hosts": "127.0.0.1,localhost,pyxalix.devamalix.fr",
             "django_csrf_trusted_origins": "https://pyxalix.devamalix.fr",
             "traefik_entrypoint": "websecure"}),
])
def test_environment_settings(dm, monkeypatch, host, expected):
    monkeypatch.setenv("DM_LETSENCRYPT_EMAIL", "ops@devamalix.example")
    variables = dm.hosts[host].variables()
    assert {key: variables[key] for key in expected} == expected


def test_database_and_django_settings(vps_vars):
    assert {k: vps_vars[k] for k in ("db_name", "db_user", "db_host", "db_port")} == {
        "db_name": "dm_db", "db_user": "dm_user", "db_host": "db", "db_port": 5432}
    assert vps_vars["django_secret_key"] == {"generate": 50}
    assert vps_vars["db_password"] == {"generate": 32}


def test_letsencrypt_email_is_a_secret_of_vps_only(dm, monkeypatch):
    monkeypatch.delenv("DM_LETSENCRYPT_EMAIL", raising=False)
    assert "letsencrypt_email" not in dm.hosts["nexus"].variables()
    with pytest.raises(InputError, match=r"inventory/hosts.yml:\d+: secret 'env:DM_LETSENCRYPT_EMAIL' for "
                                         r"variable 'letsencrypt_email' is not set"):
        dm.hosts["vps"].variables()


def test_vps_email_is_masked(dm, monkeypatch):
    monkeypatch.setenv("DM_LETSENCRYPT_EMAIL", "ops@devamalix.example")
    rows = {r.name: r.value for r in dm.hosts["vps"].explain()}
    assert rows["letsencrypt_email"] == "********"
    assert secrets.mask("contact ops@devamalix.example") == "contact ********"


def test_media_files_are_the_three_products_and_exist(vps_vars):
    media = vps_vars["media_files"]
    assert [(m["path"], m["product"], m["slug"], m["price"]) for m in media] == [
        ("products/forest_path.png", "Pack Nature", "pack-nature", "9.99"),
        ("products/ocean_waves.png", "Pack Abstract", "pack-abstract", "14.99"),
        ("products/montain_sunset.png", "Pack Minimal", "pack-minimal", "19.99"),
    ]
    for item in media:
        data = (REPO / vps_vars["media_src"] / item["path"]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert width > 0 and height > 0 and len(data) < 1024


def test_no_secret_values_in_the_repository():
    text = "".join(p.read_text() for p in (REPO / "inventory").rglob("*.yml"))
    for word in ("password:", "secret_key:"):
        for line in text.splitlines():
            if word in line and not line.lstrip().startswith("#"):
                assert "{generate:" in line or "{secret:" in line, line
