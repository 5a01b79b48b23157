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
from moorage.operations.base import Change, Facts, Operation, OpResult, TaskFailed, register

SHORT_BODY = 2000  # characters: a body this short is an error page worth quoting


@register
class WaitHttp(Operation):
    """Poll ``url`` from the controller until it returns ``status`` (and ``contains``).

    Gives up after ``timeout`` seconds or ``retries`` attempts, whichever comes
    first, and fails saying what answered last: the status and reason, the ``Location`` of a
    redirect (not followed unless ``follow_redirects``), and the last lines of a short body,
    e.g. ``last 301 Moved Permanently → https://shop.example/health``.  Never "changed".
    """

    name = "wait_http"
    batched = False
    probe = True
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "pattern": "^https?://", "description": "URL to request."},
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

    def plan(self, facts: Facts) -> Change | None:
        return Change(f"wait for {self.args['url']} to answer {self.args.get('status', 200)}")

    def _attempt(self) -> Answer:
        request = urllib.request.Request(self.args["url"], headers=self.args.get("headers") or {})
        handlers: list[urllib.request.BaseHandler] = []
        if self.args["url"].startswith("https") and not self.args.get("validate_certs", True):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            handlers.append(urllib.request.HTTPSHandler(context=context))
        if not self.args.get("follow_redirects", False):
            handlers.append(_NoRedirect())
        try:
            with urllib.request.build_opener(*handlers).open(request, timeout=5) as response:
                return Answer(response.status, response.reason, response.headers.get("Location"),
                              response.read(65536).decode("utf-8", "replace"))
        except urllib.error.HTTPError as exc:  # a 3xx not followed, a 4xx, a 5xx: an answer all the same
            body = exc.read(65536).decode("utf-8", "replace") if exc.fp is not None else ""
            return Answer(exc.code, str(exc.reason), exc.headers.get("Location") if exc.headers else None, body)
        except (urllib.error.URLError, OSError) as exc:
            return Answer(None, str(getattr(exc, "reason", exc)), None, "")

    def apply(self, change: Change, conn: Connection) -> OpResult:
        want, contains = self.args.get("status", 200), self.args.get("contains")
        deadline = time.monotonic() + float(self.args.get("timeout", 60))
        retries, attempts = self.args.get("retries"), 0
        while True:
            attempts += 1
            answer = self._attempt()
            if answer.status == want and (not contains or contains in answer.body):
                return OpResult(changed=False, message=f"{answer.status} after {attempts} attempt(s)",
                                data={"status": answer.status, "attempts": attempts})
            if (retries and attempts >= retries) or time.monotonic() >= deadline:
                break
            time.sleep(float(self.args.get("interval", 1)))
        missing = f" without {contains!r} in the body" if answer.status == want and contains else ""
        raise TaskFailed(f"{self.args['url']} did not answer {want}{missing} after {attempts} "
                         f"attempt(s): last {answer.describe()}", f"GET {self.args['url']}", None,
                         answer.body[-500:])


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
