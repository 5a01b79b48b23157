#!/usr/bin/env python3
"""A TodoApp stand-in: one HTTP server whose ROLE (private-api, public-api, frontend) the compose
file sets.

GET /health  200 {"role", "version", "container", "databases": {name: "ok" | error}}; 503 when a
             database of DATABASES ("service/dbname ...") does not answer
GET /        the frontend's page (frontend), or the same as /health (the APIs)
`todoapp-standin healthcheck` asks /health on PORT (the image's HEALTHCHECK).
"""

import json
import os
import signal
import socket
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROLE = os.environ.get("ROLE", "api")
PORT = int(os.environ.get("PORT", "8000"))


def version():
    try:
        with open("/app/VERSION") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def databases():
    import psycopg2

    found = {}
    for item in os.environ.get("DATABASES", "").split():
        host, _, name = item.partition("/")
        try:
            conn = psycopg2.connect(host=host, dbname=name, user=os.environ.get("POSTGRES_USER", "todo"),
                                    password=os.environ.get("POSTGRES_PASSWORD", ""), connect_timeout=3)
            conn.close()
            found[name] = "ok"
        except Exception as exc:  # a stand-in reports why, never crashes
            found[name] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return found


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if ROLE == "frontend" and self.path != "/health":
            return self.reply(200, "text/html", f"<!doctype html><title>TodoApp</title><h1>TodoApp {version()}</h1>")
        dbs = databases()
        body = {"role": ROLE, "version": version(), "container": socket.gethostname(), "databases": dbs}
        ok = all(state == "ok" for state in dbs.values())
        self.reply(200 if ok else 503, "application/json", json.dumps(body))

    def reply(self, status, kind, text):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    if sys.argv[1:] == ["healthcheck"]:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=3) as answer:
            sys.exit(0 if answer.status == 200 else 1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1: docker stop would wait 10 s
    ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()


if __name__ == "__main__":
    main()
