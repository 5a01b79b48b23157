"""Values reach the shell as data on a real SSH server: a name with shell syntax in it is refused
before anything runs (check mode too), and a command's `env` values never appear in the server's
process list."""

from __future__ import annotations

import secrets
import subprocess
import time

from .helpers import MOORAGE, moorage, write_playbook


def test_env_values_are_not_in_any_process_arguments(tmp_path, sshd_server, write_inventory):
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    token = f"tok-{secrets.token_hex(8)}"
    playbook = write_playbook(tmp_path / "book", [{"name": "uses a token", "command": {
        # (not last: the shell running the task stays alive beside `sleep`, its arguments on show)
        "cmd": 'printf %s "$REGISTRY_TOKEN" > /tmp/token-seen; sleep 4; true', "env": {"REGISTRY_TOKEN": token}}}])
    run = subprocess.Popen([MOORAGE, "play", str(playbook), "--host", "web1", "--inventory", str(inventory)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, sleeping = "", False
    deadline = time.monotonic() + 30
    while run.poll() is None and time.monotonic() < deadline:
        listing = sshd_server.exec("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done 2>/dev/null")
        text = listing.stdout.decode("utf-8", "replace")
        sleeping = sleeping or "sleep 4" in text
        seen += text
        time.sleep(0.2)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 0, out + err
    assert sleeping, "the command's processes were never seen (the listing looked at the wrong moment)"
    assert token not in seen, [line for line in seen.splitlines() if "sleep" in line][:5]
    assert sshd_server.exec("cat /tmp/token-seen").stdout.decode() == token, "the command got the value"


def test_a_project_name_with_shell_syntax_is_refused_in_check_mode_and_nothing_runs(tmp_path, sshd_server,
                                                                                    write_inventory):
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    sshd_server.exec("rm -f /tmp/pwned; mkdir -p /srv/quoting")
    checked = write_playbook(tmp_path / "book", [
        {"name": "compose file is valid", "compose": {"project_dir": "/srv/quoting", "state": "checked",
                                                      "project_name": "{{ compose_project }}"}}],
        name="checked.yml", vars={"compose_project": "shop"})
    migrations = write_playbook(tmp_path / "book", [
        {"name": "migrations", "compose_run": {"project_dir": "/srv/quoting", "service": "{{ migrate_service }}",
                                               "command": "app migrate"}}], vars={"migrate_service": "web"})
    check = moorage("play", checked, "--host", "web1", "--inventory", inventory, "--check",
                    "--set", "compose_project=dm$(touch /tmp/pwned)")
    assert check.code != 0
    assert "checked.yml:" in check.stdout and "lowercase letters, digits" in check.stdout, check.stdout
    run = moorage("play", migrations, "--host", "web1", "--inventory", inventory, "--set",
                  "migrate_service=web app migrate;touch /tmp/pwned;true")
    assert run.code != 0
    assert "argument 'service'" in run.stdout and "play.yml:" in run.stdout
    assert sshd_server.exec("test -e /tmp/pwned").returncode != 0, "a value was executed"
