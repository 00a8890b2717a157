"""Gate decisions over one metrics window: pure functions, no I/O.

One `evaluate` call is one analysis check of the new color over the cumulative window since the
step started (the caller looks again every `poll_seconds`). A firing alarm is `ALARM`: the caller
rolls back at once, CloudWatch has already applied its own evaluation periods.

Two judges, chosen by `AnalysisConfig.judge` (docs/analysis.md explains both):

- `sequential` (default): sequential tests of the new color against the stable color, safe to
  look at again and again as the window grows.
  - Errors: a Wald SPRT of H0 "the new color's error rate equals stable's" against H1 "it is
    higher by `min_detectable_error_increase`", on the cumulative counts of both colors. The
    stable rate is a nuisance parameter, profiled out (the rate under each hypothesis that best
    explains both colors), so the test holds when both colors have background errors.
  - Latency: one-sided Mann-Whitney U tests of the new color's latency samples against stable's,
    with alpha (and beta) spent over looks as the sample doubles. It fails only when the new color
    is significantly slower than stable by half the minimum effect (`min_detectable_latency_*`),
    and accepts once it is significantly faster than stable plus the whole minimum effect. Without
    latency samples, the threshold judge's p99 rules apply.
  - `alpha` is one judgement's chance of a false rollback (a release shares its own `alpha` out
    over its judgements first, `AnalysisConfig.for_release`), split evenly between the two tests;
    `beta` is the probability that a fault of exactly the minimum effect passes a step.
- `threshold`: fixed thresholds, a Wilson bound and a p99 ratio against stable (the judge before
  issue 14, kept for comparison and for sources without samples).

Both judges keep the absolute guards: `max_error_rate`, `max_p99_seconds`, `min_apdex`.

Outcomes. A verdict is FAIL as soon as a test or guard says so, PASS only on enough evidence
(`min_requests` and, for the sequential judge, both comparisons accepted or impossible), else
INCONCLUSIVE. "No data is never healthy."

`Verdict.conclusive` is True when the caller may roll back on this one verdict, without waiting
for `threshold` failed checks: an alarm; a sequential test that crossed its failure boundary; or an
absolute guard that failed on always-valid evidence rather than on a point estimate (the error
rate shown above `max_error_rate` by a mixture likelihood ratio, e.g. 5 errors in 10 requests
against 5%; p99 above `max_p99_seconds` by a distribution-free lower bound). A FAIL that is not
conclusive (a point estimate over a threshold, or the p99 ratio without samples) counts toward
`threshold` failed checks, as Flagger's `failedChecks >= threshold` does. The threshold judge's
failures are never conclusive: its Wilson bound is not built for repeated looks.

Settled tests. A sequential test stops once it has crossed a boundary: Wald's error bounds hold
for the first crossing, not for looks taken after it. So a verdict names the comparisons that
accepted (`Verdict.accepted`), and the caller passes them back as `settled` for the rest of the
step: they are not run again there. The absolute guards, the alarms and the metric checks still
judge every look, so a fault that starts after the acceptance is caught by them, and the next step
runs fresh tests. Without this latch a good release can cross the accept boundary and later, by
chance, the fail boundary within one bake (both false rollbacks of the first simulation).

`check_split` judges the observed split: the share of requests the new color served against the
weight that was set.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum

from scipy import optimize, special, stats

from .errors import InputError
from .ports import AlarmStatus, WindowMetrics

# Defaults from the article: rollback above 5% errors, above 2 s p99, below 0.8 Apdex.
DEFAULT_MAX_ERROR_RATE = 0.05
DEFAULT_MAX_P99_SECONDS = 2.0
DEFAULT_MIN_APDEX = 0.8
WILSON_Z = 1.96
JUDGES = ("sequential", "threshold")
ALPHA_SCOPES = ("release", "judgement")
ERROR_SPRT, LATENCY_RANK = "error_sprt", "latency_rank"
SETTLED_TESTS = (ERROR_SPRT, LATENCY_RANK)
"""The sequential comparisons that stop once they accept (see "Settled tests" above)."""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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
    """Threshold judge: fail when new error rate exceeds the stable color's by more than this (absolute)."""
    max_p99_ratio: float = 1.5
    """Fail when new p99 exceeds stable p99 times this (and the p99 floor); without latency samples."""
    p99_floor_seconds: float = 0.1
    """Below this p99 the relative comparison is noise and is skipped."""
    require_latency: bool = True
    """A step needs latency data (p99 or samples) to pass. Off only where the source has neither."""
    poll_seconds: float = 15.0
    """Seconds between analysis checks while baking."""
    judge: str = "sequential"
    """`sequential` (SPRT on errors, Mann-Whitney on latency) or `threshold` (the judge before issue 14)."""
    alpha: float = 0.02
    """Sequential judge: probability that the tests roll back a good release (`alpha_scope`)."""
    alpha_scope: str = "release"
    """`release`: `alpha` bounds the whole release, shared out over the judgements its plan makes
    (`for_release`), so more steps never mean more false rollbacks. `judgement`: `alpha` holds for
    each judgement alone (the synthetic bake, one step's users or probes): the meaning before, kept
    for releases journaled then. `evaluate` reads `alpha` as one judgement's."""
    beta: float = 0.2
    """Sequential judge: probability that a fault of exactly the minimum detectable effect passes a step."""
    min_detectable_error_increase: float = 0.02
    """Sequential judge: error-rate increase over stable (absolute, 0.02 = 2 points) to detect with power 1 - beta."""
    min_detectable_latency_ratio: float = 1.25
    """Sequential judge: a latency effect counts when the new color is this many times slower than stable ..."""
    min_detectable_latency_seconds: float = 0.1
    """... and at least this many seconds slower (the larger of the two is the minimum effect)."""
    latency_min_samples: int = 20
    """Sequential judge: latency samples each color needs before the rank tests run."""
    split_tolerance: float = 5.0
    """Observed split: percentage points the new color's share may differ from the weight set."""
    split_alpha: float = 0.01
    """Observed split: significance of a deviation beyond the tolerance, and 1 - confidence to pass."""
    split_min_requests: int = 100
    """Observed split: requests (both colors) before the split may pass."""

    def __post_init__(self) -> None:
        num, whole = _number, _integer
        checks: list[tuple[str, bool, str]] = [
            ("max_error_rate", num(self.max_error_rate) and 0 <= self.max_error_rate < 1, "must be in [0, 1)"),
            ("max_p99_seconds", num(self.max_p99_seconds) and self.max_p99_seconds > 0, "must be > 0 seconds"),
            ("min_apdex", num(self.min_apdex) and 0 <= self.min_apdex <= 1, "must be in [0, 1]"),
            ("min_requests", whole(self.min_requests) and self.min_requests >= 1, "must be >= 1"),
            ("threshold", whole(self.threshold) and self.threshold >= 1, "must be >= 1"),
            (
                "max_error_rate_increase",
                num(self.max_error_rate_increase) and 0 <= self.max_error_rate_increase < 1,
                "in [0, 1)",
            ),
            ("max_p99_ratio", num(self.max_p99_ratio) and self.max_p99_ratio >= 1, "must be >= 1"),
            ("p99_floor_seconds", num(self.p99_floor_seconds) and self.p99_floor_seconds >= 0, "must be >= 0 seconds"),
            ("require_latency", isinstance(self.require_latency, bool), "must be true or false"),
            ("poll_seconds", num(self.poll_seconds) and self.poll_seconds > 0, "must be > 0 seconds"),
            ("judge", self.judge in JUDGES, f"must be one of {', '.join(JUDGES)}, got {self.judge!r}"),
            ("alpha", num(self.alpha) and 0 < self.alpha < 0.5, "must be in (0, 0.5)"),
            ("alpha_scope", self.alpha_scope in ALPHA_SCOPES, f"must be one of {', '.join(ALPHA_SCOPES)}"),
            ("beta", num(self.beta) and 0 < self.beta < 0.5, "must be in (0, 0.5)"),
            (
                "min_detectable_error_increase",
                num(self.min_detectable_error_increase) and 0 < self.min_detectable_error_increase < 1,
                "must be in (0, 1)",
            ),
            (
                "min_detectable_latency_ratio",
                num(self.min_detectable_latency_ratio) and 1 <= self.min_detectable_latency_ratio <= 100,
                "must be in [1, 100]",
            ),
            (
                "min_detectable_latency_seconds",
                num(self.min_detectable_latency_seconds) and 0 <= self.min_detectable_latency_seconds <= 3600,
                "must be in [0, 3600] seconds",
            ),
            (
                "latency_min_samples",
                whole(self.latency_min_samples) and 5 <= self.latency_min_samples <= 1_000_000,
                "must be an integer 5-1000000",
            ),
            (
                "split_tolerance",
                num(self.split_tolerance) and 0 < self.split_tolerance < 100,
                "must be in (0, 100) points",
            ),
            ("split_alpha", num(self.split_alpha) and 0 < self.split_alpha < 0.5, "must be in (0, 0.5)"),
            (
                "split_min_requests",
                whole(self.split_min_requests) and 1 <= self.split_min_requests <= 1_000_000,
                "must be an integer 1-1000000",
            ),
        ]
        for name, ok, msg in checks:
            if not ok:
                raise InputError(f"analysis.{name}", msg)
        if self.min_detectable_latency_ratio == 1 and self.min_detectable_latency_seconds == 0:
            raise InputError(
                "analysis.min_detectable_latency_ratio",
                "a minimum latency effect is needed: ratio > 1 or min_detectable_latency_seconds > 0",
            )

    def for_release(self, synthetic: bool, step_judgements: int) -> tuple[AnalysisConfig, AnalysisConfig]:
        """(the synthetic bake's config, each step judgement's config) for a release whose plan has a
        synthetic bake or not and makes `step_judgements` judgements in its steps (`Plan.step_judgements`).

        With `alpha_scope: release`, `alpha` is shared out so that the chance that any test fails a
        good release is at most `alpha` (Bonferroni): the synthetic bake, which costs no user a
        request, gets half; the step judgements share the rest evenly (all of it without a bake).
        Each judgement splits its share again between its error and latency tests. The configs
        returned read `alpha` as one judgement's (`alpha_scope: judgement`), as `evaluate` does."""
        own = replace(self, alpha_scope="judgement")
        if self.alpha_scope == "judgement":
            return own, own
        share = self.alpha / 2 if synthetic and step_judgements > 0 else self.alpha
        return replace(own, alpha=share), replace(own, alpha=share / max(1, step_judgements))

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AnalysisConfig:
        """From `to_dict` output. Records journaled before a field existed lack it: its default
        applies, except where a resume after an upgrade must finish a release as it started:
        without `judge` it was started before the sequential judge existed (`threshold`), without
        `alpha_scope` its `alpha` was each judgement's (`judgement`)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"analysis.{unknown[0]}", "unknown analysis setting")
        return cls(**{"judge": "threshold", "alpha_scope": "judgement", **data})  # type: ignore[arg-type]


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
    conclusive: bool = False
    """The caller may roll back on this verdict alone (see the module docstring)."""
    accepted: frozenset[str] = frozenset()
    """Sequential tests that accepted in this check (`SETTLED_TESTS`): pass them back as `settled`."""
    failed_on_errors: int | None = None
    """Set when this FAIL rests only on the error guard's point estimate: the new color's errors it
    saw. The window is cumulative, so a later check failing on no more errors re-reads the same
    requests; the bake counts such a failure once (`bake.py`). None for any other verdict."""

    def to_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "reasons": list(self.reasons),
            "conclusive": self.conclusive,
            **({"accepted": sorted(self.accepted)} if self.accepted else {}),
            **({"failed_on_errors": self.failed_on_errors} if self.failed_on_errors is not None else {}),
            **self.figures,
        }


# -- statistics: small pure helpers ------------------------------------------------------------------
def wilson_lower_bound(errors: int, requests: int, z: float = WILSON_Z) -> float:
    """Lower bound of the Wilson score interval for errors/requests (0 without requests)."""
    if requests <= 0:
        return 0.0
    p = errors / requests
    denom = 1 + z * z / requests
    centre = p + z * z / (2 * requests)
    margin = z * math.sqrt(p * (1 - p) / requests + z * z / (4 * requests * requests))
    return max(0.0, (centre - margin) / denom)


def sprt_bounds(alpha: float, beta: float) -> tuple[float, float]:
    """Wald's (accept H0, reject H0) boundaries for the log likelihood ratio."""
    return math.log(beta / (1 - alpha)), math.log((1 - beta) / alpha)


