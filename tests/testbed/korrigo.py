"""Korrigo's stand-in images (examples/korrigo/app), tagged with the guide's GHCR refs.

``build_korrigo("v1.1.0", migrations=3)`` -> ``ghcr.io/korrigo-org/korrigo-backend:v1.1.0`` and
``.../korrigo-nginx:v1.1.0``: a few KB on top of the test webapp and nginx images, about a second
per version once those exist.  Nothing is pushed anywhere: the deploy ships them (image_source: ship).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from testbed.images import ensure_image

APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "korrigo" / "app"
OWNER = "korrigo-org"


def build_korrigo(version: str, migrations: int = 2, broken: bool = False) -> list[str]:
    """Build the backend and nginx images of ``version``; returns their refs.  ``migrations``: how
    many migrations the backend knows; ``broken``: its copy listing fails (its smoke test too)."""
    refs = []
    for name, runtime, args in (
            ("backend", ensure_image("webapp"), {"MIGRATIONS": str(migrations), "BROKEN": "1" if broken else ""}),
            ("nginx", ensure_image("nginx"), {})):
        ref = f"ghcr.io/{OWNER}/korrigo-{name}:{version}"
        build_args = [word for key, value in {"RUNTIME": runtime, "KORRIGO_VERSION": version, **args}.items()
                      for word in ("--build-arg", f"{key}={value}")]
        proc = subprocess.run(["docker", "build", "--quiet", *build_args, "-t", ref, str(APP_DIR / name)],
                              capture_output=True, text=True, timeout=600, check=False,
                              env={**os.environ, "DOCKER_BUILDKIT": "0"})
        if proc.returncode != 0:
            raise RuntimeError(f"building {ref} failed:\n{proc.stderr[-2000:]}")
        refs.append(ref)
    return refs
