"""The production preflight is data: generic checks, mapped by the inventory's ``preflight`` to each
app's own names (Django-like, FastAPI-like, Node-like), disabled by name, one sentence per failure."""

import subprocess

import pytest

from moorage.recipes.preflight import CHECKS, NAMES, failures, preflight

DOMAIN = "shop.example.org"
SECRET = "k3Y-9aQ!zW2xE7rT5yU1iO0pL4sD6fG8hJ3kZ9xC2vB7nM5qA1wS8eR6tY4uI0oP"


def django_like():
    return {
        "domain": DOMAIN, "tls": "letsencrypt", "django_secret_key": {"generate": 50},
        "app_env": {"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "{{ django_secret_key }}",
                    "DJANGO_ALLOWED_HOSTS": f"127.0.0.1,localhost,{DOMAIN}",
                    "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{DOMAIN}"},
        "preflight": {"debug_off": {"env": "DJANGO_DEBUG"}, "secret_strong": {"env": "DJANGO_SECRET_KEY"},
                      "allowed_hosts": {"env": "DJANGO_ALLOWED_HOSTS"},
                      "csrf_https": {"env": "DJANGO_CSRF_TRUSTED_ORIGINS"}, "tls_on": {"var": "tls"}},
    }


def fastapi_like():
    return {
        "domain": DOMAIN,
        "app_env": {"DEBUG": "false", "SECRET_KEY": {"generate": 64}, "SSL_ENABLED": "true",
                    "ALLOWED_HOSTS": f'["{DOMAIN}"]'},
        "preflight": {"debug_off": {"env": "DEBUG"}, "secret_strong": {"env": "SECRET_KEY"},
                      "allowed_hosts": {"env": "ALLOWED_HOSTS"}, "csrf_https": False,
                      "tls_on": {"env": "SSL_ENABLED"}},
    }


def node_like():
    return {
        "domain": DOMAIN, "session_secret": SECRET, "https": True, "cors_origins": [f"https://{DOMAIN}"],
        "app_env": {"NODE_ENV": "production", "NODE_DEBUG": "", "SESSION_SECRET": "{{ session_secret }}"},
        "app_env_extra": {"HOSTS": f"{DOMAIN} www.{DOMAIN}"},
        "preflight": {"debug_off": {"env": "NODE_DEBUG"}, "secret_strong": {"env": "SESSION_SECRET"},
                      "allowed_hosts": {"env": "HOSTS"}, "csrf_https": {"var": "cors_origins"},
                      "tls_on": {"var": "https"}},
    }


@pytest.fixture
def project(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "compose.yml").write_text(
        "services:\n  web:\n    image: shop:1\n    ports: ['8000:8000']\n  db:\n    image: postgres:16\n")
    return tmp_path


@pytest.mark.parametrize("app", [django_like, fastapi_like, node_like])
def test_a_compliant_app_passes_in_its_own_names(project, app):
    assert failures(app(), project) == []


def test_server_checks_are_off_unless_set_and_left_to_deploy_when_set_right(project):
    """volume_present and backup_fresh read the server: ``check`` only validates them."""
    variables = fastapi_like()
    assert "volume_present" not in {r.name for r in preflight(variables, project)}
    variables["preflight"] = {**variables["preflight"], "volume_present": {"volume": ["shop_pg", "shop_media"]},
                              "backup_fresh": {"hours": 24}}
    results = {r.name: r.status for r in preflight(variables, project)}
    assert results["volume_present"] == results["backup_fresh"] == "server"
    assert failures(variables, project) == []
    variables["preflight"]["backup_fresh"] = False
    assert "backup_fresh" not in {r.name for r in preflight(variables, project)}


def test_a_disabled_check_is_reported_as_such(project):
    results = {r.name: r.status for r in preflight(fastapi_like(), project)}
    assert results == {**dict.fromkeys(CHECKS, "passed"), "csrf_https": "disabled"}


@pytest.mark.parametrize(("app", "change", "reason"), [
    (django_like, {"DJANGO_DEBUG": "1"}, "debug_off: debug must be off in production (.env key DJANGO_DEBUG is '1')"),
    (fastapi_like, {"DEBUG": "True"}, "debug_off: debug must be off in production (.env key DEBUG is 'True')"),
    (fastapi_like, {"SECRET_KEY": {"generate": 20}},
     "secret_strong: .env key SECRET_KEY must be generated with 50+ characters ({generate: 50})"),
    (fastapi_like, {"SECRET_KEY": "a" * 60},
     "secret_strong: .env key SECRET_KEY must be long (50+ characters) and random: use {generate: 50}"),
    (django_like, {"DJANGO_ALLOWED_HOSTS": "localhost"},
     f"allowed_hosts: .env key DJANGO_ALLOWED_HOSTS must include the domain '{DOMAIN}' (is ['localhost'])"),
    (django_like, {"DJANGO_CSRF_TRUSTED_ORIGINS": f"http://{DOMAIN}"},
     f"csrf_https: .env key DJANGO_CSRF_TRUSTED_ORIGINS must include https://{DOMAIN} (is ['http://{DOMAIN}'])"),
    (fastapi_like, {"SSL_ENABLED": "0"}, "tls_on: TLS must be on in production (.env key SSL_ENABLED is '0')"),
])
def test_each_failing_check_says_why_in_the_apps_names(project, app, change, reason):
    variables = app()
    variables["app_env"].update(change)
    assert failures(variables, project) == [reason]


