"""The .env syntax: values written by env_file read back exactly, as compose reads them."""

import pytest

from moorage.operations.base import Facts, OpContext, PathFacts, PlanError, Upload
from moorage.operations.env_file import EnvFile, env_refusal, parse_env, quote_env


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("dm_db", "dm_db"),
        ("127.0.0.1,localhost,pyxalix.devamalix.fr", "127.0.0.1,localhost,pyxalix.devamalix.fr"),
        ("https://pyxalix.devamalix.fr", "https://pyxalix.devamalix.fr"),
        ("hello world", "'hello world'"),
        ("a#b", "'a#b'"),
        ("price $5", "'price $5'"),
        ("it's", '"it\'s"'),
        ("it's $HOME", '"it\'s $$HOME"'),
        ('say "hi" it\'s', '"say \\"hi\\" it\'s"'),
        ("line1\nline2", '"line1\\nline2"'),
        ("x\\", '"x\\\\"'),                     # a trailing backslash can't end '...'
        ("C:\\Users\\me", "'C:\\Users\\me'"),     # inside '...' a backslash is literal
        ("crlf\r\n", '"crlf\\r\\n"'),
        ("${HOME}", "'${HOME}'"),
        ("", ""),
        (True, "true"),
        (5432, "5432"),
        (None, ""),
    ],
)
def test_quote_and_read_back(value, written):
    assert quote_env(value) == written
    expected = {True: "true", None: ""}.get(value, str(value)) if not isinstance(value, str) else value
    assert parse_env(f"KEY={written}\n") == {"KEY": expected}


def test_parse_ignores_comments_and_blank_lines_and_export():
    text = "# comment\n\nexport A=1\nB='x y'\n"
    assert parse_env(text) == {"A": "1", "B": "x y"}


def test_a_later_quote_does_not_swallow_the_next_line():
    """Issue 11: A ending in a backslash, then a line holding a quote."""
    text = "".join(f"{k}={quote_env(v)}\n" for k, v in {"A": "x\\", "B": "it's", "C": "z"}.items())
    assert parse_env(text) == {"A": "x\\", "B": "it's", "C": "z"}


@pytest.mark.parametrize("value", ["a\0b", "\0", "bad\ud800surrogate"])
def test_what_no_env_file_can_hold_is_refused_with_a_reason(value):
    assert env_refusal(value)
    with pytest.raises(ValueError, match=r"NUL|Unicode"):
        quote_env(value)


def test_everything_else_is_writable():
    assert env_refusal("any \\ ' \" $ # \t \r \n é 日本") is None


def plan(values, current: bytes | None = None):
    path = "/srv/.env"
    facts = PathFacts(path, "file", "0600", content=current) if current is not None else PathFacts(path)
    return EnvFile({"path": path, "values": values}, OpContext(host="h", variables={})).plan(Facts({path: facts}))


def test_plan_refuses_naming_the_variable_never_the_value():
    with pytest.raises(PlanError) as caught:
        plan({"OK": "fine", "DB_PASSWORD": "s3cr3t\0tail"})
    message = str(caught.value)
    assert "/srv/.env" in message and "DB_PASSWORD" in message and "NUL" in message
    assert "s3cr3t" not in message


def test_generated_secret_kept_from_a_file_compose_cannot_read():
    """A file an older moorage wrote (A='x\\' breaks it) still gives back its generated secret."""
    old = b"A='x\\'\nSECRET_KEY=Abc123Abc123Abc123Abc1\nB='y'\n"
    change = plan({"A": "x\\", "SECRET_KEY": {"generate": 20}, "B": "y"}, old)
    data = next(step.data for step in change.steps if isinstance(step, Upload)).decode()
    assert parse_env(data) == {"A": "x\\", "SECRET_KEY": "Abc123Abc123Abc123Abc1", "B": "y"}
