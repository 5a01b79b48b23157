"""Shell commands that destroy Docker volumes, found by their words (pure; no connection).

``destroys_volumes(text)`` reads a shell command (or a script of several) the way ``sh`` splits
it: quotes, ``;``/``&&``/``|``/newlines, ``$( )`` and backticks, leading ``VAR=value`` words,
wrappers (``sudo``, ``env``, ``xargs``, ``timeout`` ...) and ``sh -c '...'`` (read again).  A
command found is one of:

- ``docker compose ... down -v`` / ``--volumes`` (also ``docker-compose``), ``compose rm -v``;
- ``docker volume rm|remove|prune``;
- ``docker system prune --volumes``;
- ``docker rm -v`` / ``docker container rm -v`` (a container's anonymous volumes);
- ``rm`` of a path under ``/var/lib/docker``.

Words only: ``echo 'docker volume rm x'`` is text, not a command.  A command built at run time
(``$FLAGS``, a template rendered later) is read as written.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator

PUNCTUATION = ";&|()<>\n"
# wrapper -> its options that take a value (the value is skipped with the option)
WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"}), "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "-S"}), "exec": frozenset({"-a"}), "nohup": frozenset(), "time": frozenset(),
    "command": frozenset(), "builtin": frozenset(), "nice": frozenset({"-n"}), "ionice": frozenset({"-c", "-n"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}), "xargs": frozenset({"-n", "-I", "-P", "-L", "-d", "-s", "-E", "-a"}),
    "timeout": frozenset({"-s", "-k"}), "watch": frozenset({"-n"}), "flock": frozenset({"-w"}),
}
TAKES_ONE_MORE = {"timeout": 1, "flock": 1}  # their first operand (a duration, a lock file) precedes the command
SHELLS = {"sh", "bash", "dash", "zsh", "ash", "ksh", "su"}
DOCKER_GLOBAL_VALUES = frozenset({"-H", "--host", "-c", "--context", "--config", "-l", "--log-level",
                                  "--tlscacert", "--tlscert", "--tlskey"})
COMPOSE_GLOBAL_VALUES = frozenset({"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file",
                                   "--profile", "--ansi", "--progress", "--parallel"})


def destroys_volumes(text: str) -> str | None:
    """The first command of ``text`` that destroys volumes, as ``\\`WORDS\\`: why``; None when none does."""
    for words in _commands(text):
        reason = _reason(words)
        if reason:
            return f"`{' '.join(words)}` {reason}"
    return None


def _commands(text: str, depth: int = 0) -> Iterator[list[str]]:
    """Each simple command of ``text`` as its words (wrappers removed; ``sh -c`` scripts read too)."""
    current: list[str] = []
    for word in [*_words(text), "\n"]:
        if word and all(c in PUNCTUATION for c in word):
            yield from _unwrapped(current, depth)
            current = []
        elif word.startswith("#") and not current:
            current = ["#"]  # a comment: its words are dropped up to the line's end
        elif current[:1] != ["#"]:
            current.append(word.strip("`"))


def _words(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=PUNCTUATION)
    lexer.whitespace, lexer.commenters, lexer.whitespace_split = " \t\r", "", True
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: read the words as sh would never run it, split on blanks
        return [w for w in re.split(r"[ \t\r]+|([;&|()<>\n]+)", text.replace("'", " ").replace('"', " ")) if w]


def _unwrapped(words: list[str], depth: int) -> Iterator[list[str]]:
    words = [w for w in words if w]
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words = words[1:]
    if not words or words == ["#"]:
        return
    program = posixpath.basename(words[0])
    if program in WRAPPERS:
        yield from _unwrapped(_after_options(words[1:], WRAPPERS[program], TAKES_ONE_MORE.get(program, 0)), depth)
    elif program in SHELLS and (at := _script_at(words)) and depth < 3:
        yield from _commands(words[at], depth + 1)
    elif program == "eval" and depth < 3:
        yield from _commands(" ".join(words[1:]), depth + 1)
    else:
        yield words


def _script_at(words: list[str]) -> int:
    """Where the script of ``sh -c SCRIPT`` (``-c`` alone or in a cluster: ``-lc``) is; 0 when none."""
    for index, word in enumerate(words[1:-1], 1):
        if not word.startswith("-"):
            return 0
        if re.fullmatch(r"-[A-Za-z]*c[A-Za-z]*", word):
            return index + 1
    return 0


def _after_options(words: list[str], with_value: frozenset[str], operands: int) -> list[str]:
    """``words`` past a wrapper's options (and their values) and its leading operands."""
    index = 0
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in with_value else 1
    return words[index + operands:]


def _reason(words: list[str]) -> str | None:
    program = posixpath.basename(words[0])
    if program in ("docker", "podman"):
        rest = _skip(words[1:], DOCKER_GLOBAL_VALUES)
        return _docker(rest)
    if program == "docker-compose":
        return _compose(words[1:])
    if program == "rm" and any(w.rstrip("/").startswith("/var/lib/docker") for w in words[1:] if w[:1] == "/"):
        return "deletes Docker's own data (its volumes are under /var/lib/docker)"
    return None


def _docker(rest: list[str]) -> str | None:
    sub, args = (rest[0], rest[1:]) if rest else ("", [])
    if sub == "compose":
        return _compose(args)
    action = args[0] if args else ""
    if sub == "volume" and action in ("rm", "remove", "prune"):
        return "deletes Docker volumes (the data in them)"
    if sub == "system" and action == "prune" and any(_flag(w, "--volumes") for w in args[1:]):
        return "deletes every unused volume (the data in them)"
    if (sub == "rm" and _volume_flag(args)) or (sub == "container" and action in ("rm", "remove")
                                               and _volume_flag(args[1:])):
        return "deletes the containers' anonymous volumes"
    return None


def _compose(args: list[str]) -> str | None:
    rest = _skip(args, COMPOSE_GLOBAL_VALUES)
    if rest and rest[0] == "down" and _volume_flag(rest[1:]):
        return "deletes the project's volumes (the data in them); `down` without -v keeps them"
    if rest and rest[0] == "rm" and _volume_flag(rest[1:]):
        return "deletes the containers' anonymous volumes"
    return None


def _skip(words: list[str], with_value: frozenset[str]) -> list[str]:
    """``words`` from the first one that is not a global option (nor an option's value)."""
    index = 0
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in with_value else 1
    return words[index:]


def _volume_flag(args: list[str]) -> bool:
    """``-v``, ``--volumes`` (``=true``), or ``-v`` in a cluster of short flags (``-fv``)."""
    return any(_flag(w, "--volumes") or re.fullmatch(r"-[A-Za-z]*v[A-Za-z]*", w) for w in args)


def _flag(word: str, name: str) -> bool:
    if word == name:
        return True
    value = word.removeprefix(name + "=") if word.startswith(name + "=") else None
    return value is not None and value.lower() not in ("false", "0", "no")
