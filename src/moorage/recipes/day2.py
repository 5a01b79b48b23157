"""Day-2 views of a host's app, read-only, over one connection: ``releases``, ``status``, ``logs``.

releases: the ledger (every release.json, the current link) -> a table
status:   ledger, containers (docker compose ps), audit lines, backups -> one HTTP probe of the
          health URL from here -> the lock, a broken current, containers not running the current
          release (recipes/server_health.py) -> a summary (or JSON)
logs:     docker compose logs of the current release
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.table import Table

from moorage.connection import Connection, connect
from moorage.errors import InputError
from moorage.inventory import Host
from moorage.operations import server_state as server
from moorage.operations.backups import catalog
from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.http import WaitHttp
from moorage.operations.shell import Raw, sh
from moorage.progname import command
from moorage.recipes import server_health, swarm
from moorage.recipes.console import console
from moorage.recipes.play import Request
from moorage.schema import suggest
from moorage.templating import render_keys

BACKUP_WARN_HOURS = 24  # status warns when the newest verified database backup is older than a day
# docker's --since: a Go duration (10m, 1h30m, 90s) or a time stamp (2026-11-29, 2026-11-29T10:00:00Z,
# a Unix time); anything else is refused here with the forms it takes.
SINCE = re.compile(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+|\d+(\.\d+)?|\d{4}-\d\d-\d\d([T ][0-9:.]+)?(Z|[+-]\d\d:?\d\d)?")


@dataclass(frozen=True)
class App:
    """What the day-2 views need of one host's app, rendered from the deploy playbook's defaults
    and the inventory: where it lives, its compose project and file, its health URL, its backups."""

    host: Host
    app_dir: str
    compose_project: str
    compose_files: tuple[str, ...]
    health_url: str | list[str]  # one URL, or several asked in turn
    health_headers: dict[str, Any]
    backup_dir: str
    backup_databases: list[Any]
    parts: dict[str, Any] = field(default_factory=dict)  # {part: [service, ...]}, the inventory's ``parts``
    health_validate_certs: bool = True   # as the deploy's gate: a self-signed staging cert was "FAILING"
    nginx_upstreams: dict[str, Any] = field(default_factory=dict)  # compose_app's: host nginx upstreams to follow

    def compose(self, *arguments: str) -> str:
        """``docker compose ARGUMENTS`` run in the current release of the app (each argument quoted):
        the release's ``.env`` names its compose files and profiles (COMPOSE_FILE, COMPOSE_PROFILES);
        a release recorded before it did gets ``-f`` for each of ``compose_files``."""
        files = " ".join(f"-f {shlex.quote(f)}" for f in self.compose_files)
        return (f"cd {shlex.quote(self.app_dir + '/current')} && if grep -q '^COMPOSE_FILE=' .env 2>/dev/null; "
                f"then set --; else set -- {files}; fi && docker compose -p {shlex.quote(self.compose_project)} "
                '"$@" ' + " ".join(shlex.quote(a) for a in arguments))


def app_of(request: Request) -> App:
    """The one host ``request`` names and its app's settings; ``InputError`` when it names several."""
    inventory = request.inventory()
    hosts = swarm.deploy_targets(inventory, inventory.select(request.target))  # a swarm: its first manager
    if len(hosts) != 1:
        raise InputError(f"--host must name one host here, '{request.target}' selects {len(hosts)}")
    keys = ("app_dir", "compose_project", "compose_files", "health_url", "health_headers", "backup_dir",
            "backup_databases", "parts", "health_validate_certs", "nginx_upstreams")
    values = render_keys(hosts[0].variables(request.project.load_playbook("deploy").defaults()), keys)
    return App(hosts[0], str(values["app_dir"]), str(values["compose_project"]),
               tuple(str(f) for f in values["compose_files"] or ["compose.yml"]),
               _urls(values["health_url"]), dict(values["health_headers"] or {}), str(values["backup_dir"] or ""),
               list(values["backup_databases"] or []), dict(values["parts"] or {}),
               values["health_validate_certs"] is not False, dict(values["nginx_upstreams"] or {}))


@contextmanager
def _connected(app: App) -> Iterator[Connection]:
    conn = connect(app.host.target)
    try:
        yield conn
    finally:
        conn.close()


