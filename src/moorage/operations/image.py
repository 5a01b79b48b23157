"""The ``image`` operation: make a compose project's images present on the host.

Three ways, chosen per image (a default for the list, ``{ref, source}`` for one):
``pull`` from a registry by tag, ``build`` on the server (``docker compose build``),
or ``ship``: saved on the controller and loaded on the host through the SSH
connection (``docker save | docker load``), for servers without a registry.
"""

from __future__ import annotations

import itertools
import subprocess

from moorage.connection.base import Connection
from moorage.operations import names
from moorage.operations.base import (
    Change,
    Check,
    Facts,
    Operation,
    OpResult,
    PlanError,
    Shell,
    Ship,
    Step,
    TaskFailed,
    register,
)
from moorage.operations.shell import Raw, argv, sh

_MISSING = "missing"
SOURCES = ("pull", "build", "ship")
# One entry of an image list (the image operation's `images`, compose_app's `app_images`): a ref, or a
# ref with its own source.  `type: [string, object]` rather than oneOf, so an unknown key of the
# mapping gets its own "did you mean" instead of "matches none of the alternatives".
IMAGE_ITEM = {"type": ["string", "object"], "minLength": 1, "required": ["ref"], "additionalProperties": False,
              "properties": {"ref": {"type": "string", "minLength": 1, "description": "The image reference."},
                             "source": {"enum": list(SOURCES), "description": "pull, build or ship."}}}


def image_sources(images: list[str | dict[str, str]], default: str) -> dict[str, str]:
    """``images`` (refs, or ``{ref, source}``) as ref -> source, in order, each ref once (services
    sharing an image list it once).  Raises ``ValueError`` for a ref given two different sources."""
    sources: dict[str, str] = {}
    for item in images:
        ref, source = (item, default) if isinstance(item, str) else (item["ref"], item.get("source", default))
        if sources.setdefault(ref, source) != source:
            raise ValueError(f"image {ref} is listed with two sources, {sources[ref]} and {source}: keep one")
    return sources


def image_refs(images: list[str | dict[str, str]]) -> list[str]:
    """The refs of ``images`` (refs or ``{ref, source}``), each once, in order."""
    return list(dict.fromkeys(item if isinstance(item, str) else item["ref"] for item in images))


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
    images whose ID differs from the host's travel, in one stream).  An item
    ``{ref: R, source: S}`` gives one image its own source, so registry images, built
    ones and shipped ones mix in one list; a ref listed twice is handled once.

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
            "images": {"type": "array", "minItems": 1, "items": IMAGE_ITEM,
                       "description": "Image references (name:tag), each a string (reaching the host by "
                                      "`source`) or `{ref, source}` (its own way); a ref listed twice "
                                      "is handled once."},
            "source": {"enum": list(SOURCES), "description": "pull, build or ship: how a plain string of "
                                                            "`images` reaches the host."},
            "project_dir": {"type": "string", "pattern": "^/",
                            "description": "Compose project directory (for build)."},
            "compose_args": {"type": "string",
                             "description": "Extra docker compose arguments for build (-f, -p, --env-file), "
                                            "split into words the way a shell would (nothing is expanded); "
                                            "-p must be a valid compose project name."},
        },
    }

    def validate(self) -> None:
        """``compose_args`` splits into words, a ``-p`` names a valid compose project, and no image
        is given two sources."""
        image_sources(self.args["images"], self.args["source"])
        try:
            words = argv(self.args.get("compose_args", ""))
        except ValueError as exc:
            raise ValueError(f"compose_args cannot be split into words: {exc}") from None
        for flag, value in itertools.pairwise(words):
            problem = names.project_problem(value) if flag in ("-p", "--project-name") else None
            if problem:
                raise ValueError(f"compose_args: {problem}")

    def plan(self, facts: Facts) -> Change | None:
        """The image IDs on the host first: a ``Check`` when some images are shipped (it compares
        their host IDs with the controller's, read now from this machine's docker; exit 0 when all
        are the same), a plain read otherwise.  Then, by source: one ``docker pull`` per pulled
        image, one ``docker compose build``, the shipped images that differ saved here and loaded
        there; then the IDs again (changed when one differs).  Raises ``PlanError`` when an image
        can't be obtained."""
        sources = image_sources(self.args["images"], self.args["source"])
        by_source = {source: [ref for ref, s in sources.items() if s == source] for source in SOURCES}
        refs = list(sources)
        steps: list[Step] = []
        if by_source["ship"]:
            local = local_image_ids(by_source["ship"])
            absent = [ref for ref, image_id in local.items() if image_id == _MISSING]
            if absent:
                raise PlanError(f"cannot ship {', '.join(absent)}: not present on the controller "
                                "(build or pull it there first)")
            steps.append(Check(_compare(local, [ref for ref in refs if ref not in local])))
        else:
            steps.append(Shell(_ids(refs)))
        if by_source["pull"]:
            steps.append(Shell(" && ".join(sh("docker", "pull", "--quiet", ref) for ref in by_source["pull"])))
        if by_source["build"]:
            if not self.args.get("project_dir"):
                raise PlanError("image source 'build' needs project_dir")
            steps.append(Shell(sh("cd", self.args["project_dir"], Raw("&&"), "docker", "compose",
                                  argv(self.args.get("compose_args", "")), "build")))
        if by_source["ship"]:
            steps.append(Ship(tuple(by_source["ship"])))
        summary = "; ".join(f"{source} {', '.join(found)}" for source, found in by_source.items() if found)
        return Change(summary, [*steps, Shell(_ids(refs))])

    def apply(self, change: Change, conn: Connection) -> OpResult:
        """Read the IDs (or ask the ``Check``), pull/build (or ship what differs), read the IDs
        again.  In check mode (the ``Check`` alone): changed when a shipped image differs or an
        image is pulled or built (what a registry or a build would give can't be known
        beforehand)."""
        first, *acting, last = change.steps if len(change.steps) > 1 else [*change.steps, None]
        if not isinstance(first, Shell | Check):
            raise PlanError(f"internal: the plan of '{change.summary}' starts with no script")
        result = conn.run(first.script)
        before = _parse(result.text)
        fetched = set(image_sources(self.args["images"], self.args["source"]).values()) - {"ship"}
        if isinstance(first, Check):
            if result.exit_code == 0 and not fetched:
                return OpResult(changed=False, message="images already present", data={"images": before})
            if last is None:
                return OpResult(changed=True)
        for step in acting:
            if isinstance(step, Ship):
                _ship(conn, step, [line.split()[0] for line in result.text.splitlines() if line.endswith(_DIFFERS)])
                continue
            if not isinstance(step, Shell):
                continue
            done = conn.run(step.script)
            if not done.ok:
                verb = "pull" if step.script.startswith("docker pull") else "build"
                raise TaskFailed(f"docker {verb} failed: the running release is untouched",
                                 step.script, done.exit_code, done.stderr_tail())
        if not isinstance(last, Shell):
            raise PlanError(f"internal: the plan of '{change.summary}' ends with no script")
        return self._verify(before, _parse(conn.run(last.script).text))

    def _verify(self, before: dict[str, str], after: dict[str, str]) -> OpResult:
        missing = [ref for ref, image_id in after.items() if image_id == _MISSING]
        if missing:
            sources = image_sources(self.args["images"], self.args["source"])
            how = sorted({sources.get(ref, self.args["source"]) for ref in missing})
            raise TaskFailed(f"image(s) not available on the host after {'/'.join(how)}: "
                             f"{', '.join(missing)}", f"{'/'.join(how)} {' '.join(missing)}")
        changed = [ref for ref in after if after[ref] != before.get(ref)]
        return OpResult(changed=bool(changed), message="images already present" if not changed else "",
                        data={"images": after, "updated": changed})


