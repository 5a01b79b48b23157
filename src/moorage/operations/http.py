"""The ``wait_http`` operation: wait until a URL answers as expected (a health gate)."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, TaskFailed, register


@register
class WaitHttp(Operation):
    """Poll ``url`` from the controller until it returns ``status`` (and ``contains``).

    Gives up after ``timeout`` seconds or ``retries`` attempts, whichever comes
    first, and fails with the last status and body seen.  Never "changed".
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
        },
    }

    def plan(self, facts: Facts) -> Change | None:
        return Change(f"wait for {self.args['url']} to answer {self.args.get('status', 200)}")

    def _attempt(self) -> tuple[int | None, str]:
        request = urllib.request.Request(self.args["url"], headers=self.args.get("headers") or {})
        context = None
        if self.args["url"].startswith("https") and not self.args.get("validate_certs", True):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as response:
                return response.status, response.read(65536).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(65536).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            return None, str(getattr(exc, "reason", exc))

    def apply(self, change: Change, conn: Connection) -> OpResult:
        want, contains = self.args.get("status", 200), self.args.get("contains")
        deadline = time.monotonic() + float(self.args.get("timeout", 60))
        retries, attempts = self.args.get("retries"), 0
        status, body = None, ""
        while True:
            attempts += 1
            status, body = self._attempt()
            if status == want and (not contains or contains in body):
                return OpResult(changed=False, message=f"{status} after {attempts} attempt(s)",
                                data={"status": status, "attempts": attempts})
            if (retries and attempts >= retries) or time.monotonic() >= deadline:
                break
            time.sleep(float(self.args.get("interval", 1)))
        seen = f"status {status}" if status is not None else f"no answer ({body})"
        missing = f" without {contains!r} in the body" if status == want and contains else ""
        raise TaskFailed(f"{self.args['url']} did not answer {want}{missing} after {attempts} "
                         f"attempt(s): last {seen}", f"GET {self.args['url']}", None,
                         body[-500:] if status is not None else "")
