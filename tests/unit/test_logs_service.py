"""``logs --service``: a service the current release doesn't define is refused with the list of
those it does (``docker compose logs nosuch`` prints nothing and exits 0)."""

from __future__ import annotations

import pytest
from fakes import FakeConnection
from inputkit import write_project

from moorage.errors import InputError
from moorage.project import locate
from moorage.recipes import day2
from moorage.recipes.play import Request


@pytest.fixture
def host(tmp_path, monkeypatch):
    """web1 of a small project, whose connection is a fake host running web and db."""
    conn = FakeConnection("web1").answer(r"config --services", stdout="web\ndb\n").answer(r" logs ", stdout="up\n")
    monkeypatch.setattr(day2, "connect", lambda target: conn)
    return Request(locate(str(write_project(tmp_path))), "web1"), conn


@pytest.mark.parametrize(("service", "message"), [
    ("nosuch", "web1: no compose service 'nosuch' in the current release; its services: db, web"),
    ("wbe", "web1: no compose service 'wbe' in the current release (did you mean 'web'?); its services: db, web"),
])
def test_an_unknown_service_is_refused_naming_the_services(host, capsys, service, message):
    request, conn = host
    with pytest.raises(InputError) as refused:
        day2.logs(request, service=service)
    assert str(refused.value) == message
    assert not any(" logs " in call.command for call in conn.calls)  # refused before asking for logs
    assert capsys.readouterr().out == ""


def test_a_known_service_shows_its_logs(host, capsys):
    request, conn = host
    assert day2.logs(request, service="db", tail=5) == 0
    assert capsys.readouterr().out == "up\n"
    assert conn.calls[-1].command.endswith("logs --no-color --tail 5 db")
