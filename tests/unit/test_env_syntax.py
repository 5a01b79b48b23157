"""The .env syntax: values written by env_file read back exactly, as compose reads them."""

import pytest

from moorage.operations.env_file import parse_env, quote_env


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
