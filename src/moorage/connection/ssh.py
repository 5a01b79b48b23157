"""The SSH connection: one Fabric/Paramiko connection per host for the whole run.

Fabric resolves the connection (user, port, key, ``~/.ssh/config``) and
Paramiko carries it.  Three things are our own, each for a reason:

- host keys are checked against known_hosts files and an unknown key is
  refused (Fabric's default policy silently accepts any key);
- the socket gets ``TCP_NODELAY``: with Nagle on, every round trip on
  loopback costs ~40 ms of delayed-ACK wait, which dominates a no-change run;
- commands run on a raw exec channel with stdin streamed in, so a batch of
  file changes travels as one tar stream on one channel.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import socket
import time
from collections.abc import Iterator
from typing import Any

import fabric
import paramiko

from moorage.connection.base import ByteStream, Channel, CommandResult, ConnectionStats, wrap_become
from moorage.connection.interactive import relay, terminal_size
from moorage.connection.openssh import ssh_argv, write_known_hosts
from moorage.errors import HostError, InputError, Location
from moorage.progname import command
from moorage.target import Target

# Paramiko's transport thread logs what it then raises (a banner that isn't SSH, with its
# traceback; "Socket exception: Bad file descriptor" once a refused connection's socket is
# closed); with no logging configured Python prints those on stderr before moorage's own sentence.
# moorage reports every such failure as a HostError, so the transport's log says nothing new.
TRANSPORT_LOGGER = "paramiko.transport"


def quiet_transport_log() -> None:
    """Keep Paramiko's transport log (and its children: sftp) below its errors; see above."""
    logging.getLogger(TRANSPORT_LOGGER).setLevel(logging.CRITICAL)


class UnknownHostKey(paramiko.SSHException):
    """The server offered a host key no known_hosts file vouches for."""

    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        self.hostname = hostname
        self.key = key
        super().__init__(f"unknown host key for {hostname}")

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint  # "SHA256:..."


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(hostname, key)


def known_hosts_problem(path: str) -> tuple[int, str] | None:
    """The first line of the known_hosts file ``path`` that Paramiko cannot read as a host key
    (``HOST KEYTYPE BASE64``: too few fields, bad base64, a key that doesn't decode), as
    ``(line, sentence)``; ``None`` when every line reads.  Paramiko raises on some of these (a
    traceback) and silently skips others (the host's key then seems missing).  Blank lines, ``#``
    comments and key types Paramiko doesn't know pass, as in OpenSSH."""
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            problem = "expected HOST KEYTYPE BASE64" if len(text.split()) < 3 else ""
            try:
                paramiko.hostkeys.HostKeyEntry.from_line(text, number)
            except paramiko.hostkeys.InvalidHostKey as exc:
                problem = f"the key is not valid base64 ({exc.exc})"
            except (paramiko.SSHException, ValueError) as exc:
                problem = f"the key does not decode ({exc or type(exc).__name__})"
            if problem:
                return number, (f"not a valid known_hosts line: {problem}; fix or remove the line, then pin the "
                                f"host's key with `{command('trust', '--host', 'HOST')}`")
    return None


def check_known_hosts(path: str) -> None:
    """Raise ``InputError`` at ``path:line`` for a line that is not a host key (``known_hosts_problem``)."""
    problem = known_hosts_problem(path)
    if problem:
        raise InputError(problem[1], Location(path, problem[0]))


def fetch_host_key(target: Target, key_types: tuple[str, ...] = ()) -> paramiko.PKey:
    """The host key ``target``'s SSH server proves it holds, read without logging in (first
    contact, before the key is trusted).  ``key_types`` are asked for first (e.g. the type
    already pinned, so the two can be compared)."""
    try:
        sock = socket.create_connection((target.address, target.port), timeout=target.connect_timeout)
    except OSError as exc:
        raise HostError(target.name, f"cannot reach {target.address}:{target.port}: "
                        f"{exc.strerror or exc}") from None
    transport = paramiko.Transport(sock)
    # Hanging up right after the key exchange makes the transport thread log a socket error.
    transport.set_log_channel("moorage.hostkey")
    logging.getLogger("moorage.hostkey").setLevel(logging.CRITICAL)
    try:
        options = transport.get_security_options()
        offered = tuple(options.key_types)
        options.key_types = tuple(t for t in key_types if t in offered) + tuple(
            t for t in offered if t not in key_types)
        transport.banner_timeout = target.connect_timeout
        transport.start_client(timeout=target.connect_timeout)
        return transport.get_remote_server_key()
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise HostError(target.name, f"no SSH server answered at {target.address}:{target.port} "
                        f"({exc or type(exc).__name__})") from None
    finally:
        transport.close()


