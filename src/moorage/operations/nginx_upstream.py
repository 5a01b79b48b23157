"""The ``nginx_upstream`` operation: the servers of a host nginx's upstreams, one file per
(compose service, container port), listing the host port each running container of the service
publishes that container port on (``ports: ["127.0.0.1::8000"]``: an ephemeral port, so two
containers of the service can run side by side and every ``up`` that recreates one changes it).

The site names the upstream and includes the file inside it (``upstream NAME { server
127.0.0.1:9 down; include FILE; }``: the placeholder keeps nginx -t happy before any container
runs).  The file holds only ``server 127.0.0.1:PORT;`` lines; it is rewritten when they differ,
the whole configuration tested, nginx reloaded (gracefully: the old workers finish the requests
they hold), and every previous file put back when the test or the reload fails.

The pieces are shared with ``compose_rollout``, which rewrites the files to the new containers
only between their readiness and the old ones' stop.
"""

from __future__ import annotations

import json
from typing import Any

from moorage.connection.base import Connection
from moorage.operations.base import Change, Facts, Operation, OpResult, Shell, TaskFailed, register
from moorage.operations.names import PROJECT_NAME, SERVICE_NAME
from moorage.operations.nginx_site import RELOAD, WHY
from moorage.operations.scripted import DID, PATH_PRELUDE
from moorage.operations.shell import Raw, argv, sh

_SPLIT = "@@moorage-upstream"
_TIMEOUT = 60.0
_INSPECT = '{{.Id}} {{index .Config.Labels "com.docker.compose.service"}} {{json .NetworkSettings.Ports}}'

# The targets as a role passes them: e.g. a host nginx site's locations, those naming a service
# (their other keys, and the items without a service, are ignored).
UPSTREAMS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dir", "site", "targets"],
    "properties": {
        "dir": {"type": "string", "pattern": "^/[A-Za-z0-9._/-]+$",
                "description": "Where the upstream files are (not a directory nginx includes whole)."},
        "site": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                 "description": "The site they belong to: the files are DIR/SITE.SERVICE.PORT.conf."},
        "targets": {"type": "array", "items": {
            "type": "object",
            "properties": {"service": SERVICE_NAME,
                           "port": {"type": ["integer", "string"], "pattern": "^[0-9]+$",
                                    "description": "The container port the service publishes."}},
            "dependentRequired": {"service": ["port"]}}},
    },
    "description": "{dir, site, targets: [{service, port}]}: each file DIR/SITE.SERVICE.PORT.conf lists "
                   "`server 127.0.0.1:HOSTPORT;` for every running container of the service, HOSTPORT the host "
                   "port it publishes the container port on (targets without a service are ignored).",
}


def upstream_targets(upstreams: dict[str, Any] | None) -> list[dict[str, str]]:
    """``[{service, port, file}]`` of ``upstreams`` (each service and port once)."""
    if not upstreams:
        return []
    found: dict[tuple[str, str], dict[str, str]] = {}
    prefix = f"{str(upstreams['dir']).rstrip('/')}/{upstreams['site']}"
    for target in upstreams.get("targets") or []:
        if target.get("service"):
            service, port = str(target["service"]), str(target["port"])
            found[(service, port)] = {"service": service, "port": port,
                                      "file": f"{prefix}.{service}.{port}.conf"}
    return list(found.values())


def inspect_script(ids: str) -> str:
    """Each container of ``ids`` (shell words, e.g. ``$(cat)``): id, compose service, published ports."""
    return "\n".join([f"ids={ids}", sh(Raw('[ -z "$ids" ] ||'), "docker", "inspect", "--format", _INSPECT,
                                      Raw("$ids || exit 1"))])


def texts(upstreams: list[dict[str, str]], inspected: str, project: str) -> tuple[list[str], list[str]]:
    """Each upstream file's text from ``inspect_script``'s output, and what is wrong (a running
    container of the service that publishes no host port for the container port)."""
    found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for line in inspected.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            found.setdefault(parts[1], []).append((parts[0], json.loads(parts[2]) or {}))
    out, wrong = [], []
    for target in upstreams:
        service, port = target["service"], str(target["port"])
        servers = []
        for cid, ports in found.get(service, []):
            bound = [b for b in ports.get(f"{port}/tcp") or [] if b.get("HostPort")]
            if not bound:
                wrong.append(f"{service} (container {cid[:12]}) publishes no host port for {port}: "
                             f'publish it on loopback, ports: ["127.0.0.1::{port}"]')
                continue
            ip = next((b["HostIp"] for b in bound if b.get("HostIp") not in ("", "0.0.0.0", "::")), "127.0.0.1")
            servers.append(f"server {f'[{ip}]' if ':' in ip else ip}:{bound[0]['HostPort']};")
        head = f"# moorage (nginx_upstream): project {project}, service {service}, container port {port}"
        out.append("\n".join([head, *sorted(servers)]) + "\n")
    return out, wrong


