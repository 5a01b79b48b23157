"""Template whitespace as a config-file author expects it (docs/variables.md, "Whitespace").

A line holding only block tags and comments (``{% if %}``, ``{% endfor %}``, ``{# note #}``,
with any indentation) disappears with its line break; every other line keeps its break and its
indentation, also when a tag sits in the middle of it::

    GSSAPIAuthentication {% if x %}yes{% else %}no{% endif %}
    Next line

renders two lines.  Jinja2's ``trim_blocks`` removes the break after *every* block tag (joining
those two lines) and ``lstrip_blocks`` the indentation before any tag that starts a line, so
both are off and this preprocessing does the work: it moves a tag-only line's indentation and
line break *inside* its first and last tag, where Jinja2 reads them as the tag's own spacing.
Line numbers stay those of the file.  Text between ``{% raw %}`` and ``{% endraw %}`` is left
as written.
"""

from __future__ import annotations

import re

from jinja2.ext import Extension

_TAG = r"(?:\{%(?:(?!%\}).)*%\}|\{#(?:(?!#\}).)*#\})"
_TAG_ONLY = re.compile(rf"(?P<lead>[ \t]*)(?P<tags>{_TAG}(?:[ \t]*{_TAG})*)(?P<trail>[ \t]*)")
_RAW_EDGE = re.compile(r"\{%[-+]?\s*(end)?raw\s*[-+]?%\}")


def keep_breaks(source: str) -> str:
    """``source`` with each tag-only line folded into its tags (see the module docstring)."""
    out: list[str] = []
    in_raw = False
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        body = line.rstrip("\r\n")
        edges = _RAW_EDGE.findall(body)
        was_raw, in_raw = in_raw, (edges[-1] == "" if edges else in_raw)  # "" : a raw opener
        match = _TAG_ONLY.fullmatch(body)
        foldable = match is not None and body != line and (
            not (edges or was_raw) or _RAW_EDGE.fullmatch(match["tags"]) is not None)
        if match is None or not foldable:  # text on the line, raw content, or the last line without a break
            out.append(line)
            continue
        # the file's last break is simply dropped: an error at its end then names the tag's line
        tail = match["trail"] + line[len(body):] if number < len(lines) else ""
        out.append(_fold(match["tags"], match["lead"], tail))
    return "".join(out)


def _fold(tags: str, lead: str, tail: str) -> str:
    """``tags`` with ``lead`` put after the first opener and ``tail`` before the last closer."""
    opener = 3 if tags[2:3] in ("-", "+") else 2
    tags = tags[:opener] + lead + tags[opener:]
    closer = len(tags) - (3 if tags[-3] in ("-", "+") else 2)
    return tags[:closer] + tail + tags[closer:]


class KeepBreaks(Extension):
    """Applies ``keep_breaks`` to every template and argument the environment compiles."""

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return keep_breaks(source)
