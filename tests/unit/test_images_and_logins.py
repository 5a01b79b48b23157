"""Images per source and registry logins, as a user meets them: the role variables checked with a
"did you mean", an image listed twice handled once, and the login script itself run by ``sh``
against a stand-in ``docker`` that records its arguments (the token must never be one of them)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeConnection
from test_role_variables import line_of, project, role_problems

from moorage.operations import REGISTRY, image
from moorage.operations.base import Change, Facts, OpContext, Shell
from moorage.operations.image import image_refs, image_sources
from moorage.recipes.check import run_check

TOKEN = "t0k en'$(touch /tmp/x)"

# Stands in for `docker login REG -u USER --password-stdin`: records its argv, writes config.json
# the way docker does (tabs, one key a line) from the password it reads on stdin.
FAKE_DOCKER = r"""#!/bin/sh
printf '%s\n' "$*" >> "$HOME/argv.log"
[ "$1" = login ] || exit 0
tok=$(cat); [ "$tok" = "$WANT_TOKEN" ] || { echo "unauthorized: incorrect username or password" >&2; exit 1; }
auth=$(printf '%s:%s' "$4" "$tok" | base64 -w0)
mkdir -p "$HOME/.docker"
{ printf '{\n\t"auths": {\n\t\t"other.example": {\n\t\t\t"auth": "eDp5"\n\t\t},\n'
  printf '\t\t"%s": {\n\t\t\t"auth": "%s"\n\t\t}\n\t}\n}\n' "$2" "$auth"; } > "$HOME/.docker/config.json"
echo "Login Succeeded"
"""


@pytest.mark.parametrize(("setting", "message"), [
    ("app_images: [{ref: 'shop:1', sorce: ship}]",
     "variable app_images[0].sorce: unknown key 'sorce' (did you mean 'source'?)"),
    ("app_images: [{ref: 'shop:1', source: shp}]", "variable app_images[0].source: 'source' is 'shp'; "
                                                   "allowed values: pull, build, ship"),
    ("registry_login: {registry: ghcr.io, username: bot, password: x, pasword: y}",
     "variable registry_login.pasword: unknown key 'pasword' (did you mean 'password'?)"),
    ("traefik_image_source: shipped\nproxy: traefik",
     "variable 'traefik_image_source' is 'shipped'; allowed values: , pull, ship"),
])
def test_a_wrong_image_or_login_setting_is_named_with_a_suggestion(tmp_path, monkeypatch, setting, message):
    report = run_check(project(tmp_path, monkeypatch, setting), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", setting.split(":")[0] + ":")
    problems = role_problems(report)
    assert problems and all(p.startswith(f"inventory/hosts.yml:{line}: {message}") for p in problems), problems


def test_an_image_shared_by_services_is_listed_once_and_sources_mix():
    images = ["web:1", {"ref": "proxy:3", "source": "pull"}, "web:1", {"ref": "web:1"}]
    assert image_refs(images) == ["web:1", "proxy:3"]
    assert image_sources(images, "ship") == {"web:1": "ship", "proxy:3": "pull"}
    release = REGISTRY["release"]({"app_dir": "/srv/a", "id": "r1", "images": images}, OpContext("h", {}))
    change = release.plan(Facts())
    assert change is not None and "for i in web:1 proxy:3; do" in change.required_check().script


@pytest.fixture
def host(tmp_path: Path) -> dict[str, str]:
    """A HOME and a PATH whose docker is the stand-in."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/docker").write_text(FAKE_DOCKER)
    (tmp_path / "bin/docker").chmod(0o755)
    return {"HOME": str(tmp_path), "PATH": f"{tmp_path}/bin:{os.environ['PATH']}", "WANT_TOKEN": TOKEN}


def _login(token: str = TOKEN, registry: str = "127.0.0.1:5000") -> Change:
    op = REGISTRY["registry_login"]({"registry": registry, "username": "bot", "password": token},
                                    OpContext("h", {}))
    op.validate()
    change = op.plan(Facts())
    assert change is not None
    return change


