"""`moorage deploy --host pc`: the dev environment, with the local connection (no SSH), on this
machine's own Docker engine; Django (the stand-in) serves the media itself (DEBUG on)."""

from __future__ import annotations

import secrets
import subprocess

import pytest
from testbed.dm import ROOT
from testbed.dm_images import WEBAPP_V1, ensure_dm_image

from .helpers import moorage, request

PORT = 18000  # published on 127.0.0.1 only


@pytest.fixture
def pc_deploy(tmp_path):
    ensure_dm_image("webapp")
    postgres = ensure_dm_image("postgres")
    project = f"dmpc{secrets.token_hex(3)}"
    app_dir = tmp_path / "dm"
    (app_dir / "media" / "products").mkdir(parents=True)
    (app_dir / "media" / "products" / "forest_path.png").write_bytes(
        (ROOT / "examples/dm/media/products/forest_path.png").read_bytes())
    args = ["--set", f"app_dir={app_dir}", "--set", f"compose_project={project}", "--set", f"web_image={WEBAPP_V1}",
            "--set", f"db_image={postgres}", "--set", f"site_url=http://127.0.0.1:{PORT}",
            "--set", f"app_env_extra={{WEB_PUBLISH: '127.0.0.1:{PORT}'}}"]
    yield app_dir, args
    subprocess.run(["docker", "compose", "-p", project, "-f", "docker-compose.dev.yml", "down", "-v"],
                   cwd=app_dir / "current", capture_output=True, check=False, timeout=120)


def test_deploy_to_the_dev_pc_runs_locally_and_django_serves_media(pc_deploy):
    app_dir, args = pc_deploy
    run = moorage("deploy", "--host", "pc", "--inventory", ROOT / "inventory", "--json", *args, timeout=600)
    assert run.code == 0, run.stdout[-3000:] + run.stderr
    page = request(PORT, "/", host="localhost")
    assert page.status == 200 and 'id="app-version">v1<' in page.text
    media = request(PORT, "/media/products/forest_path.png", host="localhost")
    assert media.status == 200 and not media.headers.get("server", "").startswith("nginx")
    assert "DJANGO_DEBUG=1" in (app_dir / "current" / ".env").read_text()
    again = moorage("deploy", "--host", "pc", "--inventory", ROOT / "inventory", "--json", *args, timeout=600)
    assert again.code == 0 and again.recap("pc")["changed"] == 0
