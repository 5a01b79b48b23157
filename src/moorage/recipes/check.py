"""``check``: validate the inventory, every playbook and every role; list what was checked."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moorage import builtin, secrets
from moorage.errors import InputError
from moorage.inventory import Host, Inventory, load_inventory
from moorage.inventory.templates import render_problems
from moorage.operations.env_file import env_refusal, is_generated
from moorage.playbook import Play, Playbook, read_role
from moorage.playbook.declarations import value_problems
from moorage.playbook.usage import unused_warnings, used_names
from moorage.playbook.validations import validation_problems
from moorage.project import Project
from moorage.recipes.compose_services import service_problems, unstaged_binds, upstream_warnings
from moorage.recipes.deploy_inputs import input_problems
from moorage.recipes.preflight import preflight
from moorage.recipes.shared_server import shared_server_problems
from moorage.schema import Problem, error_problems, raise_problems
from moorage.templating import render_value
from moorage.yamlsrc import display_path, merge_sourced


@dataclass
class CheckReport:
    """The one-line results (``ok``/``FAIL``) and every problem found."""

    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)  # the --host ones whose variables resolve
    playbooks: dict[str, Playbook] = field(default_factory=dict)

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


def check(project: Project, host: str = "") -> int:
    """``check``: print one line per file checked and the warnings (stderr), then ``all valid``;
    raises one ``InputError`` naming every problem's file:line (exit status 2)."""
    report = run_check(project, host)
    for line in report.lines:
        print(line)
    for warning in report.warnings:
        print(f"warning: {secrets.mask(warning)}", file=sys.stderr)
    report.raise_if_problems()
    print("all valid")
    return 0


def run_check(project: Project, host: str = "") -> CheckReport:
    """Check the inventory (and ``host``'s variables when given), every playbook and role the
    project can run (its own, then the built-in ones it doesn't replace)."""
    report = CheckReport()
    inventory = _check_inventory(report, project.inventory, host)
    _check_playbooks(report, project, inventory)
    _check_roles(report, project)
    if inventory is not None and host:
        _check_hosts(report, inventory, project)
        _check_preflight(report, project)
    elif inventory is not None:
        _check_all_templates(report, inventory)
    return report


def check_before_run(project: Project, inventory: Inventory, target: str, playbook: str) -> None:
    """What ``check --host TARGET`` reports about ``target``'s variables and files, for the one
    ``playbook`` a run is about to use (``inventory`` holds the run's variables): raised as one
    ``InputError`` before any connection."""
    report = CheckReport()
    for host in inventory.select(target):
        if report.record(f"variables of {host.name}", functools.partial(_variable_count, host)):
            report.hosts.append(host)
    report.playbooks[playbook] = project.load_playbook(playbook)
    _check_hosts(report, inventory, project)
    report.raise_if_problems()


def _check_hosts(report: CheckReport, inventory: Inventory, project: Project) -> None:
    _check_role_variables(report, inventory, project)
    _check_env_values(report, inventory)
    _check_files(report, inventory)
    _check_templates(report, inventory)
    _check_services(report, inventory, project)


def _check_services(report: CheckReport, inventory: Inventory, project: Project) -> None:
    """The compose services the inventory names (migrate_service, backup_databases,
    restore_stop_services) exist in the project's compose files (a line only when some are named);
    a warning for each relative bind mount the release does not hold; the deploy inputs a run
    would refuse (``deploy_inputs``: a line only when some do)."""
    for selected in report.hosts:
        plays = _plays_of(report, inventory, selected)
        found, count = service_problems(selected, plays, project.root)
        report.warnings += [w for w in unstaged_binds(selected, plays, project.root) + upstream_warnings(
            selected, plays, project.root) if w not in report.warnings]
        if count or found:
            def attempt(found: list[Problem] = found, count: int = count) -> str:
                raise_problems(found)
                return _count(count, "name")
            report.record(f"compose services of {selected.name}", attempt)
        inputs = input_problems(selected, plays, project.root) + shared_server_problems(
            selected, inventory, functools.partial(_plays_of, report, inventory))
        if inputs:  # a line only when some fail
            report.record(f"deploy inputs of {selected.name}", functools.partial(_refuse, inputs))


def _refuse(found: list[Problem]) -> str:
    raise_problems(found)
    return ""


def _check_files(report: CheckReport, inventory: Inventory) -> None:
    """The known_hosts and private key files of the SSH hosts checked exist (a run needs them)."""
    for selected in [h for h in report.hosts if h.target.connection == "ssh"]:
        def attempt(h: Host = selected) -> str:
            raise_problems(inventory.file_problems([h]))
            return "known_hosts" + (", ssh_key" if h.target.key_file else "")
        report.record(f"files of {selected.name}", attempt)


def _templates_render(report: CheckReport, inventory: Inventory, host: Host) -> str:
    raise_problems(_template_problems(report, inventory, host, True))
    return ""


def _check_templates(report: CheckReport, inventory: Inventory) -> None:
    """The inventory variables of each host checked render (names defined, filters succeed)."""
    for selected in report.hosts:
        attempt = functools.partial(_templates_render, report, inventory, selected)
        report.record(f"templates of {selected.name}", attempt)


def _check_all_templates(report: CheckReport, inventory: Inventory) -> None:
    """Without --host: every host's inventory templates, secrets left unread (a line only on failure)."""
    found = [p for h in inventory.hosts.values() for p in _template_problems(report, inventory, h, False)]
    if found:
        report.problems += found
        report.lines.append(f"FAIL templates in inventory variables ({_count(len(found), 'problem')})")


