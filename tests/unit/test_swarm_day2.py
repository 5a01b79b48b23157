"""Day-2 commands on a swarm: the shell they send to the first manager."""

from __future__ import annotations

import subprocess
from typing import Any, cast

from moorage.recipes.day2 import App, logs_arguments, service_logs
from moorage.recipes.services import _swarm_run


def app() -> App:
    return App(host=cast(Any, None), app_dir="/srv/shop", compose_project="shop", compose_files=("compose.yml",),
               health_url="", health_headers={}, backup_dir="/srv/backups", backup_databases=[])


def test_logs_follow_streams_every_service_at_once_or_the_one_asked():
    every = service_logs(app(), logs_arguments(20, "", follow=True), "")
    assert every == ("for s in $(docker stack services --format '{{.Name}}' shop ); do docker service logs "
                     "--tail 20 --follow \"$s\" 2>&1 & done; wait")
    one = service_logs(app(), logs_arguments(20, "10m", follow=True), "web")
    assert one == "docker service logs --tail 20 --since 10m --follow shop_web"
    assert service_logs(app(), logs_arguments(5, "", follow=False), "").endswith('"$s" 2>&1; done')


def test_run_is_a_one_off_container_on_the_stacks_network_its_override_removed():
    line = _swarm_run(app(), "web", ["sh", "-c", "echo $HOME"], tty=False)
    assert line.startswith("cd /srv/shop/current && o=$(mktemp) && printf '%s' 'networks:")
    assert ("docker compose -p shop -f stack.yml -f \"$o\" run --rm --no-deps -T web sh -c 'echo $HOME'; "
            "rc=$?; rm -f \"$o\"; exit $rc") in line
    assert subprocess.run(["sh", "-n", "-c", line]).returncode == 0  # the shell reads it
    assert "-T" not in _swarm_run(app(), "web", ["true"], tty=True).split()
