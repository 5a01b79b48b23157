"""Table-driven planning tests: each case in cases/<operation>.yml is arguments + facts in,
the exact change out (summary and steps), or nothing to do, or the error a user sees.

Adding a case needs no Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from moorage.operations import REGISTRY
from moorage.operations.base import Facts, OpContext, PathFacts, PlanError, Shell, Upload

CASES = Path(__file__).parent / "cases"
TEMPLATES = CASES / "templates"


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yml")):
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(path.stem, case, id=f"{path.stem}: {case['name']}"))
    return params


def _facts(raw: dict[str, dict[str, Any]]) -> Facts:
    facts = Facts()
    for path, fields in (raw or {}).items():
        fields = dict(fields)
        if "content" in fields:
            fields["content"] = fields["content"].encode()
        facts.record(PathFacts(path, **fields))
    return facts


def _with_absent(facts: Facts, op: Any) -> Facts:
    """Paths an operation asks about but the case doesn't mention are absent on the host."""
    for path in op.facts_needed().paths:
        if path not in facts:
            facts.record(PathFacts(path))
    return facts


def _step(step: Upload | Shell) -> Any:
    if isinstance(step, Shell):
        return {"shell": step.script}
    return {"upload": step.path, "mode": step.mode, "owner": step.owner, "group": step.group,
            "data": step.data.decode()}


@pytest.mark.parametrize(("op_name", "case"), _cases())
def test_plan(op_name: str, case: dict[str, Any]) -> None:
    context = OpContext(host="h", variables=case.get("vars", {}), template_dirs=[TEMPLATES],
                        file_dirs=[CASES / "files"], diff=True,
                        render_file=__import__("moorage.templating", fromlist=["render_file"]).render_file)
    op = REGISTRY[op_name](case["args"], context)
    facts = _with_absent(_facts(case.get("facts", {})), op)
    if "error" in case:
        with pytest.raises((PlanError, Exception), match=case["error"]):
            op.plan(facts)
        return
    change = op.plan(facts)
    expected = case["expect"]
    if expected is None:
        assert change is None, f"expected nothing to do, got: {change and change.summary}"
        return
    assert change is not None, "expected a change, got nothing to do"
    assert change.summary == expected["summary"]
    if "steps" in expected:
        assert [_step(s) for s in change.steps] == expected["steps"]
    if "diff_contains" in expected:
        for text in expected["diff_contains"]:
            assert text in (change.diff or "")
    for text in expected.get("diff_excludes", []):
        assert text not in (change.diff or "")
