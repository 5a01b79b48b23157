"""A generated secret about to be created for a project whose volumes already exist: the
database in the volume keeps the password it was created with, so a new one locks the app out.

``env_file`` says which ``{generate: N}`` secrets neither the staged ``.env`` nor the secrets store
(``~/.moorage/secrets/PROJECT.env``) holds (``new_secrets``); this asks the host whether the compose
project has volumes, and warns (check mode: before anything is written).
"""

from __future__ import annotations

from moorage.connection import Connection, connect
from moorage.errors import HostError
from moorage.executor import RunResult
from moorage.inventory import Host
from moorage.operations.shell import Raw, sh
from moorage.playbook import Playbook
from moorage.report import Report
from moorage.templating import render_keys


def warn_new_secrets(result: RunResult, hosts: list[Host], playbook: Playbook, report: Report,
                     conns: dict[str, Connection] | None = None) -> None:
    """One warning per host of ``hosts`` where the run generated (or would generate) a secret while the
    compose project already has volumes.  ``conns``: open connections by host name (else one is opened)."""
    for host in hosts:
        new = [str(key) for key in result.collected(host.name, "new_secrets")]
        if not new:
            continue
        keys = render_keys(host.variables(playbook.defaults()), ("compose_project", "app_dir"))
        project = str(keys["compose_project"])
        volumes = _volumes(host, project, f"{keys['app_dir']}/config/.env", (conns or {}).get(host.name))
        if volumes:
            report.emit("warning", host=host.name, message=(
                f"new generated secret(s) {', '.join(new)} for compose project {project}, whose volumes already "
                f"exist ({', '.join(volumes)}): a database there keeps the password it was created with. If this "
                "project ran before under another app_dir or environment, copy its values into "
                f"~/.moorage/secrets/{project}.env on the host (or set them in app_env) before deploying"))


def _volumes(host: Host, project: str, env_file: str, conn: Connection | None) -> list[str]:
    """The project's volumes created before ``env_file`` was last written (the run that generated the
    secret wrote it; in check mode nothing was: every volume counts).  A first deploy's own volumes,
    created by its ``up`` after the secret, are not a reason to warn."""
    command = "\n".join([
        sh(Raw("cut=$(stat -c %Y"), env_file, Raw("2>/dev/null || echo $(( $(date +%s) + 1 )))")),
        sh(Raw("for v in $(docker volume ls -q --filter"), f"label=com.docker.compose.project={project}",
           Raw("); do")),
        sh(Raw('  made=$(date -d "$(docker volume inspect -f'), "{{.CreatedAt}}",
           Raw('"$v")" +%s 2>/dev/null || echo 0)')),
        '  [ "$made" -lt "$cut" ] && echo "$v"',
        "done; exit 0",
    ])
    own = conn is None
    try:
        conn = conn or connect(host.target)
        try:
            return conn.run(command).text.split()
        finally:
            if own:
                conn.close()
    except HostError:
        return []
