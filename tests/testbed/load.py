"""A bounded load generator on the loopback interface: ``rate`` GET requests a second to
127.0.0.1:``port``, from ``workers`` threads (each sending ``rate / workers`` a second: one thread
can't keep the rate when an answer takes longer than ``1 / rate``), for as long as its ``with``
block lasts; it counts the 2xx answers, the other answers and the connection errors (with the
times of the failures).

    with Load(port, "/version") as load:
        run_the_deploy()
    assert load.failed == 0, load.report()
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Load:
    port: int
    path: str = "/"
    rate: float = 50.0
    host: str | None = None
    timeout: float = 10.0
    workers: int = 1
    ok: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    failures: list[float] = field(default_factory=list)   # seconds since the start, of each failure
    failed_at: list[float] = field(default_factory=list)  # epoch seconds, to compare with logs
    _began: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sent(self) -> int:
        return self.ok + sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    def report(self) -> str:
        """``N sent, F failed (503 x2, ConnectionResetError x1)``."""
        what = [f"{code} x{n}" for code, n in sorted(self.statuses.items())]
        what += [f"{name} x{n}" for name, n in sorted(self.errors.items())]
        when = f" at {self.failures[:5]} s" if self.failures else ""
        return f"{self.sent} sent, {self.failed} failed" + (f" ({', '.join(what)}){when}" if what else "")

    def one(self) -> None:
        at = time.monotonic() - self._began
        status, error = self._one()
        with self._lock:
            if 200 <= status < 300:
                self.ok += 1
                return
            if error:
                self.errors[error] += 1
            else:
                self.statuses[status] += 1
            self.failures.append(round(at, 2))
            self.failed_at.append(time.time())

    def _one(self) -> tuple[int, str]:
        """(status, "") or (0, the error's name)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request("GET", self.path, headers={"Host": self.host or f"127.0.0.1:{self.port}"})
            answer = conn.getresponse()
            answer.read()
            return answer.status, ""
        except (OSError, http.client.HTTPException) as exc:
            return 0, type(exc).__name__
        finally:
            conn.close()

    def _loop(self, offset: float) -> None:
        interval = self.workers / self.rate
        due = time.monotonic() + offset
        self._stop.wait(offset)
        while not self._stop.is_set():
            self.one()
            due += interval
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self) -> Load:
        self._began = time.monotonic()
        self._threads = [threading.Thread(target=self._loop, args=(n / self.rate,), name=f"load-{n}", daemon=True)
                         for n in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)
