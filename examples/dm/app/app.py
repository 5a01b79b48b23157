#!/usr/bin/python3
"""DM (Pyxalix) stand-in: a tiny web app that behaves like the seed's Django app.

Python 3 standard library + psycopg2 only, so it builds from Debian packages
without a registry.  It reads the same `.env` settings as the Django project and
keeps the behaviours a deploy depends on:

  app migrate          apply pending migrations (idempotent, recorded in the
                       `migrations` table; 0003 loads the three initial products
                       with get-or-create semantics).  MIGRATE_FAIL=1 fails on purpose.
  app showmigrations   list migrations, [X] = applied (like Django).
  app serve            HTTP on 0.0.0.0:$PORT (8000).  SIGTERM/SIGINT stop it promptly.
  app check            validate the settings (like `manage.py check`).
  app healthcheck [PATH]  GET http://127.0.0.1:$PORT/PATH (default /health/live);
                       exit 0 on 200 -- for container healthchecks, no curl needed.

HTTP:
  GET  /               products page: name, price, <img src="/media/...">, the version
                       (build arg APP_VERSION, baked into /app/VERSION)
  GET  /api/products   the products as JSON
  POST /products       form fields name, slug, price[, image] -> 201 (CSRF not checked)
  GET  /health/live    200 while the process serves
  GET  /health/ready   200 when the database answers and every migration is applied,
                       else 503; HEALTH_FAIL=1 makes it 503 forever
  GET  /media/PATH     files under $MEDIA_ROOT (/app/media), only when DJANGO_DEBUG=1
                       (like Django's dev server); 404 otherwise

Like Django, a request whose Host header is not in DJANGO_ALLOWED_HOSTS gets
400 (the /health/ endpoints are exempt so probes work by any address).
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import signal
import sys
import time
import urllib.parse
import urllib.request
from decimal import Decimal, InvalidOperation
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

APP = "core"
TRUTHY = {"1", "true", "yes", "on"}


# -- settings -------------------------------------------------------------------
class ImproperlyConfigured(Exception):
    """A setting is missing or malformed (the message says which and how to fix it)."""


class Settings:
    """The `.env` settings, read from the environment once."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        env = dict(os.environ if env is None else env)
        self.secret_key = env.get("DJANGO_SECRET_KEY", "")
        self.debug = env.get("DJANGO_DEBUG", "0").strip().lower() in TRUTHY
        self.allowed_hosts = _split(env.get("DJANGO_ALLOWED_HOSTS", ""))
        self.csrf_trusted_origins = _split(env.get("DJANGO_CSRF_TRUSTED_ORIGINS", ""))
        self.db = {
            "dbname": env.get("DB_NAME", "dm_db"),
            "user": env.get("DB_USER", "dm_user"),
            "password": env.get("DB_PASSWORD", ""),
            "host": env.get("DB_HOST", "db"),
            "port": env.get("DB_PORT", "5432"),
        }
        self.version = _release_version(Path(env.get("APP_VERSION_FILE", "/app/VERSION")))
        self.port = int(env.get("PORT", "8000"))
        self.media_root = Path(env.get("MEDIA_ROOT", "/app/media"))
        self.db_wait = float(env.get("DB_WAIT_TIMEOUT", "30"))
        self.migrate_fail = env.get("MIGRATE_FAIL", "0").strip().lower() in TRUTHY
        self.health_fail = env.get("HEALTH_FAIL", "0").strip().lower() in TRUTHY

    def check(self) -> list[str]:
        """Problems that stop the app from serving, as sentences (empty = fine)."""
        problems = []
        if not self.secret_key:
            problems.append("DJANGO_SECRET_KEY is not set: put a long random value in .env "
                            "(e.g. `openssl rand -base64 50`).")
        for origin in self.csrf_trusted_origins:
            if "://" not in origin:
                problems.append(f"Origin {origin!r} in DJANGO_CSRF_TRUSTED_ORIGINS is missing a scheme "
                                "(write it as https://host).")
        if not self.debug and not self.allowed_hosts:
            problems.append("DJANGO_ALLOWED_HOSTS is empty while DJANGO_DEBUG=0: list the host names "
                            "the site answers to.")
        return problems

    def host_allowed(self, host_header: str) -> bool:
        """Django's ALLOWED_HOSTS matching: exact, '.example.com' for subdomains, '*'."""
        host = host_header.strip().lower()
        if host.startswith("["):  # [::1]:8000
            host = host[: host.find("]") + 1]
        elif host.count(":") == 1:
            host = host.rsplit(":", 1)[0]
        host = host.rstrip(".")
        patterns = self.allowed_hosts or (["localhost", "127.0.0.1", "[::1]"] if self.debug else [])
        for pattern in patterns:
            p = pattern.lower()
            if p == "*" or p == host or (p.startswith(".") and (host.endswith(p) or host == p[1:])):
                return True
        return False


