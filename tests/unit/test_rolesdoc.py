"""The committed role variables reference is what the declarations generate (variables.yml are the docs)."""

from pathlib import Path

import pytest

from moorage.rolesdoc import describe_type, reference

REPO = Path(__file__).resolve().parents[2]


def test_role_reference_is_up_to_date():
    assert (REPO / "docs/roles.md").read_text() == reference(), \
        "run: .venv/bin/python -m moorage.rolesdoc > docs/roles.md"


def test_reference_lists_each_role_with_its_variables_and_defaults():
    text = reference()
    assert "## `compose_app`" in text and "## `traefik`" in text
    assert ("| `app_dir` | non-empty string, matching `^/` | **required** | Absolute path of the app on the "
            "server (releases/, config/, current, backups/ live in it). |") in text
    assert "| `tls` | one of: `none`, `letsencrypt`, `selfsigned` | `\"none\"` |" in text


@pytest.mark.parametrize(("spec", "words"), [
    ({"type": "integer", "minimum": 2}, "integer, 2 or more"),
    ({"type": "integer", "minimum": 1, "maximum": 65535}, "integer, 1 to 65535"),
    ({"type": "number", "exclusiveMinimum": 0}, "number, more than 0"),
    ({"type": "array", "minItems": 1, "items": {"type": "string"}}, "non-empty list of strings"),
    ({"type": ["string", "integer"], "pattern": "^[0-9]+$"}, "string or integer, matching `^[0-9]+$`"),
    ({"enum": ["pull", "ship"]}, "one of: `pull`, `ship`"),
    ({"type": "object"}, "mapping"),
])
def test_types_in_words(spec, words):
    assert describe_type(spec) == words


def test_the_reference_is_linked_from_the_readme_and_the_variables_page():
    assert "(docs/roles.md)" in (REPO / "README.md").read_text()
    assert "(roles.md)" in (REPO / "docs/variables.md").read_text()
