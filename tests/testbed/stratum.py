"""Stratum's stand-in images (examples/stratum/app), built locally on the test webapp runtime.

``build_stratum("1.0.0")`` -> ``stratum/backend:1.0.0`` and ``stratum/frontend:1.0.0``: a few KB
each on top of ``moorage-test/webapp`` (Debian python3 + psycopg2), about a second per version
once that image exists.  Backend 1.0.x knows migration 1, later versions migrations 1 and 2.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from testbed.images import ensure_image

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "stratum"


def build_stratum(version: str) -> list[str]:
    """Build the backend and frontend images of ``version``; returns their refs."""
    runtime = ensure_image("webapp")
    refs = []
    for part in ("backend", "frontend"):
        ref = f"stratum/{part}:{version}"
        proc = subprocess.run(["docker", "build", "--quiet", "--build-arg", f"RUNTIME={runtime}",
                               "--build-arg", f"APP_VERSION={version}", "-t", ref, str(EXAMPLE_DIR / "app" / part)],
                              capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, "DOCKER_BUILDKIT": "0"})
        if proc.returncode != 0:
            raise RuntimeError(f"building {ref} failed:\n{proc.stderr[-2000:]}")
        refs.append(ref)
    return refs