def _release_version(path: Path) -> str:
    """The version baked into the image at build time (build arg APP_VERSION -> /app/VERSION).

    Deliberately not an environment variable: .env files are shared between releases, the
    version shown must be the image's own.
    """
    try:
        return path.read_text().strip() or "dev"
    except OSError:
        return "dev"


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


# -- database -------------------------------------------------------------------
def connect(settings: Settings, timeout: float = 3.0):
    """One psycopg2 connection (imported lazily: `app check` works without it)."""
    import psycopg2

    return psycopg2.connect(connect_timeout=max(1, int(timeout)), **settings.db)


def wait_for_db(settings: Settings):
    """Connect, retrying until DB_WAIT_TIMEOUT seconds have passed (bounded)."""
    import psycopg2

    deadline = time.monotonic() + settings.db_wait
    while True:
        try:
            return connect(settings)
        except psycopg2.OperationalError as exc:
            if time.monotonic() >= deadline:
                where = f"{settings.db['host']}:{settings.db['port']}/{settings.db['dbname']}"
                raise SystemExit(f"ERROR: database {where} not reachable after {settings.db_wait:.0f}s: "
                                 f"{str(exc).strip()}") from None
            time.sleep(1)


INITIAL_PRODUCTS = [
    ("Pack Nature", "pack-nature", "9.99", "products/forest_path.png"),
    ("Pack Abstract", "pack-abstract", "14.99", "products/ocean_waves.png"),
    ("Pack Minimal", "pack-minimal", "19.99", "products/montain_sunset.png"),
]


def _m0001_initial(cur) -> None:
    cur.execute("""
        CREATE TABLE products (
            id serial PRIMARY KEY,
            name varchar(200) NOT NULL,
            slug varchar(200) NOT NULL UNIQUE,
            price numeric(10, 2) NOT NULL CHECK (price >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        )""")


def _m0002_product_image(cur) -> None:
    cur.execute("ALTER TABLE products ADD COLUMN image varchar(300) NOT NULL DEFAULT ''")


def _m0003_load_initial_products(cur) -> None:
    # get_or_create by slug: never duplicates, never overwrites an edited row.
    for name, slug, price, image in INITIAL_PRODUCTS:
        cur.execute("INSERT INTO products (name, slug, price, image) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (slug) DO NOTHING", (name, slug, price, image))


MIGRATIONS = [
    ("0001_initial", _m0001_initial),
    ("0002_product_image", _m0002_product_image),
    ("0003_load_initial_products", _m0003_load_initial_products),
]
MIGRATION_LOCK = 0x444D  # pg_advisory_lock key: concurrent `migrate` runs take turns


def _ensure_ledger(cur) -> None:
    cur.execute("""
        CREATE TABLE IF NOT EXISTS migrations (
            id serial PRIMARY KEY,
            app varchar(255) NOT NULL,
            name varchar(255) NOT NULL,
            applied timestamptz NOT NULL DEFAULT now(),
            UNIQUE (app, name)
        )""")


