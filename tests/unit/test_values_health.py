"""The health gate says what answered: status and reason, a redirect's Location, the last lines of
a short body; redirects are followed only when asked.  Against a real http.server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from moorage.operations.base import Facts, OpContext, TaskFailed
from moorage.operations.http import WaitHttp

# path -> (status, headers, body)
ROUTES = {
    "/moved": (301, {"Location": "https://shop.example/health"}, ""),
    "/hop": (302, {"Location": "/ok"}, ""),
    "/ok": (200, {}, "all good\n"),
    "/down": (503, {}, "<html>\n<h1>Service Unavailable</h1>\n<p>database is starting</p>\n</html>\n"),
    "/big": (500, {}, "x" * 5000 + "\nlast line\n"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, headers, body = ROUTES[self.path]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def wait(url: str, **args) -> str:
    """The failure message of a one-attempt health gate, or 'ok' when it passed."""
    op = WaitHttp({"url": url, "retries": 1, "timeout": 5, **args}, OpContext("web", {}))
    try:
        op.apply(op.plan(Facts()), None)  # type: ignore[arg-type] - wait_http asks from the controller
    except TaskFailed as exc:
        return str(exc)
    return "ok"


def test_a_redirect_is_reported_with_its_location(base: str) -> None:
    message = wait(f"{base}/moved")
    assert message.endswith("last 301 Moved Permanently → https://shop.example/health")


def test_a_redirect_can_be_the_expected_answer(base: str) -> None:
    assert wait(f"{base}/moved", status=301) == "ok"


def test_redirects_are_followed_only_when_asked(base: str) -> None:
    assert "last 302 Found → /ok" in wait(f"{base}/hop")
    assert wait(f"{base}/hop", follow_redirects=True) == "ok"


def test_a_short_error_page_is_quoted_by_its_last_lines(base: str) -> None:
    message = wait(f"{base}/down")
    assert "last 503 Service Unavailable: <h1>Service Unavailable</h1> / <p>database is starting</p> / </html>" \
        in message


def test_a_long_body_is_not_quoted(base: str) -> None:
    message = wait(f"{base}/big")
    assert message.endswith("last 500 Internal Server Error")


def test_nothing_listening_says_no_answer() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    message = wait(f"http://127.0.0.1:{port}/")
    assert "last no answer (" in message and "refused" in message.lower()


def test_the_body_it_did_not_like_is_reported_when_contains_is_missing(base: str) -> None:
    assert "did not answer 200 without 'ready' in the body" in wait(f"{base}/ok", contains="ready")


def test_several_urls_must_all_answer_and_the_failing_one_is_named(base: str) -> None:
    assert wait([f"{base}/ok", f"{base}/hop"], follow_redirects=True) == "ok"
    message = wait([f"{base}/ok", f"{base}/down"])
    assert message.startswith(f"{base}/down did not answer 200") and "503" in message
