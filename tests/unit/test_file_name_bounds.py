"""File-name variables joined onto a directory stay inside it: compose_file (relative, no ..),
the backup script and cron file and media_dir (absolute, no ..) are refused by `check --host` and
by deploy's input check (before any connection) at the file:line where they were set, or --set."""

from __future__ import annotations

import pytest
from test_role_variables import line_of, project

from moorage.errors import InputError
from moorage.inventory import load_inventory
from moorage.recipes.check import check_before_run, run_check


def project_with(tmp_path, monkeypatch, setting: str):
    """The test project, ``setting`` replacing the base compose_file when it sets one."""
    proj = project(tmp_path, monkeypatch, setting)
    if setting.startswith("compose_file:"):
        hosts = tmp_path / "inventory/hosts.yml"
        hosts.write_text(hosts.read_text().replace("      compose_file: compose.yml\n", "", 1))
    return proj


@pytest.mark.parametrize(("setting", "message"), [
    ("compose_file: ../../../tmp/escape.yml",
     "variable 'compose_file' is '../../../tmp/escape.yml', which can't be a path inside its directory: "
     "it climbs out of its directory with '..'"),
    ("compose_file: deploy/../../x.yml", "it climbs out of its directory with '..'"),
    ('compose_file: "/etc/passwd"', "variable 'compose_file' is '/etc/passwd', which can't be a path inside its "
                                    "directory: an absolute path; give it relative to its directory"),
    ('backup_script: "/usr/local/bin/../../../etc/cron.daily/x"', "variable 'backup_script' is "),
    ('backup_cron_file: "/etc/cron.d/../profile.d/x"', "it climbs out of its directory with '..'"),
    ('media_dir: "/srv/shop/media/../.."', "variable 'media_dir' is '/srv/shop/media/../..', which can't be a "
                                           "file path on the server: it climbs out of its directory with '..'"),
])
def test_check_refuses_a_path_climbing_out_at_its_line(tmp_path, monkeypatch, setting, message):
    report = run_check(project_with(tmp_path, monkeypatch, setting), "staging")
    line = line_of(tmp_path / "inventory/hosts.yml", setting.split(":")[0] + ":")
    found = [str(p) for p in report.problems if message in str(p)]
    assert found and all(p.startswith(f"inventory/hosts.yml:{line}: ") for p in found), report.problems


def test_a_compose_file_in_a_subdirectory_is_fine(tmp_path, monkeypatch):
    report = run_check(project_with(tmp_path, monkeypatch, "compose_file: deploy/compose.prod.yml"), "staging")
    assert not [p for p in report.problems if "compose_file" in str(p) and "path inside" in str(p)]


def test_deploy_input_check_refuses_compose_file_from_set(tmp_path, monkeypatch):
    proj = project(tmp_path, monkeypatch)
    inventory = load_inventory(proj.inventory, {"compose_file": "../../../etc/passwd"})
    with pytest.raises(InputError) as caught:
        check_before_run(proj, inventory, "staging", "deploy")
    assert ("--set: variable 'compose_file' is '../../../etc/passwd', which can't be a path inside its directory: "
            "it climbs out of its directory with '..'") in str(caught.value)
