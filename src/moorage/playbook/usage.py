"""Which variable names a run uses, and the inventory variables nothing uses (typos, leftovers).

A name is used when a role default or declaration names it, a play's ``vars`` sets it, or a
template refers to it: a task argument, a task name, a ``when``, a template file of a role or a
playbook, a role default's or a play variable's value (``jinja2.meta.find_undeclared_variables``).
An inventory variable referred to only by other inventory variables (``db_name`` inside the
inventory's ``app_env``) is used too: a convention of the project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from moorage.errors import Location
from moorage.inventory import Host
from moorage.playbook.model import Play, Task
from moorage.schema import suggest
from moorage.templating import is_templated, names_in, template_names

# Read by the engine itself (Python, not a template): the production preflight's settings.
ENGINE_READS = ("preflight",)
INVENTORY_LEVELS = (2, 3, 4)
# Stricter than for keys: an inventory of many similar names (db_port, web_port) would otherwise
# get a "did you mean" for every variable that is merely unused.
SUGGEST_CUTOFF = 0.8  # inventory vars, environment vars, host vars (and their files)


def expression_names(expression: str | None) -> set[str]:
    """The variables a ``when`` expression (with or without ``{{ }}``) refers to."""
    if not expression:
        return set()
    return names_in(expression if is_templated(expression) else "{{ (" + expression + ") }}")


def _task_names(task: Task) -> set[str]:
    return names_in(task.args) | names_in(task.name) | expression_names(task.when)


def used_names(plays: Sequence[Play], template_dirs: Iterable[Path] = ()) -> set[str]:
    """Every name the roles, tasks and templates of ``plays`` define, declare or refer to;
    ``template_dirs``: more folders of template files (the project's ``templates/``)."""
    used = set(ENGINE_READS)
    folders = list(template_dirs)
    for play in plays:
        used |= set(play.vars) | names_in(dict(play.vars))
        for role in play.roles:
            used |= set(role.defaults) | set(role.variables) | names_in(dict(role.defaults))
            folders.append(role.path / "templates")
        for task in [*play.all_tasks(), *play.all_handlers()]:
            used |= _task_names(task)
        folders.append(play.playbook_dir / "templates")
    for folder in dict.fromkeys(folders):
        if folder.is_dir():
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                used |= _file_names(file)
    # a registered result replaces any variable of its name: setting one is not a use
    return used - {task.register for play in plays for task in [*play.all_tasks(), *play.all_handlers()]
                   if task.register}


def _file_names(file: Path) -> set[str]:
    try:
        return template_names(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return set()


def unused_warnings(host: Host, used: set[str]) -> list[str]:
    """``file:line: variable 'x' is not used by any role or playbook (did you mean 'y'?)`` for
    each inventory variable of ``host`` that ``used`` lacks and no
    other inventory variable refers to, at every place it is set."""
    layers = [layer for layer in host.layers if layer.level in INVENTORY_LEVELS]
    known = used | _engine_indirect(host.unresolved()[0])
    for layer in layers:
        known |= set().union(*(names_in(value) for value in layer.values.values()))
    warnings = []
    for layer in layers:
        for name in layer.values:
            if name not in known:
                where = layer.values.location(name) if hasattr(layer.values, "location") else Location("")
                prefix = f"{where}: " if str(where) else ""
                warnings.append(f"{prefix}variable '{name}' is not used by any role or playbook"
                                f"{suggest(name, sorted(used), SUGGEST_CUTOFF)}")
    return list(dict.fromkeys(warnings))


def _engine_indirect(variables: Mapping[str, Any]) -> set[str]:
    """Names the engine reads through other variables: the directories of
    ``deploy_dir_variables`` (onboarding) and ``{var: NAME}`` entries of ``preflight``."""
    names = {str(n) for n in variables.get("deploy_dir_variables") or [] if isinstance(n, str)}
    checks = variables.get("preflight")
    if isinstance(checks, Mapping):
        names |= {str(c["var"]) for c in checks.values() if isinstance(c, Mapping) and "var" in c}
    return names
