"""In-memory ports for the strategies' decision tests. They record what the release asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from zero_downtime.contract import Color, Weights
from zero_downtime.driver.core.errors import PortError
from zero_downtime.driver.core.ports import AlarmStatus, CheckResult, ReleaseEvent, WindowMetrics


class Killed(BaseException):
    """Simulates the driver process dying (not an Exception, so nothing handles it)."""


Timing = Literal["before", "after"]


@dataclass(kw_only=True)
class AnnouncedEffects:
    """The journal-before-effect checker the strategies' tests share: every effect call is first
    checked against the journal's last record (`check`, per strategy: it must already announce
    this effect), then the release may die inside the `kill_at`-th call (0-based), before or after
    the effect took place."""

    calls: list[tuple[Any, str]] = field(default_factory=list)  # (effect, state that announced it)
    kill_at: int | None = None
    kill_timing: Timing = "before"

    def check(self, effect: str, *args: Any) -> None:
        """Assert the journal announces `effect(*args)`; append it to `calls`."""
        raise NotImplementedError

    @staticmethod
    def announcing(journal: Any, effect: str, args: tuple[Any, ...], allowed: frozenset[str]) -> Any:
        """The journal's last record, asserted to be in one of the `allowed` states for `effect`."""
        last = journal.last()
        assert last is not None, f"{effect} called before anything was journaled"
        assert last.status.state in allowed, (
            f"{effect}{args} called while the journal's last record is {last.status.state}/{last.event} "
            f"(seq {last.seq}); it must already be one of {sorted(allowed)}"
        )
        return last

    def effect(self, effect: str, real: Callable[..., Any], *args: Any) -> Any:
        self.check(effect, *args)
        dying = self.kill_at == len(self.calls) - 1
        if dying and self.kill_timing == "before":
            raise Killed(f"inside {effect}, before it took effect")
        result = real(*args)
        if dying:
            raise Killed(f"inside {effect}, after it took effect")
        return result


class FakeRouter:
    def __init__(self, weights: Weights | None = None) -> None:
        self.weights = weights or Weights(blue=100, green=0)
        self.writes: list[Weights] = []
        self.drop_writes = False
        self.fail_writes = False

    def set_weights(self, weights: Weights) -> None:
        if self.fail_writes:
            raise PortError("router refused the write")
        self.writes.append(weights)
        if not self.drop_writes:
            self.weights = weights

    def observed_weights(self) -> Weights:
        return self.weights


@dataclass
class FakeMetrics:
    """Per color, a function of (start, end) -> WindowMetrics; alarms set per color."""

    healthy_rps: float = 10.0
    new_fn: Callable[[float, float], WindowMetrics] | None = None
    firing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    calls: list[tuple[str, float, float]] = field(default_factory=list)
    new_color: Color = "green"

    stable_fn: Callable[[float, float], WindowMetrics] | None = None
    router: FakeRouter | None = None
    """When given, each color gets its share of `healthy_rps` by the router's current weights (the
    observed split); without it both colors get all of it."""

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        self.calls.append((color, start, end))
        if color == self.new_color and self.new_fn is not None:
            return self.new_fn(start, end)
        if color != self.new_color and self.stable_fn is not None:
            return self.stable_fn(start, end)
        share = 1.0 if self.router is None else self.router.weights.as_dict()[color] / 100
        n = int((end - start) * self.healthy_rps * share)
        return WindowMetrics(requests=n, errors_5xx=0, p99_seconds=0.05, apdex=0.99)

    def alarms(self, color: Color) -> AlarmStatus:
        names = self.firing.get(color, ())
        return AlarmStatus(firing=names, source="members" if names else "none")


class FakeDeployer:
    def __init__(self, router: FakeRouter | None = None) -> None:
        self.calls: list[tuple] = []
        self.healthy = True
        self.fail_on: set[str] = set()
        self.router = router  # reconcile applies weights, as `up` would
        self.targets: dict[str, int] = {}
        """Healthy targets per color (default 10: enough for any test)."""
        self.declared: list[tuple[dict[str, int], Color]] = []

    def _maybe_fail(self, name: str) -> None:
        if name in self.fail_on:
            raise PortError(f"{name} failed")

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        self.calls.append(("deploy_idle", color, image, desired_count))
        self._maybe_fail("deploy_idle")

    def wait_healthy(self, color: Color, timeout_seconds: float) -> bool:
        self.calls.append(("wait_healthy", color, timeout_seconds))
        return self.healthy

    def healthy_targets(self, color: Color) -> int:
        return self.targets.get(color, 10)

    def declare(self, weights: Weights, live_color: Color) -> None:
        self.declared.append((weights.as_dict(), live_color))

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        self.calls.append(("reconcile", weights.as_dict(), live_color))
        self._maybe_fail("reconcile")
        if self.router is not None and not self.router.drop_writes:
            self.router.weights = weights

    def scale_down(self, color: Color) -> None:
        self.calls.append(("scale_down", color))
        self._maybe_fail("scale_down")


class FakeCheck:
    def __init__(self, name: str = "http", passed: bool = True) -> None:
        self.name = name
        self.passed = passed
        self.runs = 0

    def run(self) -> CheckResult:
        self.runs += 1
        return CheckResult(self.name, self.passed, "ok" if self.passed else "got 503")


class RecordingPublisher:
    def __init__(self) -> None:
        self.events: list[ReleaseEvent] = []

    def publish(self, event: ReleaseEvent) -> None:
        self.events.append(event)


@dataclass
class FakeSynthetic:
    """SyntheticTraffic: what each listener answers, as functions of the request count; records calls."""

    test: Callable[[int], WindowMetrics] = lambda n: WindowMetrics(n, 0, 0.05, latencies=(0.05,) * n)
    production: Callable[[int], WindowMetrics] = lambda n: WindowMetrics(n, 0, 0.05, latencies=(0.05,) * n)
    calls: list[tuple[str, int, float]] = field(default_factory=list)

    def send(self, via: str, requests: int, seconds: float) -> WindowMetrics:
        self.calls.append((via, requests, seconds))
        return (self.test if via == "test" else self.production)(requests)
