"""Names docker gives meaning to, checked with docker's own rules before anything runs.

- A compose project name: lowercase letters, digits, ``-`` and ``_``, starting with a letter or
  digit — ``^[a-z0-9][a-z0-9_-]*$``, compose-go's ``projectNameRegexp`` (loader/loader.go) and the
  compose specification, 04-version-and-name.md ("name" top-level element).
- A compose service name: ``^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`` (compose-spec's schema key pattern
  for ``services``, with the first character a letter or digit as docker compose requires).
"""

from __future__ import annotations

import re

PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]*")
SERVICE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

PROJECT_NAME = {"type": "string", "pattern": f"^{PROJECT.pattern}$",
                "description": "Compose project name (-p): lowercase letters, digits, - and _, starting "
                               "with a letter or digit."}
SERVICE_NAME = {"type": "string", "pattern": f"^{SERVICE.pattern}$",
                "description": "A compose service: letters, digits, _, . and -, starting with a letter or digit."}


def project_problem(name: str) -> str | None:
    """Why ``name`` is no compose project name, or None."""
    if PROJECT.fullmatch(name):
        return None
    return (f"{name!r} is not a valid compose project name: docker compose allows lowercase letters, "
            "digits, '-' and '_', starting with a letter or digit")
