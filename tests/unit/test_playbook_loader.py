"""Playbook and role loading: tasks become Task objects; every mistake is named at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.errors import InputError
from moorage.operations import REGISTRY, Operation
from moorage.playbook import load_playbook, load_role


class FakeDir(Operation):
    """Test double for ``dir``."""

    name = "dir"
    args_schema = {"type": "object", "required": ["path"], "additionalProperties": False,
                   "properties": {"path": {"type": "string"}, "mode": {"type": "string"}}}


class FakeTemplate(Operation):
    """Test double for ``template`` (no additionalProperties: the loader closes it)."""

    name = "template"
    args_schema = {"type": "object", "required": ["src", "dest"],
                   "properties": {"src": {"type": "string"}, "dest": {"type": "string"}}}


class FakeCommand(Operation):
    """Test double for ``command``."""

    name = "command"
    args_schema = {"type": "object", "required": ["cmd"], "additionalProperties": False,
                   "properties": {"cmd": {"type": "string"}, "timeout": {"type": "integer"}}}


@pytest.fixture(autouse=True)
def fake_registry():
    saved = dict(REGISTRY)
    REGISTRY.clear()
    REGISTRY.update({op.name: op for op in (FakeDir, FakeTemplate, FakeCommand)})
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


ROLE = {
    "roles/compose_app/tasks.yml": (
        "- name: compose file\n"
        "  template: {src: compose.yml.j2, dest: \"{{ app_dir }}/compose.yml\"}\n"
        "  notify: restart app\n"
    ),
    "roles/compose_app/handlers.yml": "- name: restart app\n  command: {cmd: docker compose restart}\n",
    "roles/compose_app/defaults.yml": "app_port: 8000\n",
    "roles/compose_app/templates/compose.yml.j2": "services: {web: {ports: ['{{ app_port }}']}}\n",
}

PLAYBOOK = """\
- name: Deploy DM
  hosts: vps, nexus
  serial: 1
  max_fail_percentage: 0
  become: true
  vars: {app_dir: /srv/dm}
  roles: [compose_app]
  tasks:
    - dir: {path: "{{ app_dir }}", mode: "0755"}
      tags: setup
    - name: migrate
      command: {cmd: "docker compose exec web python manage.py migrate"}
      when: environment_name != 'pc'
      notify: [restart app]
      register: migrated
      become: false
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def load(tmp_path: Path, playbook: str, extra: dict[str, str] | None = None):
    write(tmp_path, {**ROLE, "playbooks/deploy.yml": playbook, **(extra or {})})
    return load_playbook(tmp_path / "playbooks/deploy.yml")


def test_plays_roles_and_tasks(tmp_path):
    playbook = load(tmp_path, PLAYBOOK)
    (play,) = playbook.plays
    assert (play.name, play.hosts, play.serial, play.max_fail_percentage, play.become) == (
        "Deploy DM", ["vps", "nexus"], 1, 0, True)
    assert play.vars == {"app_dir": "/srv/dm"}
    assert play.playbook_dir == tmp_path / "playbooks"
    assert str(play.location).endswith("playbooks/deploy.yml:1")
    (role,) = play.roles
    assert (role.name, role.path, role.defaults) == ("compose_app", tmp_path / "roles/compose_app",
                                                     {"app_port": 8000})
    assert [(t.name, t.op, t.role) for t in role.tasks] == [("compose file", "template", role)]
    assert [h.name for h in play.all_handlers()] == ["restart app"]
    setup, migrate = play.tasks
    assert (setup.name, setup.op, setup.args, setup.tags, setup.location.line) == (
        "dir {{ app_dir }}", "dir", {"path": "{{ app_dir }}", "mode": "0755"}, ["setup"], 9)
    assert (migrate.when, migrate.notify, migrate.register, migrate.become, migrate.role) == (
        "environment_name != 'pc'", ["restart app"], "migrated", False, None)
    assert play.defaults() == {"app_port": 8000, "app_dir": "/srv/dm"}


