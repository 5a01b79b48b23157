"""The command line: Invoke tasks, the same under ``invoke`` (tasks.py) and ``moorage``.

``ns`` holds every task.  Tasks not built yet come from ``pending``; a real
implementation in ``moorage.cli.run_tasks`` (``play``, and later the others)
replaces the placeholder of the same name.
"""

from __future__ import annotations

import importlib
import importlib.util

from invoke import Collection, Task

from moorage.cli import inventory_tasks, pending

# Modules with real tasks (a missing one is skipped); each replaces the placeholder of its name.
REAL_TASK_MODULES = ("moorage.cli.run_tasks", "moorage.cli.deploy_tasks", "moorage.cli.media_tasks",
                     "moorage.cli.data_tasks", "moorage.cli.onboard_tasks")


def _real_tasks() -> dict[str, Task]:
    """Tasks defined by the modules of ``REAL_TASK_MODULES`` that exist, by task name."""
    found: dict[str, Task] = {}
    for name in REAL_TASK_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found.update({obj.name: obj for obj in vars(module).values()
                      if isinstance(obj, Task) and obj.__module__ == name})
    return found


def build_collection() -> Collection:
    """The collection of all tasks, real ones replacing placeholders of the same name."""
    collection = Collection()
    real = _real_tasks()
    for placeholder in [inventory_tasks.check, inventory_tasks.inventory, *pending.TASKS]:
        chosen = real.pop(placeholder.name, placeholder)
        collection.add_task(chosen)
    for extra in real.values():
        collection.add_task(extra)
    return collection


ns = build_collection()

__all__ = ["build_collection", "ns"]
