"""`check --host` (and a deploy's input check) refuse, at the variable's file:line, what a deploy
would only refuse at run time: one image ref with two sources, a release_files entry that isn't
there, compose_scale past 1 for a service with a fixed host port or container_name, a smoke test that
destroys volumes on the host."""

from __future__ import annotations

import pytest
from test_role_variables import line_of, project

from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.recipes.check import check_before_run, run_check

COMPOSE = {"compose.yml": "services:\n  web:\n    image: shop\n    ports: ['8080:80']\n"
                          "  api:\n    image: shop\n    ports: ['80', {target: 81}]\n"
                          "  cron:\n    image: shop\n    container_name: shop-cron\n"
                          "  edge:\n    image: shop\n    ports: [{published: '${EDGE_PORT}', target: 80}]\n",
           "configs/nginx.conf": "x\n"}


def problems(tmp_path, monkeypatch, setting: str) -> list[str]:
    report = run_check(project(tmp_path, monkeypatch, setting, COMPOSE), "staging")
    return [str(p) for p in report.problems]


def at(tmp_path, variable: str) -> str:
    return f"inventory/hosts.yml:{line_of(tmp_path / 'inventory/hosts.yml', f'{variable}:')}: host 'staging': "


def test_one_image_with_two_sources_is_refused_at_its_line(tmp_path, monkeypatch):
    found = problems(tmp_path, monkeypatch, "app_images: [{ref: 'a:1', source: ship}, {ref: 'a:1', source: pull}]")
    assert found == [at(tmp_path, "app_images") + "app_images: image a:1 is listed with two sources, ship and "
                     "pull: keep one"]


def test_one_image_listed_twice_the_same_way_passes(tmp_path, monkeypatch):
    assert problems(tmp_path, monkeypatch, "app_images: ['a:1', {ref: 'a:1', source: pull}]\nimage_source: pull") \
        == []


def test_a_release_file_that_is_not_there_is_refused(tmp_path, monkeypatch):
    found = problems(tmp_path, monkeypatch, "release_files: [configs/, configs/nginx.conf, certs/, extra.ini]")
    start = at(tmp_path, "release_files")
    assert found == [start + "release_files names 'certs/': certs does not exist (the release sync would fail "
                     "on it)", start + "release_files names 'extra.ini': extra.ini does not exist (the release sync "
                     "would fail on it)"]


@pytest.mark.parametrize(("scale", "why"), [
    ("{web: 2}", "compose_scale {web: 2}: web publishes host port 8080 (compose.yml): 2 containers can't both "
                 "bind it"),
    ("{cron: 3}", "compose_scale {cron: 3}: cron has container_name shop-cron (compose.yml): 3 containers can't "
                  "both use it"),
])
def test_scaling_a_service_that_allows_one_container_is_refused(tmp_path, monkeypatch, scale, why):
    assert problems(tmp_path, monkeypatch, f"compose_scale: {scale}") == [at(tmp_path, "compose_scale") + why]


@pytest.mark.parametrize("scale", ["{web: 1, cron: 0}", "{api: 3}", "{edge: 2}"])
def test_scaling_what_can_scale_passes(tmp_path, monkeypatch, scale):
    """One container, an ephemeral host port, a port compose interpolates: left to the run."""
    assert problems(tmp_path, monkeypatch, f"compose_scale: {scale}") == []


def test_a_deploy_refuses_before_connecting(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch, "", COMPOSE)
    inventory = load_inventory(proj.inventory, {"compose_scale": {"web": 2}})
    with pytest.raises(InputError, match=r"--set: host 'staging': compose_scale \{web: 2\}: web publishes host "
                                         r"port 8080"):
        check_before_run(proj, inventory, "staging", "deploy")


@pytest.mark.parametrize("command", ["docker compose down -v", "cd /srv && docker volume prune -f",
                                     "['sh', '-c', 'docker compose down --volumes']"])
def test_a_smoke_test_that_destroys_volumes_on_the_host_is_refused(tmp_path, monkeypatch, command):
    # a `down -v` smoke test deleted every volume and the deploy said success (korrigo trial)
    value = command if command.startswith("[") else f"'{command}'"
    found = problems(tmp_path, monkeypatch, f"smoke_tests: [{{name: cleanup, command: {value}}}]")
    assert len(found) == 1 and found[0].startswith(at(tmp_path, "smoke_tests") + "smoke test 'cleanup' would "
                                                   "destroy data on the host: `"), found
    assert found[0].endswith("a smoke test checks the release, it must not change it")


def test_smoke_tests_that_read_pass(tmp_path, monkeypatch):
    assert problems(tmp_path, monkeypatch, "smoke_tests: [{name: ps, command: 'docker compose ps'}, "
                                           "{name: in app, service: web, command: 'rm -rf /tmp/cache'}]") == []