def test_a_variable_mapping_reads_the_variable(project):
    variables = {**node_like(), "https": False, "session_secret": "short"}
    assert failures(variables, project) == [
        "secret_strong: .env key SESSION_SECRET must be long (50+ characters) and random: use {generate: 50}",
        "tls_on: TLS must be on in production (variable 'https' is False)"]


def test_app_env_extra_overrides_app_env(project):
    variables = django_like()
    variables["app_env_extra"] = {"DJANGO_DEBUG": "1"}
    assert failures(variables, project) == [
        "debug_off: debug must be off in production (.env key DJANGO_DEBUG is '1')"]


def test_a_check_without_a_mapping_says_how_to_map_or_disable_it(project):
    variables = django_like()
    del variables["preflight"]["debug_off"]
    assert failures(variables, project) == [
        "debug_off: no mapping to the app's debug switch: map it in the inventory, e.g. "
        "`preflight: {debug_off: {env: KEY}}` (a key of app_env) or `{debug_off: {var: NAME}}` (a variable), "
        "or disable it with `preflight: {debug_off: false}`"]


def test_no_preflight_at_all_fails_every_check_that_needs_a_mapping(project):
    found = failures({"domain": DOMAIN, "app_env": {}}, project)
    assert [line.split(":")[0] for line in found] == ["debug_off", "secret_strong", "allowed_hosts",
                                                       "csrf_https", "tls_on"]


@pytest.mark.parametrize(("mapping", "reason"), [
    ({"debug_off": {"env": "DEBUG_MODE"}}, "debug_off: app_env has no key 'DEBUG_MODE' (did you mean 'DEBUG'?)"),
    ({"tls_on": {"var": "ssl"}}, "tls_on: the variable 'ssl' is not set"),
    ({"debug_of": False}, "debug_of: unknown check (did you mean 'debug_off'?); the checks are: "
     + ", ".join(NAMES)),
    ({"env_untracked": "yes"}, "env_untracked: set it to true (on) or false (off), not 'yes'"),
    ({"volume_present": "pg_data"}, "volume_present: set it to {volume: NAME} (a Docker volume, or a list of them), "
     "or false"),
    ({"volume_present": {"volume": "bad name"}}, "volume_present: set it to {volume: NAME} (a Docker volume, or a "
     "list of them): Docker volume names (letters, digits, _ . -)"),
    ({"backup_fresh": {"hours": 0}}, "backup_fresh: set it to {hours: N} (a verified backup of each database newer "
     "than N hours), N a number of hours above 0"),
    ({"backup_fresh": {"days": 1}}, "backup_fresh: set it to {hours: N} (a verified backup of each database newer "
     "than N hours), N a number of hours above 0"),
])
def test_a_wrong_mapping_is_named(project, mapping, reason):
    variables = fastapi_like()
    variables["preflight"] = {**variables["preflight"], **mapping}
    assert reason in failures(variables, project)


def test_allowed_hosts_need_the_domain_variable(project):
    variables = fastapi_like()
    del variables["domain"]
    assert failures(variables, project) == [
        "allowed_hosts: the variable 'domain' is not set: the allowed hosts must include it"]


@pytest.mark.parametrize(("service", "what"), [
    ("  db:\n    image: postgres:16\n    ports: ['127.0.0.1:5432:5432']\n", "PostgreSQL port (127.0.0.1:5432:5432)"),
    ("  db:\n    image: ${DB_IMAGE:-mariadb:11}\n    ports: ['13306:3306']\n", "MySQL/MariaDB port (13306:3306)"),
    ("  cache:\n    image: redis:7\n    ports: ['16379:6379']\n", "Redis port (16379:6379)"),
    ("  store:\n    image: mongo:7\n    ports: [{target: 27017, published: 27017}]\n",
     "MongoDB port (target: 27017, published: 27017)"),
    ("  db:\n    image: bitnami/postgresql\n    ports: ['15000:5000']\n", "postgres database port (15000:5000)"),
    ("  db:\n    image: my/own-db\n    ports: ['5432']\n", "PostgreSQL port (5432)"),
])
def test_a_published_database_port_fails(project, service, what):
    (project / "compose.yml").write_text("services:\n  web:\n    image: shop:1\n    ports: ['8000:8000']\n" + service)
    (name,) = [line for line in service.splitlines() if line.startswith("  ") and line.endswith(":")
               and not line.startswith("    ")]
    assert failures(fastapi_like(), project) == [
        f"db_port_closed: {project}/compose.yml: service '{name.strip(' :')}' publishes a {what}; remove its "
        "`ports:` in production (the app reaches it over the compose network)"]


def test_the_compose_file_is_read_from_compose_source_relative_to_the_project(project):
    (project / "deploy").mkdir()
    (project / "deploy" / "prod.yml").write_text("services:\n  db:\n    image: postgres\n    ports: ['5432:5432']\n")
    variables = {**fastapi_like(), "compose_source": "deploy", "compose_file": "prod.yml"}
    assert failures(variables, project)[0].startswith(f"db_port_closed: {project}/deploy/prod.yml: service 'db'")
    variables["preflight"] = {**variables["preflight"], "db_port_closed": False}
    assert failures(variables, project) == []


def test_a_committed_env_file_fails(project):
    (project / ".env").write_text("SECRET_KEY=x\n")
    subprocess.run(["git", "-C", str(project), "add", ".env"], check=True)
    assert failures(fastapi_like(), project) == [
        "env_untracked: .env files must never be committed to git: .env"]
