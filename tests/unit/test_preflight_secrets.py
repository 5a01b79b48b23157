"""The production preflight never shows a value that came from a secret, and masking holds when
a message escapes the secret (a repr, JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moorage import secrets
from moorage.recipes.preflight import failures

DOMAIN = "shop.example.org"


@pytest.fixture(autouse=True)
def clean():
    secrets.forget_secrets()
    yield
    secrets.forget_secrets()


def from_env(monkeypatch, value: str) -> str:
    """A secret read as `{secret: "env:T_SECRET"}` is: resolved and registered with the masker."""
    monkeypatch.setenv("T_SECRET", value)
    resolved, _ = secrets.resolve_secret("env:T_SECRET", Path("."))
    assert resolved == value
    return value


def variables(**env) -> dict:
    return {"domain": DOMAIN, "app_env": env, "preflight": {
        "debug_off": {"env": "DEBUG"}, "allowed_hosts": {"env": "HOSTS"}, "csrf_https": {"env": "ORIGINS"},
        "secret_strong": False, "tls_on": False, "db_port_closed": False, "env_untracked": False}}


def test_secret_allowed_hosts_and_origins_are_not_shown(monkeypatch, tmp_path):
    secret = from_env(monkeypatch, "alpha beta,gamma-9Zq")
    found = failures(variables(DEBUG="0", HOSTS=secret, ORIGINS=secret), tmp_path)
    assert found == [f"allowed_hosts: .env key HOSTS must include the domain '{DOMAIN}' (is (a secret))",
                     f"csrf_https: .env key ORIGINS must include https://{DOMAIN} (is (a secret))"]
    text = "\n".join(found)
    assert not any(word in text for word in ("alpha", "beta", "gamma")), "no word of the secret"


def test_a_secret_ending_in_backslash_shows_nothing_of_it(monkeypatch, tmp_path):
    secret = from_env(monkeypatch, "on\\")
    found = failures(variables(DEBUG=secret, HOSTS=DOMAIN, ORIGINS=f"https://{DOMAIN}"), tmp_path)
    assert found == ["debug_off: debug must be off in production (.env key DEBUG is (a secret))"]


@pytest.mark.parametrize("secret", ["s3cr3t\\", "two\nlines", "quo'te\"s", "tab\there", "ünï\\cødé"])
def test_masking_covers_the_escaped_forms(secret):
    secrets.register_secret(secret)
    for text in (repr(secret), json.dumps(secret), f"value={secret!r}!", str([secret])):
        masked = secrets.mask(text)
        assert secrets.MASK in masked and masked.replace(secrets.MASK, "").strip("'\"[]=!value") == "", masked


def test_plain_values_are_still_shown(tmp_path):
    found = failures(variables(DEBUG="1", HOSTS="localhost", ORIGINS="http://x"), tmp_path)
    assert found[0] == "debug_off: debug must be off in production (.env key DEBUG is '1')"
    assert found[1] == f"allowed_hosts: .env key HOSTS must include the domain '{DOMAIN}' (is ['localhost'])"
