"""The ports the release strategies and the machine talk to, and the value types that cross them.

The core decides; adapters act. Every effect goes through one of these Protocols, so the same
strategy drives a cloud release and the local rehearsal, and tests drive it with fakes and a fake
clock (tests/driver/fakes.py).

| port            | AWS adapter (driver/adapters)               | local rehearsal (rehearsal/)       |
| --------------- | ------------------------------------------- | ---------------------------------- |
| TrafficRouter   | aws/router.py `ElbRuleRouter`               | router.py `HaproxyRouter`          |
| MetricsSource   | aws/metrics.py `CloudWatchMetrics`          | metrics.py `HaproxyMetrics`        |
| Deployer        | stack_deployer.py `StackDeployer`           | deployer.py `LocalDeployer`        |
| PreTrafficCheck | checks.py `HttpCheck`, `CommandHook`        | checks.py                          |
| SyntheticTraffic| synthetic.py (driver or probe function)     | synthetic.py                       |
| MigrationRunner | aws/migration_task.py `EcsMigrationRunner`  | migrations.py `CommandMigrationRunner` |
| EventPublisher  | aws/events.py `SnsPublisher`                | `NullPublisher` below              |
| Journal         | release_store.py `ReleaseStore` (S3)        | release_store.py (local files)     |
| FleetStack      | pulumi_stack.py `StackOps`                  | -                                  |
| FleetStates     | release_store.py `ReleaseStore`             | -                                  |
| Refresher       | aws/instance_refresh.py `InstanceRefresher` | -                                  |
| FleetMetrics    | aws/metrics.py `TargetGroupMetrics`         | -                                  |
| FlagStore       | aws/appconfig.py `AppConfigFlagStore`       | adapters/flag_file.py `FileFlagStore` |
| FlagMetrics     | aws/flag_metrics.py `CloudWatchFlagMetrics` | flag_release.py `VariantMetrics`   |
| FlagStates      | release_store.py `ReleaseStore`             | release_store.py (local files)     |
| Clock           | `SystemClock` below                         | `SystemClock` below                |

Conventions every implementation keeps:
- Times are float seconds since the epoch, from the injected `Clock` (never `time.time()` directly).
- Weights are whole percents and always sum to 100 (`Weights` refuses anything else).
- A port raises `PortError` (or a subclass) for a failure the machine should treat as a failed
  operation; it records it and rolls back or stops. Anything else is a bug.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ...contract import Color, Weights
from ...contract.release_state import FlagSetState, FleetState
from .status import Record


# -- value types ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowMetrics:
    """What one color (or target group) served in a time window.

    `requests` and `errors_5xx` are counts; `p99_seconds` and `apdex` are None when the source
    has no data for them (None is never treated as healthy by the analysis).
    """

    requests: int
    errors_5xx: int
    p99_seconds: float | None = None
    apdex: float | None = None
    latencies: tuple[float, ...] = ()
    """Response times (seconds) of a sample of the window's requests, for rank tests; empty when the
    source has only aggregates (ALB's CloudWatch metrics)."""

    @property
    def error_rate(self) -> float | None:
        """5xx / requests, or None without requests (no data is not a 0% error rate)."""
        if self.requests <= 0:
            return None
        return self.errors_5xx / self.requests

    def plus(self, other: WindowMetrics) -> WindowMetrics:
        """Both windows together (e.g. one step's probes): counts added, the latency samples joined
        (the newest MAX_LATENCY_SAMPLES kept) and p99 over them, else the larger p99. Apdex drops."""
        latencies = (self.latencies + other.latencies)[-MAX_LATENCY_SAMPLES:]
        p99s = [p for p in (self.p99_seconds, other.p99_seconds) if p is not None]
        return WindowMetrics(
            requests=self.requests + other.requests,
            errors_5xx=self.errors_5xx + other.errors_5xx,
            p99_seconds=nearest_rank_p99(latencies) if latencies else (max(p99s) if p99s else None),
            latencies=latencies,
        )


MAX_LATENCY_SAMPLES = 5000
"""Latency samples a window keeps for the rank test: enough for it, bounded in memory."""


def nearest_rank_p99(latencies: tuple[float, ...] | list[float]) -> float | None:
    """Nearest-rank 99th percentile, None without data."""
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass(frozen=True)
class AlarmStatus:
    """Alarm state of one color or fleet.

    `source` says what was read: "composite" (the composite alarm), "members" (the metric alarms,
    when no composite exists, e.g. moto), or "none" (no alarms configured). `firing` lists the
    alarm names in ALARM; `detail` is one human line for the report.
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
class MigrationResult:
    """How one migration command ended (expand, compat or contract)."""

    phase: str
    passed: bool
    detail: str = ""
    exit_code: int | None = None
    log_url: str = ""
    """Where its output is: the CloudWatch console URL of the task's log stream, or a local log file."""
    task: str = ""
    """The ECS task ARN (or the local process id) that ran it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "passed": self.passed,
            "detail": self.detail,
            "exit_code": self.exit_code,
            "log_url": self.log_url,
            "task": self.task,
        }


@dataclass(frozen=True)
class ReleaseEvent:
    """A notable transition, for optional publishing (SNS on AWS)."""

    stack: str
    service: str
    release_id: str
    state: str
    message: str
    data: dict[str, object] = field(default_factory=dict)


# -- instance refresh values (fleet releases) ------------------------------------------------------------
REFRESH_ACTIVE = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})
REFRESH_SUCCESSFUL = "Successful"
ROLLBACK_IN_PROGRESS = "RollbackInProgress"
ROLLBACK_SUCCESSFUL = "RollbackSuccessful"
ROLLBACK_FAILED = "RollbackFailed"
ROLLBACK_STATUSES = frozenset({ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED})


@dataclass(frozen=True)
class DesiredTemplate:
    """The launch template version a refresh moves the group to."""

    launch_template_id: str
    version: str


@dataclass(frozen=True)
class RefreshStatus:
    """One instance refresh as EC2 Auto Scaling reports it."""

    refresh_id: str
    status: str
    percent_complete: int
    reason: str
    desired_version: str | None = None
    """Launch template version of the refresh's DesiredConfiguration (None without one)."""
    start_time: float | None = None
    """Epoch seconds AWS started the refresh, when it says."""

    @property
    def active(self) -> bool:
        return self.status in REFRESH_ACTIVE


@dataclass(frozen=True)
class TemplateVersions:
    """What the stack says about a fleet's launch template after an `up`."""

    launch_template_id: str
    pinned: int
    """`launchTemplateVersion`: the version the group is pinned to (the released one)."""
    latest: int
    """`launchTemplateLatestVersion`: the template's newest version."""


# -- ports --------------------------------------------------------------------------------------------------
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
class MigrationRunner(Protocol):
    """Runs one schema migration command to its end (bounded) and reports its exit."""

    def run(self, phase: str, command: str, image: str, env: Mapping[str, str]) -> MigrationResult:
        """Run `command` (`phase`: expand, compat or contract) with `image`; a command that exits
        non-zero is `passed=False`. PortError only when it could not be run or awaited."""
        ...


@runtime_checkable
class SyntheticTraffic(Protocol):
    """Bounded synthetic requests, measured by the sender as they complete: evidence with no metrics lag.

    `via="test"` goes through the test listener, which serves only the new (idle) color; `via=
    "production"` through the production listener, which serves only the stable color before the
    first shift. Every call stops by itself after `requests` requests or `seconds`, whichever is first.
    """

    def send(self, via: Literal["test", "production"], requests: int, seconds: float) -> WindowMetrics:
        """What the requests got: counts, 5xx (and no answer) as errors, p99 and `latencies`."""
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

    def healthy_targets(self, color: Color) -> int:
        """How many targets of `color` the load balancer reports healthy now."""
        ...

    def declare(self, weights: Weights, live_color: Color) -> None:
        """Record `weights`/`live_color` as the release state before traffic moves (AWS: the release
        store, which every `up` applies; local: nothing to record). Fast, no `up`."""
        ...

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        """Declare, then make the platform match (AWS: `up` from the release store; local: no-op)."""
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


@runtime_checkable
class Journal(Protocol):
    """The durable record of a service's releases, and abort requests for a running driver.

    `append` is the only write of release state: the machine calls it before every effect. It
    raises JournalError when the record cannot be made durable.
    """

    stack: str
    service: str

    def append(self, record: Record) -> None: ...

    def records(self, release_id: str) -> list[Record]:
        """Every record of `release_id`, oldest first (empty when unknown)."""
        ...

    def release_ids(self) -> list[str]:
        """Every release of the service, oldest first."""
        ...

    def last(self, release_id: str | None = None) -> Record | None:
        """The newest record of `release_id` (default: of the newest release)."""
        ...

    def request_abort(self, release_id: str, reason: str) -> None: ...

    def abort_requested(self, release_id: str) -> str | None:
        """The reason of a pending abort request for `release_id`, else None."""
        ...

    def clear_abort(self) -> None: ...

    def next_seq(self, release_id: str) -> int:
        """The first record number not taken (unreadable records take theirs too)."""
        ...

    def keep_alive(self) -> None:
        """Renew the lease of the driver that writes; FencedOut when another driver took it."""
        ...


@runtime_checkable
class FleetStack(Protocol):
    """The stack operations a fleet release needs (Automation API on AWS)."""

    def up(self, message: str = "") -> Any: ...

    def refresh(self) -> Any: ...

    def template_versions(self, fleet: str) -> TemplateVersions:
        """The fleet's launch template versions from the stack outputs; PortError when absent."""
        ...


@runtime_checkable
class FleetStates(Protocol):
    """A fleet's release state in the release store (what every `up` applies)."""

    def fleet_state(self) -> FleetState | None: ...

    def write_fleet_state(self, state: FleetState) -> None: ...


@runtime_checkable
class Refresher(Protocol):
    """EC2 Auto Scaling instance refresh of one group."""

    def start(self, preferences: Mapping[str, Any], desired: DesiredTemplate | None = None) -> str: ...

    def latest(self) -> RefreshStatus | None: ...

    def get(self, refresh_id: str) -> RefreshStatus: ...

    def cancel(self) -> None: ...

    def rollback(self) -> None:
        """Ask AWS to roll the running refresh back; RefreshNotReversible or NoActiveRefresh when it cannot."""
        ...


@runtime_checkable
class FleetMetrics(Protocol):
    """The fleet's one target group and its alarms."""

    def window(self, start: float, end: float) -> WindowMetrics: ...

    def alarms(self) -> AlarmStatus: ...


@runtime_checkable
class FlagStore(Protocol):
    """Where a flag set's document lives, and how a change reaches the service (flag releases)."""

    def set_percentage(self, flag: str, percentage: int) -> None:
        """Write `flag` at `percentage` (0: disabled, the kill switch) and start serving it; every
        other flag stays as it is. Idempotent. PortError when the store refuses."""
        ...

    def percentage(self, flag: str) -> int:
        """The percentage the service is served now (AppConfig: of the last completed deployment)."""
        ...


@runtime_checkable
class FlagStates(Protocol):
    """A flag set's release state in the release store (what every `up` deploys)."""

    def flag_set_state(self, flag_set: str) -> FlagSetState | None: ...

    def write_flag_set_state(self, flag_set: str, state: FlagSetState) -> None: ...


Variant = Literal["on", "off"]


@runtime_checkable
class FlagMetrics(Protocol):
    """Requests split by what a flag gave them: `on` (the flagged path) and `off` (the baseline)."""

    def window(self, flag: str, variant: Variant, start: float, end: float) -> WindowMetrics:
        """What the requests evaluated to `variant` of `flag` got between `start` and `end`."""
        ...

    def alarms(self) -> AlarmStatus:
        """The flag set's alarms (the ones AppConfig monitors too)."""
        ...


# -- the simple implementations every platform shares ---------------------------------------------------
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
