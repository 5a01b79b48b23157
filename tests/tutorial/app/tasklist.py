#!/usr/bin/env python3
"""tasklist: a tiny task-list API used by moorage's tutorial test (it is not DM).

    tasklist serve        HTTP on $PORT (8000): GET /healthz, GET /version, GET|POST /tasks
    tasklist migrate      apply the migrations this version knows (idempotent)
    tasklist worker       mark tasks older than a few seconds as seen (a background worker)
    tasklist healthcheck  exit 0 when /healthz answers 200 (the image's HEALTHCHECK)

The database is PostgreSQL, reached with DB_HOST/DB_NAME/DB_USER/DB_PASSWORD.  /healthz
answers 503 until the schema is at this version's level: code that runs on an old schema
fails its health gate.  SECRET_KEY must be set (any value).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

VERSION = pathlib.Path("/app/VERSION").read_text().strip() if os.path.exists("/app/VERSION") else "dev"
# version -> the migrations it knows (a list of SQL statements, applied in order, once)
MIGRATIONS = [
    "CREATE TABLE tasks (id serial PRIMARY KEY, title text NOT NULL, created timestamptz DEFAULT now())",
    "ALTER TABLE tasks ADD COLUMN seen boolean NOT NULL DEFAULT false",
]
LEVEL = {"1.0": 1}.get(VERSION, len(MIGRATIONS))


def connect():
    return psycopg2.connect(host=os.environ.get("DB_HOST", "db"), dbname=os.environ["DB_NAME"],
                            user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"], connect_timeout=3)


def schema_level(cur) -> int:
    cur.execute("CREATE TABLE IF NOT EXISTS schema_level (level int NOT NULL)")
    cur.execute("SELECT max(level) FROM schema_level")
    return cur.fetchone()[0] or 0


def migrate() -> None:
    with connect() as conn, conn.cursor() as cur:
        done = schema_level(cur)
        for level in range(done + 1, LEVEL + 1):
            cur.execute(MIGRATIONS[level - 1])
            cur.execute("INSERT INTO schema_level VALUES (%s)", (level,))
            print(f"applied migration {level}", flush=True)
    print(f"schema at level {max(done, LEVEL)}", flush=True)


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        try:
            with connect() as conn, conn.cursor() as cur:
                level = schema_level(cur)
                if self.path == "/healthz":
                    ok = level >= LEVEL
                    return self._send(200 if ok else 503, {"version": VERSION, "schema": level, "needs": LEVEL})
                if self.path == "/version":
                    return self._send(200, {"version": VERSION, "schema": level})
                if self.path == "/tasks":
                    cur.execute("SELECT id, title FROM tasks ORDER BY id")
                    return self._send(200, [{"id": i, "title": t} for i, t in cur.fetchall()])
        except psycopg2.Error as exc:
            return self._send(503, {"error": str(exc).strip()})
        self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/tasks":
            return self._send(404, {"error": "not found"})
        title = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}").get("title", "")
        with connect() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO tasks (title) VALUES (%s) RETURNING id", (title,))
            self._send(201, {"id": cur.fetchone()[0], "title": title})

    def log_message(self, *args: object) -> None:
        pass


def serve() -> None:
    if not os.environ.get("SECRET_KEY"):
        sys.exit("SECRET_KEY is not set")
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler)
    server.daemon_threads = False   # server_close() waits for the requests in flight
    server.timeout = 0.5
    stopping = threading.Event()

    def stop(*_: object) -> None:
        # A graceful stop (PID 1: docker stop must not wait 10 s), noticed by the loop below
        # within server.timeout.
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    print(f"tasklist {VERSION} serving", flush=True)
    while not stopping.is_set():
        server.handle_request()
    # The connections the kernel already completed (the listen backlog) are accepted and
    # answered before the listening socket closes: closing with them queued resets them, and a
    # proxy that had written a request on one answers 502 (Traefik retries a connection that
    # fails before the request is sent, never one after).  A connection after the close is
    # refused, which the proxy retries on another container; the requests in flight are answered
    # before the process exits (server_close waits for their threads).
    server.socket.setblocking(False)
    while True:
        try:
            request, address = server.socket.accept()
        except OSError:
            break
        request.setblocking(True)
        server.process_request(request, address)
    server.server_close()


def worker() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            with connect() as conn, conn.cursor() as cur:
                if schema_level(cur) >= 2:
                    cur.execute("UPDATE tasks SET seen = true WHERE NOT seen")
            open("/tmp/worker-alive", "w").close()
        except psycopg2.Error as exc:
            print(f"worker: {exc}".strip(), flush=True)
        time.sleep(1)


def healthcheck() -> None:
    port = os.environ.get("PORT", "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:
            sys.exit(0 if answer.status == 200 else 1)
    except OSError:
        sys.exit(1)


if __name__ == "__main__":
    commands = {"serve": serve, "migrate": migrate, "worker": worker, "healthcheck": healthcheck}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: tasklist {{{'|'.join(commands)}}}")
    commands[sys.argv[1]]()