def sprt_decision(llr: float, accept: float, reject: float) -> Judgement:
    """Wald's rule: FAIL at or above the reject boundary, PASS at or below the accept boundary."""
    if llr >= reject:
        return Judgement.FAIL
    if llr <= accept:
        return Judgement.PASS
    return Judgement.INCONCLUSIVE


def evidence_boundary(alpha: float) -> float:
    """Log evidence at which an always-valid guard is conclusive: level alpha / 2."""
    return math.log(2 / alpha)


def rank_decision(p_slower: float, p_within: float, alpha_now: float, beta_now: float) -> Judgement:
    """FAIL when "slower than half the effect" is significant at this look's alpha; PASS when
    "faster than the whole effect" is significant at this look's beta."""
    if p_slower < alpha_now:
        return Judgement.FAIL
    if p_within < beta_now:
        return Judgement.PASS
    return Judgement.INCONCLUSIVE


def _loglik(errors: int, requests: int, rate: float) -> float:
    return float(special.xlogy(errors, rate) + special.xlog1py(requests - errors, -rate))


def error_llr(new_errors: int, new_requests: int, stable_errors: int, stable_requests: int, increase: float) -> float:
    """Log likelihood ratio of H1 "new rate = stable rate + increase" against H0 "equal rates".

    Binomial counts for both colors; the unknown stable rate is profiled out: each hypothesis gets
    the stable rate that best explains both colors' counts.
    """
    pooled = (new_errors + stable_errors) / (new_requests + stable_requests)
    h0 = _loglik(new_errors, new_requests, pooled) + _loglik(stable_errors, stable_requests, pooled)

    def h1(stable_rate: float) -> float:
        return _loglik(new_errors, new_requests, stable_rate + increase) + _loglik(
            stable_errors, stable_requests, stable_rate
        )

    top = 1.0 - increase
    best = optimize.minimize_scalar(lambda r: -h1(r), bounds=(0.0, top), method="bounded", options={"xatol": 1e-12})
    # The bounded search never evaluates the ends; the likelihood is concave, so check them too.
    ends = [h1(0.0)] + ([h1(top)] if new_errors == new_requests else [])
    return max(-float(best.fun), *ends) - h0


