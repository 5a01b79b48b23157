"""The preflight's server checks against a pretend server: a missing volume, a stale or unreadable
backup, none at all, and the first release (nothing to protect yet)."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from fakes import FakeConnection

from moorage.recipes import preflight_server
from moorage.recipes.data_settings import DataSettings

NAME = "stratum-db-20261005T010000Z.dump"


def settings(databases: list[dict[str, Any]] | None = None) -> DataSettings:
    host: Any = SimpleNamespace(name="prod")
    return DataSettings(host, "/srv/stratum", "/opt/stratum_backups", "stratum", "stratum",
                        [{"service": "postgres", "label": "db"}] if databases is None else databases)


def listing(age_hours: float, state: str = "verified") -> str:
    meta = {"name": NAME, "kind": "db", "label": "db", "size": 2048, "service": "postgres", "state": state}
    return f"@@file 2048 {time.time() - age_hours * 3600:.0f} {NAME}\n@@meta {json.dumps(meta)}\n"


def test_a_missing_volume_is_named() -> None:
    conn = FakeConnection().answer("docker volume inspect stratum_pg_data", stdout="@@missing stratum_pg_data\n")
    reason = preflight_server._volumes_missing(conn, "stratum_pg_data")  # type: ignore[arg-type]
    assert reason and reason.startswith("the Docker volume stratum_pg_data is missing on the server")
    assert preflight_server._volumes_missing(FakeConnection(), ["a", "b"]) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("answers", "hours", "expected"), [
    ([("cd /opt/stratum_backups", lambda: listing(30))], 24,
     "the newest verified backup of db is 30.0 h old (stratum-db-20261005T010000Z.dump), more than 24 h; "
     "make one with `moorage backup --host prod`"),
    ([("cd /opt/stratum_backups", "")], 24, "no verified database backup of db on this host"),
    ([("cd /opt/stratum_backups", lambda: listing(1, state="corrupt"))], 24, "no verified database backup of db"),
    ([("cd /opt/stratum_backups", lambda: listing(1)),
      ("check ", f"@@verify {NAME} corrupt pg_restore cannot read it\n")],
     24, f"the newest backup does not read back: {NAME}: corrupt: pg_restore cannot read it"),
    ([("cd /opt/stratum_backups", lambda: listing(1)), ("check ", f"@@verify {NAME} ok\n")], 24, None),
])
def test_backup_fresh(answers: list[tuple[str, Any]], hours: float, expected: str | None) -> None:
    conn = FakeConnection()
    # listings are made now, not at collection: a long run made "30 h" into "30.2 h"
    for pattern, stdout in reversed(answers):  # the first pattern found wins: the verify script holds both
        conn.answer(pattern, stdout=stdout() if callable(stdout) else stdout)
    reason = preflight_server._backup_stale(conn, settings(), hours)  # type: ignore[arg-type]
    assert reason == expected if expected is None else reason is not None and expected in reason


def test_no_database_to_back_up_cannot_be_fresh() -> None:
    reason = preflight_server._backup_stale(FakeConnection(), settings([]), 24)  # type: ignore[arg-type]
    assert reason == "backup_databases is empty: no database is backed up, so no backup can be fresh"


def test_before_the_first_release_there_is_nothing_to_protect(monkeypatch: pytest.MonkeyPatch) -> None:
    def server(ledger: str = "") -> FakeConnection:
        conn = FakeConnection().answer("docker volume inspect", stdout="@@missing stratum_pg_data\n")
        return conn.answer("readlink current", stdout=ledger) if ledger else conn
    monkeypatch.setattr(preflight_server, "of_hosts", lambda hosts, playbook: [settings()])
    host: Any = SimpleNamespace(name="prod", target=None)
    project: Any = SimpleNamespace(load_playbook=lambda name: None)
    variables = {"preflight": {"volume_present": {"volume": "stratum_pg_data"}}}
    monkeypatch.setattr(preflight_server, "connect", lambda target: server())
    assert preflight_server.failures(host, variables, project) == []      # no current release
    # a first deploy that failed: current names it, but no release was ever live (the rerun must pass)
    monkeypatch.setattr(preflight_server, "connect", lambda target: server('releases/R1\nfailed {"id": "R1"}\n'))
    assert preflight_server.failures(host, variables, project) == []
    monkeypatch.setattr(preflight_server, "connect", lambda target: server('releases/R1\nlive {"id": "R1"}\n'))
    assert preflight_server.failures(host, variables, project) == [
        "volume_present: the Docker volume stratum_pg_data is missing on the server (`docker volume ls`): its data "
        "is gone or the volume was renamed; restore it before deploying (see `moorage restore`)"]
