"""The engine and its built-in roles know no app: DM, the repository's example project, keeps
everything of its own in its inventory; a new project starts from generic defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from moorage import builtin

SRC = Path(__file__).resolve().parents[2] / "src" / "moorage"
APP_WORDS = re.compile(r"django|pyxalix|devamalix|examples/dm", re.I)
BUILTIN_WORDS = re.compile(r"dm_|/dm\b|moorage-test", re.I)


def _texts(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path, path.read_text(encoding="utf-8", errors="replace")


def test_no_app_is_named_in_the_engine():
    found = [f"{p.relative_to(SRC)}:{n}: {line.strip()}" for p, text in _texts(SRC)
             for n, line in enumerate(text.splitlines(), 1) if APP_WORDS.search(line)]
    assert found == []


def test_no_example_names_or_test_images_in_the_builtin_roles_and_playbooks():
    found = [f"{p.relative_to(SRC)}:{n}: {line.strip()}" for p, text in _texts(Path(builtin.ROOT))
             for n, line in enumerate(text.splitlines(), 1) if BUILTIN_WORDS.search(line)]
    assert found == []


@pytest.mark.parametrize(("role", "expected"), [
    ("compose_app", {"app_env": {}, "app_env_extra": {}, "app_images": [], "migrate_service": "",
                     "migrate_command": "", "backup_databases": [], "health_url": "", "media_src": "",
                     "compose_source": "{{ project_dir }}", "proxy": "none"}),
    ("postgres_backup", {"backup_databases": [], "backup_media": [], "restore_stop_services": [],
                         "health_url": ""}),
    ("media", {"media_src": ""}),
])
def test_a_new_project_starts_from_generic_defaults(role, expected):
    defaults = yaml.safe_load((Path(builtin.ROLES) / role / "defaults.yml").read_text())
    assert {key: defaults[key] for key in expected} == expected
    assert not [key for key in defaults if key.startswith(("django", "db_", "web_"))]


@pytest.mark.parametrize("role", ["compose_app", "postgres_backup", "media"])
def test_every_default_is_declared_and_described(role):
    folder = Path(builtin.ROLES) / role
    declared = yaml.safe_load((folder / "variables.yml").read_text())
    defaults = yaml.safe_load((folder / "defaults.yml").read_text())
    assert sorted(set(defaults) - set(declared)) == []
    assert [name for name, schema in declared.items() if not schema.get("description")] == []