def rate_above_evidence(errors: int, requests: int, limit: float) -> float:
    """Log evidence that the error rate is above `limit`: a mixture likelihood ratio (rates uniform
    over (limit, 1] against `limit`).

    For any true rate <= limit it is a nonnegative supermartingale, so by Ville's inequality it
    ever reaches log(1/a) with probability <= a, however often it is looked at. The Wilson bound
    is not: one error in the first three requests puts it above 5%.
    """
    if requests <= 0:
        return 0.0
    a, b = errors + 1, requests - errors + 1
    tail = float(special.betaincc(a, b, limit))
    if tail <= 0.0:
        return -math.inf
    mixture = float(special.betaln(a, b)) + math.log(tail) - math.log1p(-limit)
    return mixture - _loglik(errors, requests, limit)


def quantile_lower_bound(samples: Sequence[float], q: float, confidence: float) -> float | None:
    """Distribution-free lower confidence bound of the q-quantile (an order statistic), or None
    when the samples are too few for one."""
    n = len(samples)
    if n == 0:
        return None
    k = int(stats.binom.ppf(1 - confidence, n, q))  # P(Binomial(n, q) >= k) >= confidence
    if k < 1:
        return None
    return sorted(samples)[k - 1]


def look_spending(total: float, samples: int, first: int) -> tuple[int, float]:
    """Error probability to spend at this look: the look's level (how often the smaller sample has
    doubled since `first`) and total * 6 / (pi^2 (level + 1)^2), which sums to `total` over levels."""
    level = max(0, math.floor(math.log2(samples / first)))
    return level, total * 6 / (math.pi**2 * (level + 1) ** 2)


