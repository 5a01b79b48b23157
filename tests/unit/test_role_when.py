"""A role with a condition in a play's roles list (``{role: NAME, when: EXPR}``): loaded with its
location, checked for syntax, and skipped as a whole on the hosts where it is false."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from moorage.errors import InputError
from moorage.executor.host_play import HostPlay
from moorage.executor.options import RunOptions
from moorage.inventory import load_inventory
from moorage.operations import REGISTRY, Operation
from moorage.playbook import load_playbook
from moorage.report import Report


class Noted(Operation):
    """An operation that plans nothing (so needs no connection) and notes that it ran."""

    name = "noted"
    args_schema: ClassVar = {"type": "object", "properties": {"what": {"type": "string"}}}
    ran: ClassVar[list[str]] = []

    def plan(self, facts):
        Noted.ran.append(self.args["what"])
        return None


class Events:
    def __init__(self):
        self.seen = []

    def render(self, event):
        self.seen.append(event)

    def close(self):
        pass


@pytest.fixture(autouse=True)
def registry():
    saved = dict(REGISTRY)
    REGISTRY["noted"] = Noted
    Noted.ran.clear()
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


PLAYBOOK = """\
- name: Proxy then app
  hosts: all
  vars: {proxy: none}
  roles:
    - {role: proxy_role, when: "proxy == 'traefik'"}
    - app_role
"""

FILES = {
    "roles/proxy_role/tasks.yml": "- noted: {what: proxy}\n",
    "roles/app_role/tasks.yml": "- noted: {what: app}\n",
    "inventory/hosts.yml": ("project: demo\nenvironments:\n  lan:\n    connection: local\n"
                            "    hosts: {box: {vars: {proxy: traefik}}, pc: {}}\n"),
}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def run(tmp_path: Path, host: str, playbook: str = PLAYBOOK):
    write(tmp_path, {**FILES, "playbooks/deploy.yml": playbook})
    play = load_playbook(tmp_path / "playbooks/deploy.yml").plays[0]
    events = Events()
    ok = HostPlay(play, load_inventory(tmp_path / "inventory").hosts[host], None, RunOptions(),
                  Report(events)).run()
    return ok, [(e.task, e.status, e.summary or e.message) for e in events.seen]


def test_the_condition_is_loaded_with_its_line(tmp_path):
    write(tmp_path, {**FILES, "playbooks/deploy.yml": PLAYBOOK})
    (play,) = load_playbook(tmp_path / "playbooks/deploy.yml").plays
    assert [r.name for r in play.roles] == ["proxy_role", "app_role"]
    when, location = play.role_when["proxy_role"]
    assert (when, location.line) == ("proxy == 'traefik'", 5)
    assert "app_role" not in play.role_when


def test_a_role_whose_condition_holds_runs(tmp_path):
    ok, events = run(tmp_path, "box")
    assert ok and Noted.ran == ["proxy", "app"]
    assert [status for _, status, _ in events] == ["ok", "ok"]


def test_a_role_whose_condition_is_false_is_one_skipped_line(tmp_path):
    ok, events = run(tmp_path, "pc")
    assert ok and Noted.ran == ["app"]
    assert events[0] == ("role proxy_role", "skipped", "condition is false: proxy == 'traefik'")


def test_an_undefined_variable_in_the_condition_fails_the_host(tmp_path):
    ok, events = run(tmp_path, "pc", PLAYBOOK.replace("proxy == 'traefik'", "proxi == 'traefik'"))
    assert not ok and Noted.ran == []
    task, status, message = events[0]
    assert (task, status) == ("role conditions", "failed")
    assert "proxi" in message and "deploy.yml:5" in message


@pytest.mark.parametrize(("entry", "expected"), [
    ("{role: proxy_role, when: \"proxy ==\"}", "[0].roles[0].when: Jinja2 syntax error"),
    ("{role: proxy_role}", "[0].roles[0]: missing required key 'when'"),
    ("{role: proxy_role, when: x, tags: y}", "[0].roles[0].tags: unknown key 'tags'; expected one of: role, when"),
])
def test_a_bad_role_entry_is_named_at_its_line(tmp_path, monkeypatch, entry, expected):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {**FILES, "playbooks/deploy.yml": f"- hosts: all\n  roles:\n    - {entry}\n"})
    with pytest.raises(InputError) as caught:
        load_playbook(tmp_path / "playbooks/deploy.yml")
    assert f"playbooks/deploy.yml:3: {expected}" in str(caught.value)
