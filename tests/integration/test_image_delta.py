"""Layer-delta image shipping on a real engine (issue #18): v1 of an image travels whole, v2 —
one small layer on top — travels as that layer alone, and the host ends with the controller's
image (same ID) either way.  The host's layer store is read back to check moorage's ChainIDs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from testbed.images import build_tagged, ensure_image
from testbed.servers import write_inventory

from moorage.operations.image_layers import chain_ids, local_diff_ids

from .helpers import Run, moorage, write_playbook

pytestmark = pytest.mark.integration

V1, V2, V3 = "moorage-test/delta:1", "moorage-test/delta:2", "moorage-test/delta:3"
BASE_MB, TOP_KB = 4, 300  # random bytes: compression can't shrink them


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """v1 = busybox + 4 MB of random bytes, v2 = v1 + 300 KB more, v3 = v2 + 300 KB more; their tags
    removed at the end."""
    base = ensure_image("busybox")
    context = tmp_path_factory.mktemp("delta")
    (context / "Dockerfile").write_text(f"FROM {base}\nRUN head -c {BASE_MB}000000 /dev/urandom > /base.bin\n")
    build_tagged(context, [V1], {})
    (context / "Dockerfile").write_text(f"FROM {V1}\nRUN head -c {TOP_KB}000 /dev/urandom > /code.bin\n")
    build_tagged(context, [V2], {})
    (context / "Dockerfile").write_text(f"FROM {V2}\nRUN head -c {TOP_KB}000 /dev/urandom > /more.bin\n")
    build_tagged(context, [V3], {})
    yield {ref: _local_id(ref) for ref in (V1, V2, V3)}
    subprocess.run(["docker", "image", "rm", V1, V2, V3], capture_output=True, check=False)


def _local_id(ref: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def project(testbed, tmp_path_factory: pytest.TempPathFactory, images) -> Iterator[tuple]:
    server = testbed.start("dockerhost", name="delta")
    root = tmp_path_factory.mktemp("delta-project")
    inventory = write_inventory(root / "inventory", {"vps": server}, project="delta")
    yield server, root, inventory
    testbed.stop(server)


def ship(root: Path, inventory: Path, ref: str) -> tuple[Run, dict]:
    playbook = write_playbook(root / "book", [{"name": "ship", "image": {"images": [ref], "source": "ship"}}],
                              name=f"ship-{ref.rsplit(':', 1)[1]}.yml")
    run = moorage("play", playbook, "--host", "vps", "--inventory", inventory, "--json")
    assert run.code == 0, run.stdout + run.stderr
    task = next(t for t in run.tasks("vps") if t["task"] == "ship")
    return run, task


def test_v1_whole_then_v2_only_its_new_layer(project, images) -> None:
    server, root, inventory = project
    task = ship(root, inventory, V1)[1]
    assert task["data"]["shipped"]["whole"] == "the host has none of their layers"
    assert _host_id(server, V1) == images[V1]

    task = ship(root, inventory, V2)[1]
    assert _host_id(server, V2) == images[V2], "the loaded image differs from the controller's"
    shipped = task["data"]["shipped"]
    assert (shipped["layers"], shipped["layers_total"]) == (1, len(local_diff_ids(V2)))
    top = shipped["layer_bytes"]
    assert TOP_KB * 1000 <= top < TOP_KB * 1000 + 64 * 1024  # the new layer's tar: the file + headers
    assert shipped["wire_bytes"] <= 1.1 * top + 64 * 1024, shipped
    assert shipped["layer_bytes_total"] > BASE_MB * 1_000_000

    again = ship(root, inventory, V2)[0]
    assert again.recap("vps")["changed"] == 0


def test_chain_ids_are_the_engines(project, images) -> None:
    """moorage names the host's layers as its engine does (overlay2's layerdb is keyed by ChainID)."""
    server = project[0]
    stored = set(server.exec("ls /var/lib/docker/image/overlay2/layerdb/sha256/").stdout.decode().split())
    assert {c.split(":", 1)[1] for c in chain_ids(local_diff_ids(V2))} <= stored


def _host_id(server, ref: str) -> str:
    return server.exec(f"docker image inspect --format '{{{{.Id}}}}' {ref}").stdout.decode().strip()


@pytest.fixture(scope="module")
def fleet(testbed, tmp_path_factory: pytest.TempPathFactory, images) -> Iterator[tuple]:
    """Two fresh hosts, ``a`` and ``b``, in one environment ``fleet``."""
    servers = {name: testbed.start("dockerhost", name=f"delta-{name}") for name in ("a", "b")}
    root = tmp_path_factory.mktemp("delta-fleet")
    inventory = write_inventory(root / "inventory", servers, {"fleet": ["a", "b"]}, project="fleet")
    yield servers, root, inventory
    for server in servers.values():
        testbed.stop(server)


def test_two_hosts_each_get_what_they_lack_from_one_docker_save(fleet, images) -> None:
    """a holds v1, b nothing: in one run a gets v2's new layer, b the whole image, from one save."""
    servers, root, inventory = fleet
    book = write_playbook(root / "book", [{"name": "ship", "image": {"images": [V1], "source": "ship"}}])
    assert moorage("play", book, "--host", "a", "--inventory", inventory).code == 0
    assert _host_id(servers["a"], V1) == images[V1]

    book = write_playbook(root / "book", [{"name": "ship", "image": {"images": [V2], "source": "ship"}}],
                          name="v2.yml")
    run = moorage("play", book, "--host", "fleet", "--inventory", inventory, "--json")
    assert run.code == 0, run.stdout + run.stderr
    shipped = {host: next(t for t in run.tasks(host) if t["task"] == "ship")["data"]["shipped"]
               for host in ("a", "b")}
    assert (shipped["a"]["layers"], shipped["a"]["layers_total"]) == (1, len(local_diff_ids(V2)))
    assert shipped["a"]["wire_bytes"] <= 1.1 * shipped["a"]["layer_bytes"] + 64 * 1024
    assert shipped["b"]["whole"] == "the host has none of their layers"
    assert shipped["b"]["wire_bytes"] > BASE_MB * 1_000_000 + TOP_KB * 1000
    assert sorted(s["archive"] for s in shipped.values()) == ["reused", "saved"], "docker save ran twice"
    for name, server in servers.items():
        assert _host_id(server, V2) == images[V2], f"{name}'s image differs from the controller's"


def test_plays_of_one_run_share_the_save_as_a_swarm_deploy_does(fleet, images) -> None:
    """A swarm deploy ships to the other nodes in one play (playbooks/swarm.yml, "images on every
    node"), then to the first manager in the deploy's play: one process, one ``docker save``."""
    servers, root, inventory = fleet  # both hold v2 (the test before)
    tasks = [{"name": "ship", "image": {"images": [V3], "source": "ship"}}]
    book = root / "book" / "swarm-shaped.yml"
    book.write_text(yaml.safe_dump([{"name": "images on every node", "hosts": "b", "tasks": tasks},
                                    {"name": "deploy on the manager", "hosts": "a", "tasks": tasks}]))
    run = moorage("play", book, "--host", "fleet", "--inventory", inventory, "--json")
    assert run.code == 0, run.stdout + run.stderr
    shipped = [next(t for t in run.tasks(host) if t["task"] == "ship")["data"]["shipped"] for host in ("b", "a")]
    assert [(s["layers"], s["archive"]) for s in shipped] == [(1, "saved"), (1, "reused")]
    for name, server in servers.items():
        assert _host_id(server, V3) == images[V3], f"{name}'s image differs from the controller's"
