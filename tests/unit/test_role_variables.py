"""Role variable declarations: the variables.yml files themselves, and `check --host` validating a
host's resolved values against them (file:line of the value, what was expected, what was read)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moorage import builtin
from moorage.errors import InputError
from moorage.playbook import find_roles, load_role, read_role
from moorage.project import Project
from moorage.recipes.check import run_check

# A project of another app: one staging host, the built-in playbooks and roles.
HOSTS = """\
project: shop
environments:
  staging:
    vars:
      app_dir: /srv/shop
      compose_file: compose.yml
      site_url: https://shop.example.org
{extra}
    hosts:
      staging: {{address: 192.0.2.1}}
"""


def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "",
            files: dict[str, str] | None = None) -> Project:
    """A project in ``tmp_path`` (the current directory, so messages name relative paths)."""
    monkeypatch.chdir(tmp_path)
    text = HOSTS.format(extra="\n".join(f"      {line}" for line in extra.splitlines()))
    for key in (line.split(":")[0] for line in extra.splitlines()):  # extra replaces a base setting
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"      {key}: /")) + "\n"
    for name, content in {"inventory/hosts.yml": text, "inventory/known_hosts": "", **(files or {})}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    return Project(tmp_path, tmp_path / "inventory")


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def role_problems(report) -> list[str]:
    return [str(p) for p in report.problems]


def test_every_builtin_role_declares_its_variables_with_descriptions():
    for name, path in find_roles([builtin.ROLES]).items():
        role = load_role(path)
        assert role.variables, f"role {name} declares no variables"
        for var, declaration in role.variables.items():
            assert declaration["description"].strip(), f"{name}.{var}"


def test_builtin_defaults_satisfy_the_declarations(tmp_path, monkeypatch):
    report = run_check(project(tmp_path, monkeypatch), "staging")
    assert report.problems == []
    (line,) = [line for line in report.lines if "role variables of" in line]
    assert re.fullmatch(r"ok   role variables of staging \(\d\d+ declared variables of 9 roles\)", line)


@pytest.mark.parametrize(("setting", "message"), [
    ("app_dir: 42", "variable 'app_dir' must be a string, not an integer (42); role postgres_backup: Absolute "
                    "path of the app on the server (releases/, config/, current, backups/ live in it)."),
    ("app_dir: srv/shop", "variable 'app_dir' is 'srv/shop', which is not valid: expected ^/; role postgres_backup: "
                          "Absolute path of the app on the server (releases/, config/, current, backups/ live in it)."),
    ("app_dir: ''", "variable 'app_dir' must not be empty; role postgres_backup: Absolute path of the app on "
                    "the server (releases/, config/, current, backups/ live in it)."),
    ("releases_keep: lots", "variable 'releases_keep' must be an integer, not a string ('lots'); role "
                            "compose_app: How many releases to keep on the server (at least 2, the live one and "
                            "the one a rollback returns to)."),
    ("releases_keep: 0", "variable 'releases_keep' must be at least 2, not 0; role compose_app: How many releases "
                         "to keep on the server (at least 2, the live one and the one a rollback returns to)."),
    ("health_timeout: -1", "variable 'health_timeout' must be more than 0, not -1; role postgres_backup: Seconds "
                           "the health gate waits for a 200."),
    ("firewall: iptables", "variable 'firewall' is 'iptables'; allowed values: nftables, ufw, none "
                           "(did you mean 'nftables'?); role base: "
                           "Which firewall role hardening applies (none leaves the host's packet filter alone)."),
    ("sshd_settings: {PermitRootLogin: false}", "variable sshd_settings.PermitRootLogin: 'PermitRootLogin' must "
     "be a string or an integer, not false (a boolean); role hardening: sshd settings written to "
     "/etc/ssh/sshd_config.d/00-moorage.conf, by the names `sshd -T` prints (yes and no are text in YAML 1.2, "
     "no quotes needed)."),
    ("backup_databases: [{name: db}]", "variable backup_databases[0]: missing required key 'service'; role "
     "postgres_backup: The PostgreSQL compose services to back up (pg_dump -Fc, verified by pg_restore), e.g. "
     "[{service: db}] or [{service: db, database: shop, label: shop}]; [] (the default) backs up no database."),
])
def test_a_wrong_value_names_where_it_was_set(tmp_path, monkeypatch, setting, message):
    proj = project(tmp_path, monkeypatch, setting)
    hosts = tmp_path / "inventory/hosts.yml"
    report = run_check(proj, "staging")
    line = line_of(hosts, setting.split(":")[0] + ":")
    assert role_problems(report) == [f"inventory/hosts.yml:{line}: {message}"]
    assert "FAIL role variables of staging (1 problem)" in report.lines


def test_a_value_set_through_a_template_is_checked_rendered(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch, "keep: lots\nreleases_keep: '{{ keep }}'")
    report = run_check(proj, "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", "releases_keep:")
    assert role_problems(report)[0].startswith(
        f"inventory/hosts.yml:{line}: variable 'releases_keep' must be an integer, not a string ('lots')")


def test_values_known_only_at_run_time_and_generated_secrets_are_not_errors(tmp_path, monkeypatch):
    # `release` is registered by compose_app's release task; `{generate: N}` is made on the server
    proj = project(tmp_path, monkeypatch, "health_url: '{{ release.url }}'\nmigrate_command: {generate: 12}")
    report = run_check(proj, "staging")
    assert report.problems == []


def test_a_value_built_from_a_wrong_one_is_not_reported_twice(tmp_path, monkeypatch):
    # media_dir defaults to "{{ app_dir }}/media": "42/media" is wrong too, but only because of app_dir
    report = run_check(project(tmp_path, monkeypatch, "app_dir: 42"), "staging")
    assert [p.message.split(";")[0] for p in report.problems] == [
        "variable 'app_dir' must be a string, not an integer (42)"]


def test_a_required_variable_that_is_not_set(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch)
    hosts = tmp_path / "inventory/hosts.yml"
    hosts.write_text(hosts.read_text().replace("      app_dir: /srv/shop\n", ""))
    report = run_check(proj, "staging")
    assert role_problems(report) == [
        f"inventory/hosts.yml:{line_of(hosts, 'staging: {address')}: host 'staging': variable 'app_dir' is not "
        "set; role postgres_backup: Absolute path of the app on the server (releases/, config/, current, "
        "backups/ live in it)."]


def test_a_projects_own_role_declares_and_is_checked(tmp_path, monkeypatch):
    files = {
        "playbooks/site.yml": "- name: Site\n  hosts: all\n  roles: [web]\n",
        "roles/web/tasks.yml": "- dir: {path: '{{ web_root }}'}\n",
        "roles/web/defaults.yml": "web_root: /srv/www\n",
        "roles/web/variables.yml": "web_root:\n  description: Where the site lives.\n  type: string\n"
                                   "  pattern: '^/'\n",
    }
    proj = project(tmp_path, monkeypatch, "web_root: www", files)
    report = run_check(proj, "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", "web_root:")
    assert role_problems(report) == [f"inventory/hosts.yml:{line}: variable 'web_root' is 'www', which is not "
                                     "valid: expected ^/; role web: Where the site lives."]


@pytest.mark.parametrize(("text", "message"), [
    ("x:\n  type: string\n", "roles/r/variables.yml:1: x: missing required key 'description'"),
    ("x:\n  description: An x.\n  type: strin\n",
     "roles/r/variables.yml:3: x.type: 'type' is 'strin'; allowed values: string, integer, number, boolean, "
     "object, array, null (did you mean 'string'?)"),
    ("9x:\n  description: An x.\n", "roles/r/variables.yml:1: 9x: name '9x' is not valid: a variable name is "
                                    "letters, digits and underscores, not starting with a digit"),
    ("x:\n  description: An x.\n  minimum: lots\n",
     "roles/r/variables.yml:1: x: not a valid JSON Schema (at minimum): 'lots' is not of type 'number'"),
])
def test_a_bad_variables_file_is_reported_at_its_line(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roles/r").mkdir(parents=True)
    (tmp_path / "roles/r/tasks.yml").write_text("- dir: {path: /x}\n")
    (tmp_path / "roles/r/variables.yml").write_text(text)
    role, found = read_role(tmp_path / "roles/r")
    assert role is None
    assert [str(p) for p in found] == [message]
    with pytest.raises(InputError):
        load_role(tmp_path / "roles/r")


def test_the_variables_of_a_role_the_host_skips_are_not_checked(tmp_path, monkeypatch):
    """nginx_static runs only with proxy: traefik (a condition in the deploy playbook's roles): a
    domain with a port, fine for the app's health URL, is wrong only where nginx-static serves it."""
    proj = project(tmp_path, monkeypatch, "domain: '127.0.0.1:8000'")
    assert role_problems(run_check(proj, "staging")) == []
    proxied = project(tmp_path, monkeypatch, "domain: '127.0.0.1:8000'\nproxy: traefik\nmedia_served_by: nginx-static")
    (problem,) = role_problems(run_check(proxied, "staging"))
    assert "variable 'domain' is '127.0.0.1:8000', which is not valid" in problem
    assert "role nginx_static" in problem or "role traefik" in problem
