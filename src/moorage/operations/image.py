"""The ``image`` operation: make a compose project's images present on the host.

Three ways, chosen per environment: ``pull`` from a registry by tag, ``build``
on the server (``docker compose build``), or ``ship``: saved on the controller
and loaded on the host through the SSH connection (``docker save | docker
load``), for servers without a registry.
"""

from __future__ import annotations

import itertools
import subprocess

from moorage.connection.base import Connection
from moorage.operations import names
from moorage.operations.base import Change, Facts, Operation, OpResult, TaskFailed, register
from moorage.operations.file_writes import q
from moorage.operations.shell import Raw, argv, sh

_MISSING = "missing"


def local_image_ids(refs: list[str]) -> dict[str, str]:
    """Image IDs on the controller (``missing`` when absent)."""
    ids = {}
    for ref in refs:
        proc = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref],
                              capture_output=True, text=True, check=False)
        ids[ref] = proc.stdout.strip() if proc.returncode == 0 else _MISSING
    return ids


@register
class Image(Operation):
    """Ensure ``images`` are present on the host: ``source: pull`` (docker pull by tag),
    ``build`` (``docker compose build`` in ``project_dir``) or ``ship`` (``docker save``
    on the controller, ``docker load`` on the host over the same SSH connection; only
    images whose ID differs from the host's travel, in one stream).

    Changed only when an image ID on the host changed.  Fails, before anything
    else happens, when an image can't be obtained.
    """

    name = "image"
    batched = False
    args_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["images", "source"],
        "properties": {
            "images": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1},
                       "description": "Image references (name:tag)."},
            "source": {"enum": ["pull", "build", "ship"], "description": "pull, build or ship."},
            "project_dir": {"type": "string", "pattern": "^/",
                            "description": "Compose project directory (for build)."},
            "compose_args": {"type": "string",
                             "description": "Extra docker compose arguments for build (-f, -p, --env-file), "
                                            "split into words the way a shell would (nothing is expanded); "
                                            "-p must be a valid compose project name."},
        },
    }

    def validate(self) -> None:
        """``compose_args`` splits into words, and a ``-p`` names a valid compose project."""
        try:
            words = argv(self.args.get("compose_args", ""))
        except ValueError as exc:
            raise ValueError(f"compose_args cannot be split into words: {exc}") from None
        for flag, value in itertools.pairwise(words):
            problem = names.project_problem(value) if flag in ("-p", "--project-name") else None
            if problem:
                raise ValueError(f"compose_args: {problem}")

    def plan(self, facts: Facts) -> Change | None:
        return Change(f"{self.args['source']} {', '.join(self.args['images'])}")

    def _remote_ids(self, conn: Connection) -> dict[str, str]:
        inspect = "docker image inspect --format '{{.Id}}'"
        refs = self.args["images"]
        script = "; ".join(f"{inspect} {q(ref)} 2>/dev/null || echo {_MISSING}" for ref in refs)
        result = conn.run(script)
        lines = result.text.split()
        return dict(zip(self.args["images"], lines, strict=False))

    def would_change(self, change: Change, conn: Connection) -> bool:
        """Check mode: for ``ship``, whether any image's ID differs between here and the host
        (read-only); a pull or build is assumed to change something."""
        if self.args["source"] != "ship":
            return True
        return local_image_ids(self.args["images"]) != self._remote_ids(conn)

    def apply(self, change: Change, conn: Connection) -> OpResult:
        before = self._remote_ids(conn)
        source = self.args["source"]
        if source == "ship":
            if not self._ship(conn, before):
                return OpResult(changed=False, message="images already present", data={"images": before})
        else:
            self._on_host(conn, source)
        after = self._remote_ids(conn)
        missing = [ref for ref, image_id in after.items() if image_id == _MISSING]
        if missing:
            raise TaskFailed(f"image(s) not available on the host after {source}: {', '.join(missing)}",
                             f"{source} {' '.join(missing)}")
        changed = [ref for ref in after if after[ref] != before.get(ref)]
        return OpResult(changed=bool(changed), message="images already present" if not changed else "",
                        data={"images": after, "updated": changed})

    def _ship(self, conn: Connection, remote: dict[str, str]) -> bool:
        """Send the images whose ID differs on the host; False when none had to travel."""
        local = local_image_ids(self.args["images"])
        absent = [ref for ref, image_id in local.items() if image_id == _MISSING]
        if absent:
            raise TaskFailed(f"cannot ship {', '.join(absent)}: not present on the controller "
                             "(build or pull it there first)", f"docker image inspect {' '.join(absent)}")
        needed = [ref for ref in self.args["images"] if local[ref] != remote.get(ref)]
        if not needed:
            return False
        with subprocess.Popen(["docker", "save", *needed], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) as saver:
            assert saver.stdout is not None and saver.stderr is not None  # both are pipes
            result = conn.run("docker load", stdin=saver.stdout)
            saver.wait()
            if saver.returncode != 0:
                raise TaskFailed("docker save failed on the controller", f"docker save {' '.join(needed)}",
                                 saver.returncode, saver.stderr.read().decode("utf-8", "replace")[-2000:])
        if not result.ok:
            raise TaskFailed("docker load failed on the host", "docker load", result.exit_code,
                             result.stderr_tail())
        return True

    def _on_host(self, conn: Connection, source: str) -> None:
        if source == "pull":
            command = " && ".join(f"docker pull --quiet {q(ref)}" for ref in self.args["images"])
        else:
            if not self.args.get("project_dir"):
                raise TaskFailed("image source 'build' needs project_dir", "docker compose build")
            command = sh("cd", self.args["project_dir"], Raw("&&"), "docker", "compose",
                         argv(self.args.get("compose_args", "")), "build")
        result = conn.run(command)
        if not result.ok:
            raise TaskFailed(f"docker {source} failed: the running release is untouched", command,
                             result.exit_code, result.stderr_tail())
