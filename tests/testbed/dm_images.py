"""DM app image versions for deploy tests and the demo: v1 is the built `webapp` image, later
versions are built on top of it in about a second each."""

from __future__ import annotations

import os
import subprocess

from testbed.images import APP_DIR, build_lock, ensure_image
from testbed.servers import docker

WEBAPP_V1 = "moorage-test/webapp:v1"


def ensure_dm_image(name: str) -> str:
    """Build (or reuse) a DM image; the webapp is also tagged ``moorage-test/webapp:v1``."""
    ref = ensure_image(name)
    if name == "webapp":
        docker("tag", ref, WEBAPP_V1)
        return WEBAPP_V1
    return ref


def build_webapp_version(tag: str, version: str, base: str = WEBAPP_V1, **env: str) -> str:
    """Build the app at ``examples/dm/app`` on top of ``base`` as ``tag`` (``APP_VERSION=version``).

    ``env`` is baked into the image as ENV (``HEALTH_FAIL="1"`` makes a release whose
    readiness never passes, ``MIGRATE_FAIL="1"`` one whose migration fails).  A few KB and
    ~1 s per version: every other layer is v1's.  Returns the image id.
    """
    def build(*args: str, stdin: str | None = None) -> None:
        proc = subprocess.run(["docker", "build", "--quiet", *args], input=stdin, capture_output=True,
                              text=True, timeout=300, check=False, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        if proc.returncode != 0:
            raise RuntimeError(f"building {tag} failed:\n{proc.stderr[-2000:]}")

    with build_lock():  # two modules (xdist workers) building one tag: the second finds it cached
        build("--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"APP_VERSION={version}", "-t", tag,
              str(APP_DIR))
        if env:
            plain = docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
            build("-t", tag, "-", stdin=f"FROM {plain}\n" + "".join(f"ENV {k}={v}\n" for k, v in env.items()))
            docker("rmi", plain, check=False)  # now untagged: only the layered image remains
        return docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