def releases(request: Request, *, json_: bool = False) -> int:
    """List a host's recorded releases, newest first (the server's order), marking the current one, with
    each one's state (pending, live, failed, superseded, rolled-back)."""
    app = app_of(request)
    with _connected(app) as conn:
        ledger = server.read_ledger(conn, app.app_dir)
    if json_:
        print(json.dumps({"current": ledger.current, "releases": ledger.releases}))
        return 0
    name = app.host.name
    table = Table("", "release", "state", "created", "revision", "by", "images", title=f"{name}: {app.app_dir}")
    for release in ledger.releases:
        meta = release.get("meta", {})
        table.add_row("*" if release["id"] == ledger.current else "", release["id"], release.get("state", ""),
                      release.get("created", ""), meta.get("revision", ""), meta.get("by", ""),
                      "\n".join(release.get("images", {})))
    console().print(table if ledger.releases else f"{name}: no release recorded yet")
    undone = ledger.rolled_back_from()
    if undone:
        console().print(f"release {ledger.current} is live because a rollback replaced {undone['id']}: "
                        "the next deploy replaces it with the project as it is now")
    return 0


def _urls(value: Any) -> str | list[str]:
    """``health_url`` as set: one URL (``""`` for none) or a list of them."""
    return [str(url) for url in value] if isinstance(value, list) else str(value or "")


def _health(app: App, conn: Connection) -> str:
    """One probe of the health URL from this machine (no retry), as one sentence."""
    if not app.health_url:
        return "none (health_url is empty: the containers' healthchecks are the gate)"
    probe = WaitHttp({"url": app.health_url, "headers": app.health_headers, "retries": 1, "timeout": 5,
                      "validate_certs": app.health_validate_certs},
                     OpContext(app.host.name, {}))
    change = probe.plan(Facts())
    assert change is not None, "wait_http always plans its request"
    try:
        return probe.apply(change, conn).message
    except TaskFailed as exc:
        return f"FAILING: {exc}"


def status(request: Request, *, json_: bool = False) -> int:
    """Show a host's current release, its containers and their health, and the last audit lines."""
    app = app_of(request)
    with _connected(app) as conn:
        ledger = server.read_ledger(conn, app.app_dir)
        listing = conn.run(_stack_services(app) if app.host.swarm else
                           app.compose("ps", "-a", "--format", "{{.Service}}|{{.State}}|{{.Health}}|{{.Image}}"))
        services = [line.split("|") for line in listing.text.splitlines() if "|" in line]
        audit = server.read_audit(conn, app.app_dir, 5)
        backups = catalog.parse_listing(conn.run(catalog.list_command(app.backup_dir or "/nonexistent")).text)
        health = _health(app, conn)
        probe = server_health.parse(conn.run(server_health.probe_command(
            app.app_dir, app.compose_project, app.compose("config", "--hash", "*"))).text)
    lock, problems = server_health.findings(probe, ledger.current, ledger.get(ledger.current or ""), app.host.name,
                                            ledger.releases[0]["id"] if ledger.releases else "")
    newest = catalog.newest_verified(backups)
    warning = catalog.staleness(backups, BACKUP_WARN_HOURS,
                                labels=None if app.backup_databases else [])  # no database: no warning
    name = app.host.name
    columns = ("service", "replicas", "mode", "image") if app.host.swarm else ("service", "state", "health", "image")
    if json_:
        print(json.dumps({"host": name, "current": ledger.current, "state": ledger.state(ledger.current or ""),
                          "health": health, "audit": audit,
                          "lock": {"held": probe.lock.held, "holder": probe.lock.holder or None,
                                   "age_seconds": probe.lock.age, "stale": probe.lock.stale() or None},
                          "current_broken": probe.broken_current or None,
                          "drift": server_health.drift(ledger.get(ledger.current or ""), probe),
                          "problems": problems,
                          "backup": {"newest": newest.name if newest else None,
                                     "age_seconds": round(newest.age()) if newest else None, "warning": warning},
                          "services": [dict(zip(columns, s, strict=False)) for s in services]}))
        return 0
    out = console()
    state = f" ({ledger.state(ledger.current)})" if ledger.current else ""
    out.print(f"[bold]{name}[/]: release [bold]{ledger.current or 'none'}[/]{state} in {app.app_dir}")
    table = Table(*columns)
    for row in services:
        table.add_row(*row)
    out.print(table)
    urls = [app.health_url] if isinstance(app.health_url, str) else app.health_url
    out.print(" ".join(filter(None, ["health gate", *urls])) + f": {health}")
    out.print(escape(lock))
    for problem in problems:
        out.print(f"[yellow]warning[/]: {escape(problem)}")
    if warning:
        out.print(f"[yellow]warning[/]: {warning}; back up with `{command('backup', '--host', name)}`")
    elif newest:
        out.print(f"backups: newest verified {newest.name}, {catalog.human_age(newest.age())} old")
    for line in audit:
        out.print(f"  audit: {line}")
    return 0