def missing_key(target: Target) -> str:
    """The sentence for an inventory ``ssh_key`` naming a private key file that isn't there."""
    return (f"the private key {target.key_file} (the inventory's ssh_key) does not exist: "
            "fix the path (relative paths are from the inventory directory) or create the key "
            "(ssh-keygen -t ed25519 -f PATH)")


class SSHConnection:
    """A connection to one host over SSH, opened on first use and reused."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stats = ConnectionStats()
        self._fabric: fabric.Connection | None = None
        self._known_hosts: str | None = None  # the verified key, for the OpenSSH client (openssh.py)

    # -- opening -----------------------------------------------------------
    def _open(self) -> paramiko.Transport:
        if self._fabric is not None and self._fabric.transport is not None:
            opened: paramiko.Transport = self._fabric.transport
            return opened
        t = self.target
        quiet_transport_log()
        known_hosts = [p for p in map(os.path.expanduser, t.known_hosts) if os.path.exists(p)]
        for path in known_hosts:  # a broken line is bad input (exit 2), said before connecting
            check_known_hosts(path)
        try:
            sock = socket.create_connection((t.address, t.port), timeout=t.connect_timeout)
        except OSError as exc:
            raise HostError(t.name, f"cannot reach {t.address}:{t.port}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connect_kwargs: dict[str, Any] = {"sock": sock, "banner_timeout": t.connect_timeout,
                                "auth_timeout": t.connect_timeout}
        if t.key_file:
            if not os.path.isfile(os.path.expanduser(t.key_file)):
                sock.close()
                raise HostError(t.name, missing_key(t))
            connect_kwargs.update(key_filename=os.path.expanduser(t.key_file),
                                  look_for_keys=False, allow_agent=False)
        conn = fabric.Connection(t.address, user=t.user, port=t.port,
                                 connect_timeout=int(t.connect_timeout),
                                 connect_kwargs=connect_kwargs)
        conn.client.set_missing_host_key_policy(_RefuseUnknown())
        for path in known_hosts:
            conn.client.load_host_keys(path)
        try:
            conn.open()
        except UnknownHostKey as exc:
            sock.close()
            raise HostError(
                t.name,
                f"host key of {exc.hostname} ({exc.key.get_name()} {exc.fingerprint}) is not in "
                f"known_hosts ({', '.join(t.known_hosts) or 'none configured'}); verify it and pin it with "
                f"`{command('trust', '--host', t.name)}`",
            ) from None
        except paramiko.BadHostKeyException as exc:
            sock.close()
            raise HostError(t.name, f"host key of {exc.hostname} CHANGED: expected "
                            f"{exc.expected_key.fingerprint}, got {exc.key.fingerprint}; refusing "
                            "to connect (possible man-in-the-middle)") from None
        except paramiko.AuthenticationException:
            sock.close()
            raise HostError(t.name, f"{t.endpoint} refused key authentication"
                            f" (key {t.key_file or 'from ssh-agent/~/.ssh'})") from None
        except (paramiko.SSHException, OSError) as exc:
            sock.close()
            raise HostError(t.name, f"SSH to {t.endpoint} failed: {exc}") from None
        self._fabric = conn
        self.stats.connections += 1
        transport: paramiko.Transport = conn.transport
        return transport

    # -- running -----------------------------------------------------------
    def run(
        self, command: str, stdin: bytes | ByteStream | None = None, timeout: float | None = None,
        become: bool | None = None,
    ) -> CommandResult:
        """Run ``command`` on one exec channel, streaming ``stdin`` (bytes or a binary stream) in;
        never raises on exit != 0."""
        transport = self._open()
        try:
            chan = transport.open_session()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostError(self.target.name, f"connection lost: {exc}") from None
        self.stats.commands += 1
        try:
            chan.exec_command(wrap_become(command, self.target, become))
            return self._collect(chan, command, _chunks(stdin), timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostError(self.target.name, f"connection lost while running a command: {exc}") from None
        finally:
            chan.close()

    def open_channel(self, command: str, become: bool | None = None) -> Channel:
        """Start ``command`` on a new exec channel of this connection and hand the channel over:
        the caller speaks a protocol over it (``sync`` runs rsync's) and closes it.  Counted
        like ``run``."""
        transport = self._open()
        try:
            chan = transport.open_session()
            chan.exec_command(wrap_become(command, self.target, become))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostError(self.target.name, f"connection lost: {exc}") from None
        self.stats.commands += 1
        return chan

    def command_argv(self, command: str, become: bool | None = None) -> list[str] | None:
        """A local ``ssh`` process running ``command`` on the host over a second connection that
        trusts only the host key this one verified (``openssh.py``); None when the controller has
        no ``ssh`` client.  Counted as a connection and a command."""
        if shutil.which("ssh") is None:
            return None
        transport = self._open()
        if self._known_hosts is None:
            self._known_hosts = write_known_hosts(transport.get_remote_server_key())
        self.stats.connections += 1
        self.stats.commands += 1
        return ssh_argv(self.target, self._known_hosts, wrap_become(command, self.target, become))

    def interact(self, command: str, *, tty: bool, stdin: bool = True, become: bool | None = None) -> int:
        """Run ``command`` with this terminal attached (``interactive.relay``): a pseudo-terminal
        of our terminal's size when ``tty``, our stdin forwarded when ``stdin``; its exit status.
        Counted like ``run``; Ctrl-C without a tty ends the remote command (its channel closes)."""
        transport = self._open()
        try:
            chan = transport.open_session()
            if tty:
                chan.get_pty(term=os.environ.get("TERM", "xterm"), width=terminal_size()[0],
                             height=terminal_size()[1])
            chan.exec_command(wrap_become(command, self.target, become))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostError(self.target.name, f"connection lost: {exc}") from None
        self.stats.commands += 1
        try:
            return relay(chan, tty=tty, forward_stdin=stdin)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostError(self.target.name, f"connection lost while running a command: {exc}") from None
        finally:
            chan.close()

    def _collect(self, chan: paramiko.Channel, command: str, stdin: Iterator[bytes],
                 timeout: float | None) -> CommandResult:
        out, err = bytearray(), bytearray()
        chunk, writing = memoryview(next(stdin, b"")), True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while chan.recv_ready():
                out += chan.recv(65536)
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if writing and not chunk:
                chunk = memoryview(next(stdin, b""))
                if not chunk:
                    chan.shutdown_write()
                    writing = False
            if writing and chan.exit_status_ready():
                writing = False  # the command ended without reading all its stdin: its status says why
                continue
            if writing and chan.send_ready():
                try:
                    sent = chan.send(bytes(chunk[:262144]))
                except OSError:  # "Socket is closed": the command ended and its channel closed meanwhile
                    if not (chan.closed or chan.exit_status_ready()):
                        raise
                    writing = False
                    continue
                self.stats.bytes_sent += sent
                chunk = chunk[sent:]
                continue
            # Stop at EOF, not at the exit status: OpenSSH may send the status before the
            # last output, and stopping there loses the tail of stdout.
            if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            if deadline is not None and time.monotonic() > deadline:
                raise HostError(self.target.name, f"command timed out after {timeout:.0f}s")
            if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                break
            # The channel is readable-selectable only: while stdin waits for the peer's window
            # to reopen, poll briefly (a 0.5 s wait per 2 MB window made 25 MB take 4 s, not 0.1 s).
            select.select([chan], [], [], 0.005 if writing else 0.5)
        return CommandResult(command, chan.recv_exit_status(), bytes(out), bytes(err))

    def close(self) -> None:
        """Close the SSH connection if it was opened."""
        if self._known_hosts is not None:
            os.unlink(self._known_hosts)
            self._known_hosts = None
        if self._fabric is not None:
            self._fabric.close()
            self._fabric = None


def _chunks(stdin: bytes | ByteStream | None) -> Iterator[bytes]:
    """What to send on the channel's stdin, in chunks: nothing, a bytes object, or a stream."""
    if stdin is None:
        return
    if isinstance(stdin, bytes | bytearray | memoryview):
        if stdin:
            yield bytes(stdin)
        return
    while True:
        data = stdin.read(1 << 20)
        if not data:
            return
        yield data
