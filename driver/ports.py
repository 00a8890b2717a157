"""The ports the release controller talks to, and the small value types that cross them.

The controller (`driver/controller.py`) holds every decision and calls only these Protocols, so
the same controller drives a cloud release and the local rehearsal; tests drive it with fakes
and a fake clock.

Who implements each port (AWS / local rehearsal, issue 7):
- TrafficRouter: `driver.aws.router.ElbRuleRouter` (ELBv2 modify_rule + describe_rules)
  / HAProxy runtime API weights.
- MetricsSource: `driver.aws.metrics.CloudWatchMetrics` (get_metric_data on plain metrics,
  describe_alarms) / the rehearsal's own counters (may return `AlarmStatus()`: no alarms).
- Deployer: `driver.stack_deployer.StackDeployer` (Automation API config + `up`, health via
  `driver.aws.health`) / local processes, `reconcile` a no-op.
- PreTrafficCheck: `driver.checks.HttpCheck` and `driver.checks.CommandHook`, shared by both.
- Clock: `SystemClock` below, shared; tests use `driver.clock.FakeClock`.
- EventPublisher: `driver.aws.events.SnsPublisher` (optional) / `NullPublisher` below.

Conventions every implementation keeps:
- Times are float seconds since the epoch, from the injected `Clock` (never `time.time()` directly).
- Weights are whole percents and always sum to 100 (`Weights` refuses anything else).
- A port raises `PortError` (or a subclass) for a failure the controller should treat as a failed
  operation; the controller records it and rolls back or stops. Anything else is a bug.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Color = Literal["blue", "green"]
COLORS: tuple[Color, Color] = ("blue", "green")


def other_color(color: Color) -> Color:
    """The color that is not `color`."""
    return "green" if color == "blue" else "blue"


class PortError(RuntimeError):
    """A port could not do what it was asked (API error, timeout, refused write)."""


@dataclass(frozen=True)
class Weights:
    """Production traffic split in whole percents; blue + green == 100."""

    blue: int
    green: int

    def __post_init__(self) -> None:
        for color, value in (("blue", self.blue), ("green", self.green)):
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise ValueError(f"weight for {color} must be an integer 0-100, got {value!r}")
        if self.blue + self.green != 100:
            raise ValueError(f"weights must sum to 100, got blue={self.blue} green={self.green}")

    @classmethod
    def shifted(cls, stable: Color, new_percent: int) -> Weights:
        """`new_percent` to the color that is not `stable`, the rest to `stable`."""
        if stable == "blue":
            return cls(blue=100 - new_percent, green=new_percent)
        return cls(blue=new_percent, green=100 - new_percent)

    @classmethod
    def all_to(cls, color: Color) -> Weights:
        """100% to `color`."""
        return cls.shifted(other_color(color), 100)

    def of(self, color: Color) -> int:
        """The percent `color` receives."""
        return self.blue if color == "blue" else self.green

    def as_dict(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}


@dataclass(frozen=True)
class WindowMetrics:
    """What one color served in a time window.

    `requests` and `errors_5xx` are counts; `p99_seconds` and `apdex` are None when the source
    has no data for them (None is never treated as healthy by the analysis).
    """

    requests: int
    errors_5xx: int
    p99_seconds: float | None = None
    apdex: float | None = None

    @property
    def error_rate(self) -> float | None:
        """5xx / requests, or None without requests (no data is not a 0% error rate)."""
        if self.requests <= 0:
            return None
        return self.errors_5xx / self.requests


@dataclass(frozen=True)
class AlarmStatus:
    """Alarm state of one color.

    `source` says what was read: "composite" (the color's composite alarm), "members" (the
    metric alarms, when no composite exists, e.g. moto), or "none" (no alarms configured).
    `firing` lists the alarm names in ALARM; `detail` is one human line for the report.
    """

    firing: tuple[str, ...] = ()
    source: Literal["composite", "members", "none"] = "none"
    detail: str = ""

    @property
    def is_firing(self) -> bool:
        return bool(self.firing)


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one pre-traffic check."""

    name: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class ReleaseEvent:
    """A notable transition, for optional publishing (SNS on AWS)."""

    stack: str
    service: str
    release_id: str
    state: str
    message: str
    data: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Clock(Protocol):
    """Time source. Injected so decisions are tested with a fake clock."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block (real clock) or advance time (fake clock) by `seconds`."""
        ...


@runtime_checkable
class TrafficRouter(Protocol):
    """Moves production traffic between the colors. The fast path of every rollback."""

    def set_weights(self, weights: Weights) -> None:
        """Apply `weights` directly on the load balancer; raise PortError if refused."""
        ...

    def observed_weights(self) -> Weights:
        """The weights as the load balancer itself reports them now (not what we last wrote)."""
        ...


@runtime_checkable
class MetricsSource(Protocol):
    """Per-color request metrics and alarms."""

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        """What `color` served between `start` and `end` (epoch seconds)."""
        ...

    def alarms(self, color: Color) -> AlarmStatus:
        """Current alarm state of `color`. A source without alarms returns `AlarmStatus()`."""
        ...


@runtime_checkable
class Deployer(Protocol):
    """Platform operations on the colors' capacity and on the declared (stack) state."""

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        """Run `image` on `color` with `desired_count` instances, at 0% production traffic."""
        ...

    def wait_healthy(self, color: Color, timeout_seconds: float) -> bool:
        """True once every target of `color` is healthy, False if `timeout_seconds` passed."""
        ...

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        """Make declared state match `weights`/`live_color` (AWS: config + `up`; local: no-op)."""
        ...

    def scale_down(self, color: Color) -> None:
        """Scale `color` to zero instances (declared state too, where there is one)."""
        ...


@runtime_checkable
class PreTrafficCheck(Protocol):
    """One check run against the idle color before it receives production traffic."""

    name: str

    def run(self) -> CheckResult: ...


@runtime_checkable
class EventPublisher(Protocol):
    """Optional sink for release events."""

    def publish(self, event: ReleaseEvent) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class NullPublisher:
    """Publishes nothing (no topic configured, or the local rehearsal)."""

    def publish(self, event: ReleaseEvent) -> None:
        return None
