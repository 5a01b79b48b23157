"""Secrets: resolved from the environment or a file, masked everywhere, missing ones named."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from moorage import secrets
from moorage.errors import InputError
from moorage.inventory import load_inventory

HOSTS = """\
project: dm
environments:
  vps:
    vars:
      db_password: {secret: "env:DM_TEST_DB_PASSWORD"}
      token: {secret: "file:secrets/token"}
      django_secret_key: {generate: 50}
      nested: {url: "postgres://dm", password: {secret: "env:DM_TEST_DB_PASSWORD"}}
    hosts:
      vps: {}
  pc:
    hosts:
      pc: {}
"""


@pytest.fixture(autouse=True)
def clean_masker():
    secrets.forget_secrets()
    yield
    secrets.forget_secrets()


@pytest.fixture
def inv(tmp_path: Path):
    (tmp_path / "hosts.yml").write_text(HOSTS)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets/token").write_text("tok-123456\n")
    return load_inventory(tmp_path)


def test_env_and_file_secrets_resolve(inv, monkeypatch):
    monkeypatch.setenv("DM_TEST_DB_PASSWORD", "s3cret-pw")
    variables = inv.hosts["vps"].variables()
    assert variables["db_password"] == "s3cret-pw"
    assert variables["token"] == "tok-123456"          # trailing newline stripped
    assert variables["nested"] == {"url": "postgres://dm", "password": "s3cret-pw"}
    assert variables["django_secret_key"] == {"generate": 50}   # passed through for env_file


def test_resolved_secrets_are_masked(inv, monkeypatch):
    monkeypatch.setenv("DM_TEST_DB_PASSWORD", "s3cret-pw")
    inv.hosts["vps"].variables()
    assert secrets.mask("s3cret-pw") == secrets.MASK
    assert secrets.mask("postgres://dm") == "postgres://dm"
    assert secrets.mask("DB_PASSWORD=s3cret-pw TOKEN=tok-123456") == "DB_PASSWORD=******** TOKEN=********"


def test_explain_masks_and_describes(inv, monkeypatch, tmp_path):
    monkeypatch.setenv("DM_TEST_DB_PASSWORD", "s3cret-pw")
    rows = {r.name: r for r in inv.hosts["vps"].explain()}
    assert rows["db_password"] == ("db_password", "********", "3 environment", f"{tmp_path}/hosts.yml:5")
    assert rows["token"].value == "********"
    assert rows["nested"].value == '{"url": "postgres://dm", "password": "********"}'
    assert rows["django_secret_key"].value == "<generated on server, 50 chars>"
    assert "s3cret-pw" not in repr(rows) and "tok-123456" not in repr(rows)


def test_missing_env_secret_names_file_line_and_variable(inv, monkeypatch, tmp_path):
    monkeypatch.delenv("DM_TEST_DB_PASSWORD", raising=False)
    with pytest.raises(InputError) as caught:
        inv.hosts["vps"].variables()
    assert str(caught.value) == (f"{tmp_path}/hosts.yml:5: secret 'env:DM_TEST_DB_PASSWORD' for variable "
                                 "'db_password' is not set (export DM_TEST_DB_PASSWORD=...)")
    assert caught.value.exit_code == 2


def test_missing_file_secret_says_where_to_write_it(inv, monkeypatch, tmp_path):
    monkeypatch.setenv("DM_TEST_DB_PASSWORD", "x" * 12)
    (tmp_path / "secrets/token").unlink()
    with pytest.raises(InputError) as caught:
        inv.hosts["vps"].explain()
    assert str(caught.value) == (f"{tmp_path}/hosts.yml:6: secret 'file:secrets/token' for variable 'token' "
                                 f"is not set (write it to {tmp_path}/secrets/token)")


def test_unrelated_hosts_do_not_need_the_secret(inv, monkeypatch):
    monkeypatch.delenv("DM_TEST_DB_PASSWORD", raising=False)
    assert inv.hosts["pc"].variables()["inventory_hostname"] == "pc"
    assert inv.select("pc")   # loading and selecting never reads secrets


def test_an_overridden_secret_is_not_needed(tmp_path, monkeypatch):
    monkeypatch.delenv("DM_TEST_DB_PASSWORD", raising=False)
    (tmp_path / "hosts.yml").write_text(HOSTS.replace("      vps: {}", "      vps: {vars: {db_password: x, "
                                                      "nested: 1, token: y}}"))
    assert load_inventory(tmp_path).hosts["vps"].variables()["db_password"] == "x"


def test_empty_env_var_counts_as_not_set(inv, monkeypatch):
    monkeypatch.setenv("DM_TEST_DB_PASSWORD", "")
    with pytest.raises(InputError, match="is not set"):
        inv.hosts["vps"].variables()


def test_masker_prefers_the_longest_secret_and_ignores_empty():
    secrets.register_secret("abc")
    secrets.register_secret("abcdef")
    secrets.register_secret("")
    assert secrets.mask("x abcdef y abc") == "x ******** y ********"
    assert secrets.mask("nothing here") == "nothing here"


def test_masker_is_thread_safe():
    def register(n: int) -> None:
        for i in range(200):
            secrets.register_secret(f"secret-{n}-{i:03d}")

    threads = [threading.Thread(target=register, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(secrets.mask(f"secret-{n}-199") == "********" for n in range(8))
    assert secrets.mask("secret-7-042") == "********"
