"""`check --host` (and deploy's input check) verify the compose services the inventory names
exist in the project's compose file: unknown names at the variable's file:line with did-you-mean,
and a missing compose file said as such."""

from __future__ import annotations

import pytest
from test_role_variables import line_of, project

from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.recipes.check import check_before_run, run_check

COMPOSE = {"compose.yml": "services:\n  web: {image: shop}\n  worker: {image: shop}\n  db: {image: postgres:16}\n"}


def problems(report) -> list[str]:
    return [str(p) for p in report.problems]


@pytest.mark.parametrize(("setting", "variable", "wrong", "hint"), [
    ("migrate_service: wbe", "migrate_service", "wbe", " (did you mean 'web'?)"),
    ("backup_databases: [{service: db}, {service: dbb}]", "backup_databases", "dbb", " (did you mean 'db'?)"),
    ("restore_stop_services: [web, wroker]", "restore_stop_services", "wroker", " (did you mean 'worker'?)"),
    ("restore_stop_services: [web, cache]", "restore_stop_services", "cache", ""),
    ("compose_scale: {web: 3, wrker: 2}", "compose_scale", "wrker", " (did you mean 'worker'?)"),
    ("switch_strategy: {wbe: stop-first}", "switch_strategy", "wbe", " (did you mean 'web'?)"),
    ("host_nginx_locations: [{path: /, service: wbe, port: 8000}]", "host_nginx_locations", "wbe",
     " (did you mean 'web'?)"),
])
def test_an_unknown_service_is_named_at_its_line(tmp_path, monkeypatch, setting, variable, wrong, hint):
    report = run_check(project(tmp_path, monkeypatch, setting, COMPOSE), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", f"{variable}:")
    assert problems(report) == [
        f"inventory/hosts.yml:{line}: host 'staging': variable '{variable}' names the compose service '{wrong}', "
        f"which compose.yml does not define{hint}; its services: db, web, worker"]
    assert "FAIL compose services of staging (1 problem)" in report.lines


def test_known_services_pass_and_are_counted(tmp_path, monkeypatch):
    setting = "migrate_service: web\nbackup_databases: [{service: db}]\nrestore_stop_services: [web, worker]"
    report = run_check(project(tmp_path, monkeypatch, setting, COMPOSE), "staging")
    assert problems(report) == []
    assert "ok   compose services of staging (4 names)" in report.lines


def test_a_missing_compose_file_is_said(tmp_path, monkeypatch):
    report = run_check(project(tmp_path, monkeypatch, "migrate_service: web"), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", "compose_file:")
    assert problems(report) == [f"inventory/hosts.yml:{line}: host 'staging': the compose file compose.yml does "
                                "not exist (checked because migrate_service names one of its services)"]


def test_no_service_named_reads_no_compose_file(tmp_path, monkeypatch):
    report = run_check(project(tmp_path, monkeypatch), "staging")
    assert problems(report) == [] and not [line for line in report.lines if "compose services" in line]


def test_compose_source_is_read_relative_to_the_project(tmp_path, monkeypatch):
    files = {"deploy/compose.yml": "services:\n  app: {image: x}\n"}
    report = run_check(project(tmp_path, monkeypatch, "compose_source: deploy\nmigrate_service: web", files),
                       "staging")
    assert any("'web', which deploy/compose.yml does not define; its services: app" in p for p in problems(report))


def test_deploy_input_check_refuses_a_wrong_service_from_set(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch, files=COMPOSE)
    inventory = load_inventory(proj.inventory, {"migrate_service": "wbe"})
    with pytest.raises(InputError, match=r"--set: host 'staging': variable 'migrate_service' names the compose "
                                         r"service 'wbe', which compose.yml does not define \(did you mean 'web'\?\)"):
        check_before_run(proj, inventory, "staging", "deploy")


def test_a_compose_file_that_is_not_yaml_is_said_with_its_line(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch, "migrate_service: web")
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: [unclosed\n")
    (problem,) = problems(run_check(proj, "staging"))
    assert "the compose file compose.yml:4 is not valid YAML: " in problem


def test_a_bind_mount_the_release_does_not_hold_is_a_warning(tmp_path, monkeypatch):
    compose = {"compose.yml": "services:\n  web:\n    image: shop\n    volumes: [./nginx.conf:/etc/n.conf, "
                              "./configs/app.ini:/etc/app.ini, data:/data]\nvolumes: {data: {}}\n",
               "nginx.conf": "x\n", "configs/app.ini": "y\n"}
    report = run_check(project(tmp_path, monkeypatch, "release_files: [configs/]", compose), "staging")
    assert [w for w in report.warnings if "bind-mounts" in w] == [
        "host 'staging': service web bind-mounts ./nginx.conf, which the release does not hold: add it to "
        "release_files (on the server compose would mount an empty folder in its place)"]


def test_services_of_every_compose_file_count(tmp_path, monkeypatch):
    files = {**COMPOSE, "compose.jobs.yml": "services:\n  cron: {image: shop}\n"}
    setting = "compose_files: [compose.yml, compose.jobs.yml]\nrestore_stop_services: [web, cron]"
    report = run_check(project(tmp_path, monkeypatch, setting, files), "staging")
    assert problems(report) == [] and "ok   compose services of staging (2 names)" in report.lines


def test_compose_one_shot_names_a_service_too(tmp_path, monkeypatch):
    report = run_check(project(tmp_path, monkeypatch, "compose_one_shot: [migrat]", COMPOSE), "staging")
    assert any("variable 'compose_one_shot' names the compose service 'migrat'" in p for p in problems(report))


PROFILED = {"compose.yml": "services:\n  web: {image: shop}\n",
            "compose.tools.yml": "services:\n  monitor: {image: mon, profiles: [monitoring]}\n"
                                 "  adminer: {image: adm, profiles: [tools, debug]}\n"}


def test_an_unknown_profile_is_named_with_the_profiles_the_files_declare(tmp_path, monkeypatch):
    setting = "compose_files: [compose.yml, compose.tools.yml]\ncompose_profiles: [monitorng]"
    report = run_check(project(tmp_path, monkeypatch, setting, PROFILED), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", "compose_profiles:")
    assert problems(report) == [
        f"inventory/hosts.yml:{line}: host 'staging': variable 'compose_profiles' names the profile 'monitorng', "
        "which no service of compose.yml (and 1 more) declares (did you mean 'monitoring'?) (compose would start "
        "none and the deploy would remove the profiled containers); its profiles: debug, monitoring, tools"]


def test_known_profiles_pass_and_a_wrong_one_from_set_is_refused_before_deploy(tmp_path, monkeypatch):
    setting = "compose_files: [compose.yml, compose.tools.yml]\ncompose_profiles: [monitoring, debug]"
    proj = project(tmp_path, monkeypatch, setting, PROFILED)
    assert problems(run_check(proj, "staging")) == []
    inventory = load_inventory(proj.inventory, {"compose_profiles": ["tool"]})
    with pytest.raises(InputError, match=r"--set: host 'staging': variable 'compose_profiles' names the profile "
                                         r"'tool'.*\(did you mean 'tools'\?\)"):
        check_before_run(proj, inventory, "staging", "deploy")


def test_a_host_nginx_location_naming_a_service_with_a_fixed_or_no_host_port_is_a_warning(tmp_path, monkeypatch):
    compose = {"compose.yml": "services:\n  web: {image: shop, ports: ['127.0.0.1::8000']}\n"
                              "  admin: {image: shop, ports: ['127.0.0.1:8080:8000']}\n  api: {image: shop}\n"}
    setting = ("host_nginx_locations: [{path: /, service: web, port: 8000}, {path: /admin/, service: admin, "
               "port: 8000}, {path: /api/, service: api, port: 9000}]")
    report = run_check(project(tmp_path, monkeypatch, setting, compose), "staging")
    assert problems(report) == []
    assert [w for w in report.warnings if "host_nginx_locations" in w] == [
        "host 'staging': host_nginx_locations sends /admin/ to service admin, which publishes the fixed host port "
        "8080: two of its containers cannot run side by side, so it switches stop-first; publish "
        '"127.0.0.1::8000" (an ephemeral host port) for a zero-downtime switch',
        "host 'staging': host_nginx_locations sends /api/ to service api port 9000, which it does not publish: "
        'nginx would find no server; add ports: ["127.0.0.1::9000"] to api']


STRATEGY_COMPOSE = {"compose.yml": (
    "services:\n"
    "  web: {image: shop, labels: [traefik.enable=true], volumes: ['uploads:/app/media']}\n"
    "  admin: {image: shop, ports: ['8081:8000']}\n"
    "  named: {image: shop, container_name: shop-named}\n"
    "  worker: {image: shop}\n"
    "  db: {image: postgres:16, volumes: ['dbdata:/var/lib/postgresql/data']}\n"
    "volumes: {uploads: {}, dbdata: {}}\n")}


@pytest.mark.parametrize(("override", "why"), [
    ("db", "mounts volume dbdata: two of its containers would write it at once (a database's files would be "
           "corrupted)"),
    ("admin", "publishes host port 8081: two containers can't bind it"),
    ("named", "container_name shop-named: a name is taken once"),
])
def test_a_start_first_the_switch_cannot_honour_is_refused_at_its_line(tmp_path, monkeypatch, override, why):
    """Two PostgreSQL containers on one volume corrupted a trial user's database: refused before any run."""
    report = run_check(project(tmp_path, monkeypatch, f"switch_strategy: {{{override}: start-first}}",
                               STRATEGY_COMPOSE), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", "switch_strategy:")
    assert problems(report) == [f"inventory/hosts.yml:{line}: host 'staging': switch_strategy makes {override} "
                                f"start-first, which it can't be: {why}; remove the entry ({override} switches "
                                "stop-first)"]


def test_start_first_a_routed_service_with_a_volume_or_a_worker_may_be(tmp_path, monkeypatch):
    """A web service shares its uploads volume by design; a worker without a volume may run twice."""
    report = run_check(project(tmp_path, monkeypatch, "switch_strategy: {web: start-first, worker: start-first}",
                               STRATEGY_COMPOSE), "staging")
    assert problems(report) == []
