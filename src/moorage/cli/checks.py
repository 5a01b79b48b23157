"""``check``: validate the inventory, every playbook and every role; list what was checked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moorage.deploy.preflight import CHECKS, failures
from moorage.errors import InputError
from moorage.inventory import Host, Inventory, load_inventory
from moorage.operations.env_file import env_refusal, is_generated
from moorage.playbook import Play, Playbook, default_roles_paths, find_roles, load_playbook, read_role
from moorage.schema import Problem, error_problems, raise_problems
from moorage.templating import render_value
from moorage.yamlsrc import display_path

PLAYBOOK_SUFFIXES = (".yml", ".yaml")


@dataclass
class CheckReport:
    """The one-line results (``ok``/``FAIL``) and every problem found."""

    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def record(self, what: str, attempt: Callable[[], str]) -> bool:
        """Run ``attempt`` (it returns a detail), noting ``ok what (detail)`` or ``FAIL what``."""
        try:
            detail = attempt()
        except InputError as exc:
            found = error_problems(exc)
            self.problems += found
            self.lines.append(f"FAIL {what} ({_count(len(found), 'problem')})")
            return False
        self.lines.append(f"ok   {what}" + (f" ({detail})" if detail else ""))
        return True

    def raise_if_problems(self) -> None:
        """One ``InputError`` with every problem (each naming file:line)."""
        raise_problems(list(dict.fromkeys(self.problems)))


def run_check(inventory_path: Path, host: str = "", playbooks_dir: Path | None = None) -> CheckReport:
    """Check the inventory (and ``host``'s variables when given), playbooks and roles."""
    report = CheckReport()
    inventory = _check_inventory(report, inventory_path, host)
    inv_dir = inventory_path.parent if inventory_path.is_file() else inventory_path
    playbooks = playbooks_dir or inv_dir.parent / "playbooks"
    _check_playbooks(report, playbooks, inventory)
    _check_roles(report, playbooks)
    if inventory is not None and host:
        _check_env_values(report, inventory, host, playbooks)
        _check_preflight(report, inventory, host, playbooks)
    return report


def _check_env_values(report: CheckReport, inventory: Inventory, host: str, playbooks: Path) -> None:
    """Every value an ``env_file`` task would write for ``host``, rendered now: can compose read it?"""
    plays = []
    for file in _playbook_files(playbooks):
        try:
            plays += load_playbook(file).plays
        except InputError:
            continue  # the playbook's own check reports it
    for selected in _select(report, inventory, host):
        mine = [p for p in plays if selected.name in [h.name for h in _hosts_of(inventory, p)]]
        report.record(f".env values of {selected.name}", lambda h=selected, ps=mine: _env_values(h, ps))


def _hosts_of(inventory: Inventory, play: Play) -> list[Host]:
    try:
        return inventory.select(play.hosts)
    except InputError:
        return []  # the playbook's own check reports it


def _env_values(host: Host, plays: list[Play]) -> str:
    """Check ``host``'s ``.env`` values; the problems name the task's file:line and the variable."""
    found: list[Problem] = []
    count = 0
    for play in plays:
        tasks = [t for t in play.all_tasks() if t.op == "env_file"]
        if not tasks:
            continue
        try:
            variables = host.variables(play.defaults())
        except InputError:
            return "skipped: the variables do not resolve"  # said by 'variables of' already
        for task in tasks:
            try:
                values = render_value(task.args.get("values"), variables)
            except InputError:
                continue  # it needs what only a run knows (registered output): the run checks it
            for key, value in values.items() if isinstance(values, Mapping) else ():
                count += 1
                if not is_generated(value) and (reason := env_refusal(value)):
                    found.append(Problem(task.location, "", f"env_file on {host.name}: "
                                         f"the value of {key} {reason}"))
    raise_problems(found)
    return _count(count, "value")


def _check_preflight(report: CheckReport, inventory: Inventory, host: str, playbooks: Path) -> None:
    """The production checklist (seed 000) for the production hosts of ``host``."""
    deploy = playbooks / "deploy.yml"
    if not deploy.is_file():
        return
    for selected in [h for h in _select(report, inventory, host) if h.production]:
        def attempt(h: Host = selected) -> str:
            problems = failures(h.variables(load_playbook(deploy).plays[-1].defaults()), playbooks.parent)
            if problems:
                raise InputError(f"production preflight of {h.name} fails: " + "; ".join(problems), h.location)
            return f"{len(CHECKS)} checks passed"
        report.record(f"preflight of {selected.name} (production)", attempt)


def _check_inventory(report: CheckReport, path: Path, host: str) -> Inventory | None:
    loaded: list[Inventory] = []

    def attempt() -> str:
        loaded.append(load_inventory(path))
        inv = loaded[0]
        return f"{_count(len(inv.environments), 'environment')}, {_count(len(inv.hosts), 'host')}"

    hosts_file = path if path.is_file() else path / "hosts.yml"
    if not report.record(display_path(hosts_file), attempt):
        return None
    for extra in loaded[0].files[1:]:
        report.lines.append(f"ok   {display_path(extra)}")
    if host:
        for selected in _select(report, loaded[0], host):
            report.record(f"variables of {selected.name}",
                          lambda h=selected: _count(len(h.variables()), "variable"))
    return loaded[0]


def _select(report: CheckReport, inventory: Inventory, host: str) -> list:
    try:
        return inventory.select(host)
    except InputError as exc:
        report.problems += error_problems(exc)
        report.lines.append(f"FAIL --host {host}")
        return []


def _playbook_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in PLAYBOOK_SUFFIXES) if folder.is_dir() else []


def _check_playbooks(report: CheckReport, folder: Path, inventory: Inventory | None) -> None:
    files = _playbook_files(folder)
    if not files:
        report.lines.append(f"--   no playbooks in {display_path(folder)}")
    for file in files:
        report.record(display_path(file), lambda f=file: _playbook_detail(load_playbook(f), inventory))


def _playbook_detail(playbook: Playbook, inventory: Inventory | None) -> str:
    tasks = sum(len(play.all_tasks()) for play in playbook.plays)
    if inventory is not None:
        found: list[Problem] = []
        for play in playbook.plays:
            try:
                inventory.select(play.hosts, play.location)
            except InputError as exc:
                found += [Problem(p.location, "", f"play '{play.name}': {p.message}")
                          for p in error_problems(exc)]
        raise_problems(found)
    return f"{_count(len(playbook.plays), 'play')}, {_count(tasks, 'task')}"


def _check_roles(report: CheckReport, playbooks: Path) -> None:
    for path in find_roles(default_roles_paths(playbooks)).values():
        report.record(display_path(path), lambda p=path: _role_detail(p, playbooks))


def _role_detail(path: Path, playbooks: Path) -> str:
    role, found = read_role(path, [playbooks])
    raise_problems(found)
    assert role is not None
    return (f"{_count(len(role.tasks), 'task')}, {_count(len(role.handlers), 'handler')}, "
            f"{_count(len(role.defaults), 'default')}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
