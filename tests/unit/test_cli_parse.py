"""A command line the program cannot parse is bad input: one sentence naming the flag or task,
exit status 2, never a traceback (run as a user runs ``moorage``, a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from invoke.context import Context
from invoke.exceptions import Exit

from moorage.cli.deploy_tasks import logs

REPO = Path(__file__).resolve().parents[2]


def moorage(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moorage.cli.program", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("args", "message"), [
    (["logs", "--host", "vps", "--tail", "abc"], "error: --tail takes a whole number, got 'abc'; "
                                                 "see `moorage --help logs`"),
    (["play", "deploy", "--forks", "abc"], "error: --forks takes a whole number, got 'abc'; see `moorage --help play`"),
    (["play", "backup", "--forks=1x"], "error: --forks takes a whole number, got '1x'; see `moorage --help play`"),
    (["deploy", "--bogus"], "error: unknown flag --bogus; see `moorage --help deploy`"),
    (["deploy", "--host"], "error: --host needed value and was not given one; see `moorage --help deploy`"),
    (["nosuchtask"], "error: unknown task 'nosuchtask'; see `moorage --help`"),
    (["play"], "error: 'play' did not receive required positional arguments: 'playbook'; "
               "see `moorage --help play`"),
    (["--help", "nosuch"], "error: unknown task 'nosuch'; see `moorage --help`"),
    (["logs", "--host", "vps", "--tail", "-5"], "error: --tail must be 0 or more lines, got -5"),
    # compose reads `logs ""` as every service: an empty name (a shell variable unset) is refused
    (["logs", "--host", "vps", "--service", ""], "error: --service needs a service name, got an empty one "
                                                 "(without --service: every service)"),
    # `--set $TAG` with TAG empty: Invoke drops a bare repeatable flag, which deployed the inventory's value
    (["deploy", "--host", "vps", "--set"], "error: --set needs a value (--set KEY=VALUE); was it an empty shell "
                                           "variable?"),
    (["deploy", "--host", "vps", "--set", "--check"], "error: --set needs a value (--set KEY=VALUE); was it an "
                                                      "empty shell variable?"),
    (["restart", "--host", "vps", "--service"], "error: --service needs a value (--service NAME); was it an empty "
                                                "shell variable?"),
    (["logs", "--host", "vps", "--service= "], "error: --service needs a service name, got an empty one "
                                               "(without --service: every service)"),
])
def test_a_line_it_cannot_parse_is_one_sentence_and_exit_2(args, message):
    result = moorage(*args)
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert "Traceback" not in result.stderr


def test_a_good_typed_flag_still_parses():
    """--help for the task still shows the flag's type; a well-formed number gets past parsing."""
    helped = moorage("--help", "logs")
    assert helped.returncode == 0 and "--tail=INT" in helped.stdout


@pytest.mark.parametrize("tail", ["0", "5"])
def test_a_typed_flags_value_reaches_the_task(tail, tmp_path):
    """Invoke fills in a copy of the task's flags: the typed flag's value must land in that copy
    (it didn't: every ``--tail N`` was refused as "needed value")."""
    result = moorage("logs", "--tail", tail, "--host", "x", cwd=tmp_path)
    assert result.returncode == 2 and "no moorage project in" in result.stderr, result.stderr


def test_a_negative_tail_is_refused_before_connecting(capsys):
    """Invoke reads ``--tail -5`` as a flag; a caller of the task that passes -5 is refused too
    (``docker compose logs --tail -5`` would print the whole log)."""
    with pytest.raises(Exit) as exited:
        logs(Context(), host="vps", tail=-5)
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --tail must be 0 or more lines, got -5"


def test_a_reader_that_goes_away_ends_the_program_quietly():
    """`moorage --help | head -1`: no BrokenPipeError traceback, the shell's SIGPIPE status."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "moorage.cli.program", "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the interpreter has even started writing
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in proc.stderr.read().decode()
