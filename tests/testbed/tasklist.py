"""The tutorial's app (tests/tutorial): tasklist images, built locally on the test webapp runtime.

``build_tasklist("1.0")`` -> ``tasklist/app:1.0``: a few KB on top of ``moorage-test/webapp``
(Debian python3 + psycopg2), so each version builds in about a second once that image exists.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from testbed.images import build_lock, ensure_image

TUTORIAL_DIR = Path(__file__).resolve().parents[1] / "tutorial"
REPOSITORY = "tasklist/app"


def build_tasklist(version: str) -> str:
    """Build ``tasklist/app:VERSION`` (1.0 knows migration 1; later versions migrations 1 and 2)."""
    runtime = ensure_image("webapp")
    ref = f"{REPOSITORY}:{version}"
    with build_lock():  # two modules (xdist workers) building one tag: the second finds it cached
        proc = subprocess.run(["docker", "build", "--quiet", "--build-arg", f"RUNTIME={runtime}",
                               "--build-arg", f"APP_VERSION={version}", "-t", ref, str(TUTORIAL_DIR / "app")],
                              capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if proc.returncode != 0:
        raise RuntimeError(f"building {ref} failed:\n{proc.stderr[-2000:]}")
    return ref