def errors(tmp_path: Path, playbook: str, extra: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load(tmp_path, playbook, extra)
    assert caught.value.exit_code == 2
    return [line.replace(f"{tmp_path}/", "") for line in str(caught.value).splitlines()]


def play_with(tasks: str, head: str = "") -> str:
    handlers = "  handlers:\n    - name: restart app\n      command: {cmd: x}\n"
    return f"- hosts: all\n{head}  tasks:\n{tasks}{handlers}"


CASES = [
    ("unknown op", play_with("    - tempalte: {src: a, dest: b}\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].tempalte: unknown operation 'tempalte' "
      "(did you mean 'template'?)"]),
    ("no close op", play_with("    - frobnicate: {}\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].frobnicate: unknown operation 'frobnicate'; known operations: "
      "command, dir, template"]),
    ("misspelled control key", play_with("    - dir: {path: /a}\n      notfy: restart app\n"),
     ["playbooks/deploy.yml:4: [0].tasks[0].notfy: unknown operation 'notfy' (did you mean 'notify'?)"]),
    ("two ops", play_with("    - dir: {path: /a}\n      command: {cmd: ls}\n"),
     ["playbooks/deploy.yml:4: [0].tasks[0]: a task runs exactly one operation, this one has 2 ('dir', "
      "'command'); split it into separate tasks"]),
    ("no op", play_with("    - name: nothing\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0]: a task needs exactly one operation; known operations: command, "
      "dir, template"]),
    ("misspelled arg", play_with("    - dir:\n        path: /a\n        mdoe: '0755'\n"),
     ["playbooks/deploy.yml:5: [0].tasks[0].dir.mdoe: unknown argument 'mdoe' of 'dir' "
      "(did you mean 'mode'?)"]),
    ("arg of an open schema", play_with("    - template: {src: '{{ s }}', dest: y, dset: z}\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].template.dset: unknown argument 'dset' of 'template' "
      "(did you mean 'dest'?)"]),
    ("wrong arg type", play_with("    - command:\n        cmd: ls\n        timeout: soon\n"),
     ["playbooks/deploy.yml:5: [0].tasks[0].command.timeout: 'timeout' must be an integer, "
      "not a string ('soon')"]),
    ("missing arg", play_with("    - dir: {mode: '0755'}\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].dir: missing required key 'path'"]),
    ("args not a mapping", play_with("    - command: ls -l\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].command: 'command' takes a mapping of arguments, not a string "
      "('ls -l')"]),
    ("templated arg is not type-checked", play_with("    - command: {cmd: ls, timeout: '{{ t }}'}\n"), []),
    ("unknown handler", play_with("    - dir: {path: /a}\n      notify: restart ap\n"),
     ["playbooks/deploy.yml:3: task 'dir /a' notifies unknown handler 'restart ap' (did you mean "
      "'restart app'?) in play 'play on all'; handlers: restart app"]),
    ("bad when", play_with("    - dir: {path: /a}\n      when: x ==\n"),
     ["playbooks/deploy.yml:4: [0].tasks[0].when: Jinja2 syntax error: unexpected 'end of template'"]),
    ("bad template in arg", play_with("    - dir: {path: '{{ app_dir }'}\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].dir.path: Jinja2 syntax error: unexpected '}'"]),
    ("missing template", play_with("    - template: {src: nope.j2, dest: /x}\n"),
     ["playbooks/deploy.yml:3: [0].tasks[0].template.src: template source 'nope.j2' not found; looked in: "
      "playbooks/templates"]),
    ("unknown role", "- hosts: all\n  roles:\n    - compose_ap\n",
     ["playbooks/deploy.yml:3: [0].roles[0]: unknown role 'compose_ap' (did you mean 'compose_app'?); roles "
      "are looked up in: playbooks/roles, roles, builtin:roles"]),
    ("schema and ops together", "- hsts: all\n  tasks:\n    - tempalte: {}\n",
     ["playbooks/deploy.yml:1: [0]: missing required key 'hosts'",
      "playbooks/deploy.yml:1: [0].hsts: unknown key 'hsts' (did you mean 'hosts'?)",
      "playbooks/deploy.yml:3: [0].tasks[0].tempalte: unknown operation 'tempalte' "
      "(did you mean 'template'?)"]),
]


@pytest.mark.parametrize(("case", "playbook", "expected"), CASES, ids=[c[0] for c in CASES])
def test_playbook_errors(tmp_path, monkeypatch, case, playbook, expected):
    monkeypatch.chdir(tmp_path)   # paths are shown relative to the current directory
    if not expected:
        assert load(tmp_path, playbook).plays
        return
    assert errors(tmp_path, playbook) == expected


ROLE_CASES = [
    ("broken role task", {"roles/compose_app/tasks.yml": "- tempalte: {src: compose.yml.j2, dest: x}\n"},
     ["roles/compose_app/tasks.yml:1: [0].tempalte: unknown operation 'tempalte' "
      "(did you mean 'template'?)"]),
    ("role handler notify", {"roles/compose_app/tasks.yml": "- dir: {path: /a}\n  notify: restrat app\n"},
     ["roles/compose_app/tasks.yml:1: task 'dir /a' notifies unknown handler 'restrat app' (did you mean "
      "'restart app'?) in play 'play on all'; handlers: restart app"]),
    ("defaults not a mapping", {"roles/compose_app/defaults.yml": "- 1\n"},
     ["roles/compose_app/defaults.yml:1: (top level): the file's content must be a mapping, not a list"]),
    ("no tasks.yml", {"roles/empty/.keep": ""},
     ["roles/empty: role 'empty' has no tasks.yml (expected roles/empty/tasks.yml)"]),
    ("template syntax", {"roles/compose_app/templates/compose.yml.j2": "line\n{% if x %}\n"},
     ["roles/compose_app/templates/compose.yml.j2:2: Jinja2 syntax error: Unexpected end of template. Jinja "
      "was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be "
      "closed is 'if'."]),
]


@pytest.mark.parametrize(("case", "files", "expected"), ROLE_CASES, ids=[c[0] for c in ROLE_CASES])
def test_role_errors(tmp_path, monkeypatch, case, files, expected):
    monkeypatch.chdir(tmp_path)
    roles = "[compose_app, empty]" if "roles/empty/.keep" in files else "[compose_app]"
    assert errors(tmp_path, f"- hosts: all\n  roles: {roles}\n", files) == expected


def test_template_found_in_the_playbook_templates(tmp_path):
    extra = {"playbooks/templates/site.conf.j2": "server {}\n"}
    playbook = load(tmp_path, play_with("    - template: {src: site.conf.j2, dest: /etc/x}\n"), extra)
    assert playbook.plays[0].tasks[0].name == "template site.conf.j2"


def test_roles_path_can_be_given(tmp_path):
    write(tmp_path, {f"elsewhere/{k.removeprefix('roles/')}": v for k, v in ROLE.items()})
    write(tmp_path, {"pb.yml": "- hosts: all\n  roles: [compose_app]\n"})
    playbook = load_playbook(tmp_path / "pb.yml", roles_paths=[tmp_path / "elsewhere"])
    assert playbook.plays[0].roles[0].path == tmp_path / "elsewhere/compose_app"


def test_load_role_alone(tmp_path):
    write(tmp_path, ROLE)
    role = load_role(tmp_path / "roles/compose_app")
    assert (len(role.tasks), len(role.handlers), role.defaults) == (1, 1, {"app_port": 8000})


def test_empty_playbook(tmp_path):
    write(tmp_path, {"pb.yml": ""})
    with pytest.raises(InputError, match=r"pb\.yml is empty; a playbook is a list of plays"):
        load_playbook(tmp_path / "pb.yml")
