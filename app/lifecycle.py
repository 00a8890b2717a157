"""Drain state shared by the readiness endpoint and the graceful-shutdown server."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Lifecycle:
    """Tracks warm-up, draining and the evidence that the load balancer has let go.

    "Taken out" means: since draining began at least `lb_fall` x `lb_interval_seconds` have passed
    (the longest a health check needs to mark the instance down), the load balancer has received
    `lb_fall` failed readiness answers, and no ordinary request arrived for `quiet_seconds`.
    `timeout_seconds` bounds the wait when no check comes.
    """

    lb_fall: int = 2
    lb_interval_seconds: float = 0.0
    quiet_seconds: float = 0.3
    timeout_seconds: float = 10.0
    started_at: float = field(default_factory=time.monotonic)
    draining_since: float | None = None
    failed_probes: int = 0
    last_request_at: float = 0.0
    in_flight: int = 0

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    def begin_drain(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()

    def probe_failed(self) -> None:
        if self.draining:
            self.failed_probes += 1

    def request_seen(self) -> None:
        self.last_request_at = time.monotonic()

    def released_by_lb(self, now: float | None = None) -> bool:
        """True once the load balancer has taken this instance out, or the wait timed out."""
        if self.draining_since is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self.draining_since >= self.timeout_seconds:
            return True
        if now - self.draining_since < self.lb_fall * self.lb_interval_seconds:
            return False
        quiet = now - max(self.last_request_at, self.draining_since) >= self.quiet_seconds
        return self.failed_probes >= self.lb_fall and quiet
