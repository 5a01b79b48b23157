"""The ``.env`` syntax docker compose reads: how a value is written, read back, or refused.

The rules are those of compose's own parser, compose-go's ``dotenv`` package
(``dotenv/parser.go``, ``dotenv/godotenv.go``, ``template/template.go``):

- after ``KEY=``, leading blanks are skipped; a value that does not start with a
  quote runs to the end of the line, loses everything from `` #`` on and its
  trailing whitespace, and is then interpolated (``$$`` is ``$``, ``${X}`` a variable);
- ``'...'`` is literal (no escapes, no interpolation) except that ``\\'`` is a
  quote, so it cannot end in a backslash nor hold a lone ``'``;
- ``"..."`` keeps ``\\"`` as a quote, then expands ``\\\\ \\n \\r \\t \\a \\b \\f \\v
  \\$ \\0NNN``, then interpolates like an unquoted value.

A value is written bare when that is unambiguous, in single quotes when they
read it back literally, else in double quotes with ``\\ " $`` and line breaks
escaped; docker compose reads every written value back unchanged both as a
service's ``env_file:`` and as ``--env-file`` (tests/unit/test_env_compose.py
proves it against the real ``docker compose``).
"""

from __future__ import annotations

import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z0-9_./:,@+=%-]*")  # nothing compose gives a meaning to
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "$$", "\n": "\\n", "\r": "\\r"}
_EXPAND = re.compile(r'\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})')  # compose-go's escapeSeqRegex
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
           "$": "$$", '"': '"', "\\": "\\"}
_BLANK = "\t\v\f\r \x85\xa0"  # compose-go's isSpace: whitespace but not a line break
_EXPORT = re.compile(r"export[ \t\n\f\r]+")
_KEY_END = "=:\n"


class EnvSyntaxError(ValueError):
    """A ``.env`` text compose would refuse: the message names the line."""


def env_text(value: Any) -> str:
    """The text a value stands for in a ``.env``: ``None`` is empty, booleans ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def env_refusal(value: Any) -> str | None:
    """Why ``value`` can't be written so that compose reads it back, or None when it can.

    The reason is a sentence part that never quotes the value (it may be a secret).
    """
    text = env_text(value)
    if "\0" in text:
        return ("holds a NUL byte, which no process environment can carry "
                "(the kernel passes variables as C strings)")
    try:
        text.encode()
    except UnicodeEncodeError:
        return "is not valid Unicode text (it holds a lone surrogate), so it cannot be written as UTF-8"
    return None


def quote_env(value: Any) -> str:
    """``value`` in the syntax compose reads back exactly (see the module doc).

    Raises ``ValueError`` with ``env_refusal``'s reason when no such syntax exists.
    """
    text = env_text(value)
    reason = env_refusal(text)
    if reason:
        raise ValueError(f"the value {reason}")
    if _PLAIN.fullmatch(text):
        return text
    if "'" not in text and "\n" not in text and "\r" not in text and not text.endswith("\\"):
        return f"'{text}'"  # literal: no escape and no interpolation applies inside
    return '"' + "".join(_DOUBLE_ESCAPES.get(char, char) for char in text) + '"'


def parse_env(text: str) -> dict[str, str]:
    """The variables of a ``.env``, read as compose-go's parser reads them.

    ``$$`` reads as ``$``; other ``$`` references are kept as written (moorage
    writes none). A key without a value (``KEY`` alone on its line) is skipped.
    Raises ``EnvSyntaxError`` naming the line for text compose would refuse.
    """
    return _Parser().parse(text.removeprefix("\ufeff"))


class _Parser:
    """A port of compose-go's ``dotenv.parser``: statements one after another."""

    def __init__(self) -> None:
        self.line = 1

    def parse(self, src: str) -> dict[str, str]:
        values: dict[str, str] = {}
        while src := self._statement_start(src):
            key, src, inherited = self._key(src)
            if inherited:
                continue
            values[key], src = self._value(src)
        return values

    def _statement_start(self, src: str) -> str:
        """``src`` from the next statement on: blank space and ``#`` comment lines skipped."""
        while True:
            stripped = src.lstrip()
            self.line += src[: len(src) - len(stripped)].count("\n")
            if not stripped.startswith("#"):
                return stripped
            _, newline, src = stripped.partition("\n")
            if not newline:
                return ""
            src = "\n" + src

    def _key(self, src: str) -> tuple[str, str, bool]:
        if exported := _EXPORT.match(src):
            src = src[exported.end():]
        for index, char in enumerate(src):
            if char in _KEY_END:
                key = src[:index].rstrip()
                if " " in key:
                    raise EnvSyntaxError(f"line {self.line}: key cannot contain a space")
                if char == "\n":
                    self.line += 1
                return key, src[index + 1:].lstrip(_BLANK), char == "\n"
            if not (char in _BLANK or char in "_.-[]" or char.isalnum()):
                raise EnvSyntaxError(f"line {self.line}: unexpected character {char!r} in variable name")
        return src.rstrip(), "", True  # a last line without '=': a name only

    def _value(self, src: str) -> tuple[str, str]:
        if not src or src[0] not in "'\"":
            value, _, rest = src.partition("\n")
            self.line += 1
            return _dollars(value.split(" #", 1)[0].rstrip()), rest
        quote, escaped = src[0], False
        chars: list[str] = []
        for index in range(1, len(src)):
            char = src[index]
            if char == "\n":
                self.line += 1
            if char == quote:
                if not escaped:
                    body = "".join(chars)
                    return (_dollars(_expand_escapes(body)) if quote == '"' else body), src[index + 1:]
                chars.append(char)  # \' or \": the quote itself
            elif char == "\\" and not escaped:
                escaped = True
                continue
            else:
                chars.append("\\" + char if escaped else char)
            escaped = False
        raise EnvSyntaxError(f"line {self.line}: unterminated quoted value")


def _expand_escapes(body: str) -> str:
    """compose-go's ``expandEscapes``: the escapes of a double-quoted value."""

    def one(match: re.Match[str]) -> str:
        seq = match.group()[1:]
        if seq.startswith("0"):  # \0NNN is octal NNN; else compose leaves \NNN (its 0 dropped)
            digits = seq[1:]
            if len(digits) == 3 and set(digits) <= set("01234567") and int(digits, 8) < 256:
                return chr(int(digits, 8))
            return "\\" + digits
        return _SIMPLE[seq]

    return _EXPAND.sub(one, body)


def _dollars(value: str) -> str:
    """Interpolation as far as moorage needs it: ``$$`` is a literal ``$``."""
    return value.replace("$$", "$")
