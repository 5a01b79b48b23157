"""What is wrong with a task's operation, found when the playbook is loaded: an unknown one, none,
two, or arguments its ``args_schema`` refuses (each a ``Problem`` naming ``file:line``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moorage.operations import REGISTRY
from moorage.operations.data_loss import destroys_volumes
from moorage.schema import CONTROL_KEYS, Problem, problems, suggest, type_of
from moorage.yamlsrc import LineDict, format_path, location_of


def task_problems(task: Any, path: Sequence[Any], file: str = "") -> list[Problem]:
    """What is wrong with a task's operation: unknown, missing, doubled, or bad arguments."""
    if not isinstance(task, Mapping):
        return []  # the static schema already said it must be a mapping
    ops = [key for key in task if key not in CONTROL_KEYS]
    found = [_unknown_op(task, key, list(path), file) for key in ops if key not in REGISTRY]
    known = [key for key in ops if key in REGISTRY]
    if not ops:
        found.append(Problem(location_of(task, [], file), format_path(path),
                             f"a task needs exactly one operation; known operations: {_known(REGISTRY)}"))
    elif len(known) > 1:
        names = ", ".join(f"'{k}'" for k in known)
        found.append(Problem(location_of(task, [known[1]], file), format_path(path),
                             f"a task runs exactly one operation, this one has {len(known)} ({names}); "
                             "split it into separate tasks"))
    elif known:
        found.extend(_args_problems(task, known[0], list(path), file))
        found.extend(_data_loss_problems(task, known[0], list(path), file))
    return found


def _data_loss_problems(task: Mapping[str, Any], op: str, path: list[Any], file: str) -> list[Problem]:
    """A ``command`` whose words destroy Docker volumes (``operations.data_loss``), unless the task
    says ``allow_data_loss: true``: the data of a project must not go by a typo or an old habit."""
    args = task[op]
    if op != "command" or task.get("allow_data_loss") is True or not isinstance(args, Mapping):
        return []
    found = []
    for key in ("cmd", "unless"):
        reason = destroys_volumes(args[key]) if isinstance(args.get(key), str) else None
        if reason:
            found.append(Problem(location_of(task, [op, key], file), format_path([*path, op, key]),
                                 f"this command destroys data: {reason}. Keep the volumes (e.g. `docker compose "
                                 "down` or `stop`), or, if deleting them is really meant, add `allow_data_loss: "
                                 "true` to this task"))
    return found


def _unknown_op(task: Mapping[str, Any], key: str, path: list[Any], file: str) -> Problem:
    hint = suggest(key, [*REGISTRY, *CONTROL_KEYS])
    tail = "" if hint else f"; known operations: {_known(REGISTRY)}"
    text = str(key)
    shown = text if text.isprintable() else repr(text)[1:-1]  # a line break in a key would split the message
    return Problem(location_of(task, [key], file), format_path([*path, shown]),
                   f"unknown operation '{shown}'{hint}{tail}")


def _args_problems(task: Mapping[str, Any], op: str, path: list[Any], file: str) -> list[Problem]:
    args = task[op]
    if args is None:  # no arguments: the problems are placed where the operation is named
        where = location_of(task, [op], file)
        args = LineDict()
        args.file, args.line = where.file, where.line
    if not isinstance(args, Mapping):
        return [Problem(location_of(task, [op], file), format_path([*path, op]),
                        f"'{op}' takes a mapping of arguments, not {type_of(args)}")]
    schema = dict(REGISTRY[op].args_schema)
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    return problems(args, schema, file, [*path, op], noun="argument", owner=f" of '{op}'",
                    numbers_as_text=True)


def _known(registry: Mapping[str, Any]) -> str:
    return ", ".join(sorted(registry)) or "(none registered)"
