"""`moorage trust` on a real sshd server: the host key is read before any login and pinned in the
inventory's known_hosts only when vouched for (a matching --fingerprint, the inventory's
`fingerprint:`, --yes, or "yes" typed at a terminal); a wrong fingerprint, a run without a terminal
and a changed key are refused and write nothing.  After it, a playbook run connects with no other
step.  Nothing on the server changes: trust never logs in.
"""

from __future__ import annotations

import subprocess

import pytest

from moorage.project import locate
from moorage.recipes import trust as trust_recipe
from moorage.recipes.play import Request

from .helpers import MOORAGE, moorage, write_playbook


@pytest.fixture
def project(tmp_path, sshd_server, write_inventory):
    """An inventory whose host `web1` is the shared sshd server, with no known_hosts yet."""
    inventory = tmp_path / "inventory"
    write_inventory(inventory, {"web1": sshd_server})
    (inventory / "known_hosts").unlink()
    return inventory


def fingerprint(server) -> str:
    """The server's ed25519 key as its console shows it (ssh-keygen -lf), the way a user checks it."""
    return server.exec("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.decode().split()[1]


def pinned_line(server) -> str:
    return f"[{server.address}]:{server.port} {server.host_key}"


def trust(inventory, *args: str):
    return moorage("trust", "--host", "web1", "--inventory", inventory, *args, timeout=60)


def test_a_matching_fingerprint_pins_the_key_and_a_play_then_connects(project, sshd_server, tmp_path):
    run = trust(project, "--fingerprint", fingerprint(sshd_server))
    assert run.code == 0, run.stderr
    assert fingerprint(sshd_server) in run.stdout and "pinned in" in run.stdout
    assert (project / "known_hosts").read_text() == pinned_line(sshd_server) + "\n"

    playbook = write_playbook(tmp_path / "book", [{"command": {"cmd": "true", "check_only": True}}])
    play = moorage("play", playbook, "--host", "web1", "--inventory", project, "--json")
    assert play.code == 0, play.stdout[-2000:] + play.stderr
    assert play.recap("web1")["failed"] == 0

    again = trust(project, "--fingerprint", fingerprint(sshd_server))
    assert again.code == 0
    assert "is already pinned" in again.stdout and "nothing to do" in again.stdout
    assert (project / "known_hosts").read_text() == pinned_line(sshd_server) + "\n"


def test_a_wrong_fingerprint_is_refused_with_exit_2_and_nothing_written(project):
    wrong = "SHA256:" + "B" * 43
    run = trust(project, "--fingerprint", wrong)
    assert run.code == 2
    assert f"does not match --fingerprint's fingerprint {wrong}" in run.stderr
    assert "nothing was pinned" in run.stderr
    assert not (project / "known_hosts").exists()


def test_without_a_terminal_or_a_flag_it_shows_the_fingerprint_and_pins_nothing(project, sshd_server):
    proc = subprocess.run([MOORAGE, "trust", "--host", "web1", "--inventory", str(project)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert fingerprint(sshd_server) in proc.stderr and "not pinned yet" in proc.stderr
    assert "moorage trust --host web1 --fingerprint" in proc.stderr
    assert not (project / "known_hosts").exists()


def test_the_inventorys_fingerprint_or_yes_pin_without_asking(tmp_path, sshd_server, write_inventory):
    by_inventory = tmp_path / "a"
    write_inventory(by_inventory, {"web1": sshd_server},
                    host_fields={"web1": {"fingerprint": fingerprint(sshd_server)}})
    (by_inventory / "known_hosts").unlink()
    run = trust(by_inventory)
    assert run.code == 0 and "matches the inventory's fingerprint" in run.stdout
    assert (by_inventory / "known_hosts").read_text() == pinned_line(sshd_server) + "\n"

    by_yes = tmp_path / "b"
    write_inventory(by_yes, {"web1": sshd_server})
    (by_yes / "known_hosts").unlink()
    run = trust(by_yes, "--yes")
    assert run.code == 0 and "trusted (--yes)" in run.stdout
    assert (by_yes / "known_hosts").read_text() == pinned_line(sshd_server) + "\n"


@pytest.mark.parametrize(("answer", "pinned"), [("yes\n", True), ("no\n", False)])
def test_a_yes_typed_at_the_terminal_pins_the_key(project, sshd_server, answer, pinned, capsys):
    """The terminal is the only part stood in for: the key is read from the real server."""
    prompts: list[str] = []
    code = trust_recipe.trust(Request(locate(inventory=str(project)), "web1"),
                              ask=lambda prompt: prompts.append(prompt) or answer)
    assert fingerprint(sshd_server) in prompts[0] and "Type yes" in prompts[0]
    assert code == (0 if pinned else 1)
    assert (project / "known_hosts").exists() == pinned
    out = capsys.readouterr()
    assert ("confirmed at the terminal" in out.out) == pinned


def test_a_changed_key_is_refused_with_what_to_do(project, sshd_server, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True,
                   timeout=30)
    someone_else = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    stale = f"[{sshd_server.address}]:{sshd_server.port} {someone_else}\n"
    (project / "known_hosts").write_text(stale)
    run = trust(project, "--yes")
    assert run.code == 1
    assert "host key CHANGED" in run.stderr and fingerprint(sshd_server) in run.stderr
    assert "remove the old line from" in run.stderr
    assert (project / "known_hosts").read_text() == stale