def write_script(files: list[str], test: str = "nginx -t", reload: str = RELOAD) -> str:
    """stdin: each file's lines prefixed by its index (``0 server 127.0.0.1:32768;``).  Writes the
    files that differ, tests the whole configuration, reloads; puts every one back on a failure."""
    return "\n".join([
        PATH_PRELUDE,
        'umask 022; in=$(cat) || exit 1; i=0; changed=',
        f"for file in {sh(files)}; do",
        '  mkdir -p "${file%/*}" && printf \'%s\\n\' "$in" | sed -n "s/^$i //p" > "$file.moorage-new" '
        '|| { echo "cannot write $file.moorage-new" >&2; exit 1; }',
        '  if cmp -s "$file.moorage-new" "$file"; then rm -f "$file.moorage-new"; else changed="$changed $file"; fi',
        '  i=$((i+1))',
        'done',
        '[ -n "$changed" ] || exit 0',
        'put_back() { for file in $changed; do if [ -f "$file.moorage-previous" ]; then '
        'mv -f "$file.moorage-previous" "$file"; else rm -f "$file"; fi; done; }',
        'for file in $changed; do rm -f "$file.moorage-previous"; '
        'if [ -f "$file" ]; then cp -p "$file" "$file.moorage-previous" || exit 1; fi; '
        'mv -f "$file.moorage-new" "$file" || { put_back; exit 1; }; done',
        f'if ! out=$({test} 2>&1); then',
        '  put_back; printf \'%s\\n\' "$out" >&2',
        f'  {WHY}',
        '  echo "nginx -t refused the upstream(s)$changed, so the previous ones are back (nothing reloaded): $why" >&2',
        '  exit 1',
        'fi',
        f'if ! out=$({reload} 2>&1); then',
        '  put_back; printf \'%s\\n\' "$out" >&2',
        f'  {WHY}',
        '  echo "the nginx reload failed with the upstream(s)$changed, so the previous ones are back: $why" >&2',
        '  exit 1',
        'fi',
        'for file in $changed; do rm -f "$file.moorage-previous"; done',
        f'echo "{DID}upstream(s)$changed rewritten, configuration tested, nginx reloaded"',
    ])


def feed(contents: list[str]) -> bytes:
    """``write_script``'s stdin."""
    return "".join(f"{i} {line}\n" for i, text in enumerate(contents) for line in text.splitlines()).encode()


def rewrite(conn: Connection, script: str, contents: list[str]) -> bool:
    """Run ``write_script`` as root; True when a file changed (nginx reloaded).  TaskFailed naming
    nginx's error when the test or the reload refused them (the previous files are back)."""
    result = conn.run(script, stdin=feed(contents), timeout=_TIMEOUT, become=True)
    if not result.ok:
        raise TaskFailed("the nginx upstream files were not rewritten", script, result.exit_code,
                         result.stderr_tail())
    return DID in result.text


@register
class NginxUpstream(Operation):
    """Point each host nginx upstream of ``upstreams`` at the running containers of its compose
    service (project ``project_name``): the file lists ``server 127.0.0.1:HOSTPORT;`` per container,
    HOSTPORT the ephemeral host port it publishes the container port on.  A file that differs is
    rewritten, nginx tested (``nginx -t``) and reloaded gracefully; on a failure every previous file
    is back and the task fails with nginx's error.  Same servers: ``changed=0``, no reload.  A
    running container that publishes no host port for the port fails the task (nothing written).
    Run it after each ``up`` (a recreated container has a new port).  Writing the files and reloading
    nginx need root (``become``)."""

    name = "nginx_upstream"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["project_name", "upstreams"],
        "properties": {
            "project_name": PROJECT_NAME,
            "upstreams": UPSTREAMS,
            "test_command": {"type": "string", "minLength": 1, "default": "nginx -t",
                             "description": "Tests the whole configuration (split like a shell)."},
        },
    }

    def targets(self) -> list[dict[str, str]]:
        return upstream_targets(self.args["upstreams"])

    def files(self) -> list[str]:
        return [t["file"] for t in self.targets()]

    def plan(self, facts: Facts) -> Change | None:
        """Read-only: the project's running containers with their ports, then each file as it is;
        then the rewrite (its input on stdin)."""
        if not self.targets():
            return None
        listing = sh("docker", "ps", "-q", "--no-trunc", "--filter",
                     f"label=com.docker.compose.project={self.args['project_name']}", "--filter", "status=running")
        survey = "\n".join([inspect_script(f"$({listing}) || exit 1"), *[
            sh("echo", _SPLIT, Raw(";"), "cat", file, Raw("2>/dev/null || :")) for file in self.files()]])
        services = ", ".join(f"{t['service']}:{t['port']}" for t in self.targets())
        return Change(f"nginx upstreams of {services}: the running containers' host ports, nginx -t, reload",
                      [Shell(survey, reads_only=True),
                       Shell(write_script(self.files(), sh(argv(self.args.get("test_command", "nginx -t")))))])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Survey; when a file differs (and not in check mode), rewrite, test, reload."""
        scripts = [step.script for step in change.steps if isinstance(step, Shell)]
        survey = conn.run(scripts[0], timeout=_TIMEOUT, become=True)
        if not survey.ok:
            raise TaskFailed("cannot read the containers' ports or the upstream files", scripts[0],
                             survey.exit_code, survey.stderr_tail())
        inspected, *current = survey.text.split(_SPLIT + "\n")
        contents, wrong = texts(self.targets(), inspected, self.args["project_name"])
        if wrong:
            raise TaskFailed("; ".join(wrong), scripts[0])
        targets, now = self.targets(), [*current, *[""] * len(contents)][:len(contents)]
        differ = [t["file"] for t, text, was in zip(targets, contents, now, strict=True) if text != was]
        ports = "; ".join(f"{t['service']}:{t['port']} -> " + (", ".join(
            line.split()[1].rstrip(";") for line in text.splitlines()[1:]) or "no container")
            for t, text in zip(targets, contents, strict=True))
        if not differ:
            return OpResult(changed=False, message=f"upstreams already so ({ports})")
        if len(scripts) == 1:
            return OpResult(changed=True, message=f"would rewrite {', '.join(differ)} ({ports}) and reload nginx")
        rewrite(conn, scripts[1], contents)
        return OpResult(changed=True, message=f"upstreams rewritten ({ports}), nginx tested and reloaded")
