"""The errors moorage reports to users, each carrying where it came from.

Two families, matching the CLI's exit statuses:
- ``InputError`` (exit 2): the user's input is wrong (inventory, playbook, flag).
- ``HostError`` (exit 1): a host failed (unreachable, refused key, failed task).
The CLI prints ``str(error)`` — one sentence, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a user's file: ``file:line`` (line is 1-based, 0 when unknown)."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class MoorageError(Exception):
    """Base of every error shown to users; ``exit_code`` is the CLI's exit status."""

    exit_code = 1

    def __init__(self, message: str, location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message

    @property
    def detail(self) -> str:
        """The sentence for a place that already names the host (a task event, a host's outcome)."""
        return str(self)


class InputError(MoorageError):
    """Bad input: an invalid inventory, playbook, role, template or flag (exit 2)."""

    exit_code = 2


class HostError(MoorageError):
    """A host could not be reached, refused us, or a task failed on it (exit 1)."""

    exit_code = 1

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self._detail = message

    @property
    def detail(self) -> str:
        """The sentence without the host (shown beside it already): the host is named once."""
        return self._detail
