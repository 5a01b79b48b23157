"""What ``status`` checks of the server's own state, beyond the containers' health: the deploy lock
(free, held, stale), a ``current`` link pointing nowhere, and whether the containers run the release
``current`` names (after an interrupted deploy they may still run the old one).

One command gathers it all (``probe_command``); the rest is pure: ``parse`` and ``drift``.  The
containers are compared with the release by compose's own config hash (the label
``com.docker.compose.config-hash`` against ``docker compose config --hash``: what compose itself
compares to decide a recreate) and by image ID (against the IDs ``release.json`` records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moorage.operations import server_lock
from moorage.operations.shell import Raw, sh
from moorage.progname import command

_SECTIONS = ("lock", "current", "hashes", "containers")
_INSPECT = ('{{index .Config.Labels "com.docker.compose.service"}}|{{.Config.Image}}|{{.Image}}|'
            '{{index .Config.Labels "com.docker.compose.config-hash"}}')


@dataclass(frozen=True)
class Container:
    """A compose service's container as docker shows it: image reference, image ID, config hash."""

    service: str
    image: str
    image_id: str
    config_hash: str


@dataclass
class Probe:
    """The server's state: the lock, the target of a ``current`` link that leads nowhere (``""``
    when it is fine), the release's config hash per service, the containers."""

    lock: server_lock.LockState
    broken_current: str = ""
    hashes: dict[str, str] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)


def probe_command(app_dir: str, project: str, compose: str) -> str:
    """One command printing ``@@SECTION`` lines, each followed by its output.  ``compose``: the
    ``docker compose ... config --hash '*'`` command of the current release (quoted by the caller)."""
    containers = sh("docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}",
                    "--filter", "label=com.docker.compose.oneoff=False",
                    Raw("| xargs -r docker inspect --format"), _INSPECT)
    current = sh("cd", app_dir, Raw('2>/dev/null && l=$(readlink current) && { [ -d current ] || echo "$l"; }'))
    parts = {"lock": server_lock.inspect_command(app_dir), "current": current, "hashes": compose,
             "containers": containers}
    return "\n".join(f"echo @@{name}; ( {parts[name]}\n) 2>/dev/null" for name in _SECTIONS) + "\nexit 0"


def parse(text: str) -> Probe:
    """``probe_command``'s output as a ``Probe``."""
    sections: dict[str, list[str]] = {name: [] for name in _SECTIONS}
    name = ""
    for line in text.splitlines():
        if line.startswith("@@") and line[2:] in sections:
            name = line[2:]
        elif name:
            sections[name].append(line)
    hashes = dict(line.split(None, 1) for line in sections["hashes"] if len(line.split()) == 2)
    containers = [Container(*line.split("|")[:4]) for line in sections["containers"] if line.count("|") == 3]
    return Probe(server_lock.parse_inspect("\n".join(sections["lock"])),
                 next((line.strip() for line in sections["current"] if line.strip()), ""), hashes, containers)


def drift(release: dict[str, Any] | None, probe: Probe) -> list[str]:
    """How the containers differ from the release ``current`` names, one phrase per service (``[]``
    when they match, or when there is nothing to compare)."""
    if not release or probe.broken_current:
        return []
    recorded: dict[str, str] = release.get("images") or {}
    found = []
    for container in sorted(probe.containers, key=lambda c: c.service):
        differences = []
        expected = probe.hashes.get(container.service)
        if expected and container.config_hash and expected != container.config_hash:
            differences.append("its configuration is not the release's")
        wanted = recorded.get(container.image)
        if wanted and container.image_id and wanted != container.image_id:
            differences.append(f"it runs image {_short(container.image_id)}, the release records "
                               f"{_short(wanted)} for {container.image}")
        if differences:
            found.append(f"{container.service}: {'; '.join(differences)}")
    return found


def _rerun(lock: server_lock.LockState, host: str) -> str:
    """What finishes the cut run: the same kind of run again (a cut rollback is finished by
    ``rollback --to previous``, not by a deploy that would replace it)."""
    action = lock.holder.get("action")
    if action == "rollback":
        return (f"running the rollback again takes it over and finishes it: "
                f"`{command('rollback', '--host', host, '--to', 'previous')}`")
    if action == "restore":
        return (f"running the restore again takes it over, restores and starts the app: "
                f"`{command('restore', '--host', host)}`")
    return (f"the next deploy takes it over and finishes or rolls back what that run left: "
            f"`{command('deploy', '--host', host)}`")


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def findings(probe: Probe, ledger_current: str | None, release: dict[str, Any] | None, host: str,
             newest: str = "") -> tuple[str, list[str]]:
    """``status``'s sentences: the lock's line, then one warning per problem (a held lock whose run
    is gone, a ``current`` pointing nowhere, containers not running the current release), each
    with the command that repairs it.  ``newest``: the newest recorded release, to roll back to."""
    lock = f"deploy lock: {probe.lock.describe()}"
    problems = []
    if probe.lock.held and probe.lock.session_alive is False:  # the server's proof: the next run takes it over
        problems.append(f"the deploy lock looks abandoned ({probe.lock.stale()}): {_rerun(probe.lock, host)}")
    elif probe.lock.held and probe.lock.stale():
        problems.append(f"the deploy lock looks abandoned ({probe.lock.stale()}): the next deploy is refused until "
                        f"`{command('deploy', '--host', host, '--break-lock')}`")
    if probe.broken_current:
        back = f"`{command('rollback', '--host', host, '--to', newest, '--break-lock')}`" if newest else "a deploy"
        problems.append(f"current points at {probe.broken_current}, which does not exist: nothing the app runs can "
                        f"be traced to a release; make a recorded release current with {back}")
    different = drift(release, probe)
    if different:
        problems.append(f"the containers do not run release {ledger_current} that current names (an interrupted "
                        f"deploy or rollback?): {', '.join(different)}; bring them in line with "
                        f"`{command('deploy', '--host', host)}`, or go back with "
                        f"`{command('rollback', '--host', host, '--to', 'previous')}`")
    return lock, problems