def _p_value(p: object) -> float:
    """A test's p-value; NaN (e.g. every sample tied) is no evidence."""
    value = float(p)  # type: ignore[arg-type]
    return value if math.isfinite(value) else 1.0


def _latency_margin(stable: Sequence[float], ratio: float, seconds: float) -> list[float]:
    """Stable latencies slowed by the effect: the larger of `ratio` x and `seconds` more."""
    return [max(y * ratio, y + seconds) for y in stable]


# -- the judges --------------------------------------------------------------------------------------
def evaluate(
    new: WindowMetrics,
    stable: WindowMetrics | None,
    alarms: AlarmStatus,
    cfg: AnalysisConfig,
    settled: frozenset[str] = frozenset(),
) -> Verdict:
    """One analysis check of the new color against the guards and the stable color.

    `settled`: sequential tests that already accepted in this step (`Verdict.accepted` of an
    earlier check); they are not run again.
    """
    figures: dict[str, object] = {
        "judge": cfg.judge,
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
            conclusive=True,
        )
    if cfg.judge == "threshold":
        return _threshold(new, stable, cfg, figures)
    unknown = settled - set(SETTLED_TESTS)
    if unknown:
        raise ValueError(f"settled: unknown tests {sorted(unknown)}; known: {list(SETTLED_TESTS)}")
    return _sequential(new, stable, cfg, figures, settled)


