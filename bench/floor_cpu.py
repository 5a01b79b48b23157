"""Controller CPU of one tool run: user + system seconds of its whole process tree.

What is counted:

- every process the run started and that was waited for: ``getrusage(RUSAGE_CHILDREN)`` of the
  bench process before and after (the kernel adds a child's rusage, and that of the descendants
  it waited for, when the bench waits for it).  So moorage's own process with all its threads,
  the local ``rsync`` it starts and its ``_RSH`` relay; ansible's workers and their ssh/rsync;
  pyinfra's process; the floor's ``rsync`` and its ssh client (mux client or fresh connection).
- ssh ControlMaster processes, which outlive the run and are nobody's waited child: the warm
  floor's masters and ansible's ControlPersist masters.  Their CPU is read from
  ``/proc/PID/stat`` (utime + stime) before and after the run; a master born during the run
  counts from 0 (a forked master starts its own clock at 0).

Nothing else runs in the bench process between the two readings (server preparation is done
before ``start``).  The servers' sshd and the containers are not the controller and not counted.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """utime + stime of one live process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of proc(5)


def masters(control_dir: Path | None) -> dict[int, float]:
    """The CPU seconds so far of each ssh ControlMaster with a socket in ``control_dir``."""
    found: dict[int, float] = {}
    for sock in control_dir.iterdir() if control_dir and control_dir.exists() else []:
        proc = subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "check", "bench"], capture_output=True,
                              text=True, timeout=30, check=False)
        match = re.search(r"pid=(\d+)", proc.stderr)
        if match:
            found[int(match.group(1))] = process_cpu(int(match.group(1)))
    return found


class Meter:
    """``start()`` before a run, ``stop()`` after it: the run's controller CPU seconds."""

    def __init__(self, tool: object) -> None:
        control = getattr(tool, "control", None) or getattr(tool, "control_dir", None)
        self.control = Path(control) if control else None

    def start(self) -> None:
        self._masters = masters(self.control)
        self._children = children_cpu()

    def stop(self) -> float:
        spent = children_cpu() - self._children
        after = masters(self.control)  # after the children's reading: these ssh -O check calls aren't the run's
        return spent + sum(cpu - self._masters.get(pid, 0.0) for pid, cpu in after.items())
