"""Smoke tests (operation ``smoke_tests``): each runs once, in order; the first failure names the
test and quotes the end of its output.  Host commands run on this machine (connection: local), HTTP
checks against a real http.server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from moorage.connection import LocalConnection, Target
from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.smoke import SmokeTests


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, b"ready") if self.path == "/ready" else (503, b"redis down")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(tests: list[dict[str, Any]], where: Path) -> str:
    """'passed: ...' or the failure message."""
    op = SmokeTests({"project_dir": str(where), "tests": tests}, OpContext("web", {}))
    op.validate()
    change = op.plan(Facts())
    assert change is not None
    try:
        return op.apply(change, LocalConnection(Target("pc", connection="local"))).message
    except TaskFailed as exc:
        return str(exc)


def test_all_pass_in_order_from_the_release_directory(base: str, tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("x")
    message = run([{"name": "in the release", "command": "test -f marker"},
                   {"name": "ready", "url": f"{base}/ready", "contains": "ready"}], tmp_path)
    assert message == "2 smoke test(s) passed: in the release, ready"


def test_a_failing_command_is_named_with_its_output_and_the_rest_do_not_run(base: str, tmp_path: Path) -> None:
    failing = "echo checking exams; echo 'AssertionError: 0 != 3' >&2; exit 1"
    message = run([{"name": "exams listed", "command": failing}, {"name": "never", "command": "touch ran"}], tmp_path)
    assert message.startswith("smoke test 'exams listed' failed: exited with status 1; its output ends:")
    assert "checking exams" in message and "AssertionError: 0 != 3" in message
    assert not (tmp_path / "ran").exists()


def test_a_failing_http_check_names_the_test_and_the_answer(base: str, tmp_path: Path) -> None:
    message = run([{"name": "readiness", "url": f"{base}/other"}], tmp_path)
    assert message.startswith("smoke test 'readiness' failed: ") and "503" in message and "redis down" in message


@pytest.mark.parametrize(("tests", "error"), [
    ([{"name": "a", "command": "true"}, {"name": "a", "command": "false"}], "two smoke tests are named 'a'"),
    ([{"name": "b", "url": "http://x/", "service": "web"}], "has a url and a service"),
    ([{"name": "c", "command": "true", "status": 200}], "status, contains and headers go with url"),
    ([{"name": "d", "service": "web", "command": "echo 'unclosed"}], "cannot be split into words"),
])
def test_tests_a_run_could_not_make_sense_of_are_refused(tests: list[dict[str, Any]], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        SmokeTests({"project_dir": "/srv/app/current", "tests": tests}, OpContext("web", {})).validate()


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "korrigo"
FRONTEND = '  - {name: frontend answers, url: "{{ site_url }}/", contains: Korrigo}\n'


@pytest.mark.parametrize(("entry", "said"), [
    ('  - {name: "smoke suite (pytest -m smoke)", url: "http://x/"}', "two entries are named 'smoke suite"),
    ('  - {name: x, url: "http://x/", service: backend}', "is not valid under any of the given schemas"),
    ('  - {name: x, command: "echo ok", status: 200}', "is not valid under any of the given schemas"),
    ("  - {name: x, service: backend, command: \"echo 'oops\"}", "cannot be split into words (No closing quotation)"),
    ('  - {name: x, service: bakend, command: "true"}', "names the compose service 'bakend'"),
])
def test_check_refuses_a_smoke_test_a_deploy_could_not_run(tmp_path: Path, entry: str, said: str) -> None:
    """Before anything runs (the smoke tests come after the switch): exit 2 naming the line."""
    import os
    import shutil
    import subprocess
    import sys

    project = tmp_path / "korrigo"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("app"))
    group_vars = project / "inventory" / "group_vars" / "all.yml"
    text = group_vars.read_text()
    assert FRONTEND in text
    group_vars.write_text(text.replace(FRONTEND, entry + "\n"))
    proc = subprocess.run([sys.executable, "-m", "moorage.cli.program", "check", "--host", "staging"], cwd=project,
                          env={**os.environ, "GITHUB_TOKEN": "t" * 40}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "inventory/group_vars/all.yml:" in proc.stderr and said in proc.stderr, proc.stderr
