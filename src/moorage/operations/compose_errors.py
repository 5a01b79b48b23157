"""What a failed ``docker compose`` said, apart from its progress lines: the reason a user needs."""

from __future__ import annotations

import re

SAID = "@@moorage-compose-said"  # the script prints this, then compose's own stderr, after a failure

# compose's progress words (non-TTY): " Container shop-web-1  Recreated", " web Pulled", ...
_PROGRESS = re.compile(r"^\s*(DRY-RUN MODE -\s*)?((Container|Network|Volume|Image)\s+)?\S+\s+"
                       r"(Creat|Recreat|Start|Stopp|Remov|Wait|Healthy|Running|Pull|Built|Build|Exited|"
                       r"Skipped|Interrupted|Download|Extract|Verifying|Already|Digest|Status)\w*( [\w -]*)?$")
_SERVICE = re.compile(r"""service "?([A-Za-z0-9][A-Za-z0-9_.-]*)"?""")
_CONTAINER = re.compile(r"^\s*Container\s+([A-Za-z0-9][A-Za-z0-9_.-]*)")


def failure(stderr: str, project: str | None, context: int = 12, said: int = 15) -> tuple[str, str]:
    """``(reason, detail)`` from a failed compose script's stderr.

    ``reason``: ``service migrate: service "migrate" didn't complete successfully: exit 1`` — compose's
    last error line, led by the service it names ("" when compose said nothing but progress).
    ``detail``: the last ``context`` lines of ``ps``/``logs`` before ``SAID``, then, last (what a
    tail shows), compose's own error lines under a label.
    """
    before, _, after = stderr.rpartition(SAID) if SAID in stderr else ("", "", stderr)
    errors = [line.rstrip() for line in after.splitlines()
              if line.strip() and not _PROGRESS.match(line) and not line.lstrip().startswith("#")]
    errors = errors[-said:]
    context_lines = before.rstrip().splitlines()[-context:]
    detail = "\n".join([*context_lines, "--- docker compose said:", *errors] if errors else context_lines)
    if not errors:
        return "", detail
    last = errors[-1].strip()
    who = _named(errors, project)
    return (f"{who}: {last}" if who and not _SERVICE.search(last) else last), detail


def _named(errors: list[str], project: str | None) -> str:
    """``service web`` when an error line names a service or a container of the project
    (``shop-web-2``); ``container X`` for a ``Container X ...`` line of another project."""
    ours = re.compile(rf"\b{re.escape(project)}-([A-Za-z0-9][A-Za-z0-9_.-]*?)-\d+\b") if project else None
    for line in reversed(errors):
        for pattern, kind in ((_SERVICE, "service"), (ours, "service"), (_CONTAINER, "container")):
            found = pattern.search(line) if pattern else None
            if found:
                return f"{kind} {found.group(1)}"
    return ""
