"""Ctrl-C during a run: the first press stops at the next safe point, a second one aborts at once.

A safe point is the moment between two tasks of a host's play, except inside a window of tasks
declared ``interruptible: false`` (the compose_app role declares its release switch, the backup and
migrations it gates, the stack's start and the health gate: a run never stops between switching
``current`` and passing the gate).  A recipe can also hold every safe point off (``shielded``) while
it repairs (the rollback after a failed gate).  The runner asks ``stops_before`` before each task.

The second press can't wait for a safe point: the process exits 130 there and then, after printing
what each host was doing and the command that repairs it (``repair``, set by the recipe).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

EXIT_STATUS = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C


class Interrupt:
    """The run's Ctrl-C state: how many presses, which hosts are inside an unsafe window, what each
    host is doing (``doing``) and how to repair it (``repair``), for the abort message."""

    def __init__(self) -> None:
        self.presses = 0
        self.catching = False  # a recipe installed the handler
        self.prompting = False  # a prompt waits for a typed answer: Ctrl-C answers it
        self._shields = 0
        self._lock = threading.Lock()
        self.doing: dict[str, str] = {}  # host -> the task running, for the abort message
        self.unsafe: dict[str, bool] = {}  # host -> inside an interruptible: false window
        self.repair: dict[str, str] = {}  # host -> the command that brings it back to a known state

    @property
    def requested(self) -> bool:
        """Whether Ctrl-C was pressed: the run should stop at its next safe point."""
        return self.presses > 0

    def stops_before(self, host: str, previous_interruptible: bool, interruptible: bool) -> bool:
        """Whether ``host``'s run stops before a task (``interruptible``) that follows one
        (``previous_interruptible``): asked for, not shielded, and not inside a window."""
        window = not previous_interruptible and not interruptible
        return self.requested and not self._shields and not window

    def at(self, host: str, task: str, interruptible: bool) -> None:
        """Record that ``host`` runs ``task`` now, ``""`` for none (for the abort message)."""
        self.doing[host] = task
        self.unsafe[host] = not interruptible

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """Hold every safe point off for the block (a repair that must run to its end)."""
        with self._lock:
            self._shields += 1
        try:
            yield
        finally:
            with self._lock:
                self._shields -= 1

    def reset(self) -> None:
        """Forget every press and host (a new run in the same process, e.g. a test)."""
        self.presses, self._shields = 0, 0
        self.doing, self.unsafe, self.repair = {}, {}, {}

    def abort_message(self) -> str:
        """What the server may be in the middle of, per host, and the command that repairs it."""
        lines = ["aborted (second Ctrl-C): the run stopped at once and did not release the deploy lock."]
        for host in sorted(set(self.doing) | set(self.repair)):
            task = self.doing.get(host)
            where = f"it was running '{task}'" if task else "no task was running"
            if self.unsafe.get(host):
                where += (", inside the release switch and health gate: current may point at a release whose "
                          "containers are not up or not checked")
            fix = self.repair.get(host)
            lines.append(f"  {host}: {where}" + (f"; repair with `{fix}`" if fix else ""))
        return "\n".join(lines) + "\n"

    def first_message(self) -> str:
        return ("\nCtrl-C: stopping at the next safe point (the task running now finishes; a release switch "
                "runs on to its health gate). Press Ctrl-C again to abort at once.\n")


INTERRUPT = Interrupt()


def _write(text: str) -> None:
    with suppress(OSError, ValueError):
        os.write(sys.stderr.fileno(), text.encode())


def _on_sigint(state: Interrupt, stop: Callable[[int], None]) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        state.presses += 1
        if state.prompting:  # waiting for a typed answer, nothing runs: the answer is "no"
            raise KeyboardInterrupt
        if state.presses == 1:
            _write(state.first_message())
            return
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        _write(state.abort_message())
        stop(EXIT_STATUS)

    return handle


@contextmanager
def catching(state: Interrupt = INTERRUPT, stop: Callable[[int], None] = os._exit) -> Iterator[Interrupt]:
    """Ctrl-C handled as the module says for the block (main thread only; elsewhere a no-op).

    ``stop`` ends the process on the second press (``os._exit``: the hosts' threads are in the
    middle of remote commands and can't be joined)."""
    if threading.current_thread() is not threading.main_thread() or state.catching:
        yield state  # not where signals arrive, or a recipe inside another one: the outer one handles it
        return
    state.reset()
    previous = signal.signal(signal.SIGINT, _on_sigint(state, stop))
    state.catching = True
    try:
        yield state
    finally:
        state.catching = False
        signal.signal(signal.SIGINT, previous)


def asking(ask: Callable[[str], str | None], state: Interrupt = INTERRUPT) -> Callable[[str], str | None]:
    """``ask`` (a prompt waiting for a typed answer) where Ctrl-C answers at once with ``""`` (no)."""
    def ask_interruptibly(prompt: str) -> str | None:
        state.prompting = True
        try:
            return ask(prompt)
        except KeyboardInterrupt:
            _write("\n")
            return ""
        finally:
            state.prompting = False

    return ask_interruptibly
