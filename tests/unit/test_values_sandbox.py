"""Jinja2 runs sandboxed: no template, wherever it is written, reaches Python internals."""

from __future__ import annotations

import pytest
from valuekit import host, runs, written

from moorage import templating
from moorage.errors import InputError

PAYLOADS = [
    "cycler.__init__.__globals__.os.popen('touch {marker}').read()",
    "lipsum.__globals__['os'].popen('touch {marker}').read()",
    "''.__class__.__mro__[1].__subclasses__()",
    "namespace.__init__.__globals__",
    "range.__self__",
    "joiner.__init__.__globals__.__builtins__['open']('{marker}', 'w')",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_an_argument_cannot_reach_python(tmp_path, payload):
    marker = tmp_path / "pwned"
    with pytest.raises(InputError, match=r"unsafe template|cannot evaluate|undefined"):
        written(f'file: {{path: /x, content: "x{{{{ {payload.format(marker=marker)} }}}}"}}', {})
    assert not marker.exists()


@pytest.mark.parametrize("payload", PAYLOADS[:2])
def test_a_when_and_a_variable_cannot_reach_python(tmp_path, payload):
    marker = tmp_path / "pwned"
    code = payload.format(marker=marker)
    with pytest.raises(InputError):
        runs(f'"{code}"', {})
    variables = host(tmp_path, f'evil: "{{{{ {code} }}}}"').variables()
    with pytest.raises(InputError, match="unsafe template"):
        templating.render_value("{{ evil }}", variables)
    assert not marker.exists()


def test_a_template_file_cannot_reach_python(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "t.j2").write_text(f"a\n{{{{ {PAYLOADS[0].format(marker=marker)} }}}}\n")
    with pytest.raises(InputError, match="unsafe template") as caught:
        written("template: {src: t.j2, dest: /x}", {}, tmp_path)
    assert caught.value.location.line == 2
    assert not marker.exists()


def test_a_set_value_is_not_rendered_at_all(tmp_path):
    marker = tmp_path / "pwned"
    value = "{{ " + PAYLOADS[0].format(marker=marker) + " }}"
    variables = host(tmp_path, 'x: "[{{ payload }}]"', flags=(f"payload={value}",)).variables()
    assert written('file: {path: /x, content: "{{ x }}"}', variables) == f"[{value}]"
    assert not marker.exists()


def test_templates_cannot_mutate_values():
    with pytest.raises(InputError, match=r"unsafe|cannot evaluate"):
        templating.render_value("{{ items.append(3) }}", {"items": [1, 2]})
