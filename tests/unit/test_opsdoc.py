"""The committed operation reference is what the code generates (docstrings are the docs)."""

from pathlib import Path

from moorage.operations import REGISTRY
from moorage.opsdoc import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_operation_reference_is_up_to_date():
    assert DOC.read_text() == reference(), "run: .venv/bin/python -m moorage.opsdoc > docs/operations.md"


def test_every_operation_and_argument_is_documented():
    for name, op in REGISTRY.items():
        assert (op.__doc__ or "").strip(), f"operation {name} has no docstring"
        for arg, spec in op.args_schema.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{arg} has no description"
