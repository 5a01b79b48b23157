"""Operations: the unit of work. Every module in this package registers its own.

Adding an operation is adding a module here with a ``@register``ed class; the
executor and the loader find it through ``REGISTRY``.
"""

from __future__ import annotations

import importlib
import pkgutil

from moorage.operations.base import REGISTRY, Operation, register


def _load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


_load_all()

__all__ = ["REGISTRY", "Operation", "register"]
