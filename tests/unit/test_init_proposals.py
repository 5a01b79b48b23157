"""What `moorage init` proposes for three compose apps, read from compose's own JSON.

Each case in ``cases/init/NAME/`` is a compose file and the two answers of `docker compose`
for it, produced once (re-run after editing a compose.yml) with:

    docker compose -f compose.yml config --format json --no-interpolate --no-env-resolution \\
        --no-path-resolution > model.json
    docker compose -f compose.yml config --variables --format json > variables.json

No docker here: the proposals are pure functions of those answers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from moorage.errors import InputError
from moorage.scaffold.compose import ComposeApp, app_from_config
from moorage.scaffold.project import init_project, project_name, propose
from moorage.scaffold.render import group_vars_yml, hosts_yml

CASES = Path(__file__).parent / "cases" / "init"
ENVS = ["staging", "production"]


def load(name: str) -> ComposeApp:
    folder = CASES / name
    return app_from_config(folder / "compose.yml", json.loads((folder / "model.json").read_text()),
                           json.loads((folder / "variables.json").read_text()))


def written(name: str, project: str = "", envs: list[str] = ENVS) -> tuple[dict, dict]:
    """hosts.yml and group_vars/all.yml as YAML reads them back, for the case ``name``."""
    app = load(name)
    scaffold = propose(app, project or project_name("", app, CASES / name), envs, CASES / name)
    return yaml.safe_load(hosts_yml(scaffold)), yaml.safe_load(group_vars_yml(scaffold))


def all_yml(name: str, project: str) -> str:
    """group_vars/all.yml as written (comments included) for the case ``name``."""
    return group_vars_yml(propose(load(name), project, ENVS, CASES / name))


def test_api_with_postgres_and_a_worker():
    hosts, app = written("fastapi")
    assert hosts["project"] == "notes"                       # the compose file's name:
    # the tag variable becomes api_tag (default 1.4.0): `--set api_tag=1.5.0` deploys a version
    assert app["app_images"] == ["ghcr.io/acme/notes-api:{{ api_tag }}", "postgres:16-alpine", "redis:7-alpine"]
    assert app["api_tag"] == "1.4.0"
    assert app["image_source"] == "pull"
    assert app["backup_databases"] == [{"service": "db"}]
    assert app["restore_stop_services"] == ["api", "worker"]   # depends_on db / DATABASE_URL at db:5432
    assert app["health_url"] == "http://{{ domain }}:8080/health/ready"
    assert app["migrate_service"] == "" and app["migrate_command"] == ""
    assert app["compose_file"] == "compose.yml" and app["compose_source"] == "."
    assert app["app_dir"] == "/srv/notes"
    assert "media_src" not in app


def test_api_env_generates_secrets_and_keeps_defaults():
    _, app = written("fastapi")
    assert app["app_env"] == {
        "ALLOWED_HOSTS": "{{ domain }}",
        "API_TAG": "{{ api_tag }}",            # the image tag: set by api_tag
        "DEBUG": "false",
        "POSTGRES_PASSWORD": {"generate": 32},
        "SECRET_KEY": {"generate": 50},
        "SENTRY_DSN": "CHANGE-ME",           # an environment: key left to the environment
    }
    assert app["preflight"] == {
        "debug_off": {"env": "DEBUG"}, "secret_strong": {"env": "SECRET_KEY"},
        "allowed_hosts": {"env": "ALLOWED_HOSTS"}, "csrf_https": False, "tls_on": False,
        "db_port_closed": True, "env_untracked": True,
    }


def test_environments_get_placeholder_hosts_and_one_production():
    hosts, _ = written("fastapi", envs=["staging", "prod", "demo"])
    envs = hosts["environments"]
    assert list(envs) == ["staging", "prod", "demo"]
    assert [e.get("production", False) for e in envs.values()] == [False, True, False]
    assert {e["user"] for e in envs.values()} == {"deploy"}
    addresses = [h["address"] for e in envs.values() for h in e["hosts"].values()]
    assert addresses == ["203.0.113.10", "203.0.113.11", "203.0.113.12"]
    assert envs["prod"]["vars"]["domain"] == "example.com"


def test_comments_explain_the_choices():
    text = all_yml("fastapi", "notes")
    assert "# Web service: api publishes 8080:8000 and has a healthcheck." in text
    assert "  POSTGRES_PASSWORD: {generate: 32}  # looks like a password: generated on the server once, kept\n" in text
    assert '  SENTRY_DSN: CHANGE-ME           # placeholder: no default in compose.yml, set it\n' in text
    assert "csrf_https: false" in text and "trusted origins" in text


def test_node_app_built_from_source_behind_nginx():
    hosts, app = written("nodeshop")
    assert hosts["project"] == "nodeshop"                    # no name: -> the directory's name
    assert app["image_source"] == "pull"                     # nginx from its registry, the app shipped
    assert app["app_images"] == [{"ref": "nodeshop-app", "source": "ship"},   # compose's name for a built image
                                 "nginx:1.27-alpine"]
    assert app["health_url"] == ""                           # nginx has no healthcheck
    assert app["backup_databases"] == [] and app["restore_stop_services"] == []
    assert app["app_env"] == {"API_TOKEN": {"generate": 50}, "JWT_SECRET": {"generate": 50}}
    assert app["preflight"]["secret_strong"] == {"env": "JWT_SECRET"}   # a SECRET before a TOKEN
    assert app["preflight"]["debug_off"] is False


def test_node_app_comments_say_how_to_build_and_ship():
    text = all_yml("nodeshop", "nodeshop")
    assert "#   docker compose -p nodeshop -f compose.yml build\n" in text
    said = text.replace("\n# ", " ")
    assert "so it is shipped (source: ship" in said and "pull --ignore-buildable" not in said
    assert "# Web service: nginx publishes 80:80." in text
    assert "app also reads .env (env_file)" in text


def test_two_postgres_behind_traefik():
    hosts, app = written("twodb")
    assert app["backup_databases"] == [{"service": "db-analytics"}, {"service": "db-main"}]
    assert app["restore_stop_services"] == ["metabase", "web"]
    assert app["health_url"] == "https://{{ domain }}/healthz"   # Traefik rule with a cert resolver
    assert hosts["environments"]["production"]["vars"]["domain"] == "shop.example.org"
    assert hosts["environments"]["staging"]["vars"]["domain"] == "staging.example.com"
    assert app["app_env"]["DB_PASSWORD"] == {"generate": 32}
    assert app["app_env"]["APP_KEY"] == {"generate": 50}
    assert app["app_env"]["CSRF_TRUSTED_ORIGINS"] == "https://{{ domain }}"
    assert app["preflight"]["tls_on"] == {"env": "FORCE_HTTPS"}
    assert app["preflight"]["csrf_https"] == {"env": "CSRF_TRUSTED_ORIGINS"}
    assert app["preflight"]["secret_strong"] == {"env": "APP_KEY"}
    # the web's named volume is media to back up; the database's volume, bind mounts and an
    # anonymous volume are not
    assert app["backup_media"] == [{"volume": "uploads", "label": "uploads"}]


def test_variables_inside_image_refs_become_inventory_variables():
    # interpolated without the CI's values, the ref was `ghcr.io//shop-api:`; each variable is now
    # one inventory variable feeding both app_images and the .env, so `--set sha=...` deploys a version
    _, app = written("pinned")
    assert app["app_images"] == ["ghcr.io/{{ owner }}/shop-api:{{ sha }}", "redis:{{ redis_tag }}"]
    assert (app["owner"], app["sha"], app["redis_tag"]) == ("CHANGE-ME", "CHANGE-ME", "7-alpine")
    assert app["app_env"]["SHA"] == "{{ sha }}" and app["app_env"]["OWNER"] == "{{ owner }}"
    assert "`moorage deploy --set sha=VALUE`" in all_yml("pinned", "pinned")


def test_no_named_volume_outside_the_databases_proposes_no_media():
    _, app = written("fastapi")
    assert app["backup_media"] == []
    assert "no media to back up" in all_yml("fastapi", "notes")


def test_a_published_database_port_is_flagged():
    text = all_yml("twodb", "shop")
    assert "WARNING: db-analytics: 5433:5432 is published" in text


def test_the_web_service_with_a_healthcheck_wins():
    app = load("twodb")     # metabase publishes a port only on 127.0.0.1: not reachable, not the web
    scaffold = propose(app, "shop", ENVS, CASES / "twodb")
    assert scaffold.services.web == "web"


@pytest.mark.parametrize("given", ["My App", "-app", "app!", "App"])
def test_project_names_follow_compose_rule(given):
    with pytest.raises(InputError, match=f"project name '{given}' \\(--name\\) is not a compose project name"):
        project_name(given, load("fastapi"), CASES)


def test_values_that_yaml_would_retype_stay_strings():
    _, app = written("fastapi")
    assert app["app_env"]["DEBUG"] == "false"      # not the boolean false
    assert isinstance(app["app_env"]["API_TAG"], str)


def test_the_compose_directory_is_relative_to_the_project_unless_far_away():
    app = load("fastapi")
    assert propose(app, "notes", ENVS, CASES).compose_dir == "fastapi"
    assert propose(app, "notes", ENVS, CASES / "twodb").compose_dir == "../fastapi"
    assert propose(app, "notes", ENVS, Path("/elsewhere")).compose_dir == (CASES / "fastapi").as_posix()


@pytest.mark.parametrize(("envs", "message"), [
    (["all"], "--env all: 'all' is not an environment name (--host all means every host); name the environment, "
              "e.g. --env production"),
    (["staging", "all"], "--env all: 'all' is not an environment name"),
    (["a b"], "--env 'a b': an environment name is letters"),
])
def test_init_refuses_an_environment_named_all(tmp_path, envs, message):
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: nginx\n")
    with pytest.raises(InputError, match="^" + re.escape(message)):
        init_project(tmp_path, "", envs)
    assert not (tmp_path / "inventory").exists()
