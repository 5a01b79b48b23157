"""The tutorial's app (tests/tutorial): tasklist images, built locally on the test webapp runtime.

``build_tasklist("1.0")`` -> ``tasklist/app:1.0``: a few KB on top of ``moorage-test/webapp``
(Debian python3 + psycopg2), so each version builds in about a second once that image exists.
"""

from __future__ import annotations

from pathlib import Path

from testbed.images import build_tagged, ensure_image

TUTORIAL_DIR = Path(__file__).resolve().parents[1] / "tutorial"
REPOSITORY = "tasklist/app"


def build_tasklist(version: str) -> str:
    """Build ``tasklist/app:VERSION`` (1.0 knows migration 1; later versions migrations 1 and 2)."""
    runtime = ensure_image("webapp")
    ref = f"{REPOSITORY}:{version}"
    build_tagged(TUTORIAL_DIR / "app", [ref], {"RUNTIME": runtime, "APP_VERSION": version})
    return ref
