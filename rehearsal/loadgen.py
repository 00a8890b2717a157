"""Steady, bounded load against the load balancer; records every response.

Requests are scheduled on a fixed timetable (`rate` per second) by a background thread and sent by a
pool of at most `concurrency` threads, on kept-alive connections (connections.py). When all of them
are busy the timetable waits. It stops by itself after `max_requests` or `max_seconds`, whichever
comes first, or when `stop()` is called. A transport error is recorded with status 0 (a failure),
named by its exception (`RemoteDisconnected`, `ConnectionRefusedError`, `TimeoutError`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from .connections import TRANSPORT_ERRORS, KeptAliveConnections, get
from .haproxy_config import SERVED_BY_HEADER, SERVER_TIME_HEADER

FAULT_HEADER = "x-app-fault"  # app/service.py; the rehearsal does not import the app
BREAKER_HEADER = "x-app-breaker"  # app/service.py, on /work when the app has a downstream


@dataclass(frozen=True)
class Record:
    """One request as the client saw it."""

    sent_at: float  # epoch seconds
    latency: float  # seconds
    status: int  # 0 = no HTTP answer (connection refused/reset, timeout)
    version: str | None  # x-app-version header
    server: str | None  # x-served-by header (HAProxy slot)
    error: str | None = None
    server_seconds: float | None = None  # HAProxy's measure of the server's response time
    fault: str | None = None  # x-app-fault: "noise" (background) or "injected" on the app's own 500s
    breaker: str | None = None  # x-app-breaker: the instance's downstream circuit breaker after the call

    @property
    def background(self) -> bool:
        """A failure the background noise made (`--noise`), in whichever version."""
        return self.fault == "noise"

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def done_at(self) -> float:
        return self.sent_at + self.latency


class LoadGenerator:
    """`GET {base_url}{path}?user=u<N>` at `rate` per second until a bound is reached."""

    def __init__(
        self,
        base_url: str,
        rate: float,
        max_requests: int,
        max_seconds: float,
        *,
        path: str = "/work",
        users: int = 1000,
        concurrency: int = 64,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < rate <= 5000:
            raise ValueError(f"rate must be in (0, 5000] requests/s, got {rate}")
        if max_requests < 1:
            raise ValueError(f"max_requests must be >= 1, got {max_requests}")
        if not 0 < max_seconds <= 24 * 3600:
            raise ValueError(f"max_seconds must be in (0, 86400], got {max_seconds}")
        self.base_url = base_url.rstrip("/")
        self.rate = rate
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.path = path
        self.users = users
        self.concurrency = concurrency
        self.timeout_seconds = timeout_seconds
        self.clock = clock
        self.records: list[Record] = []  # appended from one thread; list.append is atomic
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._thread.start()

    def stop(self, timeout_seconds: float | None = None) -> None:
        """Stop scheduling and wait (bounded) for answers to requests already sent."""
        self._stop.set()
        self.join(timeout_seconds)

    def join(self, timeout_seconds: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(self.timeout_seconds + 5 if timeout_seconds is None else timeout_seconds)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> list[Record]:
        return list(self.records)

    def _run(self) -> None:
        connections = KeptAliveConnections(self.base_url, self.timeout_seconds)
        slots = threading.BoundedSemaphore(self.concurrency)
        # Leaving the pool waits for the requests in flight: each ends within its socket timeouts.
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="loadgen") as pool:
            start = time.monotonic()
            self.started_at = self.clock()
            for i in range(self.max_requests):
                due = start + i / self.rate
                if due - start >= self.max_seconds or self._stop.wait(max(0.0, due - time.monotonic())):
                    break
                slots.acquire()
                pool.submit(self._one, connections, i, slots)
        connections.close()
        self.stopped_at = self.clock()

    def _one(self, connections: KeptAliveConnections, i: int, slots: threading.BoundedSemaphore) -> None:
        try:
            self.records.append(self._request(connections, i))
        finally:
            slots.release()

    def _request(self, connections: KeptAliveConnections, i: int) -> Record:
        target = f"{urlsplit(self.base_url).path}{self.path}?{urlencode({'user': f'u{i % self.users}'})}"
        sent = self.clock()
        t0 = time.perf_counter()
        conn = connections.take()
        try:
            response, reusable = get(conn, target)
        except TRANSPORT_ERRORS as exc:
            conn.close()
            return Record(sent, time.perf_counter() - t0, 0, None, None, type(exc).__name__)
        latency = time.perf_counter() - t0
        if reusable:
            connections.give(conn)
        else:
            conn.close()
        return Record(
            sent_at=sent,
            latency=latency,
            status=response.status,
            version=response.getheader("x-app-version"),
            server=response.getheader(SERVED_BY_HEADER),
            server_seconds=header_seconds(response.getheader(SERVER_TIME_HEADER)),
            fault=response.getheader(FAULT_HEADER),
            breaker=response.getheader(BREAKER_HEADER),
        )


def header_seconds(value: str | None) -> float | None:
    """HAProxy's %Tr in ms -> seconds; None when absent or -1 (no server response)."""
    try:
        ms = float(value) if value is not None else -1.0
    except ValueError:
        return None
    return ms / 1000 if ms >= 0 else None
