"""A connection that fails says one sentence: no Paramiko log lines or tracebacks before it, and a
known_hosts line that is not a host key is bad input at file:line (exit 2), before connecting.

The servers here are real sockets on 127.0.0.1: one that answers HTTP instead of SSH, one that
speaks SSH (Paramiko's server side) with a key no known_hosts pins."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest

from moorage.connection.hostkey import pinned_keys
from moorage.connection.ssh import SSHConnection, check_known_hosts
from moorage.errors import InputError
from moorage.target import Target

CONNECT = """
import sys
from moorage.connection.ssh import SSHConnection
from moorage.errors import MoorageError
from moorage.target import Target
try:
    SSHConnection(Target("web1", port=int(sys.argv[1]), known_hosts=tuple(sys.argv[2:]), connect_timeout=5)).run("true")
except MoorageError as exc:
    print(f"error: {exc}", file=sys.stderr)
"""


def _http(client: socket.socket) -> None:
    client.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def _ssh(client: socket.socket) -> None:
    transport = paramiko.Transport(client)
    transport.add_server_key(paramiko.ECDSAKey.generate())
    try:
        transport.start_server(server=paramiko.ServerInterface())
        transport.accept(5)
    except (paramiko.SSHException, EOFError):
        pass
    finally:
        transport.close()


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    """``server(answer)``: a port on 127.0.0.1 whose one connection ``answer`` handles."""
    listeners: list[tuple[socket.socket, threading.Thread]] = []

    def start(answer: Callable[[socket.socket], None]) -> int:
        listener = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            client, _ = listener.accept()
            with client:
                answer(client)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        listeners.append((listener, thread))
        return int(listener.getsockname()[1])

    yield start
    for listener, thread in listeners:
        thread.join(10)
        listener.close()


# The test server's own transport thread sees the client hang up (connection reset).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize(("answer", "sentence"), [
    (_http, "error: web1: SSH to root@127.0.0.1:{port} failed: Error reading SSH protocol banner"),
    (_ssh, "error: web1: host key of [127.0.0.1]:{port} (ecdsa-sha2-nistp256 SHA256:"),
])
def test_a_failed_connection_says_one_sentence(server, answer, sentence):
    port = server(answer)
    result = subprocess.run([sys.executable, "-c", CONNECT, str(port)], capture_output=True, text=True, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(sentence.format(port=port)), result.stderr


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("[h]:2222 ssh-ed25519 not!base64\n", 1, "the key is not valid base64"),
    ("# comment\n\nh ssh-ed25519\n", 3, "expected HOST KEYTYPE BASE64"),
    ("h ssh-rsa AAAAB3NzaC1yc2E=\n", 1, "the key does not decode"),
])
def test_a_known_hosts_line_that_is_no_key_is_named(tmp_path, text, line, problem):
    path = tmp_path / "known_hosts"
    path.write_text(text)
    for read in (lambda: check_known_hosts(str(path)), lambda: pinned_keys(path, "h", 22),
                 lambda: SSHConnection(Target("h", port=1, known_hosts=(str(path),))).run("true")):
        with pytest.raises(InputError) as refused:
            read()
        assert str(refused.value).startswith(f"{path}:{line}: not a valid known_hosts line: {problem}")


def test_good_lines_and_unknown_key_types_pass(tmp_path):
    key = paramiko.ECDSAKey.generate()
    path = tmp_path / "known_hosts"
    path.write_text(f"# pinned\n[h]:2222 {key.get_name()} {key.get_base64()}\nh ssh-future-type AAAA\n")
    check_known_hosts(str(path))
    assert pinned_keys(Path(path), "h", 2222) == {key.get_name(): key}
