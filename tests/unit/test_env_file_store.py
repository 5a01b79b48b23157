"""Generated secrets are kept in the connecting user's ~/.moorage/secrets/PROJECT.env too, so a new
app_dir (an empty .env) gets the same values back instead of new ones."""

from __future__ import annotations

import hashlib

from moorage.operations.base import Facts, OpContext, PathFacts, Shell, Upload
from moorage.operations.env_file import HEADER, EnvFile, parse_env

STORE = "/home/deploy/.moorage/secrets/shop.env"
ARGS = {"path": "/srv/new/config/.env", "keep_secrets_as": "shop",
        "values": {"COMPOSE_PROJECT_NAME": "shop", "DB_PASSWORD": {"generate": 32}}}


def _plan(args: dict, known: dict[str, bytes]):
    op = EnvFile(args, OpContext("h", {}, user="deploy"))
    facts = Facts()
    for path in op.facts_needed().paths:
        content = known.get(path)
        facts.record(PathFacts(path, "file", "0600", content=content,
                                               sha256=hashlib.sha256(content).hexdigest()) if content is not None
                     else PathFacts(path))
    return op, op.plan(facts)


def _uploads(change) -> dict[str, dict[str, str]]:
    return {s.path: parse_env(s.data.decode()) for s in change.steps if isinstance(s, Upload)}


def test_a_first_deploy_generates_the_secret_and_keeps_it_in_the_store():
    op, change = _plan(ARGS, {})
    assert op.facts_needed().paths == {ARGS["path"], STORE}
    written = _uploads(change)
    assert written[STORE]["DB_PASSWORD"] == written[ARGS["path"]]["DB_PASSWORD"]
    assert change.data == {"new_secrets": ["DB_PASSWORD"]}
    assert any(isinstance(s, Shell) and "mkdir -p -m 0700 /home/deploy/.moorage/secrets" in s.script
               for s in change.steps)
    assert written[STORE]["DB_PASSWORD"] not in (change.diff or ""), "a secret reached the diff"


def test_a_new_app_dir_gets_the_stored_secret_back_and_nothing_is_new():
    _, change = _plan(ARGS, {STORE: b"DB_PASSWORD=kept-from-before-0123456789abcdef\n"})
    assert _uploads(change) == {ARGS["path"]: {"COMPOSE_PROJECT_NAME": "shop",
                                               "DB_PASSWORD": "kept-from-before-0123456789abcdef"}}
    assert not change.data


def test_an_existing_env_fills_the_store_without_rotating_anything():
    env = (HEADER + "COMPOSE_PROJECT_NAME=shop\nDB_PASSWORD=from-the-env-0123456789abcdefgh\n").encode()
    _, change = _plan(ARGS, {ARGS["path"]: env})
    assert _uploads(change) == {STORE: {"DB_PASSWORD": "from-the-env-0123456789abcdefgh"}}
    assert not change.data


def test_without_generated_values_there_is_no_store():
    op, _ = _plan({**ARGS, "values": {"A": "1"}}, {})
    assert op.facts_needed().paths == {ARGS["path"]}


def test_a_media_entry_is_a_path_or_a_volume():
    from jsonschema import Draft202012Validator

    from moorage.operations.postgres import PostgresBackup
    check = Draft202012Validator(PostgresBackup.args_schema)
    base = {"backup_dir": "/b", "project_name": "p", "prefix": "p", "databases": []}
    assert check.is_valid({**base, "media": [{"volume": "media"}]})
    assert check.is_valid({**base, "media": [{"path": "/m", "label": "m"}]})
    for bad in ({"volume": "media", "path": "/m"}, {"label": "x"}):
        assert not check.is_valid({**base, "media": [bad]}), bad
