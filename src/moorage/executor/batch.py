"""Many tasks' file changes in one round trip.

The batch travels as one tar stream on the stdin of one command: the tar holds
the uploaded files and a shell script that applies every task's steps in
order, printing ``@@done N`` after task N.  ``set -e`` stops at the first
failing step, so the first task without its marker is the one that failed.
Each upload lands under a temporary name in its destination directory and is
renamed into place, so nothing ever reads a half-written file.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from dataclasses import dataclass

from moorage.operations.base import Shell, Step, Upload
from moorage.operations.file_writes import owner_spec, q

RUN_BATCH = (
    'T=$(mktemp -d "${TMPDIR:-/tmp}/moorage.XXXXXX") || exit 97\n'
    "trap 'rm -rf \"$T\"' EXIT\n"
    'tar -xf - -C "$T" && sh -e "$T/script" "$T"'
)


@dataclass
class Batch:
    """The command to run and the bytes to send it."""

    command: str
    stdin: bytes
    size: int  # payload bytes of the uploads, for progress


def _upload_script(index: int, step: Upload) -> str:
    directory, name = posixpath.split(step.path)
    temp = posixpath.join(directory, f".{name}.moorage-tmp")
    lines = [f'(umask 077 && cat "$T/f{index}" > {q(temp)})']
    if step.mode:
        lines.append(f"chmod {step.mode} {q(temp)}")
    if step.owner or step.group:
        lines.append(f"chown {q(owner_spec(step.owner, step.group))} {q(temp)}")
    lines.append(f"mv -f -- {q(temp)} {q(step.path)}")
    return "\n".join(lines)


def build(items: list[list[Step]]) -> Batch:
    """One batch applying each item's steps in order (item N = the Nth pending task)."""
    buffer = io.BytesIO()
    script = ["umask 022", 'T="$1"']
    files = 0
    size = 0
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for number, steps in enumerate(items):
            for step in steps:
                if isinstance(step, Upload):
                    _add(tar, f"f{files}", step.data)
                    script.append(_upload_script(files, step))
                    files += 1
                    size += len(step.data)
                elif isinstance(step, Shell):
                    script.append(step.script)
            script.append(f"echo @@done {number}")
        _add(tar, "script", ("\n".join(script) + "\n").encode())
    return Batch(RUN_BATCH, buffer.getvalue(), size)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def completed(stdout: str) -> int:
    """How many items of the batch finished (their ``@@done`` markers)."""
    return sum(1 for line in stdout.splitlines() if line.startswith("@@done "))
