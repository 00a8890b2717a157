"""Gate decisions over one metrics window: pure functions, no I/O.

One `evaluate` call is one analysis check. The strategy counts failed checks across the release
and rolls back once `threshold` of them failed (Flagger: `failedChecks >= threshold`). A firing
alarm rolls back at once: CloudWatch has already applied its own evaluation periods.

"No data is never healthy": a step passes only with at least `min_requests` requests for the new
color. Failure, on the other hand, may be proven early: the error-rate check also fails when the
95% Wilson lower bound of the error rate already exceeds the limit (e.g. 8 errors in 10 requests),
so a bad canary is caught with few requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from .errors import InputError
from .ports import AlarmStatus, WindowMetrics

# Defaults from the article: rollback above 5% errors, above 2 s p99, below 0.8 Apdex.
DEFAULT_MAX_ERROR_RATE = 0.05
DEFAULT_MAX_P99_SECONDS = 2.0
DEFAULT_MIN_APDEX = 0.8
WILSON_Z = 1.96


@dataclass(frozen=True)
class AnalysisConfig:
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    """Roll back above this 5xx / requests ratio."""
    max_p99_seconds: float = DEFAULT_MAX_P99_SECONDS
    """Roll back above this p99 target response time."""
    min_apdex: float = DEFAULT_MIN_APDEX
    """Roll back below this Apdex (checked only when the metrics source reports Apdex)."""
    min_requests: int = 50
    """Requests the new color must serve in a step before the step may pass."""
    threshold: int = 2
    """Failed checks across the release that trigger rollback (Flagger semantics)."""
    max_error_rate_increase: float = 0.02
    """Fail when new error rate exceeds the stable color's by more than this (absolute)."""
    max_p99_ratio: float = 1.5
    """Fail when new p99 exceeds stable p99 times this (and the p99 floor)."""
    p99_floor_seconds: float = 0.1
    """Below this p99 the relative comparison is noise and is skipped."""
    require_latency: bool = True
    """A step needs p99 data to pass. Off only where the source cannot compute percentiles."""
    poll_seconds: float = 15.0
    """Seconds between analysis checks while baking."""

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("analysis.max_error_rate", 0 <= self.max_error_rate < 1, "must be in [0, 1)"),
            ("analysis.max_p99_seconds", self.max_p99_seconds > 0, "must be > 0 seconds"),
            ("analysis.min_apdex", 0 <= self.min_apdex <= 1, "must be in [0, 1]"),
            ("analysis.min_requests", self.min_requests >= 1, "must be >= 1"),
            ("analysis.threshold", self.threshold >= 1, "must be >= 1"),
            ("analysis.max_error_rate_increase", 0 <= self.max_error_rate_increase < 1, "in [0, 1)"),
            ("analysis.max_p99_ratio", self.max_p99_ratio >= 1, "must be >= 1"),
            ("analysis.poll_seconds", self.poll_seconds > 0, "must be > 0 seconds"),
        ]
        for key, ok, msg in checks:
            if not ok:
                raise InputError(key, msg)

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AnalysisConfig:
        return cls(**data)  # type: ignore[arg-type]


class Judgement(StrEnum):
    PASS = "pass"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"
    ALARM = "alarm"


@dataclass(frozen=True)
class Verdict:
    outcome: Judgement
    reasons: tuple[str, ...] = ()
    figures: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"outcome": self.outcome.value, "reasons": list(self.reasons), **self.figures}


def wilson_lower_bound(errors: int, requests: int, z: float = WILSON_Z) -> float:
    """Lower bound of the Wilson score interval for errors/requests (0 without requests)."""
    if requests <= 0:
        return 0.0
    p = errors / requests
    denom = 1 + z * z / requests
    centre = p + z * z / (2 * requests)
    margin = z * math.sqrt(p * (1 - p) / requests + z * z / (4 * requests * requests))
    return max(0.0, (centre - margin) / denom)


def evaluate(
    new: WindowMetrics,
    stable: WindowMetrics | None,
    alarms: AlarmStatus,
    cfg: AnalysisConfig,
) -> Verdict:
    """One analysis check of the new color against thresholds and the stable color."""
    figures: dict[str, object] = {
        "requests": new.requests,
        "errors_5xx": new.errors_5xx,
        "error_rate": new.error_rate,
        "p99_seconds": new.p99_seconds,
        "apdex": new.apdex,
        "alarms_firing": list(alarms.firing),
    }
    if alarms.is_firing:
        detail = f" ({alarms.detail})" if alarms.detail else ""
        return Verdict(
            Judgement.ALARM,
            (f"alarm in ALARM: {', '.join(alarms.firing)} [{alarms.source}]{detail}",),
            figures,
        )

    failures: list[str] = []
    waiting: list[str] = []
    enough = new.requests >= cfg.min_requests
    rate = new.error_rate

    if rate is not None:
        lower = wilson_lower_bound(new.errors_5xx, new.requests)
        if (enough and rate > cfg.max_error_rate) or lower > cfg.max_error_rate:
            failures.append(f"error rate {rate:.2%} > {cfg.max_error_rate:.2%}")
    if not enough:
        waiting.append(f"{new.requests} of {cfg.min_requests} required requests")

    if enough:
        if new.p99_seconds is None:
            if cfg.require_latency:
                waiting.append("no p99 data for the new color")
        elif new.p99_seconds > cfg.max_p99_seconds:
            failures.append(f"p99 {new.p99_seconds:.3f}s > {cfg.max_p99_seconds:.3f}s")
        if new.apdex is not None and new.apdex < cfg.min_apdex:
            failures.append(f"apdex {new.apdex:.3f} < {cfg.min_apdex:.3f}")
        failures.extend(_relative(new, stable, cfg))

    if failures:
        return Verdict(Judgement.FAIL, tuple(failures), figures)
    if waiting:
        return Verdict(Judgement.INCONCLUSIVE, tuple(waiting), figures)
    return Verdict(Judgement.PASS, (), figures)


def _relative(new: WindowMetrics, stable: WindowMetrics | None, cfg: AnalysisConfig) -> list[str]:
    """Degradation against the stable color, compared only when the stable color has evidence."""
    if stable is None or stable.requests < cfg.min_requests:
        return []
    out: list[str] = []
    new_rate, stable_rate = new.error_rate, stable.error_rate
    if new_rate is not None and stable_rate is not None and new_rate - stable_rate > cfg.max_error_rate_increase:
        out.append(
            f"error rate {new_rate:.2%} exceeds stable {stable_rate:.2%} by more than {cfg.max_error_rate_increase:.2%}"
        )
    if (
        new.p99_seconds is not None
        and stable.p99_seconds is not None
        and new.p99_seconds > cfg.p99_floor_seconds
        and new.p99_seconds > stable.p99_seconds * cfg.max_p99_ratio
    ):
        out.append(f"p99 {new.p99_seconds:.3f}s is more than {cfg.max_p99_ratio}x stable {stable.p99_seconds:.3f}s")
    return out