def applied_migrations(conn) -> set[str] | None:
    """Names of applied migrations, or None when the ledger table does not exist yet."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT name FROM migrations WHERE app = %s", (APP,))
        return {row[0] for row in cur.fetchall()}


def cmd_migrate(settings: Settings) -> int:
    conn = wait_for_db(settings)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        conn.autocommit = False
        with conn, conn.cursor() as cur:
            _ensure_ledger(cur)
        done = applied_migrations(conn) or set()
        print("Operations to perform:\n  Apply all migrations: core\nRunning migrations:", flush=True)
        pending = [(n, f) for n, f in MIGRATIONS if n not in done]
        if not pending and not settings.migrate_fail:
            print("  No migrations to apply.", flush=True)
        for name, func in pending:
            with conn, conn.cursor() as cur:  # one transaction per migration, with its record
                func(cur)
                cur.execute("INSERT INTO migrations (app, name) VALUES (%s, %s)", (APP, name))
            print(f"  Applying {APP}.{name}... OK", flush=True)
        if settings.migrate_fail:
            name = "0004_broken_on_purpose"
            print(f"  Applying {APP}.{name}...", flush=True)
            try:
                with conn, conn.cursor() as cur:
                    cur.execute("ALTER TABLE products ADD COLUMN broken integer")
                    raise RuntimeError("MIGRATE_FAIL=1 is set")
            except RuntimeError:
                pass  # the transaction above was rolled back: the schema is unchanged
            print(f"ERROR: migration {APP}.{name} failed: MIGRATE_FAIL=1 is set, so this migration "
                  "fails on purpose (its transaction was rolled back; unset MIGRATE_FAIL to deploy).",
                  file=sys.stderr, flush=True)
            return 1
        return 0
    finally:
        conn.close()


def cmd_showmigrations(settings: Settings) -> int:
    conn = wait_for_db(settings)
    try:
        done = applied_migrations(conn) or set()
    finally:
        conn.close()
    print(APP)
    for name, _ in MIGRATIONS:
        print(f" [{'X' if name in done else ' '}] {name}")
    return 0


def fetch_products(settings: Settings) -> list[dict]:
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, name, slug, price, image FROM products ORDER BY id")
            return [{"id": r[0], "name": r[1], "slug": r[2], "price": str(r[3]), "image": r[4]}
                    for r in cur.fetchall()]
    finally:
        conn.close()


def readiness(settings: Settings) -> tuple[bool, str]:
    """(ready, reason): the database answers and every migration is applied."""
    if settings.health_fail:
        return False, "HEALTH_FAIL=1 is set"
    try:
        conn = connect(settings, timeout=2)
    except Exception as exc:
        return False, f"database unreachable: {str(exc).strip()}"
    try:
        done = applied_migrations(conn) or set()
    except Exception as exc:
        return False, f"database error: {str(exc).strip()}"
    finally:
        conn.close()
    missing = [n for n, _ in MIGRATIONS if n not in done]
    if missing:
        return False, f"unapplied migrations: {', '.join(missing)}"
    return True, "ok"


# -- HTTP -----------------------------------------------------------------------
PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>DM - Pyxalix</title></head>
<body>
<h1>Pyxalix</h1>
<p class="version">version <span id="app-version">{version}</span></p>
<ul class="products">
{items}
</ul>
</body></html>
"""
ITEM = ('<li class="product" data-slug="{slug}"><img src="/media/{image}" alt="{name}">'
        '<span class="name">{name}</span> <span class="price">{price} &euro;</span></li>')


class Handler(BaseHTTPRequestHandler):
    server_version = "WSGIServer/0.2"  # what Django's dev server says; nginx says "nginx"
    sys_version = "CPython/" + sys.version.split()[0]
    protocol_version = "HTTP/1.1"
    settings: Settings  # set on the class by cmd_serve

    # plumbing
    def log_message(self, format: str, *args) -> None:
        sys.stderr.write(f"[{self.log_date_time_string()}] {format % args}\n")

    def _send(self, status: int, body: bytes | str, ctype: str = "text/html; charset=utf-8",
              head: bool = False) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-App-Version", self.settings.version)
        if getattr(self.server, "stopping", False):
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _json(self, status: int, obj, head: bool = False) -> None:
        self._send(status, json.dumps(obj) + "\n", "application/json", head)

    def _error(self, status: int, exc: BaseException | None = None, head: bool = False) -> None:
        phrase = HTTPStatus(status).phrase
        body = f"<h1>{phrase} ({status})</h1>"
        if exc is not None and self.settings.debug:
            body += f"<pre>{html.escape(repr(exc))}</pre>"
        self._send(status, body + "\n", head=head)

    def _route(self, method: str) -> None:
        path = urllib.parse.urlsplit(self.path).path
        head = method == "HEAD"
        if path.startswith("/health/"):
            return self._health(path, head)
        if not self.settings.host_allowed(self.headers.get("Host", "")):
            self.log_message("Invalid HTTP_HOST header: %r. You may need to add it to ALLOWED_HOSTS.",
                             self.headers.get("Host", ""))
            return self._error(400, head=head)
        try:
            if method in ("GET", "HEAD"):
                if path == "/":
                    return self._index(head)
                if path == "/api/products":
                    return self._json(200, fetch_products(self.settings), head)
                if path.startswith("/media/"):
                    return self._media(path[len("/media/"):], head)
            elif method == "POST" and path in ("/products", "/products/"):
                return self._create_product()
            return self._error(404, head=head)
        except Exception as exc:
            self.log_message("Internal Server Error: %s: %r", path, exc)
            return self._error(500, exc, head=head)

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 20:
            self.close_connection = True
            return self._error(413)
        self.body = self.rfile.read(length)  # read first: keep-alive stays in step on any answer
        self._route("POST")

    # views
    def _health(self, path: str, head: bool) -> None:
        if path == "/health/live":
            return self._json(200, {"status": "ok", "version": self.settings.version}, head)
        if path == "/health/ready":
            ready, reason = readiness(self.settings)
            return self._json(200 if ready else 503, {"status": "ready" if ready else "unavailable",
                                                      "reason": reason, "version": self.settings.version},
                              head)
        return self._error(404, head=head)

    def _index(self, head: bool) -> None:
        items = "\n".join(ITEM.format(slug=html.escape(p["slug"]), image=html.escape(p["image"]),
                                      name=html.escape(p["name"]), price=html.escape(p["price"]))
                          for p in fetch_products(self.settings))
        self._send(200, PAGE.format(version=html.escape(self.settings.version), items=items), head=head)

    def _media(self, rel: str, head: bool) -> None:
        if not self.settings.debug:  # DEBUG=0: media is nginx-static's job
            return self._error(404, head=head)
        root = self.settings.media_root.resolve()
        target = (root / urllib.parse.unquote(rel)).resolve()
        if root not in target.parents or not target.is_file():
            return self._error(404, head=head)
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(200, target.read_bytes(), ctype, head)

    def _create_product(self) -> None:
        # CSRF is deliberately not enforced (test stand-in); DJANGO_CSRF_TRUSTED_ORIGINS is still
        # read and validated by `check`.
        form = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"))
        name = form.get("name", [""])[0].strip()
        slug = form.get("slug", [""])[0].strip()
        image = form.get("image", [""])[0].strip()
        try:
            price = Decimal(form.get("price", [""])[0].strip())
        except InvalidOperation:
            price = None
        if not name or not slug or price is None or price < 0:
            return self._json(400, {"error": "name, slug and a non-negative price are required"})
        import psycopg2

        conn = connect(self.settings)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("INSERT INTO products (name, slug, price, image) VALUES (%s, %s, %s, %s) "
                            "RETURNING id", (name, slug, price, image))
                new_id = cur.fetchone()[0]
        except psycopg2.errors.UniqueViolation:
            return self._json(409, {"error": f"a product with slug {slug!r} exists"})
        finally:
            conn.close()
        self._json(201, {"id": new_id, "name": name, "slug": slug, "price": str(price), "image": image})


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight (a graceful stop)
    allow_reuse_address = True
    stopping = False        # set by SIGTERM: the answers in flight close their connection


