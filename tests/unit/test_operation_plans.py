"""Table-driven planning tests: each case in cases/<operation>.yml is arguments + facts in,
the exact change out (summary and steps: every command, upload, check, request it will run), or
nothing to do, or the error a user sees.

A case may also give ``vars``, ``changed_paths`` (what earlier tasks change) and
``controller_images`` (ref -> ID on the controller's docker, for ``image: ship``); a relative
local source (``sync``'s ``src``) is found in cases/.
Adding a case needs no Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from moorage.operations import REGISTRY, image
from moorage.operations.base import (
    Check,
    Facts,
    OpContext,
    PathFacts,
    Permit,
    PlanError,
    Request,
    Shell,
    Ship,
    Step,
    Transfer,
)

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


def _step(step: Step) -> Any:
    if isinstance(step, Shell):
        extra = {k: v for k, v in (("stdin", step.stdin and step.stdin.decode()), ("timeout", step.timeout),
                                   ("reads_only", step.reads_only)) if v}
        return {"shell": step.script, **extra}
    if isinstance(step, Check):
        return {"check": step.script, **({"stdin": step.stdin.decode()} if step.stdin else {})}
    if isinstance(step, Request):
        fields = {k: v for k, v in vars(step).items() if k != "url"}
        return {"request": step.url, **fields, "headers": [list(h) for h in step.headers]}
    if isinstance(step, Ship):
        return {"ship": list(step.images), "into": step.command}
    if isinstance(step, Transfer):
        return {"transfer": step.dest, "dry_run": step.dry_run, "rsync": list(step.rsync), "guard": step.guard,
                "manifest": step.manifest, "unpack": step.unpack}
    if isinstance(step, Permit):
        return {"permit": step.what, "token": step.token}
    return {"upload": step.path, "mode": step.mode, "owner": step.owner, "group": step.group,
            "data": step.data.decode()}


@pytest.mark.parametrize(("op_name", "case"), _cases())
def test_plan(op_name: str, case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    variables = {"inventory_dir": str(CASES / "inventory"), **case.get("vars", {})}  # relative sources: cases/
    context = OpContext(host="h", variables=variables, template_dirs=[TEMPLATES],
                        file_dirs=[CASES / "files"], diff=True, changed_paths=frozenset(case.get("changed_paths", [])),
                        render_file=__import__("moorage.templating", fromlist=["render_file"]).render_file)
    if "controller_images" in case:
        known = case["controller_images"]
        monkeypatch.setattr(image, "local_image_ids", lambda refs: {r: known.get(r, "missing") for r in refs})
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
    if "not_yet" in expected:
        assert change.not_yet == expected["not_yet"]
    if "data" in expected:
        assert change.data == expected["data"]
    if "steps" in expected:
        assert [_step(s) for s in change.steps] == expected["steps"]
    if "diff_contains" in expected:
        for text in expected["diff_contains"]:
            assert text in (change.diff or "")
    for text in expected.get("diff_excludes", []):
        assert text not in (change.diff or "")
