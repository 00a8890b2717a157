"""The rehearsal's load balancer settings: the stack's ALB defaults, with time scaled down.

The thresholds are the stack's own (`contract/load_balancer.py`, which the components default a
target group to): HAProxy's `fall` is the unhealthy threshold and `rise` the healthy threshold.
Durations (the check interval and timeout, the deregistration delay) are the stack's multiplied by
`time_scale` (default 0.05: a 10 s interval becomes 0.5 s, a 30 s deregistration delay 1.5 s), so
`make run` stays quick while every wait keeps its proportion. The check timeout is the interval (the
most ALB allows; a scaled 5 s would be 0.25 s, which a busy machine misses), and the idle timeout is
not scaled: it costs no time, and the app's keep-alive must outlive the real value.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract.load_balancer import (
    DEFAULT_DEREGISTRATION_DELAY_SECONDS,
    DEFAULT_HEALTHY_THRESHOLD,
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_UNHEALTHY_THRESHOLD,
)
from .haproxy_config import HealthCheck

DEFAULT_TIME_SCALE = 0.05
MAX_DEREGISTRATION_DELAY_SECONDS = 60.0  # real seconds in the rehearsal


@dataclass(frozen=True)
class LoadBalancerSettings:
    """An ALB-like load balancer for the rehearsal; everything defaults to the stack's defaults."""

    interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    healthy_threshold: int = DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: int = DEFAULT_UNHEALTHY_THRESHOLD
    deregistration_delay: float | None = None
    """Real seconds a stopping instance drains before SIGTERM; None: the stack's delay, time-scaled."""
    idle_timeout_seconds: int = DEFAULT_IDLE_TIMEOUT_SECONDS
    time_scale: float = DEFAULT_TIME_SCALE
    retries: bool = False
    """HAProxy's connection retries and redispatch (`--lb-retries`); an ALB has neither."""

    def health_check(self) -> HealthCheck:
        interval_ms = max(50, round(self.interval_seconds * self.time_scale * 1000))
        return HealthCheck(
            interval_ms=interval_ms,
            fast_interval_ms=interval_ms,
            fall=self.unhealthy_threshold,
            rise=self.healthy_threshold,
            # Not scaled: the machine is not twenty times faster. As long as ALB allows (just under
            # the interval), so a busy machine's slow answer is not taken for a dead instance.
            timeout_ms=interval_ms,
        )

    @property
    def drain_seconds(self) -> float:
        """The deregistration delay the rehearsal waits, in real seconds."""
        if self.deregistration_delay is not None:
            return self.deregistration_delay
        return DEFAULT_DEREGISTRATION_DELAY_SECONDS * self.time_scale

    @property
    def interval(self) -> float:
        """The health check interval the rehearsal runs, in real seconds."""
        return self.health_check().interval_ms / 1000

    def describe(self) -> str:
        """One line for the report."""
        chk = self.health_check()
        retries = (
            "HAProxy retries ON (--lb-retries: retries 3, redispatch): failures they hid would reach ALB users"
            if self.retries
            else "no retries, like an ALB"
        )
        return (
            f"{retries}; stop = drain {self.drain_seconds:g} s, then SIGTERM; health check every "
            f"{chk.interval_ms / 1000:g} s, down after {chk.fall} failures, up after {chk.rise} successes "
            f"(the stack's defaults, durations x{self.time_scale:g}); idle timeout {self.idle_timeout_seconds} s"
        )

    def validate(self) -> None:
        """Raise ValueError naming the flag at fault."""
        if self.deregistration_delay is not None and not 0 <= self.deregistration_delay <= (
            MAX_DEREGISTRATION_DELAY_SECONDS
        ):
            raise ValueError(f"--deregistration-delay: must be 0-{MAX_DEREGISTRATION_DELAY_SECONDS:g} seconds")
