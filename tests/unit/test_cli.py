"""The CLI as a user runs it: `invoke --list`, `invoke check`, `invoke inventory`, placeholders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TASKS = ["backup", "check", "deploy", "down", "exec", "init", "inventory", "logs", "onboard", "play", "playbooks",
         "releases", "restart", "restore", "roles", "rollback", "run", "start", "status", "stop", "swarm", "sync-media",
         "trust", "up"]
BUILTIN_PLAYBOOKS = "backup, deploy, onboard, proxy, restore, rollback, swarm, sync-media"
BUILTIN_ROLES = "base, compose_app, docker_engine, hardening, host_nginx, media, nginx_static, postgres_backup, traefik"


def invoke(*args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``invoke`` on this repository's tasks.py, as a user would."""
    environ = {k: v for k, v in os.environ.items() if k != "DM_LETSENCRYPT_EMAIL"}
    return subprocess.run([sys.executable, "-m", "invoke", "-r", str(REPO), *args], cwd=cwd,
                          env={**environ, **(env or {})}, capture_output=True, text=True, timeout=60)


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture
def dm_copy(tmp_path: Path) -> Path:
    """A copy of the shipped inventory in an otherwise empty project (no playbooks, no roles), with
    the compose files it names (the production preflight reads them)."""
    shutil.copytree(REPO / "inventory", tmp_path / "inventory")
    (tmp_path / "examples").symlink_to(REPO / "examples")
    return tmp_path


def test_list_shows_every_task_with_help():
    result = invoke("--list")
    assert result.returncode == 0, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and
              not line.startswith("   ")]
    assert listed == TASKS
    for line in result.stdout.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            assert len(line.split()) > 3, f"task without a help line: {line}"