def cmd_serve(settings: Settings) -> int:
    problems = settings.check()
    if problems:
        for p in problems:
            print(f"ImproperlyConfigured: {p}", file=sys.stderr)
        return 1
    Handler.settings = settings
    Handler.timeout = 5  # an idle keep-alive connection ends within 5 s: a stop never waits longer
    httpd = Server(("0.0.0.0", settings.port), Handler)
    httpd.timeout = 0.5

    def stop(signum, _frame) -> None:
        # Like gunicorn's graceful stop (what DM runs in production), noticed by the loop below
        # within httpd.timeout.
        print(f"received {signal.Signals(signum).name}, shutting down", file=sys.stderr, flush=True)
        httpd.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"DM {settings.version} serving on http://0.0.0.0:{settings.port}/ "
          f"(debug={'on' if settings.debug else 'off'})", file=sys.stderr, flush=True)
    while not httpd.stopping:
        httpd.handle_request()
    # The connections the kernel already completed (the listen backlog) are accepted and answered
    # before the listening socket closes: closing with them queued resets them, and a proxy that
    # had written a request on one answers 502 (it retries a connection refused, never one dropped
    # after the request was sent).  Later connections are refused; the requests in flight are
    # answered before the process exits (server_close waits for their threads).
    httpd.socket.setblocking(False)
    while True:
        try:
            request, address = httpd.socket.accept()
        except OSError:
            break
        request.setblocking(True)
        httpd.process_request(request, address)
    httpd.server_close()
    return 0


def cmd_check(settings: Settings) -> int:
    problems = settings.check()
    for p in problems:
        print(f"ERROR: {p}", file=sys.stderr)
    if not problems:
        print("System check identified no issues (0 silenced).")
    return 1 if problems else 0


def cmd_healthcheck(settings: Settings, path: str = "/health/live") -> int:
    url = f"http://127.0.0.1:{settings.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return 0 if resp.status == 200 else 1
    except Exception as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


COMMANDS = {
    "migrate": cmd_migrate,
    "showmigrations": cmd_showmigrations,
    "serve": cmd_serve,
    "check": cmd_check,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, args = argv[0], argv[1:]
    settings = Settings()
    if cmd == "healthcheck":
        return cmd_healthcheck(settings, *args[:1])
    if cmd not in COMMANDS or args:
        print(f"unknown command {' '.join(argv)!r}; commands: {', '.join([*COMMANDS, 'healthcheck'])}",
              file=sys.stderr)
        return 2
    return COMMANDS[cmd](settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
