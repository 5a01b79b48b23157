"""The env_file writer against compose's own parser: the real ``docker compose config`` on this machine.

Each example writes a batch of generated values with the ``env_file`` operation, then asks
``docker compose config`` for them twice in one call: as a service's ``env_file:`` (the service's
``environment``) and through ``--env-file`` interpolation (a label ``${KEY}`` per value).  Both must
give back every value exactly.  ``config`` parses without an engine, so this is a unit test; it
FAILS (never skips) when docker compose is missing, like the integration tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from testbed.compose_env import compose_problem, compose_reads

from moorage.operations.base import Facts, OpContext, PathFacts, Upload
from moorage.operations.env_file import EnvFile, parse_env

ENV_PATH = "/srv/app/config/.env"

# What compose gives a meaning to, so what a value is built from; plus arbitrary text.
_PIECES = st.sampled_from([
    "\\", "\\\\", "'", '"', "$", "$$", "${X}", "$X", "${X:-d}", "#", " #", " ", "\t", "\r", "\n",
    "\r\n", "=", ":", "\\n", "\\t", "\\'", '\\"', "\\$", "\\0101", "\\x41", "é", "日本", "\U0001f600",
    "\u00a0", "\u0085", "\u2028", "\ufeff", "export ",
])
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=6)
VALUES = st.lists(st.one_of(_PIECES, _TEXT), max_size=8).map("".join)

# The cases of issue 11 and the forms each quoting rule must handle.
ISSUE_CASES = ["x\\", "y", "it's", "C:\\Users\\me\\", "a'b\\", "pa$$word", "${HOME}", "\\", "'", '"',
               "", " lead and trail ", "a #not a comment", "two\nlines\n", "crlf\r\n", "\t", "#"]


@pytest.fixture(autouse=True)
def _require_compose() -> None:
    if problem := compose_problem():
        pytest.fail(f"this test reads .env files with the real docker compose, and {problem}. "
                    "Run `bash scripts/bootstrap.sh`.", pytrace=False)


def written(values: dict[str, str]) -> bytes:
    """The file the env_file operation uploads for ``values`` (a first write)."""
    op = EnvFile({"path": ENV_PATH, "values": values}, OpContext(host="h", variables={}))
    change = op.plan(Facts({ENV_PATH: PathFacts(ENV_PATH)}))
    assert change is not None
    return next(step.data for step in change.steps if isinstance(step, Upload))


def assert_round_trip(folder: Path, batch: list[str]) -> None:
    values = {f"MOORAGE_V{i}": value for i, value in enumerate(batch)}
    data = written(values)
    environment, labels = compose_reads(folder, data, list(values))
    assert environment == values, "as a service's env_file:"
    assert labels == values, "through --env-file interpolation"
    assert parse_env(data.decode()) == values, "by moorage's reader (generated secrets are kept by it)"


@pytest.mark.parametrize("value", ISSUE_CASES)
def test_issue_cases_read_back_exactly(tmp_path, value):
    # each alone, and followed by a line holding a quote (the value must not run into it)
    assert_round_trip(tmp_path, [value, "y'z", value])


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(batch=st.lists(VALUES, min_size=1, max_size=12))
@example(batch=["x\\", "y"])           # issue 11: compose refused the file
@example(batch=["x\\", "it's", "B"])   # issue 11: the value ran into the next line
@example(batch=["$", "${X}", "\\$X", "$$"])
@example(batch=["\n", "\r", "a\r\nb\n", " ", "\\\n"])
def test_every_value_reads_back_through_compose(tmp_path, batch):
    assert_round_trip(tmp_path, batch)


HAND_WRITTEN = [
    "# comment\n\nexport A=1\nB='x y'\n",
    "A=plain # a comment\nB=a#b\nC = spaced  \nD:yaml-style\n",
    'A="tab\\there \\0 \\08 \\0101 \\0777 \\x41 \\q"\nB=\'back\\slash \\\' quote\'\n',
    'A="multi\nline" B=same-line\nC=$$literal\nD="$$ \\$"\n',
    "\ufeffA=bom\r\nB='crlf'\r\n",
]


@pytest.mark.parametrize("text", HAND_WRITTEN)
def test_reader_agrees_with_compose_on_hand_written_files(tmp_path, text):
    expected = parse_env(text)
    environment, labels = compose_reads(tmp_path, text.encode(), list(expected))
    assert environment == expected == labels
