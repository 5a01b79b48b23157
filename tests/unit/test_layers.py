"""Imports run one way: a module imports only from its own package or from a layer below it.

The layers, top first (docs/architecture.md draws the same list).  A name is a package or a
module directly under ``src/moorage/``; names on one line are side by side and import nothing
from each other.  Every import counts, also one inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "moorage"
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"

LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("recipes", "scaffold", "opsdoc", "rolesdoc"),
    ("project",),
    ("executor",),
    ("playbook",),
    ("inventory",),
    ("operations",),
    ("facts",),
    ("connection",),
    ("report", "templating", "schema"),
    ("yamlsrc", "secrets", "template_lines", "target"),
    ("yamlbounds",),
    ("scalars", "progname", "builtin", "errors", "serverpaths", "cron"),
]
RANK = {name: index for index, names in enumerate(LAYERS) for name in names}


def unit_of(module: str) -> str:
    """``moorage.operations.files`` -> ``operations``; ``moorage`` itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = SRC) -> list[tuple[int, str]]:
    """``(line, module)`` for every moorage module ``path`` imports, anywhere in the file."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # ``from moorage import builtin`` imports the module ``moorage.builtin``
            found += [(node.lineno, f"{source}.{alias.name}" if source == "moorage" else source)
                      for alias in node.names]
    return [(line, module) for line, module in found if module.startswith("moorage.")]


def violations(root: Path = SRC) -> list[str]:
    """One sentence per import against the order, and per module the order doesn't place."""
    found = []
    for path in sorted(root.rglob("*.py")):
        here = unit_of(module_name(path, root))
        if not here:
            continue
        if here not in RANK:
            found.append(f"{path.relative_to(root.parent)}: '{here}' has no layer; add it to LAYERS "
                         "(and to docs/architecture.md)")
            continue
        for line, module in imported(path, root):
            there = unit_of(module)
            if there == here:
                continue
            if there not in RANK:
                found.append(f"{path.relative_to(root.parent)}:{line}: imports {module}, which has no layer")
            elif RANK[there] <= RANK[here]:
                where = "the same layer as" if RANK[there] == RANK[here] else "a layer above"
                found.append(f"{path.relative_to(root.parent)}:{line}: '{here}' imports {module}, "
                             f"{where} it")
    return found


def test_imports_run_one_way() -> None:
    problems = violations()
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The check itself: an upward import hidden in a function body is found."""
    package = tmp_path / "moorage"
    (package / "facts").mkdir(parents=True)
    (package / "facts" / "__init__.py").write_text("")
    (package / "facts" / "x.py").write_text("def f():\n    from moorage.operations import REGISTRY\n")
    (package / "facts" / "y.py").write_text("from ..connection import base\nfrom . import x\n")
    assert violations(package) == ["moorage/facts/x.py:2: 'facts' imports moorage.operations, a layer above it"]


@pytest.mark.parametrize("names", LAYERS, ids=lambda names: names[0])
def test_architecture_draws_every_layer(names: tuple[str, ...]) -> None:
    drawn = {line.strip().split("  ")[0] for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines()}
    assert ", ".join(names) in drawn, f"docs/architecture.md's layer drawing lacks the line: {', '.join(names)}"