def logs(request: Request, *, service: str = "", tail: int = 100, since: str = "") -> int:
    """Print the last ``tail`` lines of the app's container logs (``service``: only that one;
    ``since``: only lines newer than that, ``10m``).

    Raises ``InputError`` when ``service`` is not one of the current release's compose services
    (``docker compose logs`` would print nothing and succeed).
    """
    arguments = logs_arguments(tail, since, follow=False)
    app = app_of(request)
    with _connected(app) as conn:
        if service:
            known_service(app, conn, service)
        result = conn.run(service_logs(app, arguments, service) if app.host.swarm else
                          app.compose(*arguments, *([service] if service else [])))
    sys.stdout.write(result.text)
    if not result.ok:
        raise InputError(f"{app.host.name}: docker compose logs failed: {result.stderr_tail(3)}")
    return 0


def _stack_services(app: App) -> str:
    """A swarm's services as ``NAME|REPLICAS|MODE|IMAGE`` lines (the stack is named like the compose project)."""
    return sh("docker", "stack", "services", "--format", "{{.Name}}|{{.Replicas}}|{{.Mode}}|{{.Image}}",
              app.compose_project)


def service_logs(app: App, arguments: list[str], service: str) -> str:
    """``docker service logs`` of the stack's ``service`` (every service of the stack when empty), with
    the options of ``logs_arguments`` that command knows (it has no --no-color)."""
    options = [a for a in arguments[1:] if a != "--no-color"]
    if service:
        return sh("docker", "service", "logs", options, f"{app.compose_project}_{service}")
    if "--follow" in options:  # every service's stream at once, until Ctrl-C ends the session
        return sh(Raw("for s in $(docker stack services --format '{{.Name}}'"), app.compose_project,
                  Raw('); do docker service logs'), options, Raw('"$s" 2>&1 & done; wait'))
    return sh(Raw("for s in $(docker stack services --format '{{.Name}}'"), app.compose_project,
              Raw('); do docker service logs'), options, Raw('"$s" 2>&1; done'))


def logs_arguments(tail: int, since: str, *, follow: bool) -> list[str]:
    """``logs --no-color --tail N [--since S] [--follow]``; raises ``InputError`` for a ``since``
    docker wouldn't read."""
    if since and not SINCE.fullmatch(since):
        raise InputError(f"--since takes a duration (10m, 1h30m, 45s) or a time (2026-11-29T10:00:00Z), "
                         f"got {since!r}")
    return ["logs", "--no-color", "--tail", str(int(tail)), *(["--since", since] if since else []),
            *(["--follow"] if follow else [])]


def known_service(app: App, conn: Connection, service: str) -> None:
    """Refuse a ``service`` the current release's compose file doesn't define, naming the ones it does."""
    listed = conn.run(app.compose("config", "--services"))
    if not listed.ok:
        raise InputError(f"{app.host.name}: cannot list the compose services of {app.app_dir}/current: "
                         f"{listed.stderr_tail(3)}")
    refuse_unlisted(app, listed.text.split(), service)


def refuse_unlisted(app: App, services: list[str], service: str) -> None:
    """``InputError`` when ``service`` is not one of ``services`` (the current release's), with
    did-you-mean and the list."""
    if service not in services:
        hint = suggest(service, services)
        raise InputError(f"{app.host.name}: no compose service {service!r} in the current release"
                         f"{hint}; its services: {', '.join(sorted(services)) or 'none'}")
