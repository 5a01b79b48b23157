"""The ``moorage`` console script: the same tasks as ``invoke`` in this repository."""

from __future__ import annotations

from invoke import Program

import moorage
from moorage.cli import ns


def main() -> None:
    """Run the ``moorage`` program (``moorage check``, ``moorage inventory --host vps`` ...)."""
    Program(namespace=ns, version=moorage.__version__, name="moorage", binary="moorage").run()


if __name__ == "__main__":
    main()