def _template_problems(report: CheckReport, inventory: Inventory, host: Host, secrets: bool) -> list[Problem]:
    plays = _plays_of(report, inventory, host)
    defaults = merge_sourced(*(play.defaults() for play in plays))
    runtime = {t.register for play in plays for t in [*play.all_tasks(), *play.all_handlers()] if t.register}
    return render_problems(host, defaults, runtime, secrets)


def _plays_of(report: CheckReport, inventory: Inventory, host: Host) -> list[Play]:
    """The plays of the checked playbooks aimed at ``host``."""
    return [play for playbook in report.playbooks.values() for play in playbook.plays
            if host.name in _play_hosts(inventory, play)]


def _check_role_variables(report: CheckReport, inventory: Inventory, project: Project) -> None:
    """Each host's values against the declarations of the roles of every playbook aimed at it, and
    the inventory variables none of them uses (warnings)."""
    for selected in report.hosts:
        plays = _plays_of(report, inventory, selected)

        def attempt(h: Host = selected, plays: list[Play] = plays) -> str:
            found, count = value_problems(h, plays)
            raise_problems(found + validation_problems(h, plays))
            return f"{_count(count, 'declared variable')} of {_count(len(_roles(plays)), 'role')}"
        report.record(f"role variables of {selected.name}", attempt)
        used = used_names(plays, [project.root / "templates"])
        report.warnings += [w for w in unused_warnings(selected, used) if w not in report.warnings]


def _play_hosts(inventory: Inventory, play: Play) -> list[str]:
    try:
        return [h.name for h in inventory.select(play.hosts, play.location)]
    except InputError:
        return []  # reported with the playbook


def _roles(plays: list[Play]) -> set[str]:
    return {role.name for play in plays for role in play.roles}


def _check_env_values(report: CheckReport, inventory: Inventory) -> None:
    """Every value an ``env_file`` task would write for each host, rendered now: can compose read it?"""
    for selected in report.hosts:
        plays = _plays_of(report, inventory, selected)
        report.record(f".env values of {selected.name}", functools.partial(_env_values, selected, plays))


def _env_values(host: Host, plays: list[Play]) -> str:
    """Check ``host``'s ``.env`` values; the problems name the task's file:line and the variable."""
    found: list[Problem] = []
    count = 0
    for play in plays:
        tasks = [t for t in play.all_tasks() if t.op == "env_file"]
        if not tasks:
            continue
        variables = host.variables(play.defaults())
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


def _check_preflight(report: CheckReport, project: Project) -> None:
    """The production preflight for the production hosts checked."""
    for selected in [h for h in report.hosts if h.production]:
        def attempt(h: Host = selected) -> str:
            results = preflight(h.variables(project.load_playbook("deploy").defaults()), project.root)
            problems = [f"{r.name}: {r.reason}" for r in results if r.status == "failed"]
            if problems:
                raise InputError(f"production preflight of {h.name} fails: " + "; ".join(problems), h.location)
            disabled = [r.name for r in results if r.status == "disabled"]
            remote = [r.name for r in results if r.status == "server"]
            return (f"{_count(len(results) - len(disabled) - len(remote), 'check')} passed"
                    + (f", disabled: {', '.join(disabled)}" if disabled else "")
                    + (f", run on the server by deploy: {', '.join(remote)}" if remote else ""))
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
            if report.record(f"variables of {selected.name}", functools.partial(_variable_count, selected)):
                report.hosts.append(selected)
    return loaded[0]


def _variable_count(host: Host) -> str:
    return _count(len(host.variables()), "variable")


def _select(report: CheckReport, inventory: Inventory, host: str) -> list[Host]:
    try:
        return inventory.select(host)
    except InputError as exc:
        report.problems += error_problems(exc)
        report.lines.append(f"FAIL --host {host}")
        return []


def _check_playbooks(report: CheckReport, project: Project, inventory: Inventory | None) -> None:
    passed: list[str] = []
    for name, file in project.playbooks().items():
        attempt = functools.partial(_playbook_detail, project, file, inventory, report.playbooks)
        _record_or_collect(report, file, name, attempt, passed)
    _summarise(report, "built-in playbooks", passed)


def _record_or_collect(report: CheckReport, path: Path, name: str, attempt: Callable[[], str],
                       passed: list[str]) -> None:
    """A project file gets a line of its own; a built-in one only when it fails (else it is
    collected into one summary line)."""
    if not builtin.contains(path):
        report.record(display_path(path), attempt)
        return
    try:
        attempt()
        passed.append(name)
    except InputError:
        report.record(display_path(path), attempt)


def _summarise(report: CheckReport, what: str, names: list[str]) -> None:
    if names:
        report.lines.append(f"ok   {what}: {', '.join(names)}")


def _playbook_detail(project: Project, path: Path, inventory: Inventory | None,
                     loaded: dict[str, Playbook]) -> str:
    playbook = project.load_playbook(path)
    loaded[path.stem] = playbook
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


def _check_roles(report: CheckReport, project: Project) -> None:
    passed: list[str] = []
    for name, path in project.roles().items():
        _record_or_collect(report, path, name, functools.partial(_role_detail, path, project), passed)
    _summarise(report, "built-in roles", passed)


def _role_detail(path: Path, project: Project) -> str:
    role, found = read_role(path, [project.playbooks_dir])
    raise_problems(found)
    assert role is not None
    return (f"{_count(len(role.tasks), 'task')}, {_count(len(role.handlers), 'handler')}, "
            f"{_count(len(role.defaults), 'default')}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
