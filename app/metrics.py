"""Request metrics of the sample service: per-second aggregates, CloudWatch EMF lines, `/metrics.json`.

The request path only adds to the current second's aggregate (`RequestMetrics.record`: a few
integer updates and one logarithm). A background task (`EmfWriter`) turns every finished second
into one line of the CloudWatch embedded metric format (EMF) on stdout, so with the awslogs driver
CloudWatch Logs extracts high-resolution metrics (`StorageResolution: 1`) from it:

- namespace `APP_EMF_NAMESPACE` (default `ZeroDowntime/App`);
- dimension sets `[Service, Color]` and `[Service, Color, Version]` (values from `APP_SERVICE`,
  `APP_COLOR` and `APP_VERSION`), so a reader can ask per color without knowing the version;
- `Requests` and `Errors` (5xx) as Count, `Latency` as Milliseconds in a Values/Counts histogram
  (at most 100 bins of 15% width, with exact Min, Max, Count and Sum).

Seconds without requests write nothing: no data is not a 0% error rate. Memory is bounded: the
last `HISTORY_SECONDS` seconds are kept (for `/metrics.json`), each with at most `MAX_BINS` bins.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HISTORY_SECONDS = 300
MAX_BINS = 100  # CloudWatch drops a histogram with more than 100 values
BIN_RATIO = 1.15
BIN_FLOOR_MS = 0.1
_LOG_RATIO = math.log(BIN_RATIO)


def bin_of(ms: float) -> int:
    """Histogram bin of a latency: 15%-wide bins from 0.1 ms; the last bin (>= ~100 s) holds the rest."""
    if ms <= BIN_FLOOR_MS:
        return 0
    return min(MAX_BINS - 1, int(math.log(ms / BIN_FLOOR_MS) / _LOG_RATIO))


def bin_value(index: int) -> float:
    """The value a bin stands for: its geometric middle."""
    return BIN_FLOOR_MS * BIN_RATIO ** (index + 0.5)


@dataclass
class Second:
    """What one second of requests looked like."""

    second: int
    requests: int = 0
    errors: int = 0
    latency_sum: float = 0.0
    latency_min: float = math.inf
    latency_max: float = 0.0
    bins: dict[int, int] = field(default_factory=dict)

    def add(self, error: bool, ms: float) -> None:
        self.requests += 1
        self.errors += error
        self.latency_sum += ms
        self.latency_min = min(self.latency_min, ms)
        self.latency_max = max(self.latency_max, ms)
        b = bin_of(ms)
        self.bins[b] = self.bins.get(b, 0) + 1

    def histogram(self) -> dict[str, Any]:
        """EMF Values/Counts histogram: bin values clamped into [Min, Max], exact Count and Sum."""
        lo, hi = self.latency_min, self.latency_max
        ordered = sorted(self.bins.items())
        return {
            "Values": [round(min(hi, max(lo, bin_value(b))), 3) for b, _ in ordered],
            "Counts": [n for _, n in ordered],
            "Max": round(hi, 3),
            "Min": round(lo, 3),
            "Count": self.requests,
            "Sum": round(self.latency_sum, 3),
        }


@dataclass(frozen=True)
class Identity:
    """The EMF namespace and the dimension values of this instance."""

    namespace: str = "ZeroDowntime/App"
    service: str = "app"
    color: str = "local"
    version: str = "dev"


class RequestMetrics:
    """Per-second aggregates of the last `history_seconds` seconds. Used from the event loop only."""

    def __init__(self, history_seconds: int = HISTORY_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.history_seconds = history_seconds
        self.clock = clock
        self.seconds: deque[Second] = deque(maxlen=history_seconds + 1)
        self.emitted_upto = -1
        """Seconds up to this one have been written as EMF (or were empty)."""

    def record(self, status: int, ms: float, now: float | None = None) -> None:
        second = int(self.clock() if now is None else now)
        if not self.seconds or self.seconds[-1].second != second:
            if self.seconds and second < self.seconds[-1].second:
                second = self.seconds[-1].second  # the clock stepped back: keep the series ordered
            else:
                self.seconds.append(Second(second))
        self.seconds[-1].add(status >= 500, max(0.0, ms))

    def finished(self, now: float | None = None) -> list[Second]:
        """Seconds that ended since the last call (the current one is still filling)."""
        current = int(self.clock() if now is None else now)
        done = [s for s in self.seconds if self.emitted_upto < s.second < current]
        if done:
            self.emitted_upto = done[-1].second
        return done

    def remaining(self) -> list[Second]:
        """Every second not yet written, the current one included (at shutdown)."""
        done = [s for s in self.seconds if s.second > self.emitted_upto]
        if done:
            self.emitted_upto = done[-1].second
        return done

    def window(self, seconds: int, now: float | None = None) -> dict[str, Any]:
        """Requests, errors and latency percentiles over the last `seconds` seconds (this one included)."""
        current = int(self.clock() if now is None else now)
        chosen = [s for s in self.seconds if current - seconds < s.second <= current]
        requests = sum(s.requests for s in chosen)
        errors = sum(s.errors for s in chosen)
        bins: dict[int, int] = {}
        for s in chosen:
            for b, n in s.bins.items():
                bins[b] = bins.get(b, 0) + n
        latency: dict[str, float | None] = {"p50": None, "p90": None, "p99": None, "max": None}
        if requests:
            lo = min(s.latency_min for s in chosen if s.requests)
            hi = max(s.latency_max for s in chosen if s.requests)
            for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
                latency[name] = round(min(hi, max(lo, _quantile(bins, requests, q))), 3)
            latency["max"] = round(hi, 3)
        return {
            "window_seconds": seconds,
            "requests": requests,
            "errors": errors,
            "error_rate": errors / requests if requests else None,
            "latency_ms": latency,
        }


def _quantile(bins: dict[int, int], total: int, q: float) -> float:
    """The bin value below which a share `q` of the requests fall (nearest rank)."""
    rank = max(1, math.ceil(q * total))
    seen = 0
    for b in sorted(bins):
        seen += bins[b]
        if seen >= rank:
            return bin_value(b)
    return bin_value(max(bins))


def emf_document(s: Second, who: Identity) -> dict[str, Any]:
    """One second as an EMF document (CloudWatch embedded metric format specification)."""
    return {
        "_aws": {
            "Timestamp": s.second * 1000,
            "CloudWatchMetrics": [
                {
                    "Namespace": who.namespace,
                    "Dimensions": [["Service", "Color"], ["Service", "Color", "Version"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count", "StorageResolution": 1},
                        {"Name": "Errors", "Unit": "Count", "StorageResolution": 1},
                        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1},
                    ],
                }
            ],
        },
        "Service": who.service,
        "Color": who.color,
        "Version": who.version,
        "Requests": s.requests,
        "Errors": s.errors,
        "Latency": s.histogram(),
    }


class EmfWriter:
    """Writes each finished second as one EMF line, from a background task, never the request path."""

    def __init__(self, metrics: RequestMetrics, who: Identity, out: TextIO | None = None) -> None:
        self.metrics = metrics
        self.who = who
        self.out = out
        self._task: asyncio.Task[None] | None = None

    def flush(self, seconds: list[Second]) -> None:
        out = self.out or sys.stdout
        for s in seconds:
            out.write(json.dumps(emf_document(s, self.who), separators=(",", ":")) + "\n")
        if seconds:
            out.flush()

    async def _run(self) -> None:
        while True:
            now = self.metrics.clock()
            await asyncio.sleep(1.0 - (now % 1.0) + 0.01)  # just past the next second boundary
            self.flush(self.metrics.finished())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush(self.metrics.remaining())


METRICS_PATH = "/metrics.json"
MAX_WINDOW_SECONDS = HISTORY_SECONDS


class MetricsMiddleware:
    """Counts every request but the probes and `/metrics.json`: status (5xx = error) and latency."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, skip: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.metrics = metrics
        self.skip = skip | {METRICS_PATH}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is a server error

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.record(status, (time.perf_counter() - started) * 1000)


def metrics_endpoint(metrics: RequestMetrics, who: Identity) -> Callable[[Request], Awaitable[Response]]:
    """`GET /metrics.json?window=N` (1-300 seconds, default 60): this instance's requests, errors,
    error rate and latency percentiles (from the histogram bins: within 15%) over the last N seconds."""

    async def endpoint(request: Request) -> Response:
        raw = request.query_params.get("window", "60")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_WINDOW_SECONDS:
            return JSONResponse({"error": f"window must be 1-{MAX_WINDOW_SECONDS} seconds"}, status_code=400)
        body = {"service": who.service, "color": who.color, "version": who.version, **metrics.window(int(raw))}
        return JSONResponse(body)

    return endpoint
