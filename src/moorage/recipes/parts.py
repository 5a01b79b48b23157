"""Parts: named groups of compose services (the inventory's ``parts``), and the two verbs that act
on them beyond compose's own restart/stop/start.

up:    docker compose up -d --no-deps [--scale S=N] SERVICES in the current release (the release's
       compose_scale kept, other parts untouched) -> the readiness gate (compose_ready)
down:  docker compose rm --stop --force SERVICES: the containers go; never ``-v``, so every volume
       (named or anonymous) and its data stays for the next ``up``

``services.control`` runs them inside the deploy lock with the audit line, like restart/stop/start.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from moorage.connection import Connection
from moorage.errors import InputError
from moorage.operations.base import Facts, OpContext, Operation, TaskFailed
from moorage.operations.compose_ready import ComposeReady
from moorage.operations.nginx_upstream import NginxUpstream, upstream_targets
from moorage.operations.shell import Raw, sh
from moorage.schema import suggest

if TYPE_CHECKING:  # a type only: day2 brings rich's tables, which a deploy doesn't need
    from moorage.recipes.day2 import App

PART_VERBS = ("up", "down")
SCALE_FILE = ".moorage-scale.json"  # written by compose_app into each release (compose_scale)


def split_names(values: Sequence[str] | None) -> list[str]:
    """``--part a --part b,c`` -> ``[a, b, c]`` (empty words dropped, duplicates once, order kept)."""
    words = [word.strip() for value in values or [] for word in value.split(",")]
    return list(dict.fromkeys(word for word in words if word))


def services_of(app: App, parts: Sequence[str], services: Sequence[str] = ()) -> list[str]:
    """The services of ``parts`` (the inventory's ``parts`` for this host) after ``services``,
    each once.  Raises ``InputError`` for a part the inventory doesn't declare (did-you-mean and
    the parts it has)."""
    declared = {str(name): [str(s) for s in members] for name, members in app.parts.items()
                if isinstance(members, list)}
    found = list(services)
    for part in parts:
        if part not in declared:
            have = ", ".join(sorted(declared)) or "none (declare them: parts: {db: [postgres], api: [api]})"
            raise InputError(f"--part {part}: host '{app.host.name}' has no part {part!r}{suggest(part, declared)}; "
                             f"its parts: {have}")
        found += declared[part]
    return list(dict.fromkeys(found))


def command(app: App, conn: Connection, verb: str, services: Sequence[str]) -> str:
    """The compose command of ``verb`` (up or down) for ``services`` in the current release."""
    assert verb in PART_VERBS, verb
    if verb == "down":  # no -v: volumes are the data, a part brought back finds it
        return app.compose("rm", "--stop", "--force", *services)
    scale = release_scale(conn, app.app_dir)
    scaled = [f"{service}={scale[service]}" for service in services if isinstance(scale.get(service), int)]
    return app.compose("up", "-d", "--no-deps", *[token for s in scaled for token in ("--scale", s)], *services)


def release_scale(conn: Connection, app_dir: str) -> dict[str, Any]:
    """The current release's compose_scale (``{}`` when it recorded none)."""
    text = conn.run(sh("cat", f"{app_dir}/current/{SCALE_FILE}", Raw("2>/dev/null"))).text
    try:
        scale = json.loads(text or "{}")
    except ValueError:
        return {}
    return scale if isinstance(scale, dict) else {}


def wait_ready(app: App, conn: Connection, services: Sequence[str]) -> str:
    """Wait for ``services`` to be ready (the deploy's readiness gate); ``""`` when they are,
    else why not (the failing service, its state and last log lines)."""
    return _applied(ComposeReady({"project_dir": f"{app.app_dir}/current", "project_name": app.compose_project,
                                  "default_files": list(app.compose_files), "services": list(services)},
                                 OpContext(app.host.name, {})), conn)


def follow_upstreams(app: App, conn: Connection) -> str:
    """Point the host nginx upstreams (``nginx_upstreams``, ``proxy: host_nginx`` locations naming a
    service) at the containers running now: a restarted or recreated container publishes its port
    on a new ephemeral host port.  ``""`` when done (or none), else why not (nginx's error)."""
    if not upstream_targets(app.nginx_upstreams):
        return ""
    return _applied(NginxUpstream({"project_name": app.compose_project, "upstreams": app.nginx_upstreams},
                                  OpContext(app.host.name, {})), conn)


def _applied(op: Operation, conn: Connection) -> str:
    """Plan and apply ``op`` here (a recipe's own step, outside a play); ``""`` when it went well or
    had nothing to do, else the failure's message."""
    change = op.plan(Facts())
    try:
        if change is not None:
            op.apply(change, conn)
    except TaskFailed as exc:
        return str(exc)
    return ""
