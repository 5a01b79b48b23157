#!/usr/bin/env python3
"""Stand-in for Stratum's frontend (Next.js in the real image), for moorage's example test.

    stratum-frontend serve        HTTP on $PORT (3000): GET / (a page naming its version and
                                  NEXT_PUBLIC_API_URL), GET /healthz
    stratum-frontend healthcheck  exit 0 when /healthz answers 200
"""

from __future__ import annotations

import html
import os
import pathlib
import signal
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = pathlib.Path("/app/VERSION").read_text().strip() if os.path.exists("/app/VERSION") else "dev"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = b"ok\n"
        elif self.path == "/":
            api = html.escape(os.environ.get("NEXT_PUBLIC_API_URL", ""))
            body = (f"<!doctype html><title>Stratum</title><h1>Stratum frontend {VERSION}</h1>"
                    f"<p>API: <code>{api}</code></p>\n").encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "3000"))), Handler).serve_forever()


def healthcheck() -> None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{os.environ.get('PORT', '3000')}/healthz", timeout=2) as a:
            sys.exit(0 if a.status == 200 else 1)
    except OSError:
        sys.exit(1)


if __name__ == "__main__":
    {"serve": serve, "healthcheck": healthcheck}[sys.argv[1]]()
