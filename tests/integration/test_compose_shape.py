"""A compose project as real ones are (issue 13, items 1-3): three compose files, a profile, config
in a sub-folder and a bind-mounted file, deployed with the built-in playbook on a test server (sshd
and its own Docker engine; one for the module, the tests run in order).  Each step is what a user
would try: change a config and see it served, switch the profile on and off, roll back, read
status and logs, back up and restore, run a `compose` task on some of the files and keep the
others' containers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from testbed import ensure_image

from .helpers import moorage, request, write_playbook

SITE = "server {{ listen 80; add_header X-Shape {tag}; location / {{ root /srv/html; }} }}\n"


APP = "/srv/shop"
NAME = "shape"
SERVER = []  # the module's test server, for _ids and _read


def _ids(name: str = NAME) -> dict[str, str]:
    """service -> container id of compose project ``name`` on the server."""
    out = SERVER[0].exec(f"docker ps -a --filter label=com.docker.compose.project={name} --format "
                         "'{{.Label \"com.docker.compose.service\"}} {{.ID}}'").stdout.decode()
    return dict(line.split() for line in out.splitlines())


def _read(path: str) -> str:
    return SERVER[0].exec(f"cat {path}").stdout.decode()


@pytest.fixture(scope="module")
def shop(testbed, tmp_path_factory):
    server = testbed.start("dockerhost", name="shape")
    SERVER[:] = [server]
    tmp = tmp_path_factory.mktemp("shape")
    image, db_image = ensure_image("nginx"), ensure_image("postgres")
    port, name = server.ports[80], NAME
    root = tmp / "shop"
    (root / "configs" / "nginx").mkdir(parents=True)
    (root / "html").mkdir()
    (root / "html" / "index.html").write_text("v1\n")
    (root / "configs" / "nginx" / "site.conf").write_text(SITE.format(tag="one"))
    (root / "compose.yml").write_text(yaml.safe_dump({"services": {"web": {
        "image": image, "ports": ["80:80"],
        "volumes": ["./configs/nginx/site.conf:/etc/nginx/conf.d/default.conf:ro", "./html:/srv/html:ro"]}}}))
    (root / "compose.worker.yml").write_text(yaml.safe_dump({"services": {"worker": {"image": image}, "db": {
        "image": db_image, "volumes": ["data:/var/lib/postgresql/data"],
        "environment": {"POSTGRES_DB": "shop", "POSTGRES_USER": "shop", "POSTGRES_PASSWORD": "${DB_PASSWORD}"}}},
        "volumes": {"data": {}}}))
    (root / "compose.extra.yml").write_text(yaml.safe_dump({"services": {"extra": {
        "image": image, "profiles": ["extra"]}}}))
    (root / "inventory").mkdir()
    (root / "inventory" / "known_hosts").write_text(server.known_hosts_file.read_text())
    hosts = root / "inventory" / "hosts.yml"
    hosts.write_text(yaml.safe_dump({
        "project": name,
        "environments": {"prod": {"production": False, "vars": {
            "app_dir": APP, "app_images": [image, db_image], "image_source": "ship",
            "app_env": {"DB_PASSWORD": {"generate": 24}}, "backup_databases": [{"service": "db"}],
            "compose_files": ["compose.yml", "compose.worker.yml", "compose.extra.yml"],
            "release_files": ["configs/", "html"]}, "hosts": {"box": {
                "address": server.address, "port": server.port, "user": "root",
                "ssh_key": str(server.key_file)}}}},
    }, sort_keys=False))
    yield root, APP, port, name
    testbed.stop(server)


def _get(port: int, body: bytes):
    """The answer on ``port`` once it serves ``body`` (nginx has no healthcheck: up returns when it runs)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            answer = request(port, "/")
            if answer.body.strip() == body or time.monotonic() > deadline:
                return answer
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def _deploy(root: Path, *more: str):
    run = moorage("deploy", "--host", "box", "--json", *more, cwd=root, timeout=600)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    return run


def _set_profiles(root: Path, profiles: list[str]) -> None:
    hosts = root / "inventory" / "hosts.yml"
    data = yaml.safe_load(hosts.read_text())
    data["environments"]["prod"]["vars"]["compose_profiles"] = profiles
    hosts.write_text(yaml.safe_dump(data, sort_keys=False))


