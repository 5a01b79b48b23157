"""`sync-media --delete` with a media_dir holding the app (the trial's data loss) is refused on a
real server before anything is sent: releases, the staged .env, backups and the audit log stay."""

from __future__ import annotations

import json

import pytest

from .test_sync import project, sync_media

APP = {"/srv/app/releases/1/release.json": "{}", "/srv/app/config/.env": "DB_PASSWORD=kept",
       "/srv/app/.moorage/audit.log": "deploy ok", "/srv/app/backups/shop.dump": "dump"}


def app_files(server) -> dict[str, str]:
    return {path: server.exec(f"cat {path}").stdout.decode() for path in APP}


@pytest.mark.parametrize(("inventory_value", "set_value"), [
    ("{{ app_dir }}", None), (None, "/srv/app/"), (None, "/srv")])
def test_sync_media_delete_into_the_app_is_refused_and_deletes_nothing(sshd_server, write_inventory, tmp_path,
                                                                        inventory_value, set_value):
    for path, content in APP.items():
        sshd_server.exec(f"mkdir -p $(dirname {path}) && printf %s '{content}' > {path}")
    fields = {"vars": {"media_dir": inventory_value}} if inventory_value else {}
    inventory = project(tmp_path, sshd_server, write_inventory, **fields)
    run = sync_media(inventory, "--delete", *(["--set", f"media_dir={set_value}"] if set_value else []))
    assert run.code == 1
    tasks = [json.loads(line) for line in run.stdout.splitlines() if '"kind": "task"' in line]
    assert [(t["task"], t["status"]) for t in tasks] == [
        ("media_dir is not app_dir, an ancestor of it, or a directory holding backup_dir", "failed")], tasks
    assert "would delete the releases, the staged .env and the backups" in tasks[0]["data"]["stderr"]
    assert app_files(sshd_server) == APP
