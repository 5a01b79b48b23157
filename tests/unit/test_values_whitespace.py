"""Template whitespace as a config-file author expects it: a line holding only block tags or
comments disappears with its break; a tag in the middle of a line keeps that line's break and
its indentation (docs/variables.md, "Whitespace")."""

from __future__ import annotations

import pytest

from moorage import templating
from moorage.errors import InputError
from moorage.template_lines import keep_breaks

CASES = [
    ("inline if keeps the break",
     "GSSAPIAuthentication {% if x %}yes{% else %}no{% endif %}\nNext line\n",
     {"x": True}, "GSSAPIAuthentication yes\nNext line\n"),
    ("tag-only lines vanish",
     "a\n{% if x %}\nb\n{% endif %}\nc\n", {"x": True}, "a\nb\nc\n"),
    ("indented tag-only lines vanish, content keeps its indentation",
     "server {\n    {% for p in ports %}\n    listen {{ p }};\n    {% endfor %}\n}\n",
     {"ports": [80, 443]}, "server {\n    listen 80;\n    listen 443;\n}\n"),
    ("a tag starting a line with text after it keeps the indentation",
     "  {% if x %}ssl on;{% endif %}\nz\n", {"x": True}, "  ssl on;\nz\n"),
    ("a comment alone on its line vanishes", "a\n{# why #}\nb\n", {}, "a\nb\n"),
    ("several tags on one line", "{% if x %}{% if y %}\nin\n{% endif %}{% endif %}\nout\n",
     {"x": True, "y": True}, "in\nout\n"),
    ("set at the top", "{% set n = 2 %}\nn={{ n }}\n", {}, "n=2\n"),
    ("trailing spaces after a tag-only line", "{% if x %}   \na\n{% endif %}\t\n", {"x": True}, "a\n"),
    ("explicit whitespace control still works", "a {%- if x %} b{% endif %}\n", {"x": True}, "a b\n"),
    ("raw content is untouched", "{% raw %}\n{% if %}\n  {{ x }}\n{% endraw %}\nend\n", {},
     "{% if %}\n  {{ x }}\nend\n"),
    ("last line without a break", "a\n{% if x %}b{% endif %}", {"x": False}, "a\n"),
    ("CRLF lines (Jinja2 writes \\n)", "a\r\n{% if x %}\r\nb\r\n{% endif %}\r\n", {"x": True}, "a\nb\n"),
    ("empty loop leaves nothing", "x\n{% for i in [] %}\n- {{ i }}\n{% endfor %}\ny\n", {}, "x\ny\n"),
]


@pytest.mark.parametrize(("source", "variables", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_rendering(tmp_path, source, variables, expected):
    path = tmp_path / "t.j2"
    path.write_bytes(source.encode())
    assert templating.render_file(path, variables) == expected
    if templating.is_templated(source):  # an inline `content:` too (`{#` alone is not markup there)
        assert templating.render_value(source, variables) == expected


def test_folding_keeps_line_numbers():
    source = "a\n  {% if x %}\nb\n{% endif %}\nc\n"
    assert keep_breaks(source).count("\n") == source.count("\n")  # breaks move into tags, none lost
    assert keep_breaks(source).splitlines()[1].strip().startswith("{%")


def test_an_error_names_the_line_of_the_file(tmp_path):
    path = tmp_path / "t.j2"
    path.write_text("{% if x %}\none\n{% endif %}\n{{ missing }}\n")
    with pytest.raises(InputError, match="undefined variable 'missing'") as caught:
        templating.render_file(path, {"x": True})
    assert caught.value.location.line == 4
