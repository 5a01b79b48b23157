"""The ``moorage`` console script: the same tasks as ``invoke`` in this repository, with moorage's
own options only.

Invoke's ``Program`` offers options for running local shell commands (``--dry``, ``--echo``,
``--pty``, ``--prompt-for-sudo-password``, ``--warn-only``, ``--hide``...); moorage's tasks never
run commands through Invoke's runner, so those options would be accepted and do nothing.  The
program keeps help, version, listing and tab completion.
"""

from __future__ import annotations

from typing import Any

from invoke.program import Program

import moorage
from moorage import progname
from moorage.cli import ns

# Invoke's core options that mean something for moorage (by their first name).
KEPT_OPTIONS = ("complete", "help", "list", "list-format", "print-completion-script", "version")


class MoorageProgram(Program):
    """Invoke's ``Program`` with only the options in ``KEPT_OPTIONS``."""

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


def main() -> None:
    """Run the ``moorage`` program (``moorage check``, ``moorage inventory --host vps`` ...)."""
    progname.set_name("moorage")
    MoorageProgram(namespace=ns, version=moorage.__version__, name="moorage", binary="moorage").run()


if __name__ == "__main__":
    main()
