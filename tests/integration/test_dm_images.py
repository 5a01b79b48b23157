"""The DM test images and stand-in app, exercised with plain ``docker`` (no engine).

The DM deploy tests run the seed's stack -- PostgreSQL, the Django app (stood in for
by ``examples/dm/app``), the shared nginx-static and Traefik -- from images built
locally (``moorage-test/postgres``, ``webapp``, ``nginx``, ``traefik``).  This module
proves those images behave like the real ones before any deploy test leans on them:
the products page and its data, readiness, ALLOWED_HOSTS, data surviving a restart
and a replaced container, a failing migration, nginx serving media, pg_dump/pg_restore,
prompt shutdown, new app versions built on top of v1, and valid compose files.

Everything runs on this machine's engine; ports are published on 127.0.0.1 only and
every container, network, volume and image tag the module creates is removed by id.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from testbed.dm_images import WEBAPP_V1, build_webapp_version, ensure_dm_image
from testbed.servers import docker

from .helpers import request

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "examples" / "dm" / "app"
COMPOSE_DIR = ROOT / "examples" / "dm" / "compose"
FIXTURE_IMAGES = APP_DIR / "core" / "fixtures" / "img"
INITIAL = [("Pack Nature", "pack-nature", "9.99", "products/forest_path.png"),
           ("Pack Abstract", "pack-abstract", "14.99", "products/ocean_waves.png"),
           ("Pack Minimal", "pack-minimal", "19.99", "products/montain_sunset.png")]


# -- images ---------------------------------------------------------------------
# -- what this module starts, removed by id -------------------------------------------
@dataclass
class Stack:
    """The module's containers, network, volume and image tags; ``close()`` removes exactly those."""

    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # role -> container id
    network: str = ""
    env_file: Path = Path()
    media_dir: Path = Path()
    nginx_conf: Path = Path()

    @property
    def prefix(self) -> str:
        return f"moorage-test-dm-{self.run_id}"

    def run(self, role: str, image: str, *args: str, env: dict[str, str] | None = None,
            publish: tuple[int, ...] = (), volumes: tuple[str, ...] = (), alias: str | None = None,
            env_file: bool = False) -> str:
        """``docker run -d`` on the stack's network; returns the container id."""
        name = f"{self.prefix}-{role}-{len(self.containers) + 1}"
        cmd = ["run", "-d", "--name", name, "--label", f"moorage-test.run={self.run_id}",
               "--network", self.network]
        if alias:
            cmd += ["--network-alias", alias]
        if env_file:
            cmd += ["--env-file", str(self.env_file)]
        for key, value in (env or {}).items():
            cmd += ["-e", f"{key}={value}"]
        for port in publish:
            cmd += ["-p", f"127.0.0.1::{port}"]
        for vol in volumes:
            cmd += ["-v", vol]
        cid = docker(*cmd, image, *args).stdout.strip()
        self.containers.append(cid)
        self.ids[role] = cid
        return cid

    def remove(self, cid: str) -> None:
        docker("rm", "-f", "-v", cid, check=False)
        if cid in self.containers:
            self.containers.remove(cid)

    def close(self) -> None:
        for cid in reversed(self.containers):
            docker("rm", "-f", "-v", cid, check=False)
        for net in self.networks:
            docker("network", "rm", net, check=False)
        for vol in self.volumes:
            docker("volume", "rm", "-f", vol, check=False)
        for tag in self.tags:  # tags this module built; the image goes when its last tag does
            docker("rmi", tag, check=False)


