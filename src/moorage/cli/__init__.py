"""The command line: Invoke tasks, the same under ``invoke`` (tasks.py) and ``moorage``.

``ns`` holds every task of the task modules below.
"""

from __future__ import annotations

from invoke.collection import Collection

from moorage.cli import (
    data_tasks,
    deploy_tasks,
    init_tasks,
    inventory_tasks,
    onboard_tasks,
    run_tasks,
    service_tasks,
    trust_tasks,
)

TASK_MODULES = (init_tasks, inventory_tasks, run_tasks, deploy_tasks, data_tasks, onboard_tasks, trust_tasks,
                service_tasks)


def build_collection() -> Collection:
    """The collection of every task defined in ``TASK_MODULES``."""
    collection = Collection()
    for module in TASK_MODULES:
        for task in Collection.from_module(module).tasks.values():
            collection.add_task(task)
    return collection


ns = build_collection()

__all__ = ["build_collection", "ns"]