def _verdict(
    failures: list[str],
    conclusive: bool,
    waiting: list[str],
    figures: dict[str, object],
    accepted: frozenset[str] = frozenset(),
) -> Verdict:
    if failures:
        return Verdict(Judgement.FAIL, tuple(failures), figures, conclusive=conclusive, accepted=accepted)
    if waiting:
        return Verdict(Judgement.INCONCLUSIVE, tuple(waiting), figures, accepted=accepted)
    return Verdict(Judgement.PASS, (), figures, accepted=accepted)


def _threshold(
    new: WindowMetrics, stable: WindowMetrics | None, cfg: AnalysisConfig, figures: dict[str, object]
) -> Verdict:
    """The judge before issue 14: fixed thresholds, a Wilson bound, ratios against stable."""
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
    # Never conclusive: the Wilson bound is not built for repeated looks (1 error in the first 3
    # requests is "above 5%"), so this judge keeps rolling back only after `threshold` failures.
    return _verdict(failures, False, waiting, figures)


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
    out.extend(_p99_ratio(new, stable, cfg))
    return out


def _p99_ratio(new: WindowMetrics, stable: WindowMetrics, cfg: AnalysisConfig) -> list[str]:
    if (
        new.p99_seconds is not None
        and stable.p99_seconds is not None
        and new.p99_seconds > cfg.p99_floor_seconds
        and new.p99_seconds > stable.p99_seconds * cfg.max_p99_ratio
    ):
        return [f"p99 {new.p99_seconds:.3f}s is more than {cfg.max_p99_ratio}x stable {stable.p99_seconds:.3f}s"]
    return []


@dataclass
class _Findings:
    """What the parts of one sequential check found."""

    failures: list[str] = field(default_factory=list)
    conclusive: bool = False
    waiting: list[str] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    errors: int | None = None
    """The errors behind the error guard's point-estimate failure, while it is the only failure."""
    other: bool = False

    def fail(self, reason: str, *, conclusive: bool, errors: int | None = None) -> None:
        self.failures.append(reason)
        self.conclusive = self.conclusive or conclusive
        if errors is None:
            self.other = True
        else:
            self.errors = errors

    def failed_on_errors(self) -> int | None:
        return None if self.other or self.conclusive else self.errors


def _sequential(
    new: WindowMetrics,
    stable: WindowMetrics | None,
    cfg: AnalysisConfig,
    figures: dict[str, object],
    settled: frozenset[str],
) -> Verdict:
    found = _Findings()
    enough = new.requests >= cfg.min_requests
    # Stable evidence for a comparison; without it (fleets, the 100% step) only the guards judge.
    baseline = stable if stable is not None and stable.requests >= cfg.min_requests else None
    _error_guard(new, cfg, enough, found, figures)
    if ERROR_SPRT in settled:
        figures[ERROR_SPRT] = {"settled": "accepted earlier in the step"}
    elif baseline is not None:
        _error_sprt(new, baseline, cfg, found, figures)
    if not enough:
        found.waiting.append(f"{new.requests} of {cfg.min_requests} required requests")
    if new.latencies:
        _latency_guard(new, cfg, enough, found, figures)
        if LATENCY_RANK in settled:
            figures[LATENCY_RANK] = {"settled": "accepted earlier in the step"}
        elif baseline is not None and baseline.latencies:
            _latency_rank(new.latencies, baseline.latencies, cfg, found, figures)
    elif enough:
        # No samples (ALB's CloudWatch metrics): the threshold judge's p99 rules.
        if new.p99_seconds is None:
            if cfg.require_latency:
                found.waiting.append("no p99 data for the new color")
        elif new.p99_seconds > cfg.max_p99_seconds:
            found.fail(f"p99 {new.p99_seconds:.3f}s > {cfg.max_p99_seconds:.3f}s", conclusive=False)
        if baseline is not None:
            for reason in _p99_ratio(new, baseline, cfg):
                found.fail(reason, conclusive=False)
    if enough and new.apdex is not None and new.apdex < cfg.min_apdex:
        found.fail(f"apdex {new.apdex:.3f} < {cfg.min_apdex:.3f}", conclusive=False)
    verdict = _verdict(found.failures, found.conclusive, found.waiting, figures, frozenset(found.accepted))
    return replace(verdict, failed_on_errors=found.failed_on_errors()) if found.failures else verdict


