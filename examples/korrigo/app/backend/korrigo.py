#!/usr/bin/env python3
"""Korrigo's backend, as a stand-in: the same image runs the API (`serve`, for gunicorn), the
worker (`worker`, for `celery -A core worker`) and the scheduler (`beat`, for `celery -A core
beat`); `manage.py migrate` applies its migrations; `pytest -m smoke` runs its smoke tests.

Standard library + psycopg2 only; Redis is spoken over a socket (RESP).  Settings come from the
environment like Django's: SECRET_KEY, DEBUG, ALLOWED_HOSTS, POSTGRES_*, DB_HOST, REDIS_URL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2

VERSION = Path("/app/VERSION").read_text().strip() if Path("/app/VERSION").exists() else "dev"
BROKEN = Path("/app/BROKEN").exists()  # a release whose copy listing fails (its smoke test catches it)
# Migrations each version knows, in order: (name, SQL).
MIGRATIONS = [
    ("exams.0001_initial", "CREATE TABLE exams_exam (id serial PRIMARY KEY, name text NOT NULL)"),
    ("grading.0001_initial", "CREATE TABLE grading_copy (id serial PRIMARY KEY, exam_id int REFERENCES exams_exam)"),
    ("exams.0002_exam_date", "ALTER TABLE exams_exam ADD COLUMN date date"),
]
KNOWN = int(Path("/app/MIGRATIONS").read_text()) if Path("/app/MIGRATIONS").exists() else len(MIGRATIONS)
MEDIA = Path(os.environ.get("MEDIA_ROOT", "/app/media"))


def db():
    return psycopg2.connect(host=os.environ.get("DB_HOST", "db"), dbname=os.environ["POSTGRES_DB"],
                            user=os.environ["POSTGRES_USER"], password=os.environ["POSTGRES_PASSWORD"],
                            connect_timeout=3)


def redis(*words: str) -> object:
    """One Redis command (RESP), its reply: str, int, None or a list."""
    url = os.environ.get("REDIS_URL", "redis://redis:6379/0").split("//", 1)[1]
    host, port = url.split("/", 1)[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"*{len(words)}\r\n".encode() + b"".join(
            f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words))
        return _reply(sock.makefile("rb"))


def _reply(stream):
    line = stream.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:].decode()
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest)
    if kind == b":":
        return int(rest)
    if kind == b"$":
        return None if int(rest) < 0 else stream.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return None if int(rest) < 0 else [_reply(stream) for _ in range(int(rest))]
    raise RuntimeError(f"unexpected Redis reply {line!r}")


def applied() -> list[str]:
    with db() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS django_migrations (name text PRIMARY KEY, applied timestamptz "
                    "DEFAULT now())")
        cur.execute("SELECT name FROM django_migrations ORDER BY applied, name")
        return [row[0] for row in cur.fetchall()]


def migrate() -> int:
    done = applied()
    print("Operations to perform:\n  Apply all migrations: exams, grading\nRunning migrations:")
    with db() as conn, conn.cursor() as cur:
        for name, sql in MIGRATIONS[:KNOWN]:
            if name not in done:
                cur.execute(sql)
                cur.execute("INSERT INTO django_migrations (name) VALUES (%s)", (name,))
                print(f"  Applying {name}... OK")
    return 0


def ready() -> tuple[int, dict]:
    state = {"status": "ready", "database": "connected", "cache": "connected"}
    try:
        missing = [name for name, _ in MIGRATIONS[:KNOWN] if name not in applied()]
        if missing:
            state["database"] = f"unapplied migrations: {', '.join(missing)}"
    except Exception as exc:
        state["database"] = f"error: {exc}".strip()
    try:
        if redis("PING") != "PONG":
            state["cache"] = "error"
    except Exception as exc:
        state["cache"] = f"error: {exc}"
    ok = state["database"] == "connected" and state["cache"] == "connected"
    return (200, state) if ok else (503, {**state, "status": "not ready"})


class Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") + "/"
        if path == "/api/health/live/":
            return self.answer(200, {"status": "alive"})
        if path in ("/api/health/ready/", "/api/health/"):
            return self.answer(*ready())
        if path == "/api/version/":
            return self.answer(200, {"version": VERSION, "migrations": applied()})
        if path == "/api/copies/":
            if BROKEN:
                return self.answer(500, {"detail": "copy listing is broken in this build"})
            return self.answer(200, {"copies": sorted(p.name for p in (MEDIA / "copies").glob("*"))})
        if path.startswith("/api/"):
            return self.answer(401, {"detail": "Authentication credentials were not provided."})
        return self.answer(404, {"detail": "Not found."})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Korrigo-Version", VERSION)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args: object) -> None:
        print(json.dumps({"levelname": "INFO", "message": fmt % args}), flush=True)


def serve() -> int:
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Api)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()
    return 0


def worker() -> int:
    """Celery worker stand-in: takes tasks from the `celery` list, records each as done."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    Path("/tmp/worker-alive").write_text(VERSION)
    while True:
        task = redis("BLPOP", "celery", "2")
        if task:
            redis("RPUSH", "celery-done", f"{task[1]} by {socket.gethostname()} ({VERSION})")


def beat() -> int:
    """Celery beat stand-in: queues a `tick` task every few seconds."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        redis("RPUSH", "celery", f"tick {int(time.time())}")
        time.sleep(float(os.environ.get("BEAT_INTERVAL", "5")))


def smoke() -> int:
    """`pytest -m smoke` stand-in: the guide's smoke tests, against this container's own API."""
    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:8000{path}", timeout=5) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    tests = {
        "test_health_endpoints": lambda: get("/api/health/live/")[0] == 200 and get("/api/health/ready/")[0] == 200,
        "test_database_connection": lambda: bool(applied()),
        "test_critical_models_importable": lambda: all(n in applied() for n, _ in MIGRATIONS[:KNOWN]),
        "test_cache_connection": lambda: redis("PING") == "PONG",
        "test_copy_list_flow": lambda: get("/api/copies/")[0] == 200,
        "test_static_files_configuration": lambda: MEDIA.is_dir(),
    }
    failed = []
    for name, test in tests.items():
        try:
            ok = test()
        except Exception as exc:
            ok, name = False, f"{name} ({exc})"
        print(f"tests/test_smoke.py::{name} {'PASSED' if ok else 'FAILED'}")
        if not ok:
            failed.append(name)
    print(f"{'FAILED' if failed else 'passed'}: {len(tests) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


def healthcheck() -> int:
    try:
        with urllib.request.urlopen("http://127.0.0.1:8000/api/health/live/", timeout=3) as answer:
            return 0 if answer.status == 200 else 1
    except Exception:
        return 1


def showmigrations() -> int:
    done = applied()
    for name, _ in MIGRATIONS[:KNOWN]:
        print(f" [{'X' if name in done else ' '}] {name}")
    return 0


COMMANDS = {"serve": serve, "worker": worker, "beat": beat, "migrate": migrate, "smoke": smoke,
            "healthcheck": healthcheck, "showmigrations": showmigrations}

if __name__ == "__main__":
    words = [w for w in sys.argv[1:] if w != "manage.py"]
    if not words or words[0] not in COMMANDS:
        sys.exit(f"usage: korrigo {{{'|'.join(COMMANDS)}}}")
    sys.exit(COMMANDS[words[0]]())
