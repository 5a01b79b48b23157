"""The ``image`` operation: make a compose project's images present on the host.

Three ways, chosen per image (a default for the list, ``{ref, source}`` for one):
``pull`` from a registry by tag, ``build`` on the server (``docker compose build``),
or ``ship``: saved on the controller and loaded on the host through the SSH
connection (``docker save | docker load``), for servers without a registry — only the layers
the host lacks when it already has some of the image's layers (``image_layers``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import threading
from collections.abc import Callable
from typing import IO, Any, TypeVar

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
from moorage.operations.image_archive import SAVED
from moorage.operations.image_layers import (
    LAYERS_MARK,
    NO_ENGINE,
    HostLayers,
    chain_ids,
    copy_whole,
    host_layers_script,
    local_diff_ids,
    parse_host_layers,
    write_delta,
)
from moorage.operations.shell import Raw, argv, sh
from moorage.operations.sync_transport import Meter

_T = TypeVar("_T")

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
    images whose ID differs from the host's travel, in one stream, and of them only the layers
    the host lacks; one ``docker save`` per run serves every host).  An item
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
            "delta": {"type": "boolean", "default": True,
                      "description": "ship: send only the layers the host lacks (false: whole images, as "
                                     "`docker save | docker load`)."},
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
        listing, _, layers = result.text.partition(LAYERS_MARK)
        if NO_ENGINE in layers:  # else every image reads "missing" and the ship fails half-way, unclear
            raise TaskFailed(f"the Docker engine on {self.context.host} does not answer (docker info failed); "
                             "start it (e.g. systemctl start docker), then deploy again: nothing was shipped",
                             "docker info", result.exit_code, result.stderr_tail())
        before = _parse(listing)
        fetched = set(image_sources(self.args["images"], self.args["source"]).values()) - {"ship"}
        if isinstance(first, Check):
            if result.exit_code == 0 and not fetched:
                return OpResult(changed=False, message="images already present", data={"images": before})
            if last is None:
                return OpResult(changed=True)
        shipped: dict[str, str] = {}
        message, travelled = "", dict[str, object]()
        for step in acting:
            if isinstance(step, Ship):
                shipped = local_image_ids([line.split()[0] for line in listing.splitlines()
                                           if line.endswith(_DIFFERS)])
                host = parse_host_layers(LAYERS_MARK + layers) if self.args.get("delta", True) else None
                message, travelled = _ship(conn, step, shipped, host, self.context.progress)
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
        verified = self._verify(before, _parse(conn.run(last.script).text), shipped)
        verified.message = message or verified.message
        verified.data["shipped"] = travelled
        return verified

    def _verify(self, before: dict[str, str], after: dict[str, str], shipped: dict[str, str]) -> OpResult:
        """Every image on the host, each shipped one with the controller's ID (``shipped``)."""
        missing = [ref for ref, image_id in after.items() if image_id == _MISSING]
        if missing:
            sources = image_sources(self.args["images"], self.args["source"])
            how = sorted({sources.get(ref, self.args["source"]) for ref in missing})
            raise TaskFailed(f"image(s) not available on the host after {'/'.join(how)}: "
                             f"{', '.join(missing)}", f"{'/'.join(how)} {' '.join(missing)}")
        unlike = [f"{ref} is {after[ref]} there, {image_id} here" for ref, image_id in shipped.items()
                  if after.get(ref) != image_id]
        if unlike:
            raise TaskFailed("a shipped image differs from the controller's after docker load: " + "; ".join(unlike),
                             "docker load")
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
    # what the host has, for shipping only the layers it lacks: read only when something differs
    return "\n".join([*lines, 'if [ "$d" = 1 ]; then', host_layers_script(), "fi", "exit $d"])


def _parse(text: str) -> dict[str, str]:
    """``REF ID`` lines as a mapping (what follows the ID is left out)."""
    return {words[0]: words[1] for words in (line.split() for line in text.splitlines()) if len(words) >= 2}


