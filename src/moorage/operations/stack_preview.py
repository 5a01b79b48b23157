"""Check mode of ``stack_deploy``: the new release's stack, rendered on the manager, compared per
service with the stack file of the release that runs (``current/stack.yml``).

The project's staged files (compose files, release files) and the new ``.env`` values go on stdin
as one tar (values never in argv); the manager renders them in a temporary directory it removes
(``docker compose config``, as the deploy does), the keys the new values lack (the secrets
generated once) read from the current ``.env``.  The server keeps nothing.  The comparison says
which services are new, removed or unchanged and, per changed service, its image and replicas
(old -> new), the environment variable NAMES changed (never their values: they can be secrets)
and the other settings changed by key.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from moorage.operations.base import Shell
from moorage.operations.dotenv import quote_env
from moorage.operations.env_file import is_generated
from moorage.operations.shell import Raw, sh

NEW = "@@moorage-new-stack"


def preview_step(root: Path, staged: list[str], compose_files: list[str], env: Mapping[str, Any],
                 current: str, stack: str, attachable: str, to_stack: str) -> Shell:
    """The read-only ``Shell`` printing the current ``stack.yml``, ``NEW``, then the new one.
    Raises ``OSError`` when a staged file can't be read, ``ValueError`` for a value no ``.env`` holds."""
    values = "".join(f"{k}={quote_env(v)}\n" for k, v in env.items() if not is_generated(v))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for rel in staged:
            if (root / rel).exists():
                tar.add(root / rel, arcname=rel)
        data = values.encode()
        info = tarfile.TarInfo(".env.new")
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    files = ":".join([*compose_files, ".moorage-swarm.yml"])
    script = "\n".join([
        "d=$(mktemp -d) || exit 1",
        "trap 'rm -rf \"$d\"' EXIT",
        "umask 077",
        "tar -xf - -C \"$d\" || exit 1",
        f"old={sh(current)}",
        "cd \"$d\" || exit 1",
        # the keys the new values lack (the secrets generated once) as the running release has them
        "if [ -f \"$old/.env\" ]; then awk -F= 'NR==FNR{k[$1]=1; next} !($1 in k)' .env.new \"$old/.env\" > .env; fi",
        "cat .env.new >> .env",
        sh(Raw("printf '%s'"), attachable, Raw("> .moorage-swarm.yml")),
        f"COMPOSE_FILE={sh(files)} " + sh("docker", "compose", "-p", stack, "config", Raw("> stack.new || exit 1")),
        "cat \"$old/stack.yml\" 2>/dev/null",
        f"echo {NEW}",
        sh("sed", "-E", to_stack, "stack.new"),
    ])
    return Shell(script, stdin=buffer.getvalue(), reads_only=True)


def service_changes(old_text: str, new_text: str) -> list[str]:
    """One line per service (sorted): ``web: image a -> b, environment API_MODE changed, replicas
    2 -> 3``, ``db: unchanged``, ``cache: new``, ``old: removed``; then the top-level sections
    changed (``configs changed``).  ``old_text`` empty: every service is new.
    Raises ``yaml.YAMLError`` for a stack that is not YAML."""
    old = (yaml.safe_load(old_text) or {}) if old_text.strip() else {}
    new = yaml.safe_load(new_text) or {}
    before, after = old.get("services") or {}, new.get("services") or {}
    lines = []
    for name in sorted(set(before) | set(after)):
        if name not in before:
            lines.append(f"{name}: new")
        elif name not in after:
            lines.append(f"{name}: removed")
        else:
            lines.append(f"{name}: {', '.join(_differences(before[name], after[name])) or 'unchanged'}")
    sections = sorted(k for k in set(old) | set(new) if k not in ("services", "version", "name")
                      and old and old.get(k) != new.get(k))
    return lines + [f"{key} changed" for key in sections]


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    old, new = _comparable(old), _comparable(new)
    said = []
    if old.get("image") != new.get("image"):
        said.append(f"image {old.get('image')} -> {new.get('image')}")
    env_old, env_new = _environment(old.get("environment")), _environment(new.get("environment"))
    names = [f"{k} changed" for k in sorted(set(env_old) & set(env_new)) if env_old[k] != env_new[k]]
    names += [f"{k} added" for k in sorted(set(env_new) - set(env_old))]
    names += [f"{k} removed" for k in sorted(set(env_old) - set(env_new))]
    if names:
        said.append("environment " + ", ".join(names))
    deploy_old, deploy_new = old.get("deploy") or {}, new.get("deploy") or {}
    if deploy_old.get("replicas") != deploy_new.get("replicas"):
        said.append(f"replicas {deploy_old.get('replicas', 'default')} -> {deploy_new.get('replicas', 'default')}")
    said += [f"deploy.{k} changed" for k in sorted(set(deploy_old) | set(deploy_new))
             if k != "replicas" and deploy_old.get(k) != deploy_new.get(k)]
    said += [f"{k} changed" for k in sorted(set(old) | set(new))
             if k not in ("image", "environment", "deploy") and old.get(k) != new.get(k)]
    return said


def _comparable(service: dict[str, Any]) -> dict[str, Any]:
    """The service without moorage's own labels (a release-file hash, not part of the preview)."""
    labels = {k: v for k, v in (service.get("labels") or {}).items() if not str(k).startswith("moorage.")}
    return {**{k: v for k, v in service.items() if k != "labels"}, **({"labels": labels} if labels else {})}


def _environment(value: Any) -> dict[str, Any]:
    if isinstance(value, list):  # KEY=VALUE items
        return dict(str(item).partition("=")[::2] for item in value)
    return dict(value or {})
