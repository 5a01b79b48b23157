"""The ``moorage`` console script: the same tasks as ``invoke`` in this repository, with moorage's
own options only.

Invoke's ``Program`` offers options for running local shell commands (``--dry``, ``--echo``,
``--pty``, ``--prompt-for-sudo-password``, ``--warn-only``, ``--hide``...); moorage's tasks never
run commands through Invoke's runner, so those options would be accepted and do nothing.  The
program keeps help, version, listing and tab completion.

A command line Invoke cannot parse (an unknown flag or task, a flag without its value, a missing
playbook, ``--tail abc``) is bad input: one sentence naming the flag or task, exit status 2 (Invoke
itself exits 1, and a typed flag it cannot cast ends in a ``ValueError`` traceback).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

from invoke.exceptions import Exit, ParseError
from invoke.parser.argument import Argument
from invoke.parser.context import ParserContext
from invoke.parser.parser import Parser
from invoke.program import Program

import moorage
from moorage import progname
from moorage.cli import ns

# Invoke's core options that mean something for moorage (by their first name).
KEPT_OPTIONS = ("complete", "help", "list", "list-format", "print-completion-script", "version")


USAGE_ERROR = 2  # bad input, as every other moorage refusal


def flag_name(name: str) -> str:
    """``--tail`` for the argument named ``tail`` (``json_`` -> ``--json``, ``skip_tags`` -> ``--skip-tags``)."""
    return "--" + name.strip("_").replace("_", "-")


def parse_sentence(error: ParseError, binary: str) -> str:
    """Invoke's parse error as moorage's one sentence: the flag by its name, the help to read."""
    message = re.sub(r"Flag <Argument: ([^,>\s]+)[^>]*>", lambda m: flag_name(m.group(1)),
                     str(error)).rstrip("!")
    unknown = re.fullmatch(r"No idea what '(.*)' is", message, re.S)
    if unknown:
        word = unknown.group(1)
        message = f"unknown flag {word}" if word.startswith("-") else f"unknown task {word!r}"
    task = error.context.name if error.context is not None and error.context.name else ""
    return f"error: {message}; see `{' '.join(filter(None, (binary, '--help', task)))}`"


class CheckedArgument(Argument):
    """An ``Argument`` whose value its type can't take is a ``ParseError`` naming the flag.

    A subclass, not a patched method: Invoke's parser deep-copies each task's context (with its
    arguments) before filling it in, and a closure bound to the original argument would set the
    original's value, leaving the copy's empty ("--tail needed value")."""

    task_context: ParserContext | None = None

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast)
        except ValueError:
            kind = "a whole number" if self.kind is int else f"a {self.kind.__name__}"
            raise ParseError(f"{flag_name(self.name or '')} takes {kind}, got {value!r}", self.task_context) from None


class MoorageProgram(Program):
    """Invoke's ``Program`` with only the options in ``KEPT_OPTIONS``, parse errors exiting 2."""

    def core_args(self) -> list[Any]:
        return [argument for argument in super().core_args() if argument.name in KEPT_OPTIONS]

    def task_args(self) -> list[Any]:
        return []  # --collection, --search-root: moorage's tasks are bundled, there is nothing to search

    @property
    def args(self) -> Any:
        """The parsed options, plus Invoke's dropped ones at their defaults: ``Program`` itself
        still reads them (``self.args.pty``...) while it sets up its configuration."""
        args = super().args
        for argument in Program.core_args(self):
            if argument.name not in args:
                args[argument.name] = argument
        return args

    def _make_parser(self) -> Parser:
        parser = super()._make_parser()
        for context in parser.contexts.values():
            for argument in context.args.values():
                if argument.kind is list:  # repeatable flags: Invoke drops a bare one silently
                    self._repeatable = {*getattr(self, "_repeatable", set()), *(f"--{n}" for n in argument.names)}
                if argument.kind not in (str, bool, list):  # a typed flag (int): Invoke casts it
                    argument.__class__ = CheckedArgument  # this parser's own arguments, this parse only
                    argument.task_context = context
        return parser

    def parse_core(self, argv: list[str] | None) -> None:
        self._parsing(lambda: super(MoorageProgram, self).parse_core(argv))

    def parse_tasks(self) -> None:
        self._parsing(super().parse_tasks)
        self._refuse_bare_repeatable()

    def _refuse_bare_repeatable(self) -> None:
        """``--set`` (or another repeatable flag) with no value — what ``--set $TAG`` becomes when TAG
        is empty — is refused: Invoke would drop it and deploy the inventory's value instead."""
        words = list(self.argv or [])
        words = words[:words.index("--")] if "--" in words else words  # exec/run's command is data
        flags: set[str] = getattr(self, "_repeatable", set())
        for at, word in enumerate(words):
            if word in flags and (at + 1 == len(words) or words[at + 1].startswith("--")):
                example = " KEY=VALUE" if word == "--set" else " NAME"
                raise Exit(f"error: {word} needs a value ({word}{example}); was it an empty shell variable?",
                           code=USAGE_ERROR)

    def parse_cleanup(self) -> None:
        self._parsing(super().parse_cleanup)

    def _parsing(self, step: Callable[[], None]) -> None:
        try:
            step()
        except ParseError as error:
            raise Exit(parse_sentence(error, self.binary or "moorage"), code=USAGE_ERROR) from None


def main() -> None:
    """Run the ``moorage`` program (``moorage check``, ``moorage inventory --host vps`` ...)."""
    progname.set_name("moorage")
    try:
        MoorageProgram(namespace=ns, version=moorage.__version__, name="moorage", binary="moorage").run()
    except BrokenPipeError:
        # The reader went away (`moorage --help | head`): stop quietly, as other CLI tools do.
        # stdout is pointed at /dev/null so the interpreter's final flush can't fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # 128 + SIGPIPE, what a shell reports for a writer killed by the pipe


if __name__ == "__main__":
    main()
