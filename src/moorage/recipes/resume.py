"""What a deploy does after an interruption, decided from what the server recorded (pure).

The server's record is the truth, not what this run created: releases/<id>/.state says ``pending``
from the switch until the gates pass (``live``), release.json records the backup taken for it.  So a
current release still ``pending`` is a deploy interrupted after its switch (a controller killed, an
SSH connection dropped): the rerun finishes it (the release operation registers ``resumed``: its
backup unless recorded, its migrations, up, the gates) or, when that fails, rolls back to the last
release that was live.
"""

from __future__ import annotations

from dataclasses import dataclass

from moorage.operations import server_state as server


@dataclass(frozen=True)
class Unfinished:
    """The current release, switched to but never past its gates, and the last live one (where a
    failure returns; None when no release was live)."""

    release: str
    back_to: str | None

    def announce(self) -> str:
        """The warning a rerun prints before it starts."""
        back = f"rolls back to {self.back_to}" if self.back_to else "has no earlier live release to roll back to"
        return (f"release {self.release} is current but never passed its health gate (a deploy was interrupted "
                f"after switching to it): this deploy finishes it (backup, migrations, up, gates) or, if that "
                f"fails, {back}")


def unfinished(ledger: server.Ledger) -> Unfinished | None:
    """The interrupted deploy a rerun must finish, or None when the current release is settled."""
    current = ledger.current
    if not current or ledger.state(current) != "pending" or current in ledger.inferred:
        return None
    good = ledger.live_besides(current)
    return Unfinished(current, str(good["id"]) if good else None)


@dataclass(frozen=True)
class AfterFailure:
    """What a failed deploy does: ``failed`` (the releases to mark failed), ``roll_back`` (the
    current release never passed its gates: the last live one comes back), ``still`` (the live
    release when the failure came before any switch)."""

    failed: tuple[str, ...]
    roll_back: bool
    still: str | None


def after_failure(ledger: server.Ledger, this_run: str) -> AfterFailure:
    """Decide from the ledger as the failed run left it.  The run's own release (when recorded) is
    failed; a current release that is ``pending`` (this run's, or one an interrupted run switched to
    and this run tried to finish) is failed too and replaced by the last live one; otherwise the
    failure came before the switch and the current release, live, is untouched."""
    failed = [this_run] if ledger.get(this_run) is not None else []
    current = ledger.current
    if current and (current == this_run or ledger.state(current) == "pending"):
        if current not in failed:
            failed.append(current)
        return AfterFailure(tuple(failed), True, None)
    return AfterFailure(tuple(failed), False, current)
