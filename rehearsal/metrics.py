"""`MetricsSource` port on HAProxy stats deltas plus the load generator's latencies.

HAProxy's `show stat` counters are cumulative per server slot, so a sampler thread snapshots
them per color every `poll_seconds`; a window is the difference between the snapshots around
its edges. Request and 5xx counts come from HAProxy (what the load balancer saw); p99 comes from
the server response times HAProxy stamps on each response (`%Tr`, like ALB's TargetResponseTime),
as recorded by the load generator: HAProxy's stats keep only a moving average, no percentiles.
The same records give the window's `latencies` (the most recent `max_latencies`) for rank tests.

`LaggedMetrics` wraps any source so the driver sees only what happened `lag_seconds` ago, as with
CloudWatch's periods (`--metrics-lag`).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..contract import Color
from ..driver.core.ports import AlarmStatus, MetricsSource, WindowMetrics
from .haproxy_config import BACKEND, slot_color
from .haproxy_runtime import RuntimeApi, RuntimeApiError
from .loadgen import Record

MAX_LAG_SECONDS = 3600.0


@dataclass(frozen=True)
class Sample:
    """Cumulative counters per color at `at`."""

    at: float
    requests: dict[Color, int]
    errors_5xx: dict[Color, int]


def p99(latencies: list[float]) -> float | None:
    """Nearest-rank 99th percentile, None without data."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


class HaproxyMetrics:
    """Per-color windows from HAProxy counters; no alarms locally (`AlarmStatus()`)."""

    def __init__(
        self,
        api: RuntimeApi,
        records: Callable[[], list[Record]] | None = None,
        *,
        poll_seconds: float = 0.2,
        clock: Callable[[], float] = time.time,
        max_samples: int = 50_000,
        max_latencies: int = 5_000,
    ) -> None:
        self.api = api
        self.records = records
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.samples: deque[Sample] = deque(maxlen=max_samples)
        self.max_latencies = max_latencies
        self._lock = threading.Lock()
        self._raw: dict[str, tuple[int, int]] = {}  # last counters read, per server
        self._base: dict[str, tuple[int, int]] = {}  # counted before the last counter reset (a reload)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> Sample:
        """Read `show stat` now and keep the snapshot."""
        requests: dict[Color, int] = {"blue": 0, "green": 0}
        errors: dict[Color, int] = {"blue": 0, "green": 0}
        stats = self.api.show_stat(BACKEND)
        with self._lock:
            for name, stat in stats.items():
                color = slot_color(name)
                if color is None:
                    continue
                # A reload starts a new worker whose counters start at 0: keep them cumulative.
                raw = (stat.responses, stat.errors_5xx)
                last, base = self._raw.get(name, (0, 0)), self._base.get(name, (0, 0))
                if raw[0] < last[0] or raw[1] < last[1]:
                    base = self._base[name] = (base[0] + last[0], base[1] + last[1])
                self._raw[name] = raw
                requests[color] += base[0] + raw[0]
                errors[color] += base[1] + raw[1]
            snap = Sample(self.clock(), requests, errors)
            self.samples.append(snap)
        return snap

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="haproxy-stats", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.sample()
            except RuntimeApiError:
                return  # HAProxy is gone: the rehearsal is shutting down

    def _at_or_before(self, t: float) -> Sample | None:
        with self._lock:
            i = bisect.bisect_right([s.at for s in self.samples], t)
            return self.samples[i - 1] if i else (self.samples[0] if self.samples else None)

    def _at_or_after(self, t: float) -> Sample | None:
        with self._lock:
            i = bisect.bisect_left([s.at for s in self.samples], t)
            return self.samples[i] if i < len(self.samples) else None

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        # The first snapshot taken at or after `end` closes the window; when the window reaches
        # "now" there is none yet, so read fresh counters.
        top = self._at_or_after(end) or self.sample()
        base = self._at_or_before(start) or top
        requests = max(0, top.requests[color] - base.requests[color])
        errors = max(0, top.errors_5xx[color] - base.errors_5xx[color])
        latencies: list[float] = []
        if self.records is not None:
            latencies = [
                r.server_seconds
                for r in self.records()
                if r.server_seconds is not None
                and r.server is not None
                and slot_color(r.server) == color
                and start <= r.sent_at <= end
            ]
        # Records are in send order: the tail is the most recent, bounded for the rank test's cost.
        sample = tuple(latencies[-self.max_latencies :]) if self.max_latencies > 0 else ()
        return WindowMetrics(requests=requests, errors_5xx=errors, p99_seconds=p99(latencies), latencies=sample)

    def alarms(self, color: Color) -> AlarmStatus:
        return AlarmStatus()


class LaggedMetrics:
    """A `MetricsSource` that shows the driver only what happened before `now - lag_seconds`.

    A window is cut at that horizon (nothing: no data yet, which the analysis never takes as
    healthy); an alarm state is the one read at or before it (none read yet: not firing). Synthetic
    traffic is measured by its sender and is not delayed: that is its point.
    """

    def __init__(self, inner: MetricsSource, lag_seconds: float, clock: Callable[[], float] = time.time) -> None:
        if not 0 <= lag_seconds <= MAX_LAG_SECONDS:
            raise ValueError(f"lag_seconds must be 0-{MAX_LAG_SECONDS:g}, got {lag_seconds}")
        self.inner = inner
        self.lag_seconds = lag_seconds
        self.clock = clock
        self._alarms: dict[Color, deque[tuple[float, AlarmStatus]]] = {}

    def horizon(self) -> float:
        """The latest moment the driver may know about."""
        return self.clock() - self.lag_seconds

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        cut = min(end, self.horizon())
        if cut <= start:
            return WindowMetrics(requests=0, errors_5xx=0)
        return self.inner.window(color, start, cut)

    def alarms(self, color: Color) -> AlarmStatus:
        now = self.clock()
        seen = self._alarms.setdefault(color, deque(maxlen=10_000))
        seen.append((now, self.inner.alarms(color)))
        horizon = now - self.lag_seconds
        known = [status for at, status in seen if at <= horizon]
        return known[-1] if known else AlarmStatus()
