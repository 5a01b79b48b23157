"""Read a ``.env`` the way docker compose does: the local ``docker compose config`` (no engine needed)."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path


@functools.cache
def compose_problem() -> str | None:
    """Why ``docker compose`` can't be run here, or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    proc = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    return None if proc.returncode == 0 else f"`docker compose version` failed: {proc.stderr.strip()}"


def compose_reads(folder: Path, env: bytes, keys: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """``(environment, labels)`` of a service reading ``env``, as ``docker compose config`` resolves them.

    One call reads the file both ways: as the service's ``env_file:`` (its ``environment``) and as
    ``--env-file`` (a label ``${KEY}`` for each of ``keys``).  Raises AssertionError when compose
    refuses the file, with its message.
    """
    (folder / "app.env").write_bytes(env)
    labels = {key: "${" + key + "}" for key in keys}
    service = {"image": "busybox", "env_file": ["app.env"], "labels": labels}
    (folder / "compose.yaml").write_text(json.dumps({"services": {"s": service}}))  # JSON is YAML
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "DOCKER_CONFIG") if k in os.environ}
    proc = subprocess.run(["docker", "compose", "-p", "envcheck", "--env-file", "app.env",
                           "config", "--format", "json"], cwd=folder, env=clean,
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    resolved = json.loads(proc.stdout)["services"]["s"]
    # config prints a compose file, where a literal `$` is written `$$`
    return ({k: v.replace("$$", "$") for k, v in resolved.get("environment", {}).items()},
            {k: v.replace("$$", "$") for k, v in resolved.get("labels", {}).items()})