def _error_guard(
    new: WindowMetrics, cfg: AnalysisConfig, enough: bool, found: _Findings, figures: dict[str, object]
) -> None:
    """max_error_rate: conclusive on always-valid evidence, a counted failure on the point estimate."""
    rate = new.error_rate
    if rate is None:
        return
    evidence = rate_above_evidence(new.errors_5xx, new.requests, cfg.max_error_rate)
    figures["error_guard_log_evidence"] = round(evidence, 4)
    if evidence >= evidence_boundary(cfg.alpha):
        found.fail(f"error rate {rate:.2%} > {cfg.max_error_rate:.2%} (conclusively)", conclusive=True)
    elif enough and rate > cfg.max_error_rate:
        found.fail(f"error rate {rate:.2%} > {cfg.max_error_rate:.2%}", conclusive=False, errors=new.errors_5xx)


def _error_sprt(
    new: WindowMetrics, stable: WindowMetrics, cfg: AnalysisConfig, found: _Findings, figures: dict[str, object]
) -> None:
    accept, reject = sprt_bounds(cfg.alpha / 2, cfg.beta)
    llr = error_llr(new.errors_5xx, new.requests, stable.errors_5xx, stable.requests, cfg.min_detectable_error_increase)
    figures["error_sprt"] = {"llr": round(llr, 4), "accept_at": round(accept, 4), "reject_at": round(reject, 4)}
    new_rate, stable_rate = new.error_rate or 0.0, stable.error_rate or 0.0
    decision = sprt_decision(llr, accept, reject)
    if decision is Judgement.FAIL:
        found.fail(
            f"error rate {new_rate:.2%} against stable {stable_rate:.2%}: the SPRT says higher by "
            f"{cfg.min_detectable_error_increase:.2%} (LLR {llr:.2f} >= {reject:.2f})",
            conclusive=True,
        )
    elif decision is Judgement.INCONCLUSIVE:
        found.waiting.append(
            f"error rate {new_rate:.2%} against stable {stable_rate:.2%}: not yet shown equal (LLR {llr:.2f})"
        )
    else:
        found.accepted.add(ERROR_SPRT)


def _latency_guard(
    new: WindowMetrics, cfg: AnalysisConfig, enough: bool, found: _Findings, figures: dict[str, object]
) -> None:
    """max_p99_seconds on the samples: conclusive on the lower bound of p99, counted on the estimate."""
    p99 = new.p99_seconds if new.p99_seconds is not None else _quantile(new.latencies, 0.99)
    confidence = 1 - cfg.alpha / 2
    lower = quantile_lower_bound(new.latencies, 0.99, confidence)
    figures["p99_lower_bound_seconds"] = lower
    if lower is not None and lower > cfg.max_p99_seconds:
        found.fail(
            f"p99 {p99:.3f}s > {cfg.max_p99_seconds:.3f}s ({confidence:.1%} lower bound {lower:.3f}s)", conclusive=True
        )
    elif enough and p99 > cfg.max_p99_seconds:
        found.fail(f"p99 {p99:.3f}s > {cfg.max_p99_seconds:.3f}s", conclusive=False)


