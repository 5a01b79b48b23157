"""The deploy lock on a server: take it, give it back, and say who holds it and whether that run is gone.

The lock is the directory ``app_dir/.moorage/lock`` (``mkdir`` is atomic) with a ``holder`` file
(JSON: ``by`` user@controller, ``pid`` on the controller, ``since``, ``action``, and ``session``: the
server-side process of the holder's connection with its start time, so the server itself can tell
when the holder's connection is gone).  Taking it fails with ``LockHeld`` only when another run holds
it; any other failure (disk full, permission denied, read-only filesystem) says that reason and leaves
no lock behind.  Once the lock is taken, release directories a failed recording left half-written
(``releases/*.partial``) are removed.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from moorage.connection.base import Connection
from moorage.errors import HostError
from moorage.operations.shell import Raw, sh
from moorage.serverpaths import delete_refusal

STATE = ".moorage"
HELD_EXIT = 75  # the script's status when the lock directory already exists
FAILED_EXIT = 76  # the script's status when the lock couldn't be made for another reason
STALE_AFTER_SECONDS = 2 * 3600  # no deploy holds the lock this long: past it, status calls the lock stale
_PARTIAL = "@@partial "
# The holder's connection on the server: the first ancestor of this shell that isn't a shell or sudo
# (sshd's session process, or the controller itself on a local connection), with its start time
# (a pid can be reused).  /proc/PID/stat after "(comm) ": field 2 is the parent, 20 the start time.
_SESSION = ('p=$PPID; for _ in 1 2 3 4; do case "$(cat /proc/$p/comm 2>/dev/null)" in sudo|su|sh|dash|bash) '
            'p=$(sed \'s/.*) //\' /proc/$p/stat | cut -d" " -f2);; *) break;; esac; done; '
            'printf \'%s %s\' "$p" "$(sed \'s/.*) //\' /proc/$p/stat 2>/dev/null | cut -d" " -f20)"')

# The holder's SSH connection as sshd names it (client address and port, server address and port):
# every process its commands start inherits it, so a takeover can wait for those still running.
_CONNECTION = 'printf \'", "connection": "%s"}\\n\' "$SSH_CONNECTION"'

# Why a filesystem call fails, as the shell says it, and what the user can do about it.
_REASONS = (
    ("No space left on device", "the disk is full: free space on the server, then rerun"),
    ("Disk quota exceeded", "the user's disk quota is used up: free space or raise the quota, then rerun"),
    ("Read-only file system", "the filesystem is read-only (remounted after an error?): make it writable, "
                              "then rerun"),
    ("Permission denied", "the user moorage connects as may not write there: fix the ownership of app_dir"),
    ("Not a directory", "a file stands where a directory should be"),
)


class LockHeld(HostError):
    """Another run holds the deploy lock."""


def operator() -> str:
    """Who runs this: ``user@host`` of the controller."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def now() -> str:
    """The controller's UTC time to the second, as the lock and the audit log write it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def lock_dir(app_dir: str) -> str:
    return f"{app_dir}/{STATE}/lock"


def take_command(app_dir: str, holder: dict[str, Any]) -> str:
    """The script that takes the lock: exit 0 taken (prints ``@@partial PATH`` per half-written release
    it removed), ``HELD_EXIT`` with the holder file on stdout, ``FAILED_EXIT`` with the reason on stderr
    (and no lock left)."""
    lock = lock_dir(app_dir)
    body = json.dumps(holder)[:-1] + ', "session": "'
    return "\n".join([
        sh("mkdir", "-p", f"{app_dir}/{STATE}", Raw(f"|| exit {FAILED_EXIT}")),
        sh(Raw("if ! err=$(mkdir"), lock, Raw("2>&1); then")),
        sh(Raw("  if [ -d"), lock, Raw("]; then cat"), f"{lock}/holder", Raw(f"2>/dev/null; exit {HELD_EXIT}; fi")),
        f'  printf "%s\\n" "$err" >&2; exit {FAILED_EXIT}',
        "fi",
        # The holder goes in whole or not at all: a lock without its holder would block every later run.
        # Written through ``cat``, whose error names the cause (dash's printf says "I/O error").
        sh(Raw("if ! { printf '%s'"), body, Raw(f"&& {_SESSION} && {_CONNECTION}; }} | cat >"), f"{lock}/holder",
           Raw("; then rm -rf --"), lock, Raw(f"; exit {FAILED_EXIT}; fi")),
        sh("cd", f"{app_dir}/releases", Raw("2>/dev/null || exit 0")),
        'for p in *.partial; do [ -d "$p" ] && [ ! -L "$p" ] || continue; '
        f'rm -rf -- "./$p" && echo "{_PARTIAL}$p"; done; exit 0',
    ])


def failure_reason(stderr: str) -> str:
    """The shell's error as a sentence: what went wrong and what to do (the raw text when unknown)."""
    text = " ".join(stderr.split())
    for needle, advice in _REASONS:
        if needle.lower() in text.lower():
            return f"{needle.lower()} — {advice} ({text})"
    return text or "the command failed without saying why"


