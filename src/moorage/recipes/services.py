"""One service at a time, in the current release of a host's app.

restart|stop|start:  lock -> the services exist in the current release -> docker compose VERB
                     SERVICES -> audit -> unlock (exit 1 when compose fails)
up|down:             the same, with up -d --no-deps (compose_scale kept) + the readiness gate, or
                     rm --stop --force (containers only, never a volume): see ``recipes.parts``;
                     ``--part NAME`` names the inventory's ``parts`` for any of the five
exec|run:            the service exists -> docker compose exec|run --rm [-T] SERVICE CMD... with
                     this terminal attached -> the command's exit status is ours; on a swarm, exec
                     goes to a running task's container (docker exec) on the node that runs it, run
                     is a one-off container of stack.yml on the manager, on the stack's network
logs --follow:       docker compose logs --follow (a swarm: docker service logs --follow), streamed
                     until the command ends or Ctrl-C (exit 0)

Compose runs in ``APP_DIR/current``, so the release's ``.env`` gives every value it interpolates
(secrets included): nothing secret is on a command line or printed.  A command's words are data:
each is quoted (``sh``), ``$(...)``, ``;`` and quotes reach the container as written.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from moorage.connection import Connection, connect
from moorage.errors import HostError, InputError
from moorage.operations import server_state as server
from moorage.operations.shell import Raw, sh
from moorage.recipes import parts as parts_recipe
from moorage.recipes.console import console
from moorage.recipes.day2 import App, app_of, known_service, logs_arguments, refuse_unlisted, service_logs
from moorage.recipes.play import Request

VERBS = ("restart", "stop", "start", "up", "down")
NO_RELEASE = 79  # the listing's own exit status when there is no current link (compose's are 1, 15)
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


def control(request: Request, verb: str, services: Sequence[str], *, parts: Sequence[str] = (),
            break_lock: bool = False) -> int:
    """``docker compose VERB SERVICES`` (and the services of ``parts``) in the current release,
    inside the deploy lock, audited; ``up`` then waits for them to be ready.

    Raises ``InputError`` for a part the inventory lacks or a service the current release doesn't
    define, ``HostError`` when no release is current, the lock is held, compose fails or an ``up``
    service is not ready."""
    assert verb in VERBS, verb
    app = app_of(request)
    if app.host.swarm is not None:
        raise InputError(f"moorage {verb} works on compose environments only; '{request.target}' is a swarm: "
                         "redeploy (moorage deploy), or on a manager: docker service update --force STACK_SERVICE")
    services = parts_recipe.services_of(app, parts, services)
    with server.locked(app.host.target, app.app_dir, verb, break_lock) as conn:
        current = _release(app, conn, services)
        line = parts_recipe.command(app, conn, verb, services) if verb in parts_recipe.PART_VERBS \
            else app.compose(verb, *services)
        result = conn.run(line)
        unready = parts_recipe.wait_ready(app, conn, services) if result.ok and verb == "up" else ""
        # a restarted or recreated container has a new ephemeral host port: host nginx follows it
        stale = parts_recipe.follow_upstreams(app, conn) if result.ok else ""
        server.audit(conn, app.app_dir, verb, current, "ok" if result.ok and not unready and not stale else "failed",
                     services=",".join(services), parts=",".join(parts))
    if not result.ok:
        raise HostError(app.host.name, f"docker compose {verb} {' '.join(services)} failed (exit "
                        f"{result.exit_code}): {result.stderr_tail(5)}")
    if unready:
        raise HostError(app.host.name, f"{', '.join(services)} started but not ready: {unready}")
    if stale:
        raise HostError(app.host.name, f"{', '.join(services)} {verb} done, but host nginx still points at the "
                        f"old ports: {stale}")
    done = {"restart": "restarted", "stop": "stopped", "start": "started", "up": "up and ready",
            "down": "removed (containers only; volumes kept)"}[verb]
    of = f"part {', '.join(parts)}: " if parts else ""
    console().print(f"{app.host.name}: {of}{', '.join(services)} {done} (release {current})")
    return 0


def command_line(app: App, mode: str, service: str, command: list[str], *, tty: bool, index: int = 0) -> str:
    """The remote command of ``exec`` (in the running container; ``index``: the Nth of a scaled
    service, 0 for compose's default) or ``run`` (a one-off container, removed after): ``-T`` when
    there is no terminal here, each word of ``command`` quoted."""
    assert mode in ("exec", "run"), mode
    options = ["--rm"] if mode == "run" else (["--index", str(int(index))] if index else [])
    return app.compose(mode, *options, *([] if tty else ["-T"]), service, *command)


def attach(request: Request, mode: str, service: str, command: list[str], *, index: int = 0) -> int:
    """Run ``command`` in ``service`` of the current release (``mode``: exec or run) with this
    terminal attached (a TTY when our stdin is one, stdin forwarded); its exit status (130 after
    Ctrl-C without a TTY: the channel closes; a remote command that writes then gets SIGPIPE, one
    that neither reads nor writes runs on to its end — with a TTY, Ctrl-C reaches it as a signal).

    Raises ``InputError`` for an empty command or an unknown service, ``HostError`` when no
    release is current."""
    if not command:
        raise InputError(f"{mode} needs the command after --, e.g. `{mode} --host H --service S -- sh -c 'ls'`")
    if index < 0:
        raise InputError(f"--index counts a scaled service's containers from 1, got {index}")
    app = app_of(request)
    conn = connect(app.host.target)
    try:
        _release(app, conn, [service])
        tty = sys.stdin.isatty()
        if app.host.swarm is not None and mode == "run":
            return conn.interact(_swarm_run(app, service, command, tty=tty), tty=tty)
        if app.host.swarm is not None and mode == "exec":
            conn.close()
            conn, container = _swarm_task(request, app, service)
            return conn.interact(sh("docker", "exec", "-i", ["-t"] if tty else [], container, command), tty=tty)
        if mode == "exec" and index:
            _refuse_absent_index(app, conn, service, index)
        return conn.interact(command_line(app, mode, service, command, tty=tty, index=index), tty=tty)
    except KeyboardInterrupt:  # Ctrl-C without a TTY (with one, it reaches the remote program instead)
        return INTERRUPTED
    finally:
        conn.close()


def _swarm_run(app: App, service: str, command: list[str], *, tty: bool) -> str:
    """A one-off container of ``service`` (the current release's ``stack.yml``) on the manager,
    attached to the stack's network (attachable), removed after: as the deploy runs migrations.
    The network override lives in a temporary file, removed after too."""
    override = f"networks:\n  default:\n    name: {app.compose_project}_default\n    external: true\n"
    run = sh("docker", "compose", "-p", app.compose_project, "-f", "stack.yml", "-f", Raw('"$o"'), "run", "--rm",
             "--no-deps", [] if tty else ["-T"], service, command)
    return (sh("cd", f"{app.app_dir}/current", Raw("&& o=$(mktemp) &&"), Raw("printf '%s'"), override, Raw('> "$o" &&'))
            + f' {run}; rc=$?; rm -f "$o"; exit $rc')


def _swarm_task(request: Request, app: App, service: str) -> tuple[Connection, str]:
    """A running task of the stack's ``service``: a connection to the node it runs on and its
    container's name, looking on the first manager, then the other nodes in inventory order.
    Raises ``InputError`` when no node runs one."""
    inventory = request.inventory()
    label = f"label=com.docker.swarm.service.name={app.compose_project}_{service}"
    nodes = sorted(inventory.environments[app.host.environment].hosts, key=lambda name: name != app.host.name)
    for name in nodes:
        conn = connect(inventory.hosts[name].target)
        listed = conn.run(sh("docker", "ps", "--filter", label, "--filter", "status=running", "--format", "{{.Names}}"))
        if listed.ok and listed.text.split():
            return conn, listed.text.split()[0]
        conn.close()
    raise InputError(f"{app.host.name}: no task of {app.compose_project}_{service} is running on "
                     f"{', '.join(nodes)}")


def _refuse_absent_index(app: App, conn: Connection, service: str, index: int) -> None:
    """``InputError`` naming the running containers' numbers when none is ``index`` (compose's
    own refusal names neither the service nor what there is)."""
    listed = conn.run(app.compose("ps", "--status", "running", "--format", "{{.Name}}", service))
    names = listed.text.split()
    if not listed.ok or not all(name.rsplit("-", 1)[-1].isdigit() for name in names):
        return  # compose says why in exec; a container_name carries no number to compare
    numbers = sorted(int(name.rsplit("-", 1)[1]) for name in names)
    if index not in numbers:
        which = f" (--index {', '.join(map(str, numbers))})" if numbers else ""
        raise InputError(f"{app.host.name}: {service} has {len(numbers)} running container(s){which}; "
                         f"there is no --index {index}")


def follow_logs(request: Request, *, service: str = "", tail: int = 100, since: str = "") -> int:
    """``docker compose logs --follow`` of the current release, streamed here until it ends or
    Ctrl-C (exit 0 then, as ``tail -f``); ``since``: only lines newer than that (``10m``)."""
    app = app_of(request)
    conn = connect(app.host.target)
    try:
        if service:
            known_service(app, conn, service)
        arguments = logs_arguments(tail, since, follow=True)
        line = service_logs(app, arguments, service) if app.host.swarm else \
            app.compose(*arguments, *([service] if service else []))
        code = conn.interact(line, tty=False, stdin=False)
    except KeyboardInterrupt:
        return 0
    finally:
        conn.close()
    if code:
        raise HostError(app.host.name, f"docker compose logs --follow ended with exit status {code}")
    return 0


def _release(app: App, conn: Connection, services: Sequence[str]) -> str:
    """The current release's id, once ``services`` are found in it (one round trip).

    Raises ``HostError`` when nothing is deployed yet, ``InputError`` for a service it lacks."""
    listed = conn.run(sh("readlink", f"{app.app_dir}/current", Raw(f"|| exit {NO_RELEASE};"))
                      + " " + app.compose("config", "--services"))
    current = listed.text.partition("\n")[0].strip().removeprefix("releases/")
    if listed.exit_code == NO_RELEASE or not current:
        raise HostError(app.host.name, f"no release is current in {app.app_dir}: deploy first")
    if not listed.ok:
        raise InputError(f"{app.host.name}: cannot list the compose services of {app.app_dir}/current: "
                         f"{listed.stderr_tail(3)}")
    for service in services:
        refuse_unlisted(app, listed.text.split()[1:], service)
    return current