def _quantile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _latency_rank(
    new: Sequence[float], stable: Sequence[float], cfg: AnalysisConfig, found: _Findings, figures: dict[str, object]
) -> None:
    """Mann-Whitney U, one-sided, against stable slowed by half the effect (fail) and by all of it (pass)."""
    smaller = min(len(new), len(stable))
    if smaller < cfg.latency_min_samples:
        found.waiting.append(f"{smaller} of {cfg.latency_min_samples} latency samples per color")
        return
    ratio, seconds = cfg.min_detectable_latency_ratio, cfg.min_detectable_latency_seconds
    level, alpha_now = look_spending(cfg.alpha / 2, smaller, cfg.latency_min_samples)
    _, beta_now = look_spending(cfg.beta, smaller, cfg.latency_min_samples)
    half = _latency_margin(stable, math.sqrt(ratio), seconds / 2)
    slower = _p_value(stats.mannwhitneyu(new, half, alternative="greater").pvalue)
    whole = _latency_margin(stable, ratio, seconds)
    faster = _p_value(stats.mannwhitneyu(new, whole, alternative="less").pvalue)
    new_median, stable_median = statistics.median(new), statistics.median(stable)
    figures["latency_rank"] = {
        "new_median_seconds": new_median,
        "stable_median_seconds": stable_median,
        "look_level": level,
        "p_slower": slower,
        "alpha_at_look": alpha_now,
        "p_within_effect": faster,
        "beta_at_look": beta_now,
    }
    effect = f"{ratio:g}x or +{seconds:g}s"
    decision = rank_decision(slower, faster, alpha_now, beta_now)
    if decision is Judgement.FAIL:
        found.fail(
            f"latency: median {new_median:.3f}s against stable {stable_median:.3f}s, slower than half of "
            f"{effect} (Mann-Whitney p={slower:.2g} < {alpha_now:.2g})",
            conclusive=True,
        )
    elif decision is Judgement.INCONCLUSIVE:
        found.waiting.append(
            f"latency: median {new_median:.3f}s against stable {stable_median:.3f}s, not yet shown within {effect}"
        )
    else:
        found.accepted.add(LATENCY_RANK)


# -- the observed split ------------------------------------------------------------------------------
def check_split(new_requests: int, stable_requests: int, expected_new_percent: int, cfg: AnalysisConfig) -> Verdict:
    """Is the share of requests on the new color the weight that was set?

    FAIL when the share is beyond `split_tolerance` percentage points of the weight,
    significantly: a binomial test against the nearer edge of the tolerance band, at `split_alpha`.
    Not conclusive: it counts toward `threshold` failed checks. A window that starts at a weight
    change holds requests sent at the old weights (in flight, or counted by a metrics period that
    straddles the change), and a first check on few requests can show that; the window grows with
    every check and dilutes it, while a split that is really wrong keeps failing. (The 20-run
    rehearsal bench showed it: a good release rolled back on its first check at 100%, "85.7% of 56
    requests".)
    PASS once at least `split_min_requests` requests were seen and the share is inside the band.
    Otherwise INCONCLUSIVE. Weights of 0 and 100 work: before the old color is scaled down, it must
    be getting (next to) nothing.
    """
    total = new_requests + stable_requests
    expected = expected_new_percent / 100
    tolerance = cfg.split_tolerance / 100
    low, high = max(0.0, expected - tolerance), min(1.0, expected + tolerance)
    figures: dict[str, object] = {
        "new_requests": new_requests,
        "stable_requests": stable_requests,
        "expected_new_percent": expected_new_percent,
        "tolerance_points": cfg.split_tolerance,
    }
    if total <= 0:
        return Verdict(
            Judgement.INCONCLUSIVE, (f"0 of {cfg.split_min_requests} requests to confirm the split",), figures
        )
    share = new_requests / total
    figures["observed_new_percent"] = round(100 * share, 3)
    said = f"new color served {share:.1%} of {total} requests, set {expected_new_percent}%"
    if share > high or share < low:
        edge, side = (high, "greater") if share > high else (low, "less")
        p = float(stats.binomtest(new_requests, total, edge, alternative=side).pvalue)
        figures["p_beyond_tolerance"] = p
        if p < cfg.split_alpha:
            return Verdict(
                Judgement.FAIL,
                (f"{said}: more than {cfg.split_tolerance:g} points off (p={p:.2g})",),
                figures,
            )
        return Verdict(
            Judgement.INCONCLUSIVE,
            (f"{said}: off by more than {cfg.split_tolerance:g} points, not yet significantly",),
            figures,
        )
    if total < cfg.split_min_requests:
        return Verdict(
            Judgement.INCONCLUSIVE, (f"{said}: {total} of {cfg.split_min_requests} requests to confirm it",), figures
        )
    return Verdict(Judgement.PASS, (), figures)
