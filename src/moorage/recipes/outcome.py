"""How one host's recipe ended (``Outcome``), and the end of a recipe's report (``finish``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from moorage.executor.interrupt import EXIT_STATUS as INTERRUPTED
from moorage.report import Report


@dataclass(frozen=True)
class Outcome:
    """How one host's recipe ended, in one sentence for the user."""

    host: str
    ok: bool
    message: str
    interrupted: bool = False  # Ctrl-C stopped it at a safe point (then ``ok`` is False)


def finish(outcomes: Sequence[Outcome], report: Report) -> int:
    """The recap, one ``outcome`` event per host, the end event; failures also on stderr.

    Returns the exit status: 130 when Ctrl-C stopped a host, else 1 when a host failed, else 0.
    Every failed host shows ``failed>=1`` in its recap, whichever recipe step stopped it.
    """
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        if outcome.interrupted:
            continue
        recap = report.recap_for(outcome.host)
        if not recap.failed:
            recap.count("failed")
    report.recap()
    for outcome in outcomes:
        status = "ok" if outcome.ok else "interrupted" if outcome.interrupted else "failed"
        report.emit("outcome", host=outcome.host, status=status, message=outcome.message)
    code = INTERRUPTED if any(o.interrupted for o in outcomes) else 1 if failed else 0
    report.end(code)
    for outcome in failed:
        print(f"{'' if outcome.interrupted else 'error: '}{outcome.host}: {outcome.message}", file=sys.stderr)
    return code