class Taken(NamedTuple):
    """What taking the lock found: the holder text a ``--break-lock`` removed, the partial releases
    removed, and the holder text of a stale lock taken over (its connection to the server was gone)."""

    broken: str | None
    partials: list[str]
    took_over: str | None = None


def acquire(conn: Connection, app_dir: str, action: str, break_lock: bool = False,
            say: Callable[[str], object] | None = None) -> Taken:
    """Take the deploy lock.  A lock whose holder's connection the server proves gone (a controller
    killed, an SSH connection dropped) is taken over; a lock merely old is not.

    Raises ``LockHeld`` naming who holds it and since when, or ``HostError`` with the reason it
    couldn't be taken (nothing is left behind then).  ``app_dir`` must be a path a recursive delete may
    touch (``serverpaths.delete_refusal``): the lock's cleanup removes under it.  ``say`` is told, before
    a takeover waits (up to ``DRAIN_SECONDS``) for the cut run's commands, that it waits and why.
    """
    refusal = delete_refusal(f"{app_dir}/releases")
    if refusal:
        raise HostError(conn.target.name, f"app_dir {app_dir} cannot hold a deploy lock: {app_dir}/releases {refusal}")
    holder = {"by": operator(), "pid": os.getpid(), "since": now(), "action": action}
    broken = took_over = None
    if break_lock:
        result = conn.run(sh("cat", f"{lock_dir(app_dir)}/holder", Raw("2>/dev/null; rm -rf --"), lock_dir(app_dir)))
        broken = result.text.strip() or None
    result = conn.run(take_command(app_dir, holder))
    if result.exit_code == HELD_EXIT:
        state = inspect(conn, app_dir)
        if state.session_alive is False and _drained(conn, state, say) \
                and conn.run(takeover_command(app_dir, state.holder_text)).ok:
            took_over = state.holder_text
            result = conn.run(take_command(app_dir, holder))
    if result.exit_code == HELD_EXIT:
        state = inspect(conn, app_dir)
        raise LockHeld(conn.target.name, f"deploy lock on {app_dir} is held: {state.describe()}; wait for that run, "
                                         "or if it is gone rerun with --break-lock")
    if not result.ok:
        raise HostError(conn.target.name, f"cannot take the deploy lock in {app_dir}: "
                                          f"{failure_reason(result.stderr_tail(3))}; no lock was left behind")
    partials = [line[len(_PARTIAL):] for line in result.text.splitlines() if line.startswith(_PARTIAL)]
    return Taken(broken, partials, took_over)


DRAIN_SECONDS = 120  # how long a takeover waits for the cut run's commands still running on the server


def drain_command(connection: str, seconds: int = DRAIN_SECONDS) -> str:
    """Wait (at most ``seconds``) until no process on the server carries the cut run's SSH connection
    (``SSH_CONNECTION`` in its environment, inherited by everything its commands started: a
    ``docker compose up`` outlives the dropped connection).  Exit 0 when none is left; 1 with
    their pids on stdout when some still run."""
    return "\n".join([
        "want=" + sh("SSH_CONNECTION=" + connection),
        f"for _ in $(seq 1 {int(seconds)}); do",
        "  pids=$(for e in /proc/[0-9]*/environ; do tr '\\0' '\\n' 2>/dev/null < \"$e\" | grep -qxF -- \"$want\" "
        "&& { p=${e#/proc/}; echo \"${p%/environ}\"; }; done)",
        '  [ -z "$pids" ] && exit 0',
        "  sleep 1",
        "done",
        'echo $pids; exit 1',
    ])


def _drained(conn: Connection, state: LockState, say: Callable[[str], object] | None = None) -> bool:
    """Before taking over a stale lock: the cut run's remote commands have ended (waited for).
    Raises ``LockHeld`` when some still run after ``DRAIN_SECONDS``."""
    connection = str(state.holder.get("connection") or "")
    if not connection:
        return True  # a holder from before the field, or a local connection: nothing to wait for
    if say is not None:
        say(f"the deploy lock's holder ({state.describe()}) lost its connection: waiting up to "
            f"{DRAIN_SECONDS} s for its commands still running on the server to end before taking it over")
    result = conn.run(drain_command(connection), timeout=DRAIN_SECONDS + 30)
    if result.ok:
        return True
    raise LockHeld(conn.target.name, f"the run holding the deploy lock ({state.describe()}) lost its connection, "
                   f"but its commands still run on the server (pids {result.text.strip()}): wait for them to "
                   "end and rerun, or rerun with --break-lock")


