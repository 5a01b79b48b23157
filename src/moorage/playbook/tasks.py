"""Tasks: what is wrong with a list of them, and turning a valid list into ``Task`` objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moorage import templating
from moorage.errors import Location
from moorage.playbook.model import Role, Task
from moorage.playbook.task_checks import task_problems
from moorage.schema import CONTROL_KEYS, Problem, suggest
from moorage.yamlsrc import display_path, format_path, location_of

# operation -> (argument naming a local file, the folder it is looked up in)
SOURCE_ARGS = {"template": ("src", "templates"), "file": ("src", "files")}


def tasks_problems(tasks: Any, path: Sequence[Any], file: str, source_dirs: Sequence[Path]) -> list[Problem]:
    """Operation, template-syntax and missing-source problems of every task in ``tasks``.

    ``source_dirs`` are the folders holding ``templates/`` and ``files/`` (role, then playbook).
    """
    if not isinstance(tasks, list):
        return []
    found: list[Problem] = []
    for index, task in enumerate(tasks):
        task_path = [*path, index]
        found += task_problems(task, task_path, file)
        if isinstance(task, Mapping):
            found += _syntax_problems(task, task_path, file)
            found += _source_problems(task, task_path, file, source_dirs)
    return found


def sources_problems(tasks: Any, path: Sequence[Any], file: str, source_dirs: Sequence[Path]) -> list[Problem]:
    """Only the missing-source problems of ``tasks_problems`` (and the syntax of the templates
    found): what a role file's cached content checks can't vouch for."""
    if not isinstance(tasks, list):
        return []
    return [p for index, task in enumerate(tasks) if isinstance(task, Mapping)
            for p in _source_problems(task, [*path, index], file, source_dirs)]


def condition_problems(item: Mapping[str, Any], path: list[Any], file: str) -> list[Problem]:
    """A Jinja2 syntax error in the ``when`` of ``item`` (a task, or a role entry of a play)."""
    when = item.get("when")
    if not isinstance(when, str):
        return []
    return _problem(templating.when_syntax_error(when), item, ["when"], path, file)


def _syntax_problems(task: Mapping[str, Any], path: list[Any], file: str) -> list[Problem]:
    """Jinja2 syntax errors in ``when`` and in every templated argument, at their lines: compiled
    by ``moorage.templating`` exactly as a run compiles them."""
    found = condition_problems(task, path, file)
    for key, value in task.items():
        if key not in CONTROL_KEYS:
            found += _walk(value, task, [key], path, file)
    return found


def _walk(value: Any, task: Any, rel: list[Any], path: list[Any], file: str) -> list[Problem]:
    if templating.is_templated(value):
        return _problem(templating.syntax_error(value), task, rel, path, file)
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _walk(v, task, [*rel, k], path, file)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _walk(v, task, [*rel, i], path, file)]
    return []


def _problem(error: str | None, task: Any, rel: list[Any], path: list[Any], file: str) -> list[Problem]:
    if error is None:
        return []
    return [Problem(location_of(task, rel, file), format_path([*path, *rel]), f"Jinja2 syntax error: {error}")]


def _source_problems(task: Mapping[str, Any], path: list[Any], file: str,
                     source_dirs: Sequence[Path]) -> list[Problem]:
    """A ``template``/``file`` task whose literal ``src`` exists in none of its folders."""
    for op, (arg, folder) in SOURCE_ARGS.items():
        args = task.get(op)
        src = args.get(arg) if isinstance(args, Mapping) else None
        if not isinstance(src, str) or "{{" in src or "{%" in src or (isinstance(args, Mapping) and "base" in args):
            continue  # known only at run time (a template, or a file read from its base)
        dirs = [d / folder for d in source_dirs]
        found = next((d / src for d in dirs if (d / src).is_file()), None)
        if found is None:
            where = ", ".join(display_path(d) for d in dirs)
            return [Problem(location_of(args, [arg], file), format_path([*path, op, arg]),
                            f"{op} source '{src}' not found; looked in: {where}")]
        if op == "template":
            return _template_syntax(found)
    return []


def _template_syntax(path: Path) -> list[Problem]:
    error = templating.file_syntax_error(path)
    return [Problem(Location(display_path(path), error[0]), "", error[1])] if error else []


def build_tasks(tasks: Any, role: Role | None = None) -> list[Task]:
    """``Task`` objects from a validated list (an empty file gives no tasks)."""
    return [build_task(item, role) for item in tasks or []]


def build_task(item: Mapping[str, Any], role: Role | None = None) -> Task:
    """One ``Task`` from a validated mapping: the control keys and its single operation."""
    op = next(key for key in item if key not in CONTROL_KEYS)
    args = item[op] if item[op] is not None else {}
    when = item.get("when")
    return Task(
        name=item.get("name") or _default_name(op, args), op=op, args=args,
        when=str(when).lower() if isinstance(when, bool) else when,
        notify=_names(item.get("notify")), tags=_names(item.get("tags")),
        register=item.get("register"), become=item.get("become"), validation=bool(item.get("validation")),
        interruptible=item.get("interruptible", True) is not False,
        location=location_of(item, []), role=role)


def _names(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _default_name(op: str, args: Mapping[str, Any]) -> str:
    first = next(iter(args.values()), None) if args else None
    if first is None or isinstance(first, Mapping | list):
        return op
    text = str(first)
    return f"{op} {text if len(text) <= 60 else text[:57] + '...'}"


def notify_problems(notifiers: Sequence[Task], handlers: Sequence[Task], context: str) -> list[Problem]:
    """Tasks notifying a handler that isn't there; ``context`` says where handlers were looked up."""
    names = [h.name for h in handlers]
    found = []
    for task in notifiers:
        for name in task.notify:
            if name not in names:
                known = f"; handlers: {', '.join(names)}" if names else "; there are no handlers"
                found.append(Problem(task.location, "",
                                     f"task '{task.name}' notifies unknown handler '{name}'"
                                     f"{suggest(name, names)} in {context}{known}"))
    return found
