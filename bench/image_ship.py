"""Image shipping, side by side: a new version whose top layer changed, onto a host holding v1.

    .venv/bin/python -m bench.image_ship [-n 3] [--hosts 2]

``--hosts`` nginxhost test servers, each sshd + its own Docker engine; the first, "the host" of
the one-host rows, runs Debian's docker-registry on its 127.0.0.1:5000, published on this
machine's loopback.  v1 = tasklist/app:1.0 (the tutorial's stand-in, ~160 MB), v2 = v1 + one
layer of 300 KB of random bytes (a code change that compression can't shrink).  Before each
round every host holds v1 and not v2 (and the registry holds v1); each round builds its own v2
(a new random layer), so no cache on either side has it.
Each round, in turn:

- moorage delta: ``moorage play`` of an ``image`` task, ``source: ship`` (only missing layers);
- moorage whole: the same task with ``delta: false`` (moorage's shipping before issue #18);
- ``docker save v2 | ssh host docker load`` with OpenSSH (the whole image, in C);
- registry: ``docker push`` to the server's registry from here, then ``docker pull`` on the server
  (the registry and the server's engine already hold v1's layers);
- moorage delta to every host in one run (one ``docker save``, each host its missing layer);
- one ``docker save v2 | ssh host docker load`` per host, all at once (what a script would do).

Seconds are medians of the rounds; bytes on the wire are what the server's network interface
received during the transfer (``/sys/class/net/eth0/statistics/rx_bytes``: SSH and HTTP
overheads included).  Writes bench/results/image_ship.md.  Removes its server and its tags.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from testbed import Testbed
from testbed.images import build_tagged
from testbed.servers import write_inventory
from testbed.tasklist import build_tasklist

ROOT = Path(__file__).resolve().parents[1]
MOORAGE = str(ROOT / ".venv" / "bin" / "moorage")
RESULTS = Path(__file__).resolve().parent / "results"
V1, V2 = "tasklist/app:1.0", "moorage-bench/ship:2"
TOP_KB = 300


def build_v2(tmp: Path, round_: int) -> None:
    """v2 of this round: v1 + a new layer of random bytes (the build argument defeats the cache)."""
    (tmp / "Dockerfile").write_text(f"FROM {V1}\nARG ROUND\nRUN echo \"$ROUND\" > /tmp/round && "
                                    f"head -c {TOP_KB}000 /dev/urandom > /tmp/code.bin\n")
    build_tagged(tmp, [V2], {"ROUND": f"{time.time()}-{round_}"})


def rx_bytes(server) -> int:
    return int(server.exec("cat /sys/class/net/eth0/statistics/rx_bytes").stdout.decode())


def playbook(root: Path, delta: bool) -> Path:
    path = root / f"ship-{'delta' if delta else 'whole'}.yml"
    path.write_text(yaml.safe_dump([{"name": "ship", "hosts": "all", "tasks": [
        {"name": "ship", "image": {"images": [V2], "source": "ship", "delta": delta}}]}]))
    return path


def run(argv: list[str], **kwargs) -> None:
    proc = subprocess.run(argv, capture_output=True, timeout=900, check=False, **kwargs)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stdout.decode()[-800:]}{proc.stderr.decode()[-800:]}")


def ssh(server) -> list[str]:
    return ["ssh", "-p", str(server.port), "-i", str(server.key_file), "-o",
            f"UserKnownHostsFile={server.known_hosts_file}", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            f"{server.user}@{server.address}"]


def save_ssh_load(servers: list) -> None:
    """``docker save | ssh docker load`` to each of ``servers``, all at once."""
    savers = [subprocess.Popen(["docker", "save", V2], stdout=subprocess.PIPE) for _ in servers]
    loaders = [subprocess.Popen([*ssh(server), "docker", "load", "-q"], stdin=saver.stdout, stdout=subprocess.DEVNULL)
               for saver, server in zip(savers, servers, strict=True)]
    for saver in savers:
        assert saver.stdout is not None
        saver.stdout.close()
    if any(proc.wait() for proc in [*loaders, *savers]):
        raise SystemExit("docker save | ssh docker load failed")


def methods(servers: list, root: Path, inventory: Path, registry_port: int) -> dict[str, Callable[[], None]]:
    server = servers[0]
    pushed = f"127.0.0.1:{registry_port}/bench/ship:2"

    def registry() -> None:
        run(["docker", "tag", V2, pushed])
        run(["docker", "push", "-q", pushed])
        if server.exec("docker pull -q 127.0.0.1:5000/bench/ship:2").returncode:
            raise SystemExit("docker pull on the server failed")

    return {
        "moorage delta": lambda: run([MOORAGE, "play", str(playbook(root, True)), "--host", "vps",
                                      "--inventory", str(inventory)]),
        "moorage whole (before #18)": lambda: run([MOORAGE, "play", str(playbook(root, False)), "--host", "vps",
                                                   "--inventory", str(inventory)]),
        "docker save | ssh docker load": lambda: save_ssh_load([server]),
        "registry push + pull (v1's layers already there)": registry,
        f"moorage delta, {len(servers)} hosts in one run": lambda: run([
            MOORAGE, "play", str(playbook(root, True)), "--host", "fleet", "--inventory", str(inventory)]),
        f"{len(servers)} x docker save | ssh docker load, at once": lambda: save_ssh_load(servers),
    }


def start_registry(server) -> None:
    config = ("version: 0.1\nhttp: {addr: 0.0.0.0:5000}\n"
              "storage: {filesystem: {rootdirectory: /var/lib/docker-registry}}\n")
    server.exec("mkdir -p /etc/docker/registry && cat > /etc/docker/registry/config.yml", input=config.encode())
    server.exec("setsid docker-registry serve /etc/docker/registry/config.yml >/var/log/registry.log 2>&1 </dev/null &")
    for _ in range(50):
        if server.exec("curl -sf -o /dev/null http://127.0.0.1:5000/v2/").returncode == 0:
            return
        time.sleep(0.2)
    raise SystemExit("the server's registry did not start")


def reset(server) -> None:
    """The host holds v1 and not this round's v2 (its tags removed: its own layer goes with them)."""
    server.exec(f"docker image rm -f {V2} 127.0.0.1:5000/bench/ship:2 >/dev/null 2>&1; true")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--hosts", type=int, default=2, help="hosts of the several-hosts rows (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Testbed() as testbed:
        root = Path(tmp)
        build_tasklist("1.0")
        servers = [testbed.start("nginxhost", name=f"shipbench{i}", publish=[5000] if i == 0 else [])
                   for i in range(max(args.hosts, 1))]
        server = servers[0]
        registry_port = server.ports[5000]
        names = {"vps" if i == 0 else f"vps{i}": one for i, one in enumerate(servers)}
        inventory = write_inventory(root / "inventory", names, {"fleet": list(names)}, project="shipbench")
        start_registry(server)
        for one in servers:  # v1 on every host
            with subprocess.Popen(["docker", "save", V1], stdout=subprocess.PIPE) as saver:
                loaded = subprocess.run(["docker", "exec", "-i", one.container_id, "docker", "load", "-q"],
                                        stdin=saver.stdout, capture_output=True, check=False)
            assert loaded.returncode == 0, loaded.stderr
        run(["docker", "tag", V1, f"127.0.0.1:{registry_port}/bench/ship:1"])
        run(["docker", "push", "-q", f"127.0.0.1:{registry_port}/bench/ship:1"])
        ways = methods(servers, root, inventory, registry_port)
        seconds: dict[str, list[float]] = {name: [] for name in ways}
        wire: dict[str, list[int]] = {name: [] for name in ways}
        try:
            for round_ in range(args.n):
                build_v2(root, round_)
                for name, way in ways.items():
                    for one in servers:
                        reset(one)
                    before, began = sum(map(rx_bytes, servers)), time.perf_counter()
                    way()
                    seconds[name].append(time.perf_counter() - began)
                    wire[name].append(sum(map(rx_bytes, servers)) - before)
                    loaded = server.exec(f"docker image inspect -f '{{{{.Id}}}}' {V2} 127.0.0.1:5000/bench/ship:2"
                                         " 2>/dev/null | head -1").stdout.decode().strip()
                    print(f"[bench] {name}: {seconds[name][-1]:.2f} s, {wire[name][-1] / 1e6:.2f} MB ({loaded[:19]})",
                          flush=True)
        finally:
            subprocess.run(["docker", "image", "rm", f"127.0.0.1:{registry_port}/bench/ship:1",
                            f"127.0.0.1:{registry_port}/bench/ship:2"], capture_output=True, check=False)
    layer = TOP_KB * 1000
    floor = statistics.median(seconds["registry push + pull (v1's layers already there)"])
    lines = [f"v2 = {V1} + one {TOP_KB} KB layer (L); medians of {args.n} rounds; load {os.getloadavg()[0]:.1f}; "
             "bytes: received by every host of the row.", "",
             "| way | seconds | x registry | bytes received by the servers | x L per host |", "|---|---|---|---|---|"]
    for name in ways:
        took, got = statistics.median(seconds[name]), statistics.median(wire[name])
        hosts = len(servers) if name.startswith((f"moorage delta, {len(servers)}", f"{len(servers)} x")) else 1
        lines.append(f"| {name} | {took:.2f} | {took / floor:.2f} | {got / 1e6:.2f} MB | {got / layer / hosts:.1f} |")
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "image_ship.md").write_text(table + "\n")
    subprocess.run(["docker", "image", "rm", V2], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
