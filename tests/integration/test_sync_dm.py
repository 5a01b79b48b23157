"""Media served: the DM project's nexus environment on a server with its own Docker engine, the
shared proxy up (`moorage play playbooks/proxy.yml`: Traefik + nginx-static, as `deploy` starts
it), then `moorage sync-media --host nexus`: the media, and a new image added afterwards, are
served by nginx-static through Traefik (`Server: nginx`, `Host: dm.nexus.local`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import time

from testbed.dm import APP_DIR, DM_HOST, ROOT, prepare_project
from testbed.dm_images import ensure_dm_image

from .helpers import moorage, request


def routed(port: int, path: str):
    """``path`` through Traefik, asked again (at most 15 s) while Traefik itself answers 404: its docker
    provider routes a container it has just seen within seconds; a 404 from nginx (a file that isn't
    there) or any other answer is returned at once."""
    deadline = time.monotonic() + 15
    while True:
        answer = request(port, path, host=DM_HOST)
        if answer.status != 404 or answer.headers.get("server") or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_synced_media_and_a_new_image_are_served_through_traefik(testbed, fresh_server, tmp_path):
    server = fresh_server("dockerhost", name="dm-media", publish=(80,))
    refs = {name: ensure_dm_image(name) for name in ("nginx", "traefik")}
    testbed.load_images(server, refs.values())
    inventory = prepare_project(server, {**refs, "webapp": "unused:v1", "postgres": "unused:v1"}, tmp_path / "p")
    media = tmp_path / "media"  # the project's media tree (a copy: examples/ is the repository's)
    shutil.copytree(ROOT / "examples/dm/media", media)
    proxy = moorage("play", "proxy", "--host", "nexus", "--inventory", inventory,
                    "--json", timeout=600)
    assert proxy.code == 0, proxy.stdout[-3000:] + proxy.stderr

    first = moorage("sync-media", "--host", "nexus", "--inventory", inventory, "--set", f"media_src={media}")
    assert first.code == 0, first.stdout + first.stderr
    assert "sent 3 file(s)" in first.stdout and f"{APP_DIR}/media" in first.stdout
    served = routed(server.ports[80], "/media/products/ocean_waves.png")
    assert served.status == 200 and served.headers["server"].startswith("nginx")
    assert served.body == (media / "products/ocean_waves.png").read_bytes()

    new = os.urandom(40_000)
    (media / "products" / "pack-ocean.png").write_bytes(new)
    second = moorage("sync-media", "--host", "nexus", "--inventory", inventory, "--set", f"media_src={media}",
                     "--json")
    assert second.code == 0, second.stdout + second.stderr
    task = [e for e in second.events if e["kind"] == "task"][-1]  # the sync, after the role's media_dir check
    assert (task["status"], task["data"]["files"], task["data"]["bytes"]) == ("changed", 1, 40_000)
    served = request(server.ports[80], "/media/products/pack-ocean.png", host=DM_HOST)
    assert served.status == 200 and served.headers["server"].startswith("nginx")
    assert hashlib.sha256(served.body).hexdigest() == hashlib.sha256(new).hexdigest()
