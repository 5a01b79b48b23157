"""What the test_values_* files share: an inventory on disk, a task rendered and planned as a
run does it (moorage.executor.tasks), and what the planned change writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from moorage import secrets, templating
from moorage.executor.tasks import build_operation, registered, should_run
from moorage.inventory import Host, load_inventory, parse_overrides
from moorage.operations.base import Facts, OpContext, PathFacts, Upload
from moorage.playbook.tasks import build_task
from moorage.yamlsrc import parse_yaml


def host(tmp_path: Path, variables: str, flags: tuple[str, ...] = (), files: dict[str, str] | None = None) -> Host:
    """Host ``vps`` of an inventory whose host ``vars`` are the YAML block ``variables``."""
    indented = "".join(f"          {line}\n" for line in variables.splitlines())
    (tmp_path / "hosts.yml").write_text(
        "project: dm\nenvironments:\n  vps:\n    hosts:\n      vps:\n        vars:\n" + indented)
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return load_inventory(tmp_path, parse_overrides(list(flags))).hosts["vps"]


def task(text: str) -> Any:
    """A ``Task`` from one task written in YAML (as in a playbook file)."""
    return build_task(parse_yaml(text, "tasks.yml"))


def operation(task_text: str, variables: dict[str, Any], template_dir: Path | None = None) -> Any:
    """The task's operation with its arguments rendered, as ``HostPlay`` builds it."""
    context = OpContext(host="vps", variables=variables, template_dirs=[template_dir] if template_dir else [],
                        render_file=templating.render_file, mask=secrets.mask)
    return build_operation(task(task_text), variables, context)


def written(task_text: str, variables: dict[str, Any], template_dir: Path | None = None) -> str:
    """The text a ``file``/``template``/``env_file`` task uploads to a host where it is absent."""
    op = operation(task_text, variables, template_dir)
    facts = Facts()
    for path in op.facts_needed().paths:
        facts.record(PathFacts(path))
    change = op.plan(facts)
    return next(step.data.decode() for step in change.steps if isinstance(step, Upload))


def runs(when: str, variables: dict[str, Any]) -> bool:
    """Whether a task with this ``when`` runs."""
    return should_run(task(f"command: {{cmd: x}}\nwhen: {when}\n"), variables)


__all__ = ["host", "operation", "registered", "runs", "task", "written"]