def _run(script: str, stdin: bytes | None, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], input=(stdin or b"").decode(), capture_output=True, text=True,
                          env=env, check=False)


def test_login_then_an_unchanged_login_does_nothing_and_a_new_token_logs_in_again(host):
    change = _login()
    check, act = change.required_check(), change.shell()
    assert isinstance(act, Shell) and TOKEN not in act.script and TOKEN not in check.script
    assert _run(check.script, check.stdin, host).returncode == 1              # check mode: would log in
    first = _run(act.script, act.stdin, host)
    assert (first.returncode, first.stdout) == (0, "@@did logged in to 127.0.0.1:5000 as bot\n")
    config = json.loads(Path(host["HOME"], ".docker/config.json").read_text())
    assert base64.b64decode(config["auths"]["127.0.0.1:5000"]["auth"]).decode() == f"bot:{TOKEN}"
    assert _run(check.script, check.stdin, host).returncode == 0              # check mode: nothing to do
    again = _run(act.script, act.stdin, host)
    assert (again.returncode, again.stdout) == (0, "")                        # rerun: changed=0
    host["WANT_TOKEN"] = "rotated"
    new = _login("rotated")
    rotated = _run(new.shell().script, new.shell().stdin, host)  # type: ignore[union-attr]
    assert rotated.stdout == "@@did logged in to 127.0.0.1:5000 as bot\n"
    argv = Path(host["HOME"], "argv.log").read_text()
    assert argv.count("login 127.0.0.1:5000 -u bot --password-stdin") == 2 and TOKEN not in argv
    assert "rotated" not in argv


def test_a_refused_login_fails_with_dockers_reason_and_no_token(host):
    change = _login("wrong-token")
    act = change.shell()
    assert act is not None
    result = _run(act.script, act.stdin, host)
    assert result.returncode == 1
    assert "unauthorized" in result.stderr and "docker login to 127.0.0.1:5000 as bot failed" in result.stderr
    assert "wrong-token" not in result.stderr + result.stdout


def test_login_arguments_are_one_login_or_a_list():
    with pytest.raises(ValueError, match="missing password"):
        REGISTRY["registry_login"]({"registry": "r", "username": "u"}, OpContext("h", {})).validate()
    with pytest.raises(ValueError, match="either logins or registry"):
        REGISTRY["registry_login"]({"registry": "r", "logins": []}, OpContext("h", {})).validate()


def _mixed(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Change]:
    """An image task shipping web:1 (sha256:aaa here) and pulling proxy:3."""
    monkeypatch.setattr(image, "local_image_ids", lambda refs: {ref: "sha256:aaa" for ref in refs})
    op = REGISTRY["image"]({"images": [{"ref": "web:1", "source": "ship"}, "proxy:3"], "source": "pull"},
                           OpContext("h", {}))
    change = op.plan(Facts())
    assert change is not None
    return op, change


def test_mixed_sources_still_pull_when_the_shipped_image_is_there_and_nothing_changed(monkeypatch):
    op, change = _mixed(monkeypatch)
    host = (FakeConnection().answer("^d=0", 0, "web:1 sha256:aaa\nproxy:3 sha256:ppp\n")
            .answer("^printf", 0, "web:1 sha256:aaa\nproxy:3 sha256:ppp\n"))
    result = op.apply(change, host)
    assert not result.changed and result.data["updated"] == []
    assert [c.command for c in host.calls][1] == "docker pull --quiet proxy:3"   # pulled, nothing shipped


def test_mixed_sources_in_check_mode_say_the_pull_would_run(monkeypatch):
    op, change = _mixed(monkeypatch)
    host = FakeConnection().answer("^d=0", 0, "web:1 sha256:aaa\nproxy:3 sha256:ppp\n")
    assert op.apply(change.read_only(), host).changed
    assert len(host.calls) == 1