_DIFFERS = " differs"


def _inspect(ref: str) -> str:
    """The image's ID on the host, or ``missing`` (docker may print an empty line then)."""
    return sh("docker", "image", "inspect", "--format", "{{.Id}}", ref, Raw(f"2>/dev/null | grep . || echo {_MISSING}"))


def _ids(refs: list[str]) -> str:
    """Prints ``REF ID`` per image (``missing`` when absent)."""
    return "; ".join(sh("printf", "%s %s\\n", ref, Raw(f'"$({_inspect(ref)})"')) for ref in refs)


def _compare(local: dict[str, str], others: list[str]) -> str:
    """Read-only: prints ``REF ID`` per image (the host's ID), followed by `` differs`` when it is
    not the controller's; exits 0 when every image is the same.  ``others`` (not shipped) are
    only read, never compared."""
    lines = ["d=0"]
    for ref, image_id in local.items():
        lines.append(f"i=$({_inspect(ref)}); " + sh("printf", "%s %s", ref, Raw('"$i"; if [ "$i" ='), image_id,
                                                     Raw("]; then echo; else echo"), _DIFFERS,
                                                     Raw("; d=1; fi")))
    if others:
        lines.append(_ids(others))
    return "\n".join([*lines, "exit $d"])


def _parse(text: str) -> dict[str, str]:
    """``REF ID`` lines as a mapping (what follows the ID is left out)."""
    return {words[0]: words[1] for words in (line.split() for line in text.splitlines()) if len(words) >= 2}


def _ship(conn: Connection, step: Ship, needed: list[str]) -> None:
    """``docker save`` here, streamed into ``step.command`` on the host."""
    if not needed:
        return
    with subprocess.Popen(["docker", "save", *needed], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as saver:
        result = conn.run(step.command, stdin=saver.stdout)
        saver.wait()
        if saver.returncode != 0:
            error = saver.stderr.read() if saver.stderr is not None else b""
            raise TaskFailed("docker save failed on the controller", f"docker save {' '.join(needed)}",
                             saver.returncode, error.decode("utf-8", "replace")[-2000:])
    if not result.ok:
        raise TaskFailed("docker load failed on the host", step.command, result.exit_code, result.stderr_tail())
