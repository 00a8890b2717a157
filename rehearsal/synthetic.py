"""`SyntheticTraffic` port on the local HAProxy: bounded requests through its two frontends.

`via="production"` goes to the production frontend (100% stable before the first shift), `via="test"`
to the test listener, which serves only the idle (new) color (haproxy_config.py). Each call sends at
most `requests` requests, starts none after `seconds`, and waits at most `timeout_seconds` more for
the ones in flight, so it always returns by itself. The figures are the sender's own, available the
moment the requests complete: no metrics pipeline, no lag.

Latency is HAProxy's measure of the server's response time (`%Tr`, the header both frontends stamp),
the same measure `HaproxyMetrics` gives for user traffic, so probe samples merged with user samples
compare like with like; without that header (no server answered) it is the sender's own clock.
A request fails when it gets no answer (status 0) or a status >= 500.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode, urlsplit

from ..driver.core.errors import PortError
from ..driver.core.plan import DEFAULT_SYNTHETIC_CONCURRENCY, MAX_SYNTHETIC_CONCURRENCY
from ..driver.core.ports import WindowMetrics
from .connections import TRANSPORT_ERRORS, KeptAliveConnections, get
from .haproxy_config import SERVED_BY_HEADER, SERVER_TIME_HEADER
from .loadgen import FAULT_HEADER, header_seconds
from .metrics import p99

MAX_REQUESTS = 100_000
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class Probe:
    """One synthetic request as the sender saw it."""

    via: str
    sent_at: float
    status: int  # 0: no HTTP answer
    latency: float  # seconds (see the module docstring)
    version: str | None = None
    server: str | None = None
    done_at: float = 0.0  # epoch seconds the answer (or the failure) came
    fault: str | None = None  # x-app-fault, as on user requests

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def background(self) -> bool:
        return self.fault == "noise"


def window_of(probes: list[Probe]) -> WindowMetrics:
    """What a set of probes got, as the analysis reads it."""
    latencies = tuple(p.latency for p in probes)
    return WindowMetrics(
        requests=len(probes),
        errors_5xx=sum(p.failed for p in probes),
        p99_seconds=p99(list(latencies)),
        latencies=latencies,
    )


class LocalSyntheticTraffic:
    """Sends bounded synthetic load through HAProxy's production or test frontend; keeps every probe."""

    def __init__(
        self,
        production_url: str,
        test_url: str,
        *,
        path: str = "/work",
        concurrency: int = DEFAULT_SYNTHETIC_CONCURRENCY,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 1 <= concurrency <= MAX_SYNTHETIC_CONCURRENCY:
            raise ValueError(f"concurrency must be 1-{MAX_SYNTHETIC_CONCURRENCY}, got {concurrency}")
        if not 0 < timeout_seconds <= 60:
            raise ValueError(f"timeout_seconds must be in (0, 60], got {timeout_seconds}")
        self.urls = {"production": production_url.rstrip("/"), "test": test_url.rstrip("/")}
        self.path = path
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.probes: list[Probe] = []  # every probe sent, for the report (list.append is atomic)
        # Kept-alive connections per listener (connections.py says why not httpx).
        self._connections = {via: KeptAliveConnections(url, timeout_seconds) for via, url in self.urls.items()}
        self._closed = False

    def send(self, via: Literal["test", "production"], requests: int, seconds: float) -> WindowMetrics:
        if via not in self.urls:
            raise PortError(f"synthetic traffic goes via 'test' or 'production', got {via!r}")
        if not 0 <= requests <= MAX_REQUESTS or not 0 <= seconds <= MAX_SECONDS:
            raise PortError(f"synthetic load must be 0-{MAX_REQUESTS} requests over 0-{MAX_SECONDS:g} s")
        if self._closed:
            raise PortError("synthetic traffic was stopped: the rehearsal is shutting down")
        deadline = time.monotonic() + seconds
        taken = 0
        lock = threading.Lock()
        got: list[Probe] = []

        def worker() -> None:
            nonlocal taken
            conn: http.client.HTTPConnection | None = None
            try:
                while time.monotonic() < deadline and not self._closed:
                    with lock:
                        if taken >= requests:
                            return
                        taken += 1
                        i = taken
                    conn = conn or self._connections[via].take()
                    probe, reusable = self._one(conn, via, i)
                    if not reusable:
                        conn.close()
                        conn = None
                    got.append(probe)
                    self.probes.append(probe)
            finally:
                if conn is not None:
                    self._connections[via].give(conn)

        workers = [
            threading.Thread(target=worker, name=f"synthetic-{via}-{n}", daemon=True)
            for n in range(min(self.concurrency, requests))
        ]
        for w in workers:
            w.start()
        for w in workers:  # a request started before the deadline ends within timeout_seconds
            w.join(max(0.0, deadline - time.monotonic()) + self.timeout_seconds + 1)
        return window_of(list(got))

    def _one(self, conn: http.client.HTTPConnection, via: str, i: int) -> tuple[Probe, bool]:
        """One request; the probe, and whether the connection may carry the next one."""
        target = f"{urlsplit(self.urls[via]).path}{self.path}?{urlencode({'user': f'synthetic-{i}'})}"
        sent = self.clock()
        t0 = time.perf_counter()
        try:
            response, reusable = get(conn, target, {"x-synthetic": "1"})
        except TRANSPORT_ERRORS:
            return Probe(via, sent, 0, time.perf_counter() - t0, done_at=self.clock()), False
        measured = time.perf_counter() - t0
        server_time = header_seconds(response.getheader(SERVER_TIME_HEADER))
        probe = Probe(
            via,
            sent,
            response.status,
            measured if server_time is None else server_time,
            response.getheader("x-app-version"),
            response.getheader(SERVED_BY_HEADER),
            done_at=self.clock(),
            fault=response.getheader(FAULT_HEADER),
        )
        return probe, reusable

    def close(self) -> None:
        """Stop: calls in progress end at their next request, later calls raise PortError."""
        self._closed = True
        for connections in self._connections.values():
            connections.close()
