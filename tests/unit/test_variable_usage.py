"""Inventory variables no role, playbook or template of the run uses: warned about, with "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.playbook.usage import expression_names, names_in
from moorage.project import Project
from moorage.recipes.check import run_check


@pytest.mark.parametrize(("value", "names"), [
    ("{{ app_dir }}/media", {"app_dir"}),
    ("plain text", set()),
    ({"A": "{{ db_name }}", "B": ["{{ x | default(y) }}", 3]}, {"db_name", "x", "y"}),
    ("{% set r = project ~ '-media' %}{{ r }} {{ release.get('previous') }}", {"project", "release"}),
    ("{{ broken", set()),
])
def test_names_a_template_refers_to(value, names):
    assert names_in(value) == names


def test_names_a_when_refers_to():
    assert expression_names("release.created and migrate_command") == {"release", "migrate_command"}
    assert expression_names("{{ tls == 'none' }}") == {"tls"}
    assert expression_names(None) == set()


SITE = {
    "playbooks/site.yml": ("- name: Site\n  hosts: all\n  vars: {site_mode: '{{ mode_from_play }}'}\n"
                           "  roles: [web]\n  tasks:\n    - name: 'greet {{ greeting }}'\n"
                           "      dir: {path: /x}\n      when: use_x\n"),
    "roles/web/tasks.yml": "- template: {src: site.conf.j2, dest: /etc/site.conf}\n",
    "roles/web/templates/site.conf.j2": "server_name {{ domain_name }};\n",
    "templates/extra.j2": "{{ from_project_template }}\n",
}


def check_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vars_text: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    files = {**SITE, "inventory/hosts.yml": (
        "project: shop\nenvironments:\n  staging:\n    vars:\n"
        + "".join(f"      {line}\n" for line in vars_text.splitlines())
        + "    hosts:\n      staging: {address: 192.0.2.1}\n"), "inventory/known_hosts": ""}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    report = run_check(Project(tmp_path, tmp_path / "inventory"), "staging")
    assert report.problems == []
    return report.warnings


def test_a_typo_is_warned_with_the_name_it_likely_meant(tmp_path, monkeypatch):
    warnings = check_warnings(tmp_path, monkeypatch, "app_dir: /srv/shop\nmigrate_comand: ./migrate")
    assert warnings == ["inventory/hosts.yml:6: variable 'migrate_comand' is not used by any role or playbook "
                        "(did you mean 'migrate_command'?)"]


def test_an_unused_name_like_nothing_gets_no_suggestion(tmp_path, monkeypatch):
    warnings = check_warnings(tmp_path, monkeypatch, "app_dir: /srv/shop\ncurrency: EUR")
    assert warnings == ["inventory/hosts.yml:6: variable 'currency' is not used by any role or playbook"]


def test_every_kind_of_use_counts(tmp_path, monkeypatch):
    # a role template, a play var's value, a task name, a when, the project's templates/, a role default
    # (media_dir's default uses app_dir), and names only other inventory variables refer to
    uses = ("app_dir: /srv/shop\ndomain_name: shop.example.org\nmode_from_play: fast\ngreeting: hi\n"
            "use_x: true\nfrom_project_template: 1\ndb_name: shop\n"
            "app_env: {DB_NAME: '{{ db_name }}'}\n")
    assert check_warnings(tmp_path, monkeypatch, uses) == []


def test_a_registered_result_is_not_a_use_nor_a_suggestion(tmp_path, monkeypatch):
    # compose_app registers `release`; an inventory `release` would be replaced by it at run time
    warnings = check_warnings(tmp_path, monkeypatch, "app_dir: /srv/shop\nrelease: x\nreleas: y")
    assert [w.split(" (did")[0] for w in warnings] == [
        "inventory/hosts.yml:6: variable 'release' is not used by any role or playbook",
        "inventory/hosts.yml:7: variable 'releas' is not used by any role or playbook"]
    assert not any("'release'?" in w for w in warnings)