def test_console_script_has_the_same_tasks():
    result = subprocess.run([sys.executable, "-m", "moorage.cli.program", "--list"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert all(f"  {name} " in result.stdout for name in TASKS)
    version = subprocess.run([sys.executable, "-m", "moorage.cli.program", "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.startswith("moorage ")


def test_check_on_the_shipped_inventory(dm_copy):
    result = invoke("check", cwd=dm_copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "ok   inventory/hosts.yml (3 environments, 3 hosts)",
        "ok   inventory/group_vars/all.yml",
        f"ok   built-in playbooks: {BUILTIN_PLAYBOOKS}",
        f"ok   built-in roles: {BUILTIN_ROLES}",
        "all valid",
    ]


def test_check_the_whole_repository():
    result = invoke("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok   inventory/hosts.yml (3 environments, 3 hosts)\n")


def test_check_on_a_broken_copy_names_every_file_line(dm_copy):
    hosts = dm_copy / "inventory/hosts.yml"
    hosts.write_text(hosts.read_text().replace("connection: local ", "connection: locale "))
    (dm_copy / "inventory/group_vars/vsp.yml").write_text("x: 1\n")
    result = invoke("check", "--inventory", "inventory", cwd=dm_copy)
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == "FAIL inventory/hosts.yml (2 problems)"
    assert result.stderr.splitlines() == [
        "error: inventory/group_vars/vsp.yml: 'vsp.yml' names no environment (did you mean 'vps'?)",
        f"inventory/hosts.yml:{line_of(hosts, 'connection: locale')}: environments.pc.connection: "
        "'connection' is 'locale'; allowed values: ssh, local (did you mean 'local'?)",
    ]
    assert "Traceback" not in result.stderr


PROJECT = {
    "playbooks/site.yml": "- name: Site\n  hosts: vps\n  roles: [web]\n  tasks:\n    - dir: {path: /srv/x}\n",
    "playbooks/bad.yml": ("- name: Bad\n  hosts: vsp\n  roles: [wbe]\n  tasks:\n"
                          "    - dir: {path: /srv/x, mdoe: '0755'}\n"),
    "roles/web/tasks.yml": "- template: {src: site.conf.j2, dest: /etc/site.conf}\n",
    "roles/web/templates/site.conf.j2": "server_name {{ domain }};\n",
    "roles/broken/tasks.yml": "- template: {src: missing.j2, dest: /x}\n",
}


def test_check_playbooks_and_roles(dm_copy):
    for name, text in PROJECT.items():
        (dm_copy / name).parent.mkdir(parents=True, exist_ok=True)
        (dm_copy / name).write_text(text)
    result = invoke("check", cwd=dm_copy)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "ok   inventory/hosts.yml (3 environments, 3 hosts)",
        "ok   inventory/group_vars/all.yml",
        "FAIL playbooks/bad.yml (2 problems)",
        "ok   playbooks/site.yml (1 play, 2 tasks)",
        f"ok   built-in playbooks: {BUILTIN_PLAYBOOKS}",
        "FAIL roles/broken (1 problem)",
        "ok   roles/web (1 task, 0 handlers, 0 defaults)",
        f"ok   built-in roles: {BUILTIN_ROLES}",
    ]
    assert result.stderr.splitlines() == [
        "error: playbooks/bad.yml:3: [0].roles[0]: unknown role 'wbe' (did you mean 'web'?); roles are "
        "looked up in: playbooks/roles, roles, builtin:roles",
        "playbooks/bad.yml:5: [0].tasks[0].dir.mdoe: unknown argument 'mdoe' of 'dir' (did you mean 'mode'?)",
        "roles/broken/tasks.yml:1: [0].template.src: template source 'missing.j2' not found; looked in: "
        "roles/broken/templates, playbooks/templates",
    ]


def test_check_reports_plays_aimed_at_unknown_hosts(dm_copy):
    (dm_copy / "playbooks").mkdir()
    (dm_copy / "playbooks/p.yml").write_text("- name: P\n  hosts: vsp\n  tasks: [{dir: {path: /a}}]\n")
    result = invoke("check", cwd=dm_copy)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: playbooks/p.yml:1: play 'P': unknown host or environment 'vsp' (did you mean 'vps'?); known: "
        "pc, nexus, vps"]


def test_check_host_resolves_secrets(dm_copy):
    result = invoke("check", "--host", "vps", cwd=dm_copy)
    assert result.returncode == 2
    line = line_of(dm_copy / "inventory/hosts.yml", "letsencrypt_email:")
    assert result.stderr.strip() == (
        f"error: inventory/hosts.yml:{line}: secret 'env:DM_LETSENCRYPT_EMAIL' for variable "
        "'letsencrypt_email' is not set (export DM_LETSENCRYPT_EMAIL=...)")
    assert "FAIL variables of vps (1 problem)" in result.stdout
    ok = invoke("check", "--host", "vps", cwd=dm_copy, env={"DM_LETSENCRYPT_EMAIL": "ops@example.org"})
    assert ok.returncode == 0, ok.stderr
    assert "ok   variables of vps (" in ok.stdout


def test_inventory_table_masks_secrets(dm_copy):
    result = invoke("inventory", "--host", "vps", "--set", "replicas=3", cwd=dm_copy,
                    env={"DM_LETSENCRYPT_EMAIL": "ops@devamalix.example"})
    assert result.returncode == 0, result.stderr
    assert "ops@devamalix.example" not in result.stdout
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
            for line in result.stdout.splitlines() if line.startswith("│")}
    email_line = line_of(dm_copy / "inventory/hosts.yml", "letsencrypt_email:")
    assert rows["letsencrypt_email"] == ["********", "3 environment", f"inventory/hosts.yml:{email_line}"]
    assert rows["replicas"] == ["3", "5 --set", "--set"]
    assert rows["db_password"][0] == "<generated on server, 32 chars>"
    assert rows["project"] == ['"dm"', "magic", "moorage"]


def test_inventory_json(dm_copy):
    result = invoke("inventory", "--host", "nexus", "--json", "--set", 'django_debug="1"', cwd=dm_copy)
    assert result.returncode == 0, result.stderr
    (data,) = [json.loads(line) for line in result.stdout.splitlines()]
    values = {v["name"]: v for v in data["variables"]}
    assert (data["host"], data["environment"], data["production"], data["endpoint"]) == (
        "nexus", "nexus", False, "deploy@192.0.2.10:22")
    assert values["django_debug"] == {"name": "django_debug", "value": "1", "level": "5 --set",
                                      "source": "--set"}
    assert values["db_port"]["value"] == 5432


@pytest.mark.parametrize(("args", "message"), [
    (["inventory", "--host", "vsp"], "error: unknown host or environment 'vsp' (did you mean 'vps'?); known: "
                                     "pc, nexus, vps"),
    (["inventory"], "error: --host is required: name a host, an environment or all (e.g. --host vps)"),
    (["inventory", "--host", "pc", "--set", "oops"], "error: --set 'oops': expected KEY=VALUE, e.g. "
                                                    "--set replicas=3"),
    (["inventory", "--host", "pc", "--inventory", "nowhere"], "error: no inventory at nowhere (expected "
                                                             "nowhere/hosts.yml); pass --inventory PATH to "
                                                             "use another one"),
    (["deploy", "--host", "vsp"], "error: unknown host or environment 'vsp' (did you mean 'vps'?); known: "
                                  "pc, nexus, vps"),
    (["sync-media"], "error: --host is required: a host name, an environment name, or all"),
    (["restore", "--host", "vps", "--into", "scratch", "--destroy-data"], "error: --destroy-data replaces the live "
     "database; a restore --into a scratch database destroys nothing: leave --destroy-data out"),
    (["rollback", "--host", "vps", "--to", "previous", "--yes"], "error: --yes and --destroy-data go with "
     "--restore-db (a rollback alone doesn't touch data)"),
    (["rollback", "--host", "vps"], "error: rollback needs --host and --tag RELEASE (or --to previous); "
                                    "see `releases`"),
])
def test_bad_input_is_one_sentence_and_exit_2(dm_copy, args, message):
    result = invoke(*args, cwd=dm_copy)
    assert (result.returncode, result.stderr.strip()) == (2, message)


def moorage_program(*args: str) -> subprocess.CompletedProcess:
    """Run the ``moorage`` console script's program, as a user would."""
    return subprocess.run([sys.executable, "-m", "moorage.cli.program", *args], capture_output=True, text=True,
                          timeout=60)


def test_moorage_help_shows_moorages_options_not_invokes():
    result = moorage_program("--help")
    assert result.returncode == 0, result.stderr
    for kept in ("--help", "--version", "--list", "--complete"):
        assert kept in result.stdout
    for dropped in ("--prompt-for-sudo-password", "--dry", "--pty", "--echo", "--warn-only", "--hide",
                    "--command-timeout", "--write-pyc", "--config", "--debug", "--search-root", "--collection"):
        assert dropped not in result.stdout
    refused = moorage_program("--dry", "check")
    assert refused.returncode != 0 and "--dry" in refused.stderr


def test_messages_name_the_program_the_user_ran(monkeypatch):
    from moorage import progname

    monkeypatch.setattr(progname, "_name", None)
    for argv0, name in (("/usr/bin/invoke", "invoke"), ("/venv/bin/inv", "invoke"),
                        ("/usr/lib/python3/site-packages/invoke/__main__.py", "invoke"),
                        ("/venv/bin/moorage", "moorage")):
        monkeypatch.setattr(sys, "argv", [argv0, "deploy"])
        assert progname.command("backup", "--host", "vps") == f"{name} backup --host vps"
    progname.set_name("moorage")
    monkeypatch.setattr(sys, "argv", ["/usr/bin/invoke"])
    assert progname.name() == "moorage"


def test_a_refusal_under_invoke_names_invoke(tmp_path):
    """Run through `python -m invoke`, a message that gives a command gives it as `invoke ...`."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    for part in ("playbooks", "roles"):
        (tmp_path / part).symlink_to(REPO / part)
    (inventory / "hosts.yml").write_text(
        "project: p\nvars: {app_dir: /srv/p}\nenvironments:\n  box:\n    user: deploy\n"
        "    hosts:\n      box: {address: 127.0.0.1, port: 1}\n")
    result = invoke("backup", "--host", "box", "--inventory", str(inventory), "--file", "x.dump")
    assert result.returncode == 2
    assert "see `invoke restore`" in result.stderr
