"""A private registry, as a new user meets one: the server's docker logs in with a token kept in the
controller's environment, pulls a pinned image from the registry, and ships the image built on this
machine beside it; a rerun changes nothing, and the token is never in the output, the JSON report,
the audit log, the release, or any process list on either machine.

The registry is Debian's ``docker-registry`` (2.8) inside the test server, on 127.0.0.1:5000 with
htpasswd auth (TESTBED.md "A private registry"); the image it serves is the test busybox, pushed
there by the test and removed from the server's engine so the deploy really pulls it.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import threading
from pathlib import Path

import pytest
import yaml
from testbed import write_inventory
from testbed.images import ensure_image

from .helpers import moorage

TOKEN = "reg-T0ken-8c41e2"  # what the registry's htpasswd holds for user bot
REGISTRY = "127.0.0.1:5000"
PINNED = f"{REGISTRY}/shop/worker:1.0"
APP = "/srv/shop"
REGISTRY_CONFIG = f"""version: 0.1
storage: {{filesystem: {{rootdirectory: /var/lib/docker-registry}}}}
http: {{addr: "{REGISTRY}"}}
auth: {{htpasswd: {{realm: moorage-test, path: /etc/docker/registry/htpasswd}}}}
"""


@pytest.fixture(scope="module")
def server(testbed):
    """A server with its own docker and a private registry holding PINNED; docker logged out."""
    server = testbed.start("dockerhost", name="registry", publish=[])
    setup = server.exec("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                        "--no-install-recommends docker-registry apache2-utils", timeout=600)
    assert setup.returncode == 0, setup.stderr[-2000:]
    server.exec("cat > /etc/docker/registry/config.yml", input=REGISTRY_CONFIG.encode())
    assert server.exec("htpasswd -iBc /etc/docker/registry/htpasswd bot", input=TOKEN.encode()).returncode == 0
    server.exec("setsid docker-registry serve /etc/docker/registry/config.yml >/var/log/registry.log 2>&1 "
                "</dev/null &")
    busybox = ensure_image("busybox")
    testbed.load_images(server, [busybox])
    push = server.exec(f"for i in $(seq 50); do docker login {REGISTRY} -u bot --password-stdin <<EOF && break\n"
                       f"{TOKEN}\nEOF\nsleep 0.2; done && docker tag {busybox} {PINNED} && docker push -q {PINNED} "
                       f"&& docker rmi {PINNED} {busybox} && docker logout {REGISTRY} "
                       "&& rm -f /root/.docker/config.json")
    assert push.returncode == 0, (push.stdout + push.stderr)[-2000:]
    return server


@pytest.fixture(scope="module")
def project(server, tmp_path_factory):
    """A stack mixing a registry image (shared by two services) and one built on this machine."""
    root = tmp_path_factory.mktemp("shop")
    web = ensure_image("nginx")
    (root / "compose.yml").write_text(yaml.safe_dump({"services": {
        "web": {"image": web},
        "worker": {"image": PINNED, "command": ["sleep", "3600"], "init": True},
        "beat": {"image": PINNED, "command": ["sleep", "3600"], "init": True}}}))
    write_inventory(root / "inventory", {"box": server}, project="shop", extra_vars={
        "app_dir": APP, "image_source": "pull",
        "app_images": [PINNED, {"ref": web, "source": "ship"}, PINNED],   # one per service, as users list them
        "registry_login": {"registry": REGISTRY, "username": "bot", "password": {"secret": "env:SHOP_REGISTRY_TOKEN"}},
    })
    return root, web


class ProcessWatch:
    """Every command line seen while a command runs: in the server, sampled by a shell loop there
    (one ``cat`` of every ``/proc/*/cmdline`` a round, a few milliseconds, so even a short ``docker
    login`` is seen); on the controller, the processes this test started (moorage and what it runs),
    by a thread here.  Both loops are bounded."""

    SAMPLER = ("rm -f /tmp/watch.seen; touch /tmp/watch.on; n=0; while [ -e /tmp/watch.on ] && [ $n -lt 20000 ]; "
               "do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; echo; n=$((n+1)); done "
               "| awk '!seen[$0]++' > /tmp/watch.seen")

    def __init__(self, server) -> None:
        self.server, self.seen, self.rounds = server, set(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set() and self.rounds < 3000:
            self.seen.update(_our_command_lines())
            self.rounds += 1
            self._stop.wait(0.01)

    def __enter__(self) -> ProcessWatch:
        self.server.exec(f"setsid sh -c {shlex.quote(self.SAMPLER)} </dev/null >/dev/null 2>&1 &")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        self.server.exec("rm -f /tmp/watch.on; for i in $(seq 100); do pgrep -f watch.on >/dev/null || break; "
                         "sleep 0.05; done")
        self.seen.update(self.server.exec("cat /tmp/watch.seen").stdout.decode(errors="replace").splitlines())


def _our_command_lines() -> set[str]:
    """The command lines of this process's descendants (moorage, its ssh and docker save)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    ours, grew = {os.getpid()}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= more
        grew = bool(more)
    lines = set()
    for pid in ours - {os.getpid()}:
        try:
            lines.add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return lines


def deploy(root: Path, *flags: str, token: str = TOKEN):
    return moorage("deploy", "--host", "box", "--json", *flags, cwd=root, timeout=900,
                   env={"SHOP_REGISTRY_TOKEN": token})


def secret_forms(token: str) -> list[str]:
    return [token, base64.b64encode(f"bot:{token}".encode()).decode()]


def test_login_pull_and_ship_then_a_rerun_changes_nothing_and_the_token_shows_nowhere(server, project):
    root, web = project
    with ProcessWatch(server) as watch:
        first = deploy(root)
    assert first.code == 0, first.stdout[-4000:] + first.stderr
    status = {e["task"]: e["status"] for e in first.tasks("box")}
    assert status["docker logged in to the private registries"] == "changed"
    assert status["images present on the server"] == "changed"
    config = json.loads(server.exec("cat /root/.docker/config.json").stdout)
    assert base64.b64decode(config["auths"][REGISTRY]["auth"]).decode() == f"bot:{TOKEN}"

    running = server.exec("docker ps --filter label=com.docker.compose.project=shop --format '{{.Image}}'")
    assert sorted(running.stdout.decode().split()) == sorted([PINNED, PINNED, web])
    record = json.loads(server.exec(f"cat {APP}/current/release.json").stdout)
    assert sorted(record["images"]) == sorted([PINNED, web])          # each image once
    release_json = server.exec(f"cat {APP}/current/release.json").stdout.decode()
    assert release_json.count(PINNED) == 1

    with ProcessWatch(server) as rerun_watch:
        again = deploy(root)
    assert again.code == 0, again.stdout[-4000:] + again.stderr
    assert again.recap("box")["changed"] == 0
    assert {e["task"]: e["status"] for e in again.tasks("box")}["docker logged in to the private registries"] == "ok"

    check = deploy(root, "--check")
    assert check.code == 0 and check.recap("box")["changed"] <= 1, check.stdout[-3000:]   # pull can't be foreseen
    assert {e["task"]: e["status"] for e in check.tasks("box")}["docker logged in to the private registries"] == "ok"

    human = moorage("deploy", "--host", "box", "--diff", "--verbose", cwd=root, timeout=900,
                    env={"SHOP_REGISTRY_TOKEN": TOKEN})   # the human view, every detail shown
    assert human.code == 0 and "changed=0" in human.stdout, human.stdout[-3000:] + human.stderr

    audit = server.exec(f"cat {APP}/.moorage/audit.log; grep -r . {APP}/current/ {APP}/config/").stdout.decode()
    # Both samplers saw what ran: the login in the server, moorage itself (and its docker save) here.
    assert any(f"docker login {REGISTRY} -u bot --password-stdin" in line for line in watch.seen)
    assert any("deploy --host box --json" in line for line in watch.seen)
    for form in secret_forms(TOKEN):
        for run in (first, again, check, human):
            assert form not in run.stdout + run.stderr
        assert form not in audit
        assert not [line for line in watch.seen | rerun_watch.seen if form in line]


def test_a_wrong_token_fails_the_login_before_any_pull_and_is_not_printed(server, project):
    root, _ = project
    wrong = "wr0ng-token-55"
    run = deploy(root, token=wrong)
    assert run.code == 1
    failed = run.tasks("box", "failed")
    assert [e["task"] for e in failed] == ["docker logged in to the private registries"]
    assert "docker login to 127.0.0.1:5000 as bot failed" in run.stdout
    for form in secret_forms(wrong):
        assert form not in run.stdout + run.stderr
    config = json.loads(server.exec("cat /root/.docker/config.json").stdout)
    assert base64.b64decode(config["auths"][REGISTRY]["auth"]).decode() == f"bot:{TOKEN}"   # the good login stays
