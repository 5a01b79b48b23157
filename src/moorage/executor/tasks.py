"""From a loaded task to a ready operation: variables, ``when``, rendering, validation."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from moorage import scalars, templating
from moorage.errors import InputError
from moorage.operations import REGISTRY, bounds
from moorage.operations.base import OpContext, Operation
from moorage.playbook import Play, Task
from moorage.scalars import as_text


@cache
def _validator(op_name: str) -> jsonschema.protocols.Validator:
    schema = REGISTRY[op_name].args_schema
    return jsonschema.Draft202012Validator(schema)


def search_dirs(task: Task, playbook_dir: Path, kind: str) -> list[Path]:
    """Where a task's ``templates/`` or ``files/`` are looked up: its role's, then the playbook's."""
    dirs = [task.role.path / kind] if task.role is not None else []
    return [*dirs, playbook_dir / kind]


def should_run(task: Task, variables: Mapping[str, Any]) -> bool:
    """Evaluate the task's ``when`` (true when there is none)."""
    if not task.when:
        return True
    return bool(templating.evaluate(task.when, variables, task.location))


def skipped_roles(play: Play, variables: Mapping[str, Any]) -> list[str]:
    """The roles of ``play`` whose ``when`` in its roles list is false for these variables.

    Raises ``InputError`` (naming the condition's file:line) when one can't be evaluated.
    """
    return [name for name in play.role_when if play.role_skipped(name, variables)]


def build_operation(task: Task, variables: Mapping[str, Any], context: OpContext) -> Operation:
    """Render the task's arguments and check them against its operation's schema."""
    args = _as_declared(task.op, templating.render_value(task.args, variables, "argument", task.location))
    errors = sorted(_validator(task.op).iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or task.op
        described = first.schema if isinstance(first.schema, Mapping) else {}
        rule = f" ({described['description']})" if first.validator == "pattern" and \
            "description" in described else ""
        raise InputError(f"{task.op} argument '{where}' after rendering: {first.message}{rule}", task.location)
    operation = REGISTRY[task.op](args, context)
    try:
        operation.validate()
        bounds.check_deletes(operation.deleted_paths(), task.args, variables, context.user, templating.evaluate)
    except ValueError as exc:
        raise InputError(f"{task.op}: {exc}", task.location) from None
    return operation


def _as_declared(op_name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A lone ``{{ expression }}`` yields a native value; where the argument is declared a
    string, a number or boolean becomes its text (``"{{ result.changed }}"`` -> ``"true"``,
    a number written ``3.10`` -> ``"3.10"``)."""
    declared: dict[str, Any] = as_declared(args, REGISTRY[op_name].args_schema)
    return declared


def as_declared(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` with each number or boolean that ``schema`` declares a string (and not a
    number or boolean) turned into its text, through properties, additionalProperties and
    items."""
    types = schema.get("type")
    wanted = {types} if isinstance(types, str) else set(types or ())
    if "string" in wanted and not wanted & {"number", "integer", "boolean"} \
            and isinstance(value, bool | int | float):
        return as_text(value)
    if isinstance(value, Mapping):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: as_declared(v, properties.get(k, extra if isinstance(extra, Mapping) else {}))
                for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [as_declared(v, schema["items"]) for v in value]
    return value


def registered(changed: bool, *, skipped: bool = False, failed: bool = False, rc: int = 0,
               stdout: str = "", stderr: str = "", message: str = "", **data: Any) -> dict[str, Any]:
    """The value a ``register:`` name holds after its task (data: its strings are never rendered)."""
    value: dict[str, Any] = scalars.data({"changed": changed, "skipped": skipped, "failed": failed, "rc": rc,
                         "stdout": stdout, "stdout_lines": stdout.splitlines(), "stderr": stderr,
                         "msg": message, **data})
    return value