def test_three_files_deploy_and_record_their_shape(shop):
    root, app_dir, port, name = shop
    _deploy(root)
    assert _get(port, b"v1").body.strip() == b"v1"
    assert set(_ids(name)) == {"web", "worker", "db"}
    env = _read(f"{app_dir}/current/.env")
    assert "COMPOSE_FILE=compose.yml:compose.worker.yml:compose.extra.yml:moorage.override.yml\n" in env
    record = json.loads(_read(f"{app_dir}/current/release.json"))
    assert record["meta"]["compose_files"] == ["compose.yml", "compose.worker.yml", "compose.extra.yml"]
    assert _read(f"{app_dir}/current/configs/nginx/site.conf") == SITE.format(tag="one")
    again = _deploy(root)
    assert again.recap("box")["changed"] == 0


def test_a_changed_config_in_a_sub_folder_and_a_bind_mounted_file_take_effect(shop):
    root, _, port, name = shop
    before = _ids(name)
    (root / "html" / "index.html").write_text("v2\n")
    (root / "configs" / "nginx" / "site.conf").write_text(SITE.format(tag="two"))
    plan = moorage("deploy", "--host", "box", "--check", cwd=root, timeout=600)
    assert plan.code == 0 and "config changed for web" in plan.stdout, plan.stdout[-3000:]
    _deploy(root)
    answer = _get(port, b"v2")
    assert answer.body.strip() == b"v2" and answer.headers.get("x-shape") == "two"
    after = _ids(name)
    assert after["web"] != before["web"] and after["worker"] == before["worker"]


def test_a_profile_switched_on_then_off(shop):
    root, _, _, name = shop
    _set_profiles(root, ["extra"])
    _deploy(root)
    assert "extra" in _ids(name)
    _set_profiles(root, [])
    plan = moorage("deploy", "--host", "box", "--check", "--diff", cwd=root, timeout=600)
    assert "-COMPOSE_PROFILES=extra" in plan.stdout and "+COMPOSE_PROFILES=" in plan.stdout, plan.stdout
    run = _deploy(root)
    assert "extra" not in _ids(name)
    up = next(t for t in run.tasks("box") if t["task"] == "stack up")
    assert f"removed {name}-extra-1" in up["summary"], up


def test_a_rollback_brings_the_old_config_back(shop):
    root, app_dir, port, name = shop
    first = sorted(SERVER[0].exec(f"ls {app_dir}/releases").stdout.decode().split())[0]
    run = moorage("rollback", "--host", "box", "--to", first, "--json", cwd=root, timeout=600)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    answer = _get(port, b"v1")
    assert answer.body.strip() == b"v1" and answer.headers.get("x-shape") == "one"
    _deploy(root)  # back to the project as it is
    assert _get(port, b"v2").headers.get("x-shape") == "two" and set(_ids(name)) == {"web", "worker", "db"}


def test_status_and_logs_read_every_file(shop):
    root, _, _, _ = shop
    status = moorage("status", "--host", "box", "--json", cwd=root, timeout=120)
    assert status.code == 0, status.stdout + status.stderr
    services = {s["service"] for s in json.loads(status.stdout.splitlines()[-1])["services"]}
    assert services == {"web", "worker", "db"}
    logs = moorage("logs", "--host", "box", "--service", "worker", cwd=root, timeout=120)
    assert logs.code == 0, logs.stdout + logs.stderr


def test_backup_and_restore_with_the_three_files(shop):
    root, _, _, _ = shop
    backup = moorage("backup", "--host", "box", cwd=root, timeout=300)
    assert "verified" in backup.stdout, backup.stdout + backup.stderr
    restore = moorage("restore", "--host", "box", "--yes", cwd=root, timeout=300)
    assert restore.code == 0, restore.stdout[-3000:] + restore.stderr


def test_a_compose_task_on_some_files_keeps_the_others_containers(shop):
    root, app_dir, _, name = shop
    before = _ids(name)
    book = write_playbook(root / "playbooks", [{"name": "web only", "compose": {
        "project_dir": f"{app_dir}/current", "project_name": name, "files": ["compose.yml"]}}])
    run = moorage("play", book, "--host", "box", "--json", cwd=root, timeout=300)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    assert _ids(name)["worker"] == before["worker"]


def test_the_plan_of_a_compose_task_lists_the_containers_it_would_remove(shop):
    root, app_dir, _, name = shop
    before = _ids(name)
    book = write_playbook(root / "playbooks", [{"name": "web alone", "compose": {
        "project_dir": f"{app_dir}/current", "project_name": name, "files": ["compose.yml"],
        "remove_orphans": True}}], name="alone.yml")
    plan = moorage("play", book, "--host", "box", "--check", "--json", cwd=root, timeout=300)
    assert plan.code == 0, plan.stdout[-3000:] + plan.stderr
    task = plan.tasks("box")[0]
    assert task["status"] == "changed", task
    assert f"remove {name}-db-1, {name}-worker-1" in task["summary"], task
    assert _ids(name) == before
