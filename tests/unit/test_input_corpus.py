"""The input boundary, case by case: every malformed input of ``input_corpus.CASES`` through
check, check --host, inventory --host and deploy --check gives exit 2 and one message naming
the file (and line) within a second, no traceback; the commands that don't need what is wrong
accept it.  A few cases also run as a user runs them (the ``moorage`` program, a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from input_corpus import CASES, Case, bomb, hosts_with
from inputkit import COMMANDS, run, run_quick, write_project

LETTERS = dict(zip("CHID", COMMANDS, strict=True))


@pytest.fixture(autouse=True)
def _no_test_secret(monkeypatch):
    monkeypatch.delenv("MOORAGE_TEST_UNSET_SECRET", raising=False)


def test_the_corpus_is_big_enough_and_named_uniquely():
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


def test_the_base_project_is_valid(tmp_path):
    root = write_project(tmp_path)
    for command in COMMANDS[:3]:
        outcome = run(command, root)
        assert outcome.code == 0, (command, outcome.stderr)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_malformed_input(tmp_path, case: Case):
    root = write_project(tmp_path, case.files, case.links)
    for letter, command in LETTERS.items():
        if letter == "D" and letter not in case.refused_by:
            continue  # accepted input: deploy would go on and connect
        outcome = run_quick(command, root)
        assert "Traceback" not in outcome.stderr
        assert outcome.quick, f"{command}: {outcome.took}"
        if letter in case.refused_by:
            assert outcome.code == 2, f"{command} exited {outcome.code}: {outcome.stderr}"
            assert case.fragment in outcome.error, f"{command}: {outcome.error[:500]}"
            assert outcome.error.startswith(("inventory/", "playbooks/")), outcome.error[:200]
        else:
            assert outcome.code == 0, f"{command} refused: {outcome.stderr[:500]}"


def moorage(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "moorage.cli.program", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=60, env={**os.environ, **(env or {})})
    return result, time.perf_counter() - start


# Interpreter start and imports take about half a second of a subprocess run: the second
# measured here is over the in-process one above, and generous for a loaded machine.
PROGRAM_SECONDS = 5.0


@pytest.mark.parametrize(("args", "files", "message"), [
    (["check"], hosts_with("v: &v {x: *v}"), "error: inventory/hosts.yml:5: this alias refers to a value that "
     "contains it (a recursive alias); YAML data must be finite"),
    (["inventory", "--host", "web1"], {"inventory/host_vars/web1.yml": bomb()}, "error: inventory/host_vars/"
     "web1.yml:6: the aliases here expand to more than 200000 values (an alias bomb?); write the data out, or "
     "alias less"),
    (["deploy", "--check", "--host", "web1"], {"playbooks/deploy.yml": bomb()}, "error: playbooks/deploy.yml:6: "
     "the aliases here expand to more than 200000 values (an alias bomb?); write the data out, or alias less"),
    (["check", "--host", "web1"], hosts_with("n: " + "9" * 5000), "error: inventory/hosts.yml:5: the number "
     "999999999999...999999 (5000 characters) is too large: a number is at most 64 bits (|n| < 2**64); quote it "
     "to keep it as text"),
    (["deploy", "--check", "--host", "web1"], hosts_with("z: {secret: 'env:MOORAGE_TEST_UNSET_SECRET'}"),
     "error: inventory/hosts.yml:5: secret 'env:MOORAGE_TEST_UNSET_SECRET' for variable 'z' is not set "
     "(export MOORAGE_TEST_UNSET_SECRET=...)"),
    (["deploy", "--check", "--host", "web1"], hosts_with("z: '{{ nope }}'"), "error: inventory/hosts.yml:5: "
     "undefined variable 'nope' in variable 'z' '{{ nope }}'"),
])
def test_the_program_says_one_sentence_and_exits_2(tmp_path, args, files, message):
    root = write_project(tmp_path, files)
    result, seconds = moorage(*args, cwd=root)
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert seconds < PROGRAM_SECONDS
    assert "RECAP" not in result.stdout  # deploy stopped before running anything


def test_deploy_check_contacts_no_server_for_an_input_error(tmp_path):
    """The host's port is one nothing listens on: a connection attempt would say so (exit 1)."""
    root = write_project(tmp_path, {"inventory/known_hosts": None})
    result, _ = moorage("deploy", "--check", "--host", "web1", cwd=root)
    assert result.returncode == 2
    assert "cannot reach" not in result.stdout + result.stderr
    assert "known_hosts inventory/known_hosts is missing, not a file; pin the servers' keys with `moorage trust " \
           "--host web1`" in result.stderr
