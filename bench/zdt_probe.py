"""What bench/zero_downtime.py checks around each switch: that the load is served, by which version,
and, when requests failed, what the server did meanwhile."""

from __future__ import annotations

import http.client
import time
from collections import Counter
from typing import Any

from testbed.load import Load

from bench.zdt_stacks import Stack


class BenchInvalid(RuntimeError):
    """The bench's own set-up is wrong (the load is not served, a deploy meant to work failed): its
    figures would mean nothing, so none are printed."""


def served(stack: Stack, port: int) -> tuple[int, str]:
    """(status, version) of one request as the load sends it (0 and the error's name: no answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", stack.path, headers={"Host": stack.host or f"127.0.0.1:{port}"})
        answer = conn.getresponse()
        body = answer.read()
        return answer.status, stack.version(answer.status, {k.lower(): v for k, v in answer.getheaders()}, body)
    except (OSError, http.client.HTTPException) as exc:
        return 0, type(exc).__name__
    finally:
        conn.close()


def wait_served(stack: Stack, port: int, version: str, timeout: float = 60, streak: int = 10) -> None:
    """Until ``streak`` requests in a row (0.1 s apart) get 200 from ``version``; raises
    ``BenchInvalid`` with what was answered when that does not happen within ``timeout`` seconds."""
    deadline, row, seen = time.monotonic() + timeout, 0, Counter[str]()
    while row < streak:
        status, got = served(stack, port)
        row = row + 1 if status == 200 and got == version else 0
        seen[f"{status} {got}".strip()] += 1
        if time.monotonic() > deadline:
            raise BenchInvalid(f"{stack.name}: GET {stack.path} on port {port} is not served by {version} "
                               f"after {timeout:.0f} s; answers: {dict(seen.most_common(5))}")
        time.sleep(0.1)


def explain(server: Any, load: Load, since: float) -> str:
    """The failures' times, the containers' events and Traefik's log from ``since`` (epoch seconds)."""
    start = int(since) - 2
    events = server.exec(f"docker events --since {start} --until $(date +%s) --filter type=container --format "
                         "'{{.Time}} {{.Action}} {{.Actor.Attributes.name}}' | grep -v exec_").stdout.decode()
    traefik = server.exec(f"docker logs --timestamps --since {start} $(docker ps -q --filter "
                          "label=com.docker.compose.service=traefik | head -1) 2>&1 | cut -c1-300 | tail -200")
    return "\n".join([load.report(), f"failed at (epoch): {[round(t, 2) for t in load.failed_at[:40]]}",
                      "-- container events", events.rstrip(), "-- traefik", traefik.stdout.decode().rstrip()[-12000:]])