def takeover_command(app_dir: str, holder_text: str) -> str:
    """Remove a stale lock, only when its holder file still reads ``holder_text`` (two reruns racing
    for it: one removes it, the other finds the new holder and is refused).  ``lock.takeover`` is a
    mutex between them (one left by a killed takeover is removed after a minute).  Exit 0: removed."""
    state = f"{app_dir}/{STATE}"
    return "\n".join([
        sh("cd", state, Raw("|| exit 1")),
        "find . -maxdepth 1 -name lock.takeover -mmin +1 -exec rmdir {} + 2>/dev/null",
        "mkdir lock.takeover 2>/dev/null || exit 1",
        sh(Raw('[ "$(cat lock/holder 2>/dev/null)" ='), holder_text, Raw('] && mv -T lock "lock.stale.$$"; ok=$?')),
        'rmdir lock.takeover; [ "$ok" = 0 ] && rm -rf -- "lock.stale.$$"; exit "$ok"',
    ])


def release(conn: Connection, app_dir: str) -> None:
    """Give the deploy lock back."""
    conn.run(sh("rm", "-rf", "--", lock_dir(app_dir)))


# -- who holds it ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LockState:
    """The lock as the server shows it: ``held``, the ``holder`` file's text, its ``age`` in seconds
    (from the lock directory's time on the server), ``session_alive`` (the holder's connection on the
    server: True, False, or None when it can't be told)."""

    held: bool
    holder_text: str = ""
    age: float | None = None
    session_alive: bool | None = None

    @property
    def holder(self) -> dict[str, Any]:
        try:
            value = json.loads(self.holder_text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def stale(self) -> str:
        """Why the lock looks abandoned (a phrase), or ``""`` when its holder may still be running."""
        holder = self.holder
        if self.held and not holder:
            return "it has no holder recorded (left by a run that failed while taking it)"
        if self.session_alive is False:
            return "the holder's connection to the server is gone"
        pid = holder.get("pid")
        if holder.get("by") == operator() and isinstance(pid, int) and not _pid_alive(pid):
            return f"process {pid} on this machine is gone"
        if self.age is not None and self.age > STALE_AFTER_SECONDS:
            return f"it was taken {_duration(self.age)} ago, longer than any deploy takes"
        return ""

    def describe(self) -> str:
        """``deploy by u@h (pid N) since T, for 3 min`` and, when stale, why."""
        if not self.held:
            return "free"
        holder = self.holder
        who = (f"{holder.get('action', 'deploy')} by {holder.get('by', '?')} (pid {holder.get('pid', '?')}) "
               f"since {holder.get('since', '?')}") if holder else "holder unknown"
        if self.age is not None:
            who += f", for {_duration(self.age)}"
        why = self.stale()
        return f"{who} — stale: {why}" if why else who


def inspect_command(app_dir: str) -> str:
    """Prints ``free``, or ``held AGE_SECONDS SESSION_STATE`` then the holder file."""
    lock = lock_dir(app_dir)
    return "\n".join([
        sh(Raw("[ -d"), lock, Raw("] || { echo free; exit 0; }")),
        sh(Raw("session=$(sed -n 's/.*\"session\": \"\\([0-9]* [0-9]*\\)\".*/\\1/p'"), f"{lock}/holder",
           Raw("2>/dev/null)")),
        'state=unknown; if [ -n "$session" ]; then state=gone; set -- $session',
        '  [ "$(sed \'s/.*) //\' /proc/$1/stat 2>/dev/null | cut -d" " -f20)" = "$2" ] && state=alive; fi',
        sh(Raw('echo held "$(( $(date +%s) - $(stat -c %Y'), lock, Raw(') ))" "$state"; cat'), f"{lock}/holder",
           Raw("2>/dev/null; exit 0")),
    ])


def parse_inspect(text: str) -> LockState:
    """``inspect_command``'s output as a ``LockState``."""
    first, _, rest = text.partition("\n")
    words = first.split()
    if not words or words[0] != "held":
        return LockState(False)
    age = float(words[1]) if len(words) > 1 and words[1].lstrip("-").isdigit() else None
    alive = {"alive": True, "gone": False}.get(words[2] if len(words) > 2 else "")
    return LockState(True, rest.strip(), age, alive)


def inspect(conn: Connection, app_dir: str) -> LockState:
    """The lock's state on the server, in one command."""
    return parse_inspect(conn.run(inspect_command(app_dir)).text)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