def _ship(conn: Connection, step: Ship, needed: dict[str, str], host: HostLayers | None,
          progress: Callable[[str, dict[str, Any]], None]) -> tuple[str, dict[str, object]]:
    """Send ``needed`` (ref -> local ID) into ``step.command`` on the host: only the layers it
    lacks when it has some of them and its engine loads such an archive, else (or with no ``host``
    layers: ``delta`` false) the whole ``docker save`` archive.  The archive is saved once per run
    for every host (``image_archive``).  Returns what travelled: the task's message and ``{images,
    archive: saved|reused, wire_bytes}`` with ``whole`` (why) or ``{layers, layers_total,
    layer_bytes, layer_bytes_total}`` (uncompressed bytes of the layers sent, of all)."""
    if not needed:
        return "", {}
    refs = list(needed)
    shared = host is not None and host.delta_ok and any(
        chain in host.chains for ref in refs for chain in chain_ids(local_diff_ids(ref)))
    why = ("" if shared else "delta is false" if host is None else
           "the host's engine uses the containerd image store, which needs every layer" if not host.delta_ok
           else "the host has none of their layers")
    bar = _Bar(progress, f"ship {', '.join(refs)}" + (" whole" if why else " (missing layers)"))
    with SAVED.archive(needed) as (saved, reused):
        archive = "reused" if reused else "saved"
        if why:
            size = _stream(conn, step, lambda sink: copy_whole(saved, sink, bar), bar)
            return (f"shipped {', '.join(refs)} whole ({why}), {_mb(size)}",
                    {"images": refs, "whole": why, "wire_bytes": size, "archive": archive})
        chains = host.chains if host is not None else frozenset[str]()
        sent = _stream(conn, step, lambda sink: write_delta(saved, chains, sink, bar), bar)
    return (f"shipped {', '.join(refs)}: {sent.layers} of {sent.layers_total} layers "
            f"({_mb(sent.layer_bytes)} of {_mb(sent.layer_bytes_total)}), {_mb(sent.wire_bytes)} on the wire",
            {"images": refs, **dataclasses.asdict(sent), "archive": archive})


class _Bar:
    """A ``Meter`` made once the total is known (the first time the writer reports)."""

    def __init__(self, progress: Callable[[str, dict[str, Any]], None], summary: str) -> None:
        self.progress, self.summary = progress, summary
        self.meter: Meter | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.meter is None:
            self.meter = Meter(self.progress, self.summary, total)
        self.meter.update(done)

    def finish(self) -> None:
        if self.meter is not None:
            self.meter.finish()


def _mb(count: int) -> str:
    """``168.7 MB``, or ``3.7 kB`` under a tenth of a MB (a small layer isn't "0.0 MB")."""
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count / 1e3:.1f} kB"


def _stream(conn: Connection, step: Ship, write: Callable[[IO[bytes]], _T], bar: _Bar) -> _T:
    """``write`` into a pipe (a thread), the pipe into ``step.command`` on the host; ``write``'s
    result.  Raises ``TaskFailed`` when the host's command or ``write`` fails."""
    read_end, write_end = os.pipe()
    outcome: list[_T | BaseException] = []

    def writer() -> None:
        with os.fdopen(write_end, "wb") as sink:
            try:
                outcome.append(write(sink))
            except BaseException as exc:  # re-raised by the caller, in its thread
                outcome.append(exc)

    thread = threading.Thread(target=writer, name="moorage-ship", daemon=True)
    thread.start()
    try:
        with os.fdopen(read_end, "rb") as source:
            result = conn.run(step.command, stdin=source)
        thread.join()  # the read end is closed: a writer the host stopped reading gets EPIPE
    finally:
        bar.finish()
    if not result.ok:
        raise TaskFailed("docker load failed on the host", step.command, result.exit_code, result.stderr_tail())
    if isinstance(outcome[0], BaseException):
        raise TaskFailed(f"writing the image archive failed: {outcome[0]}", "docker save")
    return outcome[0]
