"""Layer-delta shipping, the pure part: ChainIDs, what the host has, the archive without the
layers the host holds (issue #18).  The integration test ships to a real engine."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from moorage.operations.image_layers import LAYERS_MARK, chain_ids, copy_whole, parse_host_layers, write_delta


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_chain_ids_follow_the_oci_rule() -> None:
    a, b, c = digest(b"a"), digest(b"b"), digest(b"c")
    ab = digest(f"{a} {b}".encode())
    assert chain_ids([a, b, c]) == [a, ab, digest(f"{ab} {c}".encode())]
    assert chain_ids([]) == []


def test_host_layers_are_every_prefix_of_every_image() -> None:
    a, b, c = digest(b"a"), digest(b"b"), digest(b"c")
    text = f"web:1 sha256:1 differs\n{LAYERS_MARK}\n[[\"Backing Filesystem\",\"extfs\"]]\n{a} {b} \n{c} \n"
    host = parse_host_layers(text)
    assert host.delta_ok
    assert host.chains == {a, chain_ids([a, b])[1], c}


def test_containerd_image_store_gets_whole_images() -> None:
    text = f'{LAYERS_MARK}\n[["driver-type","io.containerd.snapshotter.v1"]]\n{digest(b"a")} \n'
    assert not parse_host_layers(text).delta_ok


def test_no_listing_means_no_delta() -> None:
    assert not parse_host_layers("web:1 sha256:1 differs\n").delta_ok


def saved_archive(path: Path, layers: list[bytes]) -> list[str]:
    """A ``docker save``-shaped archive (classic layout) of one image with ``layers``."""
    diff_ids = [digest(layer) for layer in layers]
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    names = [f"{i:064x}/layer.tar" for i in range(len(layers))]
    files = {**dict(zip(names, layers, strict=True)), "cfg.json": config,
             "manifest.json": json.dumps([{"Config": "cfg.json", "RepoTags": ["web:2"], "Layers": names}]).encode()}
    with tarfile.open(path, "w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return diff_ids


def test_the_delta_leaves_out_the_layers_the_host_has(tmp_path: Path) -> None:
    base, top = b"base layer " * 5000, b"the new code " * 300
    diff_ids = saved_archive(tmp_path / "saved.tar", [base, top])
    out = io.BytesIO()
    sent = write_delta(tmp_path / "saved.tar", frozenset(chain_ids(diff_ids)[:1]), out)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(out.getvalue()))) as delta:
        names = delta.getnames()
        assert delta.extractfile(f"{1:064x}/layer.tar").read() == top  # type: ignore[union-attr]
    assert f"{0:064x}/layer.tar" not in names
    assert {"manifest.json", "cfg.json"} <= set(names)
    assert (sent.layers, sent.layers_total) == (1, 2)
    assert (sent.layer_bytes, sent.layer_bytes_total) == (len(top), len(base) + len(top))
    assert sent.wire_bytes == len(out.getvalue())


def test_a_layer_above_a_missing_one_is_sent(tmp_path: Path) -> None:
    """The host has a layer of that content, but on another base: its chain differs, it travels."""
    diff_ids = saved_archive(tmp_path / "saved.tar", [b"other base", b"same top"])
    sent = write_delta(tmp_path / "saved.tar", frozenset({diff_ids[1]}), io.BytesIO())
    assert sent.layers == 2


def test_progress_counts_the_bytes_sent_of_those_to_send(tmp_path: Path) -> None:
    base, top = b"base layer " * 5000, b"the new code " * 300
    diff_ids = saved_archive(tmp_path / "saved.tar", [base, top])
    seen: list[tuple[int, int]] = []
    write_delta(tmp_path / "saved.tar", frozenset(chain_ids(diff_ids)[:1]), io.BytesIO(),
                lambda done, total: seen.append((done, total)))
    done, total = seen[-1]
    assert done == total and len(top) <= total < len(top) + 2000  # the top layer, the config, the manifest

    whole: list[tuple[int, int]] = []
    out = io.BytesIO()
    size = copy_whole(tmp_path / "saved.tar", out, lambda done, total: whole.append((done, total)))
    assert out.getvalue() == (tmp_path / "saved.tar").read_bytes()
    assert whole[-1] == (size, size) == (len(out.getvalue()), len(out.getvalue()))
