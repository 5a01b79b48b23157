"""Running moorage the way a user does (its console script) and reading its --json events."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed import TestServer, write_inventory

MOORAGE = str(Path(sys.executable).with_name("moorage"))


@dataclass
class Run:
    """A finished ``moorage`` command: exit status, output, and its JSON events when --json."""

    code: int
    stdout: str
    stderr: str

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def recap(self, host: str) -> dict[str, Any]:
        return next(e["data"] for e in self.events if e["kind"] == "recap" and e["host"] == host)

    def tasks(self, host: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == "task" and (host is None or e.get("host") == host)
                and (status is None or e.get("status") == status)]


def moorage(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> Run:
    """Run ``moorage ARGS`` and capture everything."""
    proc = subprocess.run([MOORAGE, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def compose_project(root: Path, compose: str, server: TestServer, name: str, variables: dict[str, Any]) -> Path:
    """A project as a user lays one out, in ``root``: ``compose/compose.yml`` holding ``compose`` and an
    inventory (project ``name``, ``variables`` its vars, the compose source set) whose one environment
    and host, ``staging``, is ``server``.  Returns the inventory directory."""
    (root / "compose").mkdir(parents=True, exist_ok=True)
    (root / "compose" / "compose.yml").write_text(compose)
    variables = {"compose_source": "{{ inventory_dir }}/../compose", "compose_file": "compose.yml", **variables}
    return write_inventory(root / "inventory", {"staging": server}, project=name, extra_vars=variables).parent


def write_playbook(directory: Path, tasks: list[dict[str, Any]], handlers: list[dict[str, Any]] | None = None,
                   name: str = "play.yml", **play: Any) -> Path:
    """A one-play playbook in ``directory``."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    body = {"name": "test play", "hosts": "all", **play, "tasks": tasks}
    if handlers:
        body["handlers"] = handlers
    path = directory / name
    path.write_text(yaml.safe_dump([body], sort_keys=False))
    return path


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(port: int, path: str = "/", method: str = "GET", host: str | None = None,
         form: dict[str, str] | None = None, timeout: float = 10, json_body: Any = None) -> Response:
    """One HTTP request to 127.0.0.1:port (never a container address); ``json_body``: sent as JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Host": host or f"127.0.0.1:{port}"}
        body = None
        if form is not None:
            from urllib.parse import urlencode

            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()
