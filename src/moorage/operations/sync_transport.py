"""How ``sync`` moves bytes: rsync tunnelled through the host's connection, or one tar stream.

**rsync over the same connection.**  rsync runs its "remote shell" as a child
process and speaks its protocol on that child's stdin/stdout.  Here the remote
shell is ``_RSH``, a few lines of Python (``python -I -S -c``: no site, no
moorage import, ~20 ms) that writes rsync's argv back to this process over an
inherited socket and then relays bytes.  This process opens a channel on the
host's connection (``Connection.open_channel``: an exec channel on the existing
Paramiko transport over SSH, a local process with ``connection: local``) with
that command (``rsync --server ...``) and relays the socket to the channel
(``Tunnel``).  No second SSH connection, no second authentication, the same
host-key check — and ``conn.stats`` counts it like any command.

**rsync over the controller's OpenSSH client** (``direct``, for a large tree): relaying the
stream through Python (the helper, the Tunnel thread, Paramiko) costs the controller ~5 ms of
CPU per MB more than ``ssh`` carrying it.  The helper then runs the connection's own process for the
command (``Connection.command_argv``: ``ssh`` pinned to the host key moorage's connection
verified, see ``connection/openssh.py``) with rsync's pipes as its own, and sends its exit status
back.  When ssh cannot log in, the sync runs again the first way; a host-key refusal stops it.

**tar.**  ``TarStream`` writes the tar (a script, NUL-separated path lists, the
files) from a thread into a pipe that ``conn.run`` streams to ``TAR_RUN`` on the
host: unpacked into a staging directory inside ``dest`` (same filesystem), then
each file is renamed into place.
"""

from __future__ import annotations

import io
import os
import re
import select
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from moorage.connection.base import Channel, Connection
from moorage.connection.openssh import key_changed, ssh_reason, verdict
from moorage.facts.sync import STAGING_PREFIX, TreeDiff
from moorage.operations.shell import sh

# rsync's remote shell: sends rsync's argv back over the inherited socket and reads the answer
# (``_answer``: a length line, then that many bytes; read exactly, as the host's first bytes may
# follow in the same segment): empty: relay bytes both ways with buffers, so neither direction waits on the other
# (rsync expects ssh's full-duplex pipe); else the argv of a process to run with rsync's pipes
# as its own (an ssh client): wait for it and send its exit status back.
_RSH = r"""
import os, select, socket, sys
s = socket.socket(fileno=int(os.environ["MOORAGE_RSH_FD"]))
s.sendall("\0".join(sys.argv[1:]).encode() + b"\n")
def take(size):
    data = b""
    while len(data) < size:
        more = s.recv(size - len(data))
        if not more:
            sys.exit(255)
        data += more
    return data
length = b""
while not length.endswith(b"\n"):  # a byte at a time: the host's first bytes may follow the answer
    length += take(1)
answer = take(int(length))
if answer:
    os.set_inheritable(s.fileno(), False)
    argv = answer.decode().split("\0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOORAGE_RSH")}
    child = os.posix_spawnp(argv[0], argv, env)
    while True:  # moorage gone (killed: the socket's end closes) ends the transfer, as on its own connection
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        if select.select([s], [], [], 0.5)[0] and not s.recv(1):
            os.kill(child, 15)
            done, status = os.waitpid(child, 0)
            break
    code = os.waitstatus_to_exitcode(status)
    try:
        s.sendall(b"%d\n" % code)
    except OSError:
        pass
    sys.exit(code if code >= 0 else 128 - code)
for fd in (0, 1, s.fileno()):
    os.set_blocking(fd, False)
up, down, inp, sock, shut = bytearray(), bytearray(), True, True, False
try:
    while sock or down:
        r = [f for f, on in ((0, inp and len(up) < 1 << 22), (s, sock and len(down) < 1 << 22)) if on]
        w = [f for f, on in ((s, up), (1, down)) if on]
        r, w, _ = select.select(r, w, [])
        if 0 in r:
            data = os.read(0, 65536)
            up += data
            inp = bool(data)
        if s in r:
            data = s.recv(65536)
            down += data
            sock = bool(data)
        if s in w:
            del up[:s.send(up)]
        if 1 in w:
            del down[:os.write(1, down)]
        if not inp and not up and not shut:
            s.shutdown(socket.SHUT_WR)
            shut = True
except OSError:
    pass
"""
# rsync splits -e on spaces but keeps quoted parts whole; the helper's code travels in the environment.
_RSH_COMMAND = f'"{sys.executable}" -I -S -c "exec(__import__(\'os\').environ[\'MOORAGE_RSH\'])"'
_BUFFER = 1 << 22  # bytes held per direction before the tunnel stops reading that side
_PROGRESS = re.compile(rb"\s*[\d,]+\s+(\d+)%")


