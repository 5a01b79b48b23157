"""The data guard: named + fresh verified backup + typed confirmation, or refused; and no code path
that destroys data without going through it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from moorage.operations.backups import guard
from moorage.operations.backups.catalog import Backup
from moorage.operations.base import Facts, OpContext
from moorage.operations.postgres import PostgresRestore

NOW = 1_800_000_000.0
HOUR = 3600.0
REPO = Path(__file__).resolve().parents[2]


def dump(label: str, age_hours: float, state: str = "verified", size: int = 100) -> Backup:
    name = f"dm-nexus-{label}-20270115T080000Z.dump"
    return Backup(name, size, NOW - age_hours * HOUR,
                  {"label": label, "kind": "db", "size": size, "state": state, "sha256": "ab" * 32})


def request(named: bool = True, labels: tuple[str, ...] = ("db",)) -> guard.Destruction:
    return guard.Destruction("replace the live database with X", "nexus", "nexus", labels, named)


def asked(answer: str | None):
    prompts: list[str] = []

    def ask(prompt: str) -> str | None:
        prompts.append(prompt)
        return answer
    return ask, prompts


def test_a_fresh_backup_and_the_typed_environment_name_give_a_permit():
    ask, prompts = asked("nexus\n")
    permit = guard.authorize(request(), [dump("db", 2)], max_age_hours=24, yes=False, ask=ask, now=NOW)
    assert "Type the environment name (nexus)" in prompts[0]
    assert "replace the live database with X on nexus" in prompts[0]
    guard.require_permit(permit.token, "anything")  # no error


def test_yes_confirms_without_asking():
    ask, prompts = asked(None)
    guard.authorize(request(), [dump("db", 2)], max_age_hours=24, yes=True, ask=ask, now=NOW)
    assert prompts == []


def test_not_named_is_refused_before_anything_else():
    ask, prompts = asked("nexus")
    with pytest.raises(guard.GuardRefused, match="runs only when you ask for it by name with --destroy-data"):
        guard.authorize(request(named=False), [dump("db", 1)], max_age_hours=24, yes=True, ask=ask, now=NOW)
    assert prompts == []


@pytest.mark.parametrize(("backups", "message"), [
    ([], "no verified database backup of db on this host"),
    ([dump("db", 72)], r"the newest verified backup of db is 3.0 days old \(dm-nexus-db-.*\), more than 24 h"),
    ([dump("db", 1, state="corrupt")], "no verified database backup of db"),
    ([Backup(dump("db", 1).name, 5, NOW - HOUR, dump("db", 1).meta)],
     "no verified database backup of db"),  # its size differs from its record
    ([dump("db", 1)], None),
])
def test_a_verified_backup_newer_than_the_limit_is_required(backups, message):
    ask, prompts = asked("nexus")
    if message is None:
        guard.authorize(request(), backups, max_age_hours=24, yes=False, ask=ask, now=NOW)
        return
    with pytest.raises(guard.GuardRefused, match=message) as refused:
        guard.authorize(request(), backups, max_age_hours=24, yes=False, ask=ask, now=NOW)
    assert "moorage backup --host nexus" in str(refused.value) and "nothing was changed" in str(refused.value)
    assert refused.value.exit_code == 2
    assert prompts == [], "asked for a confirmation of a request that is refused anyway"


def test_every_database_concerned_needs_its_own_fresh_backup():
    ask, _ = asked("nexus")
    with pytest.raises(guard.GuardRefused, match="no verified database backup of users"):
        guard.authorize(request(labels=("db", "users")), [dump("db", 1)], max_age_hours=24, yes=False, ask=ask,
                        now=NOW)


def test_the_age_limit_is_configurable():
    ask, _ = asked("nexus")
    guard.authorize(request(), [dump("db", 30)], max_age_hours=48, yes=False, ask=ask, now=NOW)
    with pytest.raises(guard.GuardRefused, match="more than 1 h"):
        guard.authorize(request(), [dump("db", 2)], max_age_hours=1, yes=False, ask=ask, now=NOW)


def test_no_terminal_and_no_yes_is_refused_with_how_to_confirm():
    ask, _ = asked(None)
    with pytest.raises(guard.GuardRefused, match=r"no terminal to ask on .*pass --yes") as refused:
        guard.authorize(request(), [dump("db", 1)], max_age_hours=24, yes=False, ask=ask, now=NOW)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize("typed", ["", "yes", "Nexus", "vps", "nexus please"])
def test_a_confirmation_that_is_not_the_environment_name_is_refused(typed):
    ask, _ = asked(typed + "\n")
    with pytest.raises(guard.GuardRefused, match=r"confirmation did not match.*expected 'nexus'"):
        guard.authorize(request(), [dump("db", 1)], max_age_hours=24, yes=False, ask=ask, now=NOW)


def test_a_live_restore_without_a_permit_from_the_guard_is_refused():
    args = {"backup_dir": "/srv/dm/backups", "project_name": "dm",
            "backups": [{"file": "dm-nexus-db-20270115T080000Z.dump", "service": "db"}], "permit": "forged"}
    op = PostgresRestore(args, OpContext("nexus", {}))

    class NoConnection:  # the guard refuses before any command: nothing may run
        def run(self, *a, **k):
            raise AssertionError("a command ran without a permit")

    with pytest.raises(guard.GuardRefused, match="no permit from the data guard"):
        op.apply(op.plan(Facts()), NoConnection())  # type: ignore[arg-type]


# -- no code path destroys data without the guard -----------------------------------------------
DESTRUCTIVE = re.compile(r"down\s+(-v|--volumes)|volume\s+(rm|prune)|DROP\s+DATABASE|dropdb|--clean|"
                         r"system\s+prune", re.I)


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String literals of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_destructive_commands_live_only_in_the_restore_script():
    hits = []
    for path in sorted((REPO / "src").rglob("*.py")):
        for line, text in _code_strings(path):
            if DESTRUCTIVE.search(text):
                hits.append((str(path.relative_to(REPO)), line))
    builtin = REPO / "src/moorage/builtin"
    for path in [*sorted(builtin.rglob("*.yml")), *sorted((REPO / "playbooks").glob("*.yml"))]:
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if DESTRUCTIVE.search(text.split("#", 1)[0]):
                hits.append((str(path.relative_to(REPO)), number))
    assert {file for file, _ in hits} == {"src/moorage/operations/backups/scripts.py"}, hits


def test_the_restore_script_runs_only_after_the_permit_is_checked():
    """``restore_script`` (the only code holding DROP DATABASE / --clean) is called from one place, the
    restore's plan, which puts the guard's permit before it for anything but a scratch database; a
    permit the guard never gave stops the task before any command runs."""
    callers = [p for p in (REPO / "src").rglob("*.py")
               if re.search(r"scripts\.restore_script\(|import[^\n]*\brestore_script\b", p.read_text())]
    assert [p.name for p in callers] == ["postgres.py"]
    backups = [{"file": "dm-nexus-db-20260101T000000Z.dump", "service": "db"}]
    args = {"backup_dir": "/srv/dm/backups", "project_name": "dm", "backups": backups}
    live = PostgresRestore({**args, "permit": "forged"}, OpContext("h", {}))
    steps = live.plan(Facts()).steps
    assert [type(s).__name__ for s in steps] == ["Permit", "Shell"] and "--clean" in steps[1].script

    class Refuses:
        def run(self, *a, **k):
            raise AssertionError("a command ran before the permit was checked")

    with pytest.raises(guard.GuardRefused, match="no permit from the data guard"):
        live.apply(live.plan(Facts()), Refuses())  # type: ignore[arg-type]
    scratch = PostgresRestore({**args, "into": "scratch"}, OpContext("h", {})).plan(Facts()).steps
    assert [type(s).__name__ for s in scratch] == ["Shell"]
