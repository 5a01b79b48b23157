"""Shipping an image a layer at a time: send the host only the layers it lacks.

An image is a stack of layers, each named by its ``DiffID`` (the sha256 of the layer's
uncompressed tar) in the image config's ``rootfs.diff_ids``.  An engine stores a layer under its
``ChainID``, which names the layer *together with everything below it* (OCI image spec,
config.md "Layer ChainID": ``ChainID(L0) = DiffID(L0)``, ``ChainID(L0..Ln) =
sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))``).  The classic engine's ``docker load`` (graph
drivers: overlay2...) looks each layer of a ``manifest.json`` up by its ChainID first and opens
the layer's file only when the engine lacks it (moby ``image/tarexport/load.go``), so an archive
holding ``manifest.json``, the configs and only the missing layers loads into the same image.
The containerd image store (``driver-type io.containerd.snapshotter.v1``) checks every blob: such
a host gets whole images.

``docker load`` reads a gzip-compressed archive as well (it sniffs the compression), which is how
the delta travels.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from moorage.operations.shell import Raw, sh

LAYERS_MARK = "@@moorage-layers"
CONTAINERD_STORE = "io.containerd.snapshotter"


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """The ChainID of each layer of a stack given bottom first (``sha256:...`` strings)."""
    chains: list[str] = []
    for diff_id in diff_ids:
        chains.append(diff_id if not chains else
                      "sha256:" + hashlib.sha256(f"{chains[-1]} {diff_id}".encode()).hexdigest())
    return chains


NO_ENGINE = "@@moorage-no-engine"  # the host's ``docker info`` failed: its engine doesn't answer


def host_layers_script() -> str:
    """Read-only: the engine's store kind (``NO_ENGINE`` when the engine doesn't answer), then one
    line per image on the host: its DiffIDs."""
    return "\n".join([f"echo {LAYERS_MARK}", sh("docker", "info", "--format", "{{json .DriverStatus}}",
                                                  Raw(f"|| echo {NO_ENGINE}")),
                      sh("docker", "image", "ls", "-q", "--no-trunc", Raw("| sort -u | xargs -r"), "docker", "image",
                         "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}")])


@dataclass(frozen=True)
class HostLayers:
    """What the host's engine holds: the ChainIDs of its layers, and whether it can load a delta."""

    chains: frozenset[str]
    delta_ok: bool


def parse_host_layers(text: str) -> HostLayers:
    """``host_layers_script``'s output (what follows ``LAYERS_MARK``; without it, nothing is known)."""
    if LAYERS_MARK not in text:
        return HostLayers(frozenset(), False)
    lines = text.split(LAYERS_MARK, 1)[1].strip().splitlines()
    store, images = (lines[0] if lines else ""), lines[1:]
    chains = {chain for line in images for chain in chain_ids(line.split())}
    return HostLayers(frozenset(chains), bool(lines) and CONTAINERD_STORE not in store)


def local_diff_ids(ref: str) -> list[str]:
    """The DiffIDs of an image on the controller, bottom first ([] when docker can't say)."""
    proc = subprocess.run(["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref],
                          capture_output=True, text=True, check=False)
    return list(json.loads(proc.stdout or "null") or []) if proc.returncode == 0 else []


@dataclass
class Sent:
    """What a delta archive held: layers sent of all, and bytes (uncompressed layer bytes sent,
    uncompressed bytes of all the images' layers, bytes written on the wire)."""

    layers: int = 0
    layers_total: int = 0
    layer_bytes: int = 0
    layer_bytes_total: int = 0
    wire_bytes: int = 0


class _Counting:
    """A binary sink that counts what is written through it."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink, self.count = sink, 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return self.sink.write(data)

    def flush(self) -> None:
        self.sink.flush()


def layer_files(archive: tarfile.TarFile, have: frozenset[str]) -> tuple[set[str], set[str]]:
    """The layer files of a ``docker save`` archive (``manifest.json``'s ``Layers``), and those of
    them whose layer the host has (by ChainID) for every image that uses the file."""
    needed: set[str] = set()
    present: set[str] = set()
    for entry in json.load(_member(archive, "manifest.json")):
        config = json.load(_member(archive, entry["Config"]))
        for path, chain in zip(entry["Layers"], chain_ids(config["rootfs"]["diff_ids"]), strict=True):
            (present if chain in have else needed).add(path)
    return needed | present, present - needed


def _member(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    found = archive.extractfile(name)
    if found is None:
        raise ValueError(f"docker save's archive has no file {name}")
    return found


Progress = Callable[[int, int], None]  # (bytes done, bytes in all), as a transfer advances


def write_delta(saved: Path, have: frozenset[str], out: IO[bytes], progress: Progress | None = None) -> Sent:
    """Copy the ``docker save`` archive ``saved`` to ``out`` gzip-compressed, without the layer
    files the host has (``have``: ChainIDs); ``progress`` follows the archive's bytes read (of
    those sent).  Raises ``ValueError`` for an archive without a readable manifest."""
    sent = Sent()
    counted = _Counting(out)
    with tarfile.open(saved) as archive:
        layers, skip = layer_files(archive, have)
        sent.layers_total = len(layers)
        members = [member for member in archive.getmembers() if member.name not in skip]
        reading = _Reading(sum(member.size for member in members), progress)
        with gzip.GzipFile(fileobj=counted, mode="wb", compresslevel=1) as zipped, \
                tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT) as delta:
            for member in archive.getmembers():
                if member.name in layers:
                    sent.layer_bytes_total += member.size
                    if member.name in skip:
                        continue
                    sent.layers += 1
                    sent.layer_bytes += member.size
                source = archive.extractfile(member) if member.isfile() else None
                delta.addfile(member, reading.through(source) if source is not None else None)
    sent.wire_bytes = counted.count
    return sent


def copy_whole(saved: Path, out: IO[bytes], progress: Progress | None = None) -> int:
    """Copy ``saved`` to ``out`` as it is (what ``docker save`` would stream); returns its bytes."""
    reading = _Reading(saved.stat().st_size, progress)
    with saved.open("rb") as source:
        shutil.copyfileobj(reading.through(source), out, 1 << 20)
    return reading.done


class _Reading:
    """Counts the bytes read through the file objects it wraps (``through``), told to ``progress``."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def through(self, source: IO[bytes]) -> IO[bytes]:
        return _Read(source, self)  # type: ignore[return-value]  # read() is all tarfile and copyfileobj use


class _Read:
    def __init__(self, source: IO[bytes], reading: _Reading) -> None:
        self.source, self.reading = source, reading

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.reading.done += len(data)
        if self.reading.progress is not None:
            self.reading.progress(self.reading.done, self.reading.total)
        return data