def port_of(cid: str, container_port: int) -> int:
    out = docker("port", cid, f"{container_port}/tcp").stdout.split()
    address = next(a for a in out if a.startswith("127.0.0.1:"))
    return int(address.rsplit(":", 1)[1])


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    """Call ``check`` until it returns a truthy value; bounded by ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def exec_in(cid: str, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return docker("exec", cid, *cmd, check=False, timeout=timeout)


def wait_pg(cid: str, user: str, db: str, timeout: float = 60) -> None:
    probe = ("pg_isready", "-q", "-h", "127.0.0.1", "-U", user, "-d", db)
    wait_until(lambda: exec_in(cid, *probe).returncode == 0, timeout,
               f"postgres in {cid[:12]} to accept TCP connections")


def wait_ready(port: int, timeout: float = 60) -> None:
    wait_until(lambda: request(port, "/health/ready", timeout=3).status == 200, timeout,
               f"/health/ready on 127.0.0.1:{port}")


def logs(cid: str) -> str:
    proc = docker("logs", cid, check=False)
    return proc.stdout + proc.stderr


# -- the module's stack: postgres + webapp (migrate + serve) + nginx with a media dir ------
DB = {"DB_NAME": "dm_db", "DB_USER": "dm_user", "DB_PASSWORD": "", "DB_HOST": "db", "DB_PORT": "5432"}
BUILD_TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """postgres, webapp (v1), nginx: built once (cached by inputs hash), with build times."""
    refs = {}
    for name in ("postgres", "webapp", "nginx"):
        t0 = time.monotonic()
        refs[name] = ensure_dm_image(name)
        BUILD_TIMES[name] = time.monotonic() - t0
    print(f"\nDM image ensure times: { {k: round(v, 1) for k, v in BUILD_TIMES.items()} }")
    return refs


@pytest.fixture(scope="module")
def stack(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = Stack()
    try:
        work = tmp_path_factory.mktemp("dm")
        password = secrets.token_urlsafe(16)
        st.env_file = work / ".env"
        settings = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,dm.nexus.local",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://pyxalix.devamalix.fr",
            **DB, "DB_PASSWORD": password,
        }
        st.env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        # media exactly as the seed lays it out: media/products/<fixed name>.png
        st.media_dir = work / "media"
        (st.media_dir / "products").mkdir(parents=True)
        for png in FIXTURE_IMAGES.glob("*.png"):
            shutil.copyfile(png, st.media_dir / "products" / png.name)
        for path in (st.media_dir, st.media_dir / "products", *st.media_dir.rglob("*.png")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        st.nginx_conf = work / "media.conf"
        st.nginx_conf.write_text("server {\n    listen 80 default_server;\n    server_name _;\n"
                                 "    location /media/ { alias /srv/media/dm/; }\n}\n")
        st.nginx_conf.chmod(0o644)

        st.network = f"{st.prefix}-net"
        st.networks.append(docker("network", "create", "--label", f"moorage-test.run={st.run_id}",
                                  st.network).stdout.strip())
        volume = f"{st.prefix}-pgdata"
        docker("volume", "create", "--label", f"moorage-test.run={st.run_id}", volume)
        st.volumes.append(volume)

        db = st.run("db", images["postgres"], alias="db", volumes=(f"{volume}:/var/lib/postgresql/data",),
                    env={"POSTGRES_USER": DB["DB_USER"], "POSTGRES_PASSWORD": password,
                         "POSTGRES_DB": DB["DB_NAME"]})
        # started before the db is ready on purpose: `app migrate` waits for it (bounded)
        web = st.run("web", images["webapp"], env_file=True, publish=(8000,))
        st.run("nginx", images["nginx"], publish=(80,),
               volumes=(f"{st.media_dir}:/srv/media/dm:ro",
                        f"{st.nginx_conf}:/etc/nginx/conf.d/default.conf:ro"))
        wait_pg(db, DB["DB_USER"], DB["DB_NAME"])
        wait_ready(port_of(web, 8000))
        yield st
    finally:
        st.close()


def web_port(st: Stack) -> int:
    return port_of(st.ids["web"], 8000)


def product_slugs(port: int) -> list[str]:
    resp = request(port, "/api/products")
    assert resp.status == 200, resp.text
    return [p["slug"] for p in json.loads(resp.body)]


# -- tests ------------------------------------------------------------------------
def test_products_page_lists_the_three_initial_products(stack: Stack) -> None:
    resp = request(web_port(stack), "/")
    assert resp.status == 200, resp.text
    assert resp.headers["x-app-version"] == "v1"
    assert '<span id="app-version">v1</span>' in resp.text
    for name, slug, price, image in INITIAL:
        assert f'data-slug="{slug}"' in resp.text
        assert f'<span class="name">{name}</span>' in resp.text
        assert f'<span class="price">{price} &euro;</span>' in resp.text
        assert f'<img src="/media/{image}"' in resp.text
    assert resp.text.count('class="product"') == 3
    out = logs(stack.ids["web"])
    assert "Applying core.0003_load_initial_products... OK" in out, out


def test_health_endpoints_and_migrations_recorded(stack: Stack) -> None:
    port = web_port(stack)
    assert request(port, "/health/live").status == 200
    ready = request(port, "/health/ready")
    assert (ready.status, json.loads(ready.body)["status"]) == (200, "ready")
    shown = exec_in(stack.ids["web"], "app", "showmigrations")
    assert shown.returncode == 0 and shown.stdout.count("[X]") == 3, shown.stdout + shown.stderr
    rows = exec_in(stack.ids["db"], "psql", "-U", DB["DB_USER"], "-d", DB["DB_NAME"], "-Atc",
                   "SELECT app || '.' || name FROM migrations ORDER BY id")
    assert rows.stdout.split() == ["core.0001_initial", "core.0002_product_image",
                                   "core.0003_load_initial_products"], rows.stderr
    assert docker("inspect", "--format", "{{.State.Health.Status}}", stack.ids["web"]).stdout.strip() in (
        "starting", "healthy")


def test_unknown_host_gets_400_like_django(stack: Stack) -> None:
    port = web_port(stack)
    assert request(port, "/", host="dm.nexus.local").status == 200
    assert request(port, "/", host="evil.example").status == 400
    assert request(port, "/health/live", host="evil.example").status == 200  # probes by any address


def test_media_is_not_served_by_the_app_without_debug(stack: Stack) -> None:
    assert request(web_port(stack), "/media/products/forest_path.png").status == 404


def test_posted_product_survives_restart_and_replaced_containers(stack: Stack,
                                                                 images: dict[str, str]) -> None:
    slug = f"pack-{stack.run_id}"
    created = request(web_port(stack), "/products", "POST",
                   form={"name": "Pack Test", "slug": slug, "price": "4.50"})
    assert created.status == 201, created.text
    assert request(web_port(stack), "/products", "POST",
                form={"name": "Pack Test", "slug": slug, "price": "4.50"}).status == 409
    assert request(web_port(stack), "/products", "POST", form={"name": "x"}).status == 400

    t0 = time.monotonic()
    docker("restart", stack.ids["web"], timeout=60)
    restart_s = time.monotonic() - t0
    wait_ready(web_port(stack))
    assert product_slugs(web_port(stack)) == [*(s for _, s, _, _ in INITIAL), slug]
    assert restart_s < 8, f"webapp took {restart_s:.1f}s to restart: SIGTERM not handled?"

    # a redeploy replaces containers: new db container on the same volume, new web container
    old_db, old_web = stack.ids["db"], stack.ids["web"]
    for cid in (old_web, old_db):  # clean shutdowns, as `compose up` does before replacing
        t0 = time.monotonic()
        docker("stop", cid, timeout=60)
        assert time.monotonic() - t0 < 5, f"{cid[:12]} ignored its stop signal"
        stack.remove(cid)
    volume = stack.volumes[0]
    password = dict(line.split("=", 1) for line in stack.env_file.read_text().splitlines())["DB_PASSWORD"]
    db = stack.run("db", images["postgres"], alias="db", volumes=(f"{volume}:/var/lib/postgresql/data",),
                   env={"POSTGRES_USER": DB["DB_USER"], "POSTGRES_PASSWORD": password,
                        "POSTGRES_DB": DB["DB_NAME"]})
    web = stack.run("web", images["webapp"], env_file=True, publish=(8000,))
    wait_pg(db, DB["DB_USER"], DB["DB_NAME"])
    wait_ready(port_of(web, 8000))
    assert "initialising" not in logs(db)  # existing data dir: no second initdb
    assert product_slugs(port_of(web, 8000)) == [*(s for _, s, _, _ in INITIAL), slug]  # no duplicates
    assert "No migrations to apply." in logs(web)


def test_failing_migration_exits_nonzero_with_its_message(stack: Stack, images: dict[str, str]) -> None:
    name = f"{stack.prefix}-migrate-fail"
    proc = docker("run", "--rm", "--name", name, "--label", f"moorage-test.run={stack.run_id}",
                  "--network", stack.network, "--env-file", str(stack.env_file), "-e", "MIGRATE_FAIL=1",
                  images["webapp"], check=False, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "MIGRATE_FAIL=1 is set" in proc.stderr and "failed" in proc.stderr, proc.stderr
    assert "serving on" not in proc.stderr  # the entrypoint stops at the failed migration
    columns = exec_in(stack.ids["db"], "psql", "-U", DB["DB_USER"], "-d", DB["DB_NAME"], "-Atc",
                      "SELECT column_name FROM information_schema.columns WHERE table_name = 'products'")
    assert "broken" not in columns.stdout.split()  # rolled back
    assert request(web_port(stack), "/health/ready").status == 200  # the running release is untouched


def test_nginx_serves_media_with_server_header(stack: Stack) -> None:
    port = port_of(stack.ids["nginx"], 80)
    for _, _, _, image in INITIAL:
        resp = request(port, f"/media/{image}")
        assert resp.status == 200, resp.text
        assert resp.headers["server"] == "nginx"
        assert resp.headers["content-type"] == "image/png"
        assert resp.body == (stack.media_dir / image).read_bytes()
    head = request(port, "/media/products/forest_path.png", "HEAD")
    assert (head.status, head.headers["server"]) == (200, "nginx")
    assert request(port, "/media/products/missing.png").status == 404
    test = exec_in(stack.ids["nginx"], "nginx", "-t")
    assert test.returncode == 0 and "test is successful" in test.stderr, test.stderr


def test_pg_dump_and_restore_inside_the_postgres_container(stack: Stack) -> None:
    db, user = stack.ids["db"], DB["DB_USER"]
    dump = exec_in(db, "pg_dump", "-U", user, "-Fc", "-f", "/tmp/dm.dump", DB["DB_NAME"])
    assert dump.returncode == 0, dump.stderr
    listing = exec_in(db, "pg_restore", "--list", "/tmp/dm.dump")
    assert listing.returncode == 0, listing.stderr
    assert "TABLE public products" in listing.stdout and "TABLE DATA public products" in listing.stdout
    assert "TABLE DATA public migrations" in listing.stdout
    scratch = f"scratch_{stack.run_id}"
    assert exec_in(db, "createdb", "-U", user, scratch).returncode == 0
    restore = exec_in(db, "pg_restore", "-U", user, "-d", scratch, "/tmp/dm.dump")
    assert restore.returncode == 0, restore.stderr
    count = exec_in(db, "psql", "-U", user, "-d", scratch, "-Atc", "SELECT count(*) FROM products")
    assert int(count.stdout) >= 3
    exec_in(db, "dropdb", "-U", user, scratch)
    plain = exec_in(db, "pg_dump", "-U", user, DB["DB_NAME"])  # the seed's `pg_dump > backup.sql`
    assert plain.returncode == 0 and "CREATE TABLE public.products" in plain.stdout
    exec_in(db, "rm", "-f", "/tmp/dm.dump")


def test_postgres_needs_a_password_on_first_start(stack: Stack, images: dict[str, str]) -> None:
    proc = docker("run", "--rm", "--label", f"moorage-test.run={stack.run_id}", images["postgres"],
                  check=False, timeout=60)
    assert proc.returncode == 1
    assert "POSTGRES_PASSWORD" in proc.stderr


def test_debug_app_serves_media_and_health_fail_blocks_readiness(stack: Stack,
                                                                 images: dict[str, str]) -> None:
    web = stack.run("web-debug", images["webapp"], env_file=True, publish=(8000,),
                    env={"DJANGO_DEBUG": "1", "MIGRATE_ON_START": "0", "HEALTH_FAIL": "1"},
                    volumes=(f"{stack.media_dir}:/app/media:ro",))
    port = port_of(web, 8000)
    wait_until(lambda: request(port, "/health/live", timeout=3).status == 200, 30, "the debug app")
    media = request(port, "/media/products/ocean_waves.png")
    assert media.status == 200 and media.headers["server"].startswith("WSGIServer")
    assert media.body == (stack.media_dir / "products" / "ocean_waves.png").read_bytes()
    assert request(port, "/media/../app.py").status == 404
    ready = request(port, "/health/ready")
    assert ready.status == 503 and "HEALTH_FAIL" in json.loads(ready.body)["reason"]
    assert "Running migrations" not in logs(web)  # MIGRATE_ON_START=0
    t0 = time.monotonic()
    docker("stop", web, timeout=60)
    assert time.monotonic() - t0 < 5, "webapp did not stop promptly on SIGTERM"
    assert docker("inspect", "--format", "{{.State.ExitCode}}", web).stdout.strip() == "0"
    stack.remove(web)


def test_new_app_versions_build_on_top_of_v1(stack: Stack) -> None:
    tag = f"moorage-test/webapp:test-{stack.run_id}"
    t0 = time.monotonic()
    build_webapp_version(tag, f"v2-{stack.run_id}")
    stack.tags.append(tag)
    build_s = time.monotonic() - t0
    web = stack.run("web-v2", tag, env_file=True, publish=(8000,))
    port = port_of(web, 8000)
    wait_ready(port)
    page = request(port, "/")
    assert f'<span id="app-version">v2-{stack.run_id}</span>' in page.text
    assert page.text.count('class="product"') >= 3
    stack.remove(web)
    assert build_s < 60

    broken = f"moorage-test/webapp:test-{stack.run_id}-broken"
    build_webapp_version(broken, f"v3-{stack.run_id}", HEALTH_FAIL="1")
    stack.tags.append(broken)
    web = stack.run("web-v3", broken, env_file=True, publish=(8000,))
    port = port_of(web, 8000)
    wait_until(lambda: request(port, "/health/live", timeout=3).status == 200, 30, "the broken v3")
    assert f"v3-{stack.run_id}" in request(port, "/").text
    assert request(port, "/health/ready").status == 503
    stack.remove(web)


def test_compose_files_are_valid_and_route_like_the_seed(tmp_path: Path) -> None:
    project = tmp_path / "dm"
    project.mkdir()
    for f in COMPOSE_DIR.glob("docker-compose*.yml"):
        shutil.copyfile(f, project / f.name)
    shutil.copyfile(COMPOSE_DIR / ".env.example", project / ".env")

    def config(*files: str, cwd: Path = project) -> dict:
        args = ["docker", "compose"] + [a for f in files for a in ("-f", f)] + ["config", "--format", "json"]
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    dev = config("docker-compose.dev.yml")
    web = dev["services"]["web"]
    assert web["image"] == WEBAPP_V1 and dev["services"]["db"]["image"] == "moorage-test/postgres:latest"
    ports = [(p["host_ip"], p["published"], p["target"]) for p in web["ports"]]
    assert ports == [("127.0.0.1", "8000", 8000)]
    assert web["environment"]["DJANGO_DEBUG"] == "0"  # from .env
    assert any(v["target"] == "/app/media" for v in web["volumes"])
    assert web["depends_on"]["db"]["condition"] == "service_healthy"

    nexus = config("docker-compose.nexus.yml")
    labels = nexus["services"]["web"]["labels"]
    assert labels["traefik.http.routers.dm-web-nexus.rule"] == (
        "Host(`dm.nexus.local`) && !PathPrefix(`/media/`)")
    assert labels["traefik.http.routers.dm-web-nexus.entrypoints"] == "web"
    assert labels["traefik.http.routers.dm-web-nexus.priority"] == "1"
    assert nexus["services"]["db"]["ports"][0]["target"] == 5432  # published for debugging
    assert (nexus["networks"]["proxy"]["name"], nexus["networks"]["proxy"]["external"]) == ("proxy", True)

    vps = config("docker-compose.yml")
    labels = vps["services"]["web"]["labels"]
    assert labels["traefik.http.routers.pyxalix-web.rule"] == (
        "Host(`pyxalix.devamalix.fr`) && !PathPrefix(`/media/`)")
    assert labels["traefik.http.routers.pyxalix-web.entrypoints"] == "websecure"
    assert labels["traefik.http.routers.pyxalix-web.tls.certresolver"] == "letsencrypt"
    assert "ports" not in vps["services"]["db"]  # never published in production
    assert "postgres_data" in vps["volumes"]

    built = config("docker-compose.yml", "docker-compose.build.yml")
    assert built["services"]["web"]["build"]["args"]["BASE_IMAGE"] == WEBAPP_V1

    for shared in ("traefik/docker-compose.yml", "nginx-static/docker-compose.nexus.yml",
                   "nginx-static/docker-compose.yml"):
        path = COMPOSE_DIR / "shared" / shared
        assert yaml.safe_load(path.read_text())["services"]
        config(path.name, cwd=path.parent)

    os.remove(project / ".env")  # a deploy must never start the app without its settings
    proc = subprocess.run(["docker", "compose", "-f", "docker-compose.yml", "config", "-q"], cwd=project,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0 and ".env" in proc.stderr


def test_traefik_image_runs_the_venv_binary() -> None:
    t0 = time.monotonic()
    ref = ensure_dm_image("traefik")
    BUILD_TIMES["traefik"] = time.monotonic() - t0
    proc = docker("run", "--rm", ref, "version", timeout=60)
    assert "Version:      3." in proc.stdout, proc.stdout
