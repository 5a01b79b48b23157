"""`moorage --help` and `--list` load only Invoke and the tasks' flags (issue #18): the engine
(recipes, jsonschema, Jinja2, Fabric/Paramiko, rich) is imported by the task that runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("jsonschema", "jinja2", "paramiko", "fabric", "rich", "moorage.recipes", "moorage.executor",
         "moorage.inventory", "moorage.operations", "moorage.playbook", "moorage.connection")


def loaded_after(code: str) -> set[str]:
    """The modules among HEAVY a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport sys\nprint('LOADED', *(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(proc.stderr.split("LOADED", 1)[1].split())


@pytest.mark.parametrize("argv", [["--help"], ["--list"], ["deploy", "--help"], ["init", "--help"]])
def test_help_and_list_import_no_engine(argv: list[str]) -> None:
    code = ("import sys\nfrom moorage.cli import program\n"
            f"sys.argv = ['moorage', *{argv!r}]\n"
            "try:\n    program.main()\nexcept SystemExit:\n    pass")
    assert loaded_after(code) == set()


def test_a_task_still_finds_its_engine() -> None:
    """The lazy imports resolve: running a task's body loads what it needs."""
    code = "from moorage.cli import flags\nflags.run_options()"
    assert "moorage.executor" in loaded_after(code)
