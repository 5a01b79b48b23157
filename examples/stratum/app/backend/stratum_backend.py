#!/usr/bin/env python3
"""Stand-in for Stratum's backend (NestJS + Prisma in the real image), for moorage's example test.

    stratum-backend serve        HTTP on $PORT (4001): GET /api/v1/, GET /api/v1/health,
                                 GET|POST /api/v1/notes  (JSON {"title": ...})
    stratum-backend migrate      apply the migrations this version knows (`prisma migrate deploy`)
    stratum-backend seed         one example note (`npm run db:seed`)
    stratum-backend healthcheck  exit 0 when /api/v1/health answers 200

The database is DATABASE_URL (postgres://user:password@host:port/db?schema=public).  Version
1.0.x knows migration 1, later versions migrations 1 and 2; /api/v1/health answers 503 until the
schema is at this version's level.  JWT_SECRET must be set.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

VERSION = pathlib.Path("/app/VERSION").read_text().strip() if os.path.exists("/app/VERSION") else "dev"
MIGRATIONS = [
    "CREATE TABLE notes (id serial PRIMARY KEY, title text NOT NULL, created timestamptz DEFAULT now())",
    "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false",
]
LEVEL = 1 if VERSION.startswith("1.0") else len(MIGRATIONS)


def connect():
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])  # ?schema=public is Prisma's, not libpq's
    return psycopg2.connect(host=url.hostname, port=url.port or 5432, dbname=url.path.lstrip("/"),
                            user=urllib.parse.unquote(url.username or ""),
                            password=urllib.parse.unquote(url.password or ""), connect_timeout=3)


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


def seed() -> None:
    with connect() as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO notes (title) SELECT 'welcome' WHERE NOT EXISTS (SELECT 1 FROM notes)")


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
                if self.path == "/api/v1/health":
                    return self._send(200 if level >= LEVEL else 503, {"version": VERSION, "schema": level})
                if self.path in ("/api/v1/", "/api/v1"):
                    return self._send(200, {"service": "stratum-backend", "version": VERSION, "schema": level})
                if self.path == "/api/v1/notes":
                    cur.execute("SELECT id, title FROM notes ORDER BY id")
                    return self._send(200, [{"id": i, "title": t} for i, t in cur.fetchall()])
        except psycopg2.Error as exc:
            return self._send(503, {"error": str(exc).strip()})
        self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/api/v1/notes":
            return self._send(404, {"error": "not found"})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with connect() as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO notes (title) VALUES (%s) RETURNING id", (str(body.get("title", "")),))
            return self._send(201, {"id": cur.fetchone()[0]})

    def log_message(self, *args) -> None:  # quiet: the healthcheck asks every 2 s
        pass


def serve() -> None:
    if not os.environ.get("JWT_SECRET"):
        sys.exit("JWT_SECRET is not set")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1: stop at once on docker stop
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "4001"))), Handler).serve_forever()


def healthcheck() -> None:
    port = os.environ.get("PORT", "4001")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
            sys.exit(0 if answer.status == 200 else 1)
    except OSError:
        sys.exit(1)


if __name__ == "__main__":
    {"serve": serve, "migrate": migrate, "seed": seed, "healthcheck": healthcheck}[sys.argv[1]]()
