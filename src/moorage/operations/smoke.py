"""The ``smoke_tests`` operation: the project's named smoke tests, run once after the switch.

Each test is a command run in a running service's container (``docker compose exec -T``), a
command run on the host (in ``project_dir``), or an HTTP check from the controller (status and an
optional text in the body).  The first failing test fails the task, naming the test and quoting
its output; in a deploy, that rolls the release back like a failed health gate.
"""

from __future__ import annotations

import time
from typing import Any

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, Request, Shell, Step, TaskFailed, register
from moorage.operations.compose import PROJECT_ARGS, compose_tokens
from moorage.operations.http import ask
from moorage.operations.names import SERVICE_NAME
from moorage.operations.shell import Raw, argv, sh

OUTPUT_LINES = 20  # of a failed test's output, quoted in the failure: the assertion is near the end
COMMAND_TIMEOUT = 300.0
HTTP_TIMEOUT = 10.0

COMMAND = {"type": ["string", "array"], "items": {"type": "string"}, "minLength": 1, "minItems": 1,
           "description": "The command: in a service, a list of words or a string split like a shell would "
                          "(nothing expanded); on the host, a shell line (a list: its words, each quoted)."}
TEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "oneOf": [{"required": ["command"]}, {"required": ["url"]}],
    "properties": {
        "name": {"type": "string", "minLength": 1, "pattern": "^[^\\n]+$",
                 "description": "What the test checks, as messages name it."},
        "command": COMMAND,
        "service": {**SERVICE_NAME, "description": "Run the command in this service's running container "
                                                   "(default: on the host, in project_dir)."},
        "url": {"type": "string", "pattern": "^https?://", "description": "Request this URL from the controller."},
        "status": {"type": "integer", "minimum": 100, "maximum": 599,
                   "description": "The HTTP status expected (default 200)."},
        "contains": {"type": "string", "minLength": 1, "description": "Text the HTTP body must contain."},
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "Request headers, e.g. Host for a virtual host."},
        "timeout": {"type": "number", "exclusiveMinimum": 0,
                    "description": f"Seconds the test may take (default {COMMAND_TIMEOUT:g} for a command, "
                                   f"{HTTP_TIMEOUT:g} for an HTTP check)."},
    },
}


@register
class SmokeTests(Operation):
    """Run ``tests`` in order, each once; stop at the first that fails (``TaskFailed`` naming it,
    its command or URL, and the last lines of its output or the answer).  A command passes when it
    exits 0; an HTTP check when it answers ``status`` (200) with ``contains`` in the body (one
    attempt: the health gate before has waited for the app).  Never "changed"; not run in check
    mode (what they test isn't deployed yet)."""

    name = "smoke_tests"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_dir", "tests"],
        "properties": {
            **PROJECT_ARGS,
            "tests": {"type": "array", "items": TEST, "description": "The smoke tests, in the order they run."},
            "validate_certs": {"type": "boolean", "default": True,
                               "description": "Verify TLS certificates of HTTP checks (default true)."},
        },
    }

    def validate(self) -> None:
        seen: set[str] = set()
        for test in self.args["tests"]:
            if test["name"] in seen:
                raise ValueError(f"tests: two smoke tests are named {test['name']!r}; each needs its own name")
            seen.add(test["name"])
            if "url" in test and "service" in test:
                raise ValueError(f"tests: smoke test {test['name']!r} has a url and a service: an HTTP check "
                                 "is made from the controller; drop service")
            if "command" in test and ({"status", "contains", "headers"} & test.keys()):
                raise ValueError(f"tests: smoke test {test['name']!r} is a command: status, contains and "
                                 "headers go with url")
            if "command" in test and "service" in test:
                try:
                    argv(test["command"])
                except ValueError as exc:
                    raise ValueError(f"tests: the command of smoke test {test['name']!r} cannot be split into "
                                     f"words: {exc}; give it as a list of words") from None

    def plan(self, facts: Facts) -> Change | None:
        """One step per test, in order: a ``Shell`` (its output and errors together) or a ``Request``."""
        tests = self.args["tests"]
        if not tests:
            return None
        steps = [self._step(test) for test in tests]
        return Change(f"smoke tests: {', '.join(t['name'] for t in tests)}", steps,
                      data={"tests": [t["name"] for t in tests]},
                      not_yet="not asked in check mode: they test what the run deploys")

    def _step(self, test: dict[str, Any]) -> Step:
        if "url" in test:
            return Request(test["url"], "GET", tuple(sorted((test.get("headers") or {}).items())),
                           test.get("status", 200), test.get("contains"), float(test.get("timeout", HTTP_TIMEOUT)),
                           1, 1.0, self.args.get("validate_certs", True), False)
        command = test["command"]
        if "service" in test:
            run = sh(compose_tokens(self.args), "exec", "-T", test["service"], argv(command))
        else:
            run = command if isinstance(command, str) else sh(command)
        return Shell(sh("cd", self.args["project_dir"], Raw("&& {")) + f" {run}\n}} 2>&1",
                     timeout=float(test.get("timeout", COMMAND_TIMEOUT)))

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Each test in turn; raises ``TaskFailed`` at the first that fails."""
        names = iter(self.args["tests"])
        passed: list[str] = []
        for step in change.steps:
            test = next(names)
            if isinstance(step, Request):
                try:
                    ask(step, time.monotonic() + step.timeout)
                except TaskFailed as exc:
                    raise TaskFailed(f"smoke test {test['name']!r} failed: {exc}", exc.command, None,
                                     exc.stderr) from None
            elif isinstance(step, Shell):
                self._run(test["name"], step, conn)
            passed.append(test["name"])
        return OpResult(changed=False, message=f"{len(passed)} smoke test(s) passed: {', '.join(passed)}",
                        data={"passed": passed})

    @staticmethod
    def _run(name: str, step: Shell, conn: Connection) -> None:
        result = conn.run(step.script, timeout=step.timeout)
        if result.exit_code == 0:
            return
        lines = [line for line in result.text.splitlines() if line.strip()][-OUTPUT_LINES:]
        output = ("; its output ends:\n" + "\n".join(lines)) if lines else " (it wrote nothing)"
        # The output is in the message (stdout and stderr together), not repeated as a stderr tail.
        raise TaskFailed(f"smoke test {name!r} failed: exited with status {result.exit_code}{output}",
                         step.script, result.exit_code)
