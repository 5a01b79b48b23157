"""The ``wait_http`` operation: wait until a URL answers as expected (a health gate)."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message as HTTPMessage
from typing import IO

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, Request, TaskFailed, register

SHORT_BODY = 2000  # characters: a body this short is an error page worth quoting


@register
class WaitHttp(Operation):
    """Poll ``url`` from the controller until it returns ``status`` (and ``contains``); ``url`` may
    be a list (e.g. a liveness and a readiness URL): each is asked in turn, the next once the one
    before answered, and all share the one ``timeout`` (``retries`` counts per URL).

    Gives up after ``timeout`` seconds or ``retries`` attempts, whichever comes
    first, and fails saying what answered last: the status and reason, the ``Location`` of a
    redirect (not followed unless ``follow_redirects``), and the last lines of a short body,
    e.g. ``last 301 Moved Permanently → https://shop.example/health``.  Never "changed".
    """

    name = "wait_http"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"oneOf": [{"type": "string", "pattern": "^https?://"},
                              {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^https?://"}}],
                    "description": "URL to request, or a list of URLs that must all answer (in order)."},
            "status": {"type": "integer", "minimum": 100, "maximum": 599, "default": 200,
                       "description": "Expected HTTP status (default 200)."},
            "contains": {"type": "string", "description": "Text the body must contain."},
            "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                        "description": "Seconds to keep trying (default 60)."},
            "retries": {"type": "integer", "minimum": 1,
                        "description": "Maximum attempts (default: as many as fit in timeout)."},
            "interval": {"type": "number", "exclusiveMinimum": 0, "default": 1,
                         "description": "Seconds between attempts (default 1)."},
            "headers": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "Request headers, e.g. Host for a virtual host."},
            "validate_certs": {"type": "boolean", "default": True,
                               "description": "Verify TLS certificates (default true)."},
            "follow_redirects": {"type": "boolean", "default": False,
                                 "description": "Follow redirects and judge the final answer (default false: a "
                                                "redirect is the answer, so a health URL that redirects to "
                                                "https or a login page is reported as such)."},
        },
    }

    def urls(self) -> list[str]:
        """The URLs to ask, in order (``url`` is one or a list)."""
        url = self.args["url"]
        return [url] if isinstance(url, str) else list(url)

    def plan(self, facts: Facts) -> Change | None:
        """The exact requests, one per URL: method, URL, headers, expected answer, and how long to
        keep asking."""
        args, urls = self.args, self.urls()
        return Change(f"wait for {' and '.join(urls)} to answer {args.get('status', 200)}", [Request(
            url, "GET", tuple(sorted((args.get("headers") or {}).items())), args.get("status", 200),
            args.get("contains"), float(args.get("timeout", 60)), args.get("retries"),
            float(args.get("interval", 1)), args.get("validate_certs", True), args.get("follow_redirects", False))
            for url in urls])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Ask each URL until answered as expected (never "changed"), within one shared timeout;
        raises ``TaskFailed`` naming the URL and what answered last."""
        requests = [step for step in change.steps if isinstance(step, Request)]
        deadline = time.monotonic() + (requests[0].timeout if requests else 0)
        attempts, status = 0, None
        for request in requests:
            attempts += ask(request, deadline)
            status = request.status
        return OpResult(changed=False, message=f"{status} after {attempts} attempt(s)",
                        data={"status": status, "attempts": attempts})


def ask(request: Request, deadline: float) -> int:
    """Ask ``request`` until it is answered as expected (returns the attempts it took), its
    ``retries`` are spent or ``deadline`` (``time.monotonic()``) passed: then ``TaskFailed`` names
    the URL and what answered last."""
    attempts = 0
    while True:
        attempts += 1
        answer = _attempt(request)
        if answer.status == request.status and (not request.contains or request.contains in answer.body):
            return attempts
        if (request.retries and attempts >= request.retries) or time.monotonic() >= deadline:
            break
        time.sleep(request.interval)
    missing = f" without {request.contains!r} in the body" \
        if answer.status == request.status and request.contains else ""
    raise TaskFailed(f"{request.url} did not answer {request.status}{missing} after {attempts} "
                     f"attempt(s): last {answer.describe()}", f"{request.method} {request.url}", None,
                     answer.body[-500:])


def _attempt(request: Request) -> Answer:
    """One try (5 s at most): the answer, whatever its status, or why nothing answered."""
    call = urllib.request.Request(request.url, headers=dict(request.headers), method=request.method)
    handlers: list[urllib.request.BaseHandler] = []
    if request.url.startswith("https") and not request.validate_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=context))
    if not request.follow_redirects:
        handlers.append(_NoRedirect())
    try:
        with urllib.request.build_opener(*handlers).open(call, timeout=5) as response:
            return Answer(response.status, response.reason, response.headers.get("Location"),
                          response.read(65536).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:  # a 3xx not followed, a 4xx, a 5xx: an answer all the same
        body = exc.read(65536).decode("utf-8", "replace") if exc.fp is not None else ""
        return Answer(exc.code, str(exc.reason), exc.headers.get("Location") if exc.headers else None, body)
    except (urllib.error.URLError, OSError) as exc:
        return Answer(None, str(getattr(exc, "reason", exc)), None, "")


@dataclass(frozen=True)
class Answer:
    """What one request got: status and reason (None and the error when nothing answered), the
    ``Location`` header, the body (first 64 kB)."""

    status: int | None
    reason: str
    location: str | None
    body: str

    def describe(self) -> str:
        """``301 Moved Permanently → https://...``, ``503 Service Unavailable: <last body lines>``
        or ``no answer (connection refused)``."""
        if self.status is None:
            return f"no answer ({self.reason})"
        text = f"{self.status} {self.reason}".rstrip()
        if self.location:
            text += f" → {self.location}"
        lines = [line.strip() for line in self.body.strip().splitlines() if line.strip()]
        if lines and len(self.body) <= SHORT_BODY:
            text += ": " + " / ".join(lines[-3:])
        return text


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the answer instead of following it."""

    def redirect_request(self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
                         headers: HTTPMessage, newurl: str) -> None:
        return None
