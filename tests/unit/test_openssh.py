"""The OpenSSH client route for bulk streams (connection/openssh.py): the ssh argv built from the
target's tokens, the private known_hosts line, and what an ssh exit means (go on, refuse, fall back)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import paramiko
import pytest

from moorage.connection.openssh import ALIAS, known_hosts_line, ssh_argv, ssh_reason, verdict, write_known_hosts
from moorage.target import Target

KEY = paramiko.RSAKey.generate(1024)


def option(argv: list[str], name: str) -> str:
    """The value of ``-o NAME=VALUE`` in ``argv``."""
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    assert len(values) == 1, f"{name} given {len(values)} times in {argv}"
    return values[0]


def test_the_argv_pins_the_verified_key_and_never_prompts() -> None:
    target = Target("web", address="203.0.113.7", port=2222, user="deploy", key_file="/keys/id_ed25519",
                    connect_timeout=7.5)
    argv = ssh_argv(target, "/tmp/kh", "exec rsync --server -e 'a b'")
    assert argv[:3] == ["ssh", "-F", "/dev/null"], "no ~/.ssh/config: moorage's own connection ignores it"
    assert argv[-3:] == ["--", "203.0.113.7", "exec rsync --server -e 'a b'"], "the command is one argument"
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "deploy"
    assert argv[argv.index("-i") + 1] == "/keys/id_ed25519" and option(argv, "IdentitiesOnly") == "yes"
    pinned = [option(argv, name) for name in ("StrictHostKeyChecking", "UserKnownHostsFile", "GlobalKnownHostsFile",
                                              "HostKeyAlias")]
    assert pinned == ["yes", "/tmp/kh", "/dev/null", ALIAS]
    assert (option(argv, "BatchMode"), option(argv, "UpdateHostKeys"), option(argv, "ConnectTimeout")) == (
        "yes", "no", "7")


def test_without_a_key_file_ssh_looks_for_keys_as_paramiko_does() -> None:
    argv = ssh_argv(Target("web"), "/tmp/kh", "true")
    assert "-i" not in argv and not any(a.startswith("IdentitiesOnly") for a in argv)
    assert argv[argv.index("-p") + 1] == "22" and argv[argv.index("-l") + 1] == "root"


def test_the_known_hosts_file_holds_only_the_verified_key_and_is_private(tmp_path: Path) -> None:
    assert known_hosts_line(KEY) == f"{ALIAS} ssh-rsa {KEY.get_base64()}\n"
    path = Path(write_known_hosts(KEY))
    try:
        assert path.read_text() == known_hosts_line(KEY) and path.stat().st_mode & 0o077 == 0
        found = subprocess.run(["ssh-keygen", "-F", ALIAS, "-f", str(path)], capture_output=True, text=True,
                               check=False)
        assert found.returncode == 0 and KEY.get_base64() in found.stdout, "OpenSSH reads the line"
    finally:
        path.unlink()


@pytest.mark.parametrize(("status", "stderr", "expected"), [
    (0, "", "ok"),
    (23, "rsync error: some files could not be transferred", "ok"),
    (91, "", "ok"),  # the host's checks refused: the sync reports it
    (255, "Host key verification failed.\r\n", "hostkey"),
    (255, "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@", "hostkey"),
    (255, "deploy@203.0.113.7: Permission denied (publickey).", "fallback"),
    (255, "Load key \"/k\": incorrect passphrase supplied to decrypt private key", "fallback"),
    (255, "Unable to negotiate with 203.0.113.7 port 22: no matching host key type found", "fallback"),
    (255, "ssh: connect to host 203.0.113.7 port 22: Connection refused", "fallback"),
])
def test_an_ssh_exit_says_go_on_refuse_or_fall_back(status: int, stderr: str, expected: str) -> None:
    assert verdict(status, stderr) == expected


def test_the_fallback_reason_is_ssh_s_own_line() -> None:
    stderr = ("@@@@@@@@@@\n@  WARNING: UNPROTECTED PRIVATE KEY FILE!  @\n@@@@@@@@@@\n"
              "Load key \"/k\": bad permissions\nroot@127.0.0.1: Permission denied (publickey).\n"
              "rsync: connection unexpectedly closed (0 bytes received so far) [sender]\n")
    assert ssh_reason(stderr) == "root@127.0.0.1: Permission denied (publickey)."
    assert ssh_reason("") == "ssh exited 255"
