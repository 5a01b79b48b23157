"""backup_schedule is a schedule cron runs: a line cron can't read is skipped without a word, so
the daily backup stopped silently (``0 25 * * *`` passed check, backup wrote it, cron never ran it)."""

from __future__ import annotations

import pytest
from inputkit import run, write_project

from moorage.cron import schedule_problem


@pytest.mark.parametrize("schedule", [
    "30 2 * * *", "0 */6 * * *", "0,30 8-18 * * 1-5", "15 3 1 jan,jul *", "0 4 * * sun", "0 4 * * 7",
    "*/15 * * * *", "0 0 1-31/2 * *", "5 4 * * MON-FRI",
])
def test_schedules_cron_runs(schedule):
    assert schedule_problem(schedule) == ""


@pytest.mark.parametrize(("schedule", "problem"), [
    ("0 25 * * *", "its hour field '25': '25' is outside 0-23"),
    ("60 2 * * *", "its minute field '60': '60' is outside 0-59"),
    ("0 2 0 * *", "its day of month field '0': '0' is outside 1-31"),
    ("0 2 * 13 *", "its month field '13': '13' is outside 1-12 (or jan-dec)"),
    ("0 2 * * 8", "its day of week field '8': '8' is outside 0-7 (or sun-sat)"),
    ("0 2 * * funday", "its day of week field 'funday': 'funday' is outside 0-7 (or sun-sat)"),
    ("0 18-8 * * *", "its hour field '18-8': the range '18-8' runs backwards"),
    ("*/0 * * * *", "its minute field '*/0': a step of 0"),
    ("0 2 * *", "a cron schedule has 5 fields (minute hour day month weekday), this one has 4"),
    ("0 2 ** * *", "its day of month field '**': '**' is not a value, a range N-M or */STEP"),
])
def test_schedules_cron_would_skip_are_named(schedule, problem):
    assert schedule_problem(schedule) == problem


def test_check_refuses_a_schedule_cron_would_skip_at_its_line(tmp_path):
    root = write_project(tmp_path, {"compose.yml": "services: {db: {image: postgres}}\n",
                                    "inventory/group_vars/all.yml":
                                        "backup_databases: [{service: db}]\nbackup_schedule: \"0 25 * * *\"\n"})
    outcome = run("check --host", root)
    assert outcome.code == 2
    assert "group_vars/all.yml:2" in outcome.stderr + outcome.stdout
    assert "its hour field '25': '25' is outside 0-23" in outcome.stderr + outcome.stdout
