"""The files an inventory names on the controller: ``known_hosts`` and ``ssh_key``.

Two strengths of check, because a file that is missing today may be made tomorrow:

- always (``load_inventory``): a path that exists must be a file: a directory, a symbolic link
  loop or a device there is a mistake, whatever the command; so is a known_hosts line that is
  not a host key (the connection would refuse to read the file);
- before a run (``check --host``, ``deploy``): the private key of a host reached over SSH must
  exist, and so must known_hosts (the connection refuses a server whose key it doesn't pin;
  ``moorage trust`` creates the file, so it is not required before then).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from moorage.connection.ssh import known_hosts_problem
from moorage.errors import Location
from moorage.progname import command
from moorage.schema import Problem
from moorage.yamlsrc import display_path, path_kind

if TYPE_CHECKING:
    from moorage.inventory.model import Host

ABSENT = ("missing", "a symbolic link to nothing")


def file_problems(known_hosts: Path, known_hosts_at: Location, hosts: Iterable[Host], present: bool) -> list[Problem]:
    """What is wrong with the known_hosts and private key files of ``hosts`` (``Host``); with
    ``present``, a missing file is wrong too (see the module docstring)."""
    ssh = [host for host in hosts if host.target.connection == "ssh"]
    found: list[Problem] = []
    if ssh:
        kind = path_kind(known_hosts)
        if kind != "file" and (present or kind not in ABSENT):
            hint = (f"; pin the servers' keys with `{command('trust', '--host', ssh[0].name)}`"
                    if kind in ABSENT else "")
            found.append(Problem(known_hosts_at, "", f"known_hosts {display_path(known_hosts)} is {kind}, "
                                                     f"not a file{hint}"))
        unreadable = known_hosts_problem(str(known_hosts)) if kind == "file" else None
        if unreadable:
            found.append(Problem(Location(display_path(known_hosts), unreadable[0]), "", unreadable[1]))
    for host in ssh:
        key = host.target.key_file
        kind = path_kind(key) if key else "file"
        if kind != "file" and (present or kind not in ABSENT):
            found.append(Problem(host.key_location or host.location, "",
                                 f"ssh_key {display_path(key or '')} of host '{host.name}' is {kind}, not a "
                                 "private key file (a relative path is from the inventory directory; "
                                 "create a key with ssh-keygen -t ed25519 -f PATH)"))
    return list(dict.fromkeys(found))