def _last_percent(chunk: bytes) -> int | None:
    """The percentage of the last whole ``--info=progress2`` line of ``chunk`` (each ends in
    ``\r``; the itemized names end in ``\n``): only the last counts, and splitting every chunk of
    a 2,000-file transfer's output into lines was a quarter of the controller's own CPU."""
    last = chunk.rfind(b"\r")
    if last < 0:
        return None
    # rsync starts each progress line with \r: the newest is after the last one (a line cut by the
    # chunk lacks its "%", so it can't match), else the one before it
    tail = chunk.find(b"\n", last)
    found = _PROGRESS.match(chunk, last + 1, len(chunk) if tail < 0 else tail)
    if found is None:
        start = max(chunk.rfind(b"\r", 0, last), chunk.rfind(b"\n", 0, last)) + 1
        found = _PROGRESS.match(chunk, start, last)
    return int(found.group(1)) if found else None


class Meter:
    """Progress of one transfer as ``step`` events: the bar starts only once the transfer
    has lasted more than a moment (0.5 s), then advances at most 5 times a second."""

    def __init__(self, progress: Callable[[str, dict[str, Any]], None], summary: str, total: int) -> None:
        self.progress, self.summary, self.total = progress, summary, total
        self.started, self.last, self.shown = time.monotonic(), 0.0, False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.started < 0.5 or now - self.last < 0.2:
            return
        self.progress(self.summary, {"phase": "advance" if self.shown else "start", "total": self.total,
                                     "done": min(done, self.total)})
        self.shown, self.last = True, now

    def finish(self) -> None:
        if self.shown:
            self.progress(self.summary, {"phase": "end"})
            self.shown = False


@dataclass
class RsyncRun:
    """How one rsync ended: its exit status and output (stderr: both ends'), the host command's
    exit status (-1 when unknown), and the way the stream went (``via``)."""

    code: int
    out: str
    err: str
    status: int
    via: str


def run_rsync(argv: list[str], src: str, dest: str, conn: Connection, prefix: str, meter: Meter,
              direct: bool = False) -> RsyncRun:
    """Run ``rsync ARGV SRC DEST`` to the end, where ``prefix`` (checks, ``exec``) comes before
    the host's ``rsync --server``.  The stream rides a channel of ``conn`` (``via`` paramiko or
    local) or, with ``direct``, the connection's own local process (``conn.command_argv``: the
    OpenSSH client, ``via`` openssh) — retried on the channel when ssh cannot log in (``via``
    then says why).  ``HostError`` when ssh was shown another host key than ``conn`` verified."""
    run = _run(argv, src, dest, conn, prefix, meter, direct)
    if run.via != "openssh" or (said := verdict(run.status, run.err)) == "ok":
        return run
    if said == "hostkey":
        raise key_changed(conn.target)
    again = _run(argv, src, dest, conn, prefix, meter, False)
    again.via = f"paramiko (OpenSSH client: {ssh_reason(run.err)})"
    return again


