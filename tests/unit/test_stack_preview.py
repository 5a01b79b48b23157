"""Check mode of stack_deploy: the per-service comparison and the read-only step it runs."""

from __future__ import annotations

import io
import tarfile

from moorage.operations.stack import ATTACHABLE, TO_STACK
from moorage.operations.stack_preview import preview_step, service_changes

OLD = """version: "3.9"
services:
  web:
    image: tasklist/app:1.0
    environment: {API_MODE: serve, DB_PASSWORD: old-secret}
    labels: {moorage.config-hash: abc}
    deploy: {replicas: 2, update_config: {order: start-first}}
  db: {image: postgres:16}
  cache: {image: redis:7}
"""
NEW = """version: "3.9"
services:
  web:
    image: tasklist/app:1.1
    environment: {API_MODE: healthcheck, DB_PASSWORD: new-secret, EXTRA: "1"}
    deploy: {replicas: 3, update_config: {order: stop-first}}
    command: [tasklist, serve]
  db: {image: postgres:16}
  worker: {image: tasklist/app:1.1}
configs: {edge: {file: ./edge.conf}}
"""


def test_each_service_says_what_changes_and_never_an_environment_value():
    lines = service_changes(OLD, NEW)
    assert lines == [
        "cache: removed",
        "db: unchanged",
        "web: image tasklist/app:1.0 -> tasklist/app:1.1, environment API_MODE changed, DB_PASSWORD changed, "
        "EXTRA added, replicas 2 -> 3, deploy.update_config changed, command changed",
        "worker: new",
        "configs changed",
    ]
    assert not any(secret in "\n".join(lines) for secret in ("old-secret", "new-secret", "healthcheck"))


def test_a_first_deploy_has_every_service_new_and_the_same_stack_is_unchanged():
    assert service_changes("", NEW) == ["db: new", "web: new", "worker: new"]
    assert service_changes(OLD, OLD) == ["cache: unchanged", "db: unchanged", "web: unchanged"]


def test_environment_lists_compare_like_mappings():
    old = "services: {web: {image: a, environment: [A=1, B=2]}}"
    assert service_changes(old, "services: {web: {image: a, environment: {A: '1', B: '3'}}}") == [
        "web: environment B changed"]


def test_the_preview_sends_files_and_values_on_stdin_and_leaves_nothing(tmp_path):
    (tmp_path / "compose.yml").write_text("services: {web: {image: x}}\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "edge.conf").write_text("server {}\n")
    step = preview_step(tmp_path, ["compose.yml", "conf/", "missing.txt"], ["compose.yml"],
                        {"API_MODE": "serve", "DB_PASSWORD": "p@ss word", "SECRET_KEY": {"generate": 24}},
                        "/srv/shop/current", "shop", ATTACHABLE, TO_STACK)
    assert step.reads_only and "p@ss" not in step.script
    assert "trap 'rm -rf \"$d\"' EXIT" in step.script
    assert "COMPOSE_FILE=compose.yml:.moorage-swarm.yml docker compose -p shop config > stack.new" in step.script
    assert step.stdin is not None
    with tarfile.open(fileobj=io.BytesIO(step.stdin)) as tar:
        names = sorted(tar.getnames())
        env = tar.extractfile(".env.new").read().decode()  # type: ignore[union-attr]
    assert names == [".env.new", "compose.yml", "conf", "conf/edge.conf"]
    assert env == "API_MODE=serve\nDB_PASSWORD='p@ss word'\n"  # the generated secret: the server's
