"""The production checklist of seed 000, one case per check: the sentence a user reads."""

import subprocess

import pytest

from moorage.deploy.preflight import failures

GOOD = {
    "django_debug": "0", "django_secret_key": {"generate": 50}, "domain": "pyxalix.devamalix.fr",
    "django_allowed_hosts": "127.0.0.1,localhost,pyxalix.devamalix.fr",
    "django_csrf_trusted_origins": "https://pyxalix.devamalix.fr", "tls": "letsencrypt",
    "db_port_exposed": False, "compose_file": "docker-compose.yml",
}


@pytest.fixture
def project(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "docker-compose.yml").write_text("services:\n  db:\n    image: postgres\n")
    return tmp_path


def test_a_compliant_production_host_passes(project):
    assert failures({**GOOD, "compose_source": str(project / "compose")}, project) == []


@pytest.mark.parametrize(("change", "reason"), [
    ({"django_debug": "1"}, "DEBUG must be off in production"),
    ({"django_secret_key": "short"}, "DJANGO_SECRET_KEY must be long (50+ characters) and random"),
    ({"django_secret_key": "a" * 60}, "DJANGO_SECRET_KEY must be long (50+ characters) and random"),
    ({"django_secret_key": {"generate": 20}}, "DJANGO_SECRET_KEY must be generated with 50+ characters"),
    ({"django_allowed_hosts": "localhost"}, "ALLOWED_HOSTS must include the domain 'pyxalix.devamalix.fr'"),
    ({"django_csrf_trusted_origins": "http://pyxalix.devamalix.fr"},
     "CSRF_TRUSTED_ORIGINS must include https://pyxalix.devamalix.fr"),
    ({"tls": "none"}, "TLS must be on in production"),
    ({"db_port_exposed": True}, "the PostgreSQL port must not be exposed in production"),
])
def test_each_failing_check_says_why(project, change, reason):
    found = failures({**GOOD, "compose_source": str(project / "compose"), **change}, project)
    assert len(found) == 1 and reason in found[0]


def test_a_compose_file_publishing_postgres_fails(project):
    (project / "compose" / "docker-compose.yml").write_text(
        "services:\n  db:\n    image: postgres\n    ports: ['5432:5432']\n")
    found = failures({**GOOD, "compose_source": str(project / "compose")}, project)
    assert found == [f"PostgreSQL port not published: {project}/compose/docker-compose.yml: service 'db' "
                     "publishes the PostgreSQL port 5432"]


def test_a_committed_env_file_fails(project):
    (project / ".env").write_text("DJANGO_SECRET_KEY=x\n")
    subprocess.run(["git", "-C", str(project), "add", ".env"], check=True)
    found = failures({**GOOD, "compose_source": str(project / "compose")}, project)
    assert found == [".env not tracked by git: .env files must never be committed to git: .env"]