def _run(argv: list[str], src: str, dest: str, conn: Connection, prefix: str, meter: Meter,
         direct: bool) -> RsyncRun:
    ours, theirs = socket.socketpair()
    env = {**os.environ, "MOORAGE_RSH": _RSH, "MOORAGE_RSH_FD": str(theirs.fileno())}
    tunnel = Tunnel(conn, ours, prefix, direct)
    try:
        with subprocess.Popen([*argv, "-e", _RSH_COMMAND, src, f"host:{dest}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env, pass_fds=(theirs.fileno(),),
                              process_group=0) as proc:  # Ctrl-C is moorage's to handle (executor.interrupt)
            theirs.close()
            tunnel.start()
            code, out, err = _follow(proc, tunnel, meter)
            return RsyncRun(code, out, err, tunnel.status, tunnel.via)
    finally:
        theirs.close()
        tunnel.stop()


def _follow(proc: subprocess.Popen[bytes], tunnel: Tunnel, meter: Meter) -> tuple[int, str, str]:
    """Read rsync's output to its end; its ``--info=progress2`` percentages drive ``meter``."""
    errors: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None  # both are pipes (see _rsync)
    err_pipe, out_pipe = proc.stderr, cast(io.BufferedReader, proc.stdout)  # Popen's pipes are buffered readers
    reader = threading.Thread(target=lambda: errors.append(err_pipe.read()), daemon=True)
    reader.start()
    out = bytearray()
    for chunk in iter(lambda: out_pipe.read1(65536), b""):
        out += chunk
        percent = _last_percent(chunk)
        if percent is not None:
            meter.update(meter.total * percent // 100)
    code = proc.wait()
    meter.finish()
    reader.join(timeout=30)
    tunnel.join(timeout=30)
    if tunnel.error is not None:
        raise tunnel.error
    stderr = b"".join(errors).decode("utf-8", "replace") + tunnel.stderr
    return code, out.decode("utf-8", "replace"), stderr.strip()


def _answer(payload: bytes) -> bytes:
    """The tunnel's answer to the helper: the payload's length on a line, then the payload (an
    ssh argv, NUL-joined; its command holds newlines) — nothing for "relay"; the host's bytes
    may follow at once."""
    return b"%d\n" % len(payload) + payload


class Tunnel(threading.Thread):
    """Answers the helper with the host command the helper's rsync asks for: started on a channel
    of the host's connection whose stream it then carries, or (``direct``) the argv of the
    connection's local process for it (``Connection.command_argv``), whose exit status the
    helper sends back."""

    def __init__(self, conn: Connection, sock: socket.socket, prefix: str, direct: bool = False) -> None:
        super().__init__(daemon=True)
        self.conn, self.sock, self.prefix, self.direct = conn, sock, prefix, direct
        self.stderr, self.status = "", -1
        self.via = "local" if conn.target.connection == "local" else "paramiko"
        self.error: Exception | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        header = b""
        try:
            while b"\n" not in header and len(header) < 65536:
                chunk = self.sock.recv(4096)
                if not chunk:
                    return
                header += chunk
            line, _, rest = header.partition(b"\n")
            # rsync quotes its arguments for a shell that joins them with spaces, as ssh does.
            command = self.prefix + " ".join(line.decode().split("\0")[1:])
            argv = self.conn.command_argv(command) if self.direct else None
            if argv is not None:
                self.via = "openssh" if self.via == "paramiko" else self.via
                self.sock.sendall(_answer("\0".join(argv).encode()))
                self._wait_status()
                return
            self.sock.sendall(_answer(b""))
            chan = self.conn.open_channel(command)
        except Exception as exc:  # reported by the operation once rsync has exited
            self.error = exc
            self.sock.close()
            return
        try:
            self._pump(chan, rest)
        finally:
            chan.close()
            self.sock.close()

    def _wait_status(self) -> None:
        """The direct process's exit status, sent by the helper as it ends."""
        answer = b""
        self.sock.settimeout(0.5)
        while not answer.endswith(b"\n") and not self._halt.is_set():
            try:
                chunk = self.sock.recv(64)
            except TimeoutError:
                continue
            if not chunk:
                return
            answer += chunk
        if answer.endswith(b"\n"):
            self.status = int(answer)

    def _pump(self, chan: Channel, to_chan: bytes) -> None:
        """Relay both ways with buffers: never block sending one way while the other is full."""
        up, down, err = bytearray(to_chan), bytearray(), bytearray()
        local_open, remote_open, eof_sent = True, True, False
        self.sock.setblocking(False)
        while (remote_open or down) and not self._halt.is_set():
            readers = [r for r, on in ((self.sock, local_open and len(up) < _BUFFER),
                                       (chan, remote_open and len(down) < _BUFFER)) if on]
            # Wait in select only when nothing can move now (0.01 s while the channel's window
            # is full: paramiko offers no descriptor to wait on for that).
            wait = 0.0 if up and chan.send_ready() else 0.01 if up else 0.5
            ready, writable, _ = select.select(readers, [self.sock] if down else [], [], wait)
            if self.sock in ready:
                data = self.sock.recv(65536)
                up += data
                local_open = bool(data)
            try:
                while up and chan.send_ready():
                    del up[:chan.send(bytes(up[:65536]))]
            except OSError:  # the host command ended (e.g. its checks refused): nothing reads this any more,
                up.clear()  # and its exit status, read below, is what the user must see
            if not local_open and not up and not eof_sent:
                chan.shutdown_write()
                eof_sent = True
            ended = chan.eof_received or chan.closed  # read before the buffers: data precedes EOF
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
            if chan.recv_ready():
                down += chan.recv(65536)
            elif ended:
                remote_open = False
            if down and self.sock in writable:
                del down[:self.sock.send(down)]
        self.stderr = err.decode("utf-8", "replace")
        if chan.status_event.wait(timeout=10):  # may arrive just after EOF
            self.status = chan.exit_status
        self.sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)
        self.sock.close()


# Unpack into a staging directory inside dest (same filesystem: renames are atomic); what an
# interrupted run left there goes first.  A failed unpack drains stdin so its error, not a
# broken pipe, reaches the user.  Exit 97/98: nothing in dest was touched.
TAR_RUN = (
    "D={dest}\nmkdir -p -- \"$D\" && cd \"$D\" || exit 97\n"
    f"rm -rf ./{STAGING_PREFIX}*\n"
    f"S=$(mktemp -d \"$D/{STAGING_PREFIX}XXXXXX\") || exit 97\n"
    "trap 'rm -rf \"$S\"' EXIT HUP INT TERM\n"
    "if ! tar -xpf - --no-same-owner -C \"$S\"; then cat >/dev/null; exit 98; fi\n"
    "D=\"$D\" sh -e \"$S/.script\" \"$S\""
)


def tar_script(diff: TreeDiff, owner: str) -> str:
    """Run on the host from ``dest`` with the staging directory as ``$S``: clear what is in the
    way, create directories, rename each file into place (atomic), set modes and owners,
    delete.  Prints ``@@synced`` at the end."""
    lines = ['S="$1"', 'xargs -0 -r rm -rf -- < "$S/.lists/replace"', 'xargs -0 -r mkdir -p -- < "$S/.lists/mkdir"']
    if owner:
        lines.append(f'chown -R {sh(owner)} "$S/t"')
    for directory in sorted({os.path.dirname(rel) for rel in diff.send}):
        sub = sh(directory or ".")
        lines.append(f'(cd "$S/t/"{sub} && find . -mindepth 1 -maxdepth 1 ! -type d -print0 | '
                     f'xargs -0 -r mv -f -t "$D/"{sub} --)')
    for mode in sorted(diff.chmod):
        lines.append(f'xargs -0 -r chmod {mode:04o} -- < "$S/.lists/chmod-{mode:o}"')
    if diff.chown:
        lines.append(f'xargs -0 -r chown -h {sh(owner)} -- < "$S/.lists/chown"')
    lines += ['xargs -0 -r rm -rf -- < "$S/.lists/delete"', "echo @@synced"]
    return "\n".join(lines) + "\n"


class TarStream(io.RawIOBase):
    """The tar stream (script, path lists, files) as a readable object: a thread writes it into
    a pipe, so a large tree never sits in memory; ``meter`` follows the bytes read."""

    def __init__(self, root: Path, diff: TreeDiff, owner: str, mode: int | None, meter: Meter) -> None:
        read_fd, write_fd = os.pipe()
        self._pipe = os.fdopen(read_fd, "rb", buffering=0)
        self._meter, self._done = meter, 0
        lists = {"replace": diff.replace, "mkdir": diff.mkdir, "chown": diff.chown, "delete": diff.delete,
                 **{f"chmod-{mode:o}": paths for mode, paths in diff.chmod.items()}}
        members = {".script": tar_script(diff, owner).encode(),
                   **{f".lists/{name}": b"".join(p.encode() + b"\0" for p in paths) for name, paths in lists.items()}}
        self._writer = threading.Thread(target=_write_tar, daemon=True,
                                        args=(os.fdopen(write_fd, "wb"), root, diff.send, members, mode))
        self._writer.start()

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        """The pipe itself, for the local connection (its command reads it directly)."""
        return self._pipe.fileno()

    def read(self, size: int = -1) -> bytes:
        data = self._pipe.read(size if size > 0 else 1 << 20)
        self._done += len(data)
        self._meter.update(self._done)
        return data

    def close(self) -> None:
        self._meter.finish()
        self._pipe.close()  # a writer still blocked on a full pipe gets EPIPE and ends
        self._writer.join(timeout=30)
        super().close()


def _write_tar(pipe: Any, root: Path, send: list[str], members: dict[str, bytes], mode: int | None) -> None:
    try:
        with pipe, tarfile.open(fileobj=pipe, mode="w|", format=tarfile.GNU_FORMAT) as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
            for rel in send:
                info = tar.gettarinfo(str(root / rel), f"t/{rel}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = int(info.mtime)  # whole seconds, as the manifest compares them
                if mode and info.isfile():
                    info.mode = mode
                if info.isfile():
                    with open(root / rel, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
    except OSError:
        pass  # the reader went away (the host failed): its error is the one reported
