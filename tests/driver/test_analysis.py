"""Gate decisions over one metrics window."""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from scipy import stats
from zero_downtime.driver.core import analysis
from zero_downtime.driver.core.analysis import (
    AnalysisConfig,
    Judgement,
    Verdict,
    check_split,
    error_llr,
    evaluate,
    evidence_boundary,
    look_spending,
    quantile_lower_bound,
    rank_decision,
    rate_above_evidence,
    sprt_bounds,
    sprt_decision,
    wilson_lower_bound,
)
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.ports import AlarmStatus, WindowMetrics

# The tests up to the sequential section pin the threshold judge: they state its semantics.
CFG = AnalysisConfig(min_requests=100, judge="threshold")
STABLE = WindowMetrics(requests=1000, errors_5xx=5, p99_seconds=0.2, apdex=0.97)
NO_ALARMS = AlarmStatus()


def verdict(new: WindowMetrics, stable: WindowMetrics | None = STABLE, **cfg: object):
    return evaluate(new, stable, NO_ALARMS, AnalysisConfig(**{"min_requests": 100, "judge": "threshold", **cfg}))


def test_healthy_window_passes() -> None:
    v = verdict(WindowMetrics(200, 2, 0.25, 0.95))
    assert v.outcome is Judgement.PASS and v.reasons == ()
    assert v.figures["error_rate"] == pytest.approx(0.01)


def test_defaults_come_from_the_article() -> None:
    cfg = AnalysisConfig()
    assert (cfg.max_error_rate, cfg.max_p99_seconds, cfg.min_apdex) == (0.05, 2.0, 0.8)


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        (WindowMetrics(200, 12, 0.2, 0.95), "error rate 6.00% > 5.00%"),
        (WindowMetrics(200, 0, 2.5, 0.95), "p99 2.500s > 2.000s"),
        (WindowMetrics(200, 0, 0.2, 0.7), "apdex 0.700 < 0.800"),
    ],
    ids=["error-rate", "p99", "apdex"],
)
def test_absolute_thresholds_fail(new: WindowMetrics, reason: str) -> None:
    v = verdict(new)
    assert v.outcome is Judgement.FAIL
    assert reason in v.reasons


def test_too_few_requests_is_inconclusive_not_healthy() -> None:
    v = verdict(WindowMetrics(40, 0, 0.1, 1.0))
    assert v.outcome is Judgement.INCONCLUSIVE
    assert "40 of 100 required requests" in v.reasons


def test_zero_requests_is_inconclusive() -> None:
    assert verdict(WindowMetrics(0, 0)).outcome is Judgement.INCONCLUSIVE


def test_clear_failure_is_caught_before_min_requests() -> None:
    assert verdict(WindowMetrics(10, 8, 0.1)).outcome is Judgement.FAIL
    # One error in twenty is not yet evidence of more than 5%.
    assert verdict(WindowMetrics(20, 1, 0.1)).outcome is Judgement.INCONCLUSIVE


def test_missing_p99_blocks_passing_unless_latency_not_required() -> None:
    assert verdict(WindowMetrics(200, 0)).outcome is Judgement.INCONCLUSIVE
    assert verdict(WindowMetrics(200, 0), require_latency=False).outcome is Judgement.PASS


def test_relative_degradation_against_stable() -> None:
    v = verdict(WindowMetrics(1000, 40, 0.2))  # 4% vs stable 0.5%
    assert v.outcome is Judgement.FAIL
    assert any("exceeds stable" in r for r in v.reasons)
    slow = verdict(WindowMetrics(1000, 0, 0.5))  # 2.5x stable p99
    assert any("more than 1.5x stable" in r for r in slow.reasons)


def test_relative_check_needs_stable_evidence() -> None:
    thin_stable = WindowMetrics(3, 0, 0.01)
    assert verdict(WindowMetrics(1000, 40, 0.5), stable=thin_stable).outcome is Judgement.PASS


def test_firing_alarm_wins_over_healthy_metrics() -> None:
    alarms = AlarmStatus(firing=("api-green-5xx",), source="members", detail="no composite")
    v = evaluate(WindowMetrics(500, 0, 0.1), STABLE, alarms, CFG)
    assert v.outcome is Judgement.ALARM
    assert "api-green-5xx" in v.reasons[0] and "[members]" in v.reasons[0]


def test_wilson_bound() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert 0.0 < wilson_lower_bound(8, 10) < 0.8
    assert wilson_lower_bound(50, 1000) < 0.05 < wilson_lower_bound(80, 1000)


@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"max_error_rate": 1.5}, "analysis.max_error_rate"),
        ({"max_p99_seconds": 0}, "analysis.max_p99_seconds"),
        ({"min_apdex": 2}, "analysis.min_apdex"),
        ({"min_requests": 0}, "analysis.min_requests"),
        ({"threshold": 0}, "analysis.threshold"),
        ({"poll_seconds": 0}, "analysis.poll_seconds"),
        ({"max_p99_ratio": 0.5}, "analysis.max_p99_ratio"),
    ],
)
def test_bad_analysis_settings_name_the_setting(kw: dict, key: str) -> None:
    with pytest.raises(InputError) as err:
        AnalysisConfig(**kw)
    assert err.value.key == key


def test_threshold_judge_failures_are_never_conclusive() -> None:
    # One error in the first request is "above 5%" by Wilson: a counted failure, not a rollback.
    v = verdict(WindowMetrics(1, 1, 0.1))
    assert v.outcome is Judgement.FAIL and v.conclusive is False
    alarms = AlarmStatus(firing=("api-green-5xx",), source="composite")
    assert evaluate(WindowMetrics(1, 0), STABLE, alarms, CFG).conclusive is True


# -- exactly at every threshold of the threshold judge: `>` and `>=` give different outcomes -----------
@dataclass(frozen=True)
class Edge:
    name: str
    at: WindowMetrics
    beyond: WindowMetrics
    stable: WindowMetrics | None = STABLE
    cfg: dict[str, object] = field(default_factory=dict)


THRESHOLD_EDGES = [
    Edge("max_error_rate", WindowMetrics(200, 10, 0.2), WindowMetrics(200, 11, 0.2), stable=None),  # 5.0% / 5.5%
    Edge("max_p99_seconds", WindowMetrics(200, 0, 2.0), WindowMetrics(200, 0, 2.001), stable=None),
    Edge("min_apdex", WindowMetrics(200, 0, 0.2, 0.8), WindowMetrics(200, 0, 0.2, 0.799)),
    # 2.00 points over a stable 0% is allowed, 2.50 is not (both below the 5% guard).
    Edge(
        "max_error_rate_increase", WindowMetrics(200, 4, 0.2), WindowMetrics(200, 5, 0.2), WindowMetrics(1000, 0, 0.2)
    ),
    # 0.25 * 1.5 = 0.375 exactly in binary floating point.
    Edge("max_p99_ratio", WindowMetrics(200, 0, 0.375), WindowMetrics(200, 0, 0.376), WindowMetrics(1000, 0, 0.25)),
    Edge(
        "p99_floor_seconds",
        WindowMetrics(200, 0, 0.1),
        WindowMetrics(200, 0, 0.101),
        WindowMetrics(1000, 0, 0.01),
    ),
]


@pytest.mark.parametrize("edge", THRESHOLD_EDGES, ids=lambda e: e.name)
def test_threshold_judge_exactly_at_each_threshold_passes_and_just_beyond_fails(edge: Edge) -> None:
    assert verdict(edge.at, edge.stable, **edge.cfg).outcome is Judgement.PASS
    assert verdict(edge.beyond, edge.stable, **edge.cfg).outcome is Judgement.FAIL


def test_threshold_judge_min_requests_boundary() -> None:
    assert verdict(WindowMetrics(100, 0, 0.2)).outcome is Judgement.PASS
    assert verdict(WindowMetrics(99, 0, 0.2)).outcome is Judgement.INCONCLUSIVE


def test_threshold_judge_wilson_bound_exactly_at_the_limit_is_no_failure() -> None:
    limit = wilson_lower_bound(8, 10)
    assert verdict(WindowMetrics(10, 8, 0.1), max_error_rate=limit).outcome is Judgement.INCONCLUSIVE
    below = math.nextafter(limit, 0.0)
    assert verdict(WindowMetrics(10, 8, 0.1), max_error_rate=below).outcome is Judgement.FAIL


def test_threshold_judge_stable_needs_min_requests_for_the_comparison() -> None:
    worse = WindowMetrics(1000, 40, 0.2)  # 4% against stable 0%
    assert verdict(worse, WindowMetrics(100, 0, 0.2)).outcome is Judgement.FAIL
    assert verdict(worse, WindowMetrics(99, 0, 0.2)).outcome is Judgement.PASS


# -- the sequential judge --------------------------------------------------------------------------------
SEQ = AnalysisConfig(min_requests=50, alpha=0.01, alpha_scope="judgement")  # one judgement, at 0.01


def seq(new: WindowMetrics, stable: WindowMetrics | None = STABLE, **cfg: object) -> Verdict:
    return evaluate(new, stable, NO_ALARMS, replace(SEQ, **cfg))


def test_sequential_is_the_default_judge_with_documented_defaults() -> None:
    cfg = AnalysisConfig()
    assert cfg.judge == "sequential"
    assert (cfg.alpha, cfg.alpha_scope, cfg.beta, cfg.min_detectable_error_increase) == (0.02, "release", 0.2, 0.02)
    assert (cfg.min_detectable_latency_ratio, cfg.min_detectable_latency_seconds) == (1.25, 0.1)
    assert (cfg.split_tolerance, cfg.split_alpha, cfg.split_min_requests) == (5.0, 0.01, 100)


def test_sprt_bounds_are_walds() -> None:
    accept, reject = sprt_bounds(0.005, 0.2)
    assert accept == pytest.approx(math.log(0.2 / 0.995))
    assert reject == pytest.approx(math.log(0.8 / 0.005))


def test_sprt_decision_exactly_at_each_boundary() -> None:
    accept, reject = sprt_bounds(0.005, 0.2)
    assert sprt_decision(reject, accept, reject) is Judgement.FAIL
    assert sprt_decision(math.nextafter(reject, 0.0), accept, reject) is Judgement.INCONCLUSIVE
    assert sprt_decision(accept, accept, reject) is Judgement.PASS
    assert sprt_decision(math.nextafter(accept, 0.0), accept, reject) is Judgement.INCONCLUSIVE


def test_error_llr_without_errors_is_the_cost_of_the_effect_per_request() -> None:
    # No errors anywhere: H0's rate is 0, H1's best is stable 0 and new 2%: each new request
    # without an error is log(0.98) of evidence for H0.
    assert error_llr(0, 100, 0, 1000, 0.02) == pytest.approx(100 * math.log(0.98))
    assert error_llr(0, 0, 5, 1000, 0.02) == pytest.approx(0.0, abs=1e-9)


def test_error_llr_profiles_the_background_rate() -> None:
    # Equal rates give evidence for H0, whatever the background; a rate 2 points higher for H1.
    assert error_llr(5, 1000, 50, 10_000, 0.02) < 0
    assert error_llr(25, 1000, 50, 10_000, 0.02) > 0
    assert error_llr(250, 1000, 2500, 10_000, 0.02) < 0  # 25% in both


@pytest.mark.parametrize("side", ["reject", "accept"])
def test_sequential_judge_at_the_sprt_boundaries(monkeypatch: pytest.MonkeyPatch, side: str) -> None:
    accept, reject = sprt_bounds(SEQ.alpha / 2, SEQ.beta)
    at, outcome = (reject, Judgement.FAIL) if side == "reject" else (accept, Judgement.PASS)
    new = WindowMetrics(200, 1, 0.2)
    monkeypatch.setattr(analysis, "error_llr", lambda *a: at)
    v = seq(new)
    assert v.outcome is outcome and v.conclusive is (outcome is Judgement.FAIL)
    monkeypatch.setattr(analysis, "error_llr", lambda *a: math.nextafter(at, 0.0))
    assert seq(new).outcome is Judgement.INCONCLUSIVE


def test_sequential_judge_fails_a_30_percent_fault_conclusively_and_passes_equal_rates() -> None:
    bad = seq(WindowMetrics(20, 6, 0.2), WindowMetrics(2000, 10, 0.2))
    assert bad.outcome is Judgement.FAIL and bad.conclusive
    assert any("SPRT" in r for r in bad.reasons)
    good = seq(WindowMetrics(500, 2, 0.2), WindowMetrics(5000, 25, 0.2))
    assert good.outcome is Judgement.PASS, good.reasons
    assert good.figures["error_sprt"]["llr"] < good.figures["error_sprt"]["accept_at"]  # type: ignore[index]


def test_sequential_judge_waits_between_the_boundaries() -> None:
    # 1% against 0.5% on 200 requests: neither equal nor 2 points worse yet.
    v = seq(WindowMetrics(200, 2, 0.2), WindowMetrics(2000, 10, 0.2))
    assert v.outcome is Judgement.INCONCLUSIVE
    assert any("not yet shown equal" in r for r in v.reasons)


def test_sequential_judge_without_stable_evidence_rests_on_the_guards() -> None:
    # Fleets (no stable) and the 100% step (stable gets nothing): no comparison, min_requests decides.
    for stable in (None, WindowMetrics(49, 0, 0.2)):
        v = seq(WindowMetrics(50, 1, 0.2), stable)
        assert v.outcome is Judgement.PASS and "error_sprt" not in v.figures
    assert seq(WindowMetrics(49, 0, 0.2), None).outcome is Judgement.INCONCLUSIVE
    assert seq(WindowMetrics(50, 1, 0.2), WindowMetrics(50, 0, 0.2)).outcome is Judgement.INCONCLUSIVE


def test_error_guard_is_conclusive_only_on_always_valid_evidence() -> None:
    # Wilson says 1 error in 1 request is above 5%; the mixture likelihood ratio does not.
    assert wilson_lower_bound(1, 1) > 0.05
    one = seq(WindowMetrics(1, 1), None)
    assert one.outcome is Judgement.INCONCLUSIVE and not one.conclusive
    five = seq(WindowMetrics(10, 5), None)
    assert five.outcome is Judgement.FAIL and five.conclusive
    # Above the limit on the point estimate only: a counted, not a conclusive, failure.
    counted = seq(WindowMetrics(100, 6, 0.2), None)
    assert counted.outcome is Judgement.FAIL and not counted.conclusive


def test_only_a_point_estimate_error_failure_names_the_errors_it_rests_on() -> None:
    # bake.py counts such a failure once per new error: the verdict says which errors it saw
    counted = seq(WindowMetrics(100, 6, 0.2), None)
    assert counted.failed_on_errors == 6 and counted.to_dict()["failed_on_errors"] == 6
    assert seq(WindowMetrics(10, 5), None).failed_on_errors is None  # conclusive: rolls back anyway
    both = seq(WindowMetrics(100, 6, 0.2), None, max_p99_seconds=0.1)  # and the p99 guard fails too
    assert both.outcome is Judgement.FAIL and len(both.reasons) == 2 and both.failed_on_errors is None
    assert "failed_on_errors" not in both.to_dict()
    assert seq(WindowMetrics(100, 0, 0.2), None).failed_on_errors is None  # a pass
    # today's judge keeps counting every failing check
    assert verdict(WindowMetrics(100, 6, 0.2), None).failed_on_errors is None


def test_error_guard_exactly_at_its_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    edge = evidence_boundary(SEQ.alpha)
    assert edge == pytest.approx(math.log(200))
    monkeypatch.setattr(analysis, "rate_above_evidence", lambda *a: edge)
    assert seq(WindowMetrics(10, 1), None).conclusive is True
    monkeypatch.setattr(analysis, "rate_above_evidence", lambda *a: math.nextafter(edge, 0.0))
    assert seq(WindowMetrics(10, 1), None).outcome is Judgement.INCONCLUSIVE


def test_rate_above_evidence_grows_with_errors() -> None:
    assert rate_above_evidence(0, 0, 0.05) == 0.0
    assert rate_above_evidence(5, 10, 0.05) > evidence_boundary(0.01) > rate_above_evidence(3, 10, 0.05)
    assert rate_above_evidence(50, 1000, 0.05) < 0  # at the limit: no evidence above it


# -- latency: Mann-Whitney U -------------------------------------------------------------------------------
def _latencies(seed: int, n: int, shift: float = 0.0) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(rng.lognormvariate(math.log(0.05), 0.5) + shift for _ in range(n))


def _with(latencies: tuple[float, ...], requests: int | None = None) -> WindowMetrics:
    n = requests if requests is not None else len(latencies)
    return WindowMetrics(n, 0, None, latencies=latencies)


def test_rank_decision_exactly_at_each_level() -> None:
    assert rank_decision(0.01, 0.5, 0.01, 0.1) is Judgement.INCONCLUSIVE  # p == alpha: not significant
    assert rank_decision(math.nextafter(0.01, 0.0), 0.5, 0.01, 0.1) is Judgement.FAIL
    assert rank_decision(0.5, 0.1, 0.01, 0.1) is Judgement.INCONCLUSIVE
    assert rank_decision(0.5, math.nextafter(0.1, 0.0), 0.01, 0.1) is Judgement.PASS


def test_look_spending_halves_nothing_below_the_first_doubling_and_sums_to_the_total() -> None:
    assert look_spending(0.005, 20, 20) == (0, pytest.approx(0.005 * 6 / math.pi**2))
    assert look_spending(0.005, 39, 20)[0] == 0
    assert look_spending(0.005, 40, 20)[0] == 1
    spent = sum(look_spending(0.005, 20 * 2**k, 20)[1] for k in range(1000))
    assert spent <= 0.005


def test_same_latency_passes_and_600ms_more_fails_conclusively() -> None:
    stable = _with(_latencies(1, 500))
    same = seq(_with(_latencies(2, 300)), stable)
    assert same.outcome is Judgement.PASS, same.reasons
    slow = seq(_with(_latencies(3, 30, shift=0.6)), stable)
    assert slow.outcome is Judgement.FAIL and slow.conclusive
    assert any("latency" in r and "Mann-Whitney" in r for r in slow.reasons)


def test_a_tiny_significant_slowdown_never_rolls_back() -> None:
    stable, new = _latencies(4, 5000), _latencies(5, 5000, shift=0.005)
    # 5 ms slower is significant for a plain Mann-Whitney test on this many samples ...
    assert stats.mannwhitneyu(new, stable, alternative="greater").pvalue < 0.001
    # ... but far below the minimum effect (1.25x or 100 ms): the step passes.
    v = seq(_with(new), _with(stable))
    assert v.outcome is Judgement.PASS, v.reasons


def test_a_slowdown_at_half_the_effect_is_not_failed() -> None:
    # 50 ms more is half of the 100 ms effect: the fail test's null. It must not fail even on 5000 samples.
    v = seq(_with(_latencies(6, 5000, shift=0.04)), _with(_latencies(7, 5000)))
    assert v.outcome is not Judgement.FAIL


def test_latency_needs_min_samples_per_color() -> None:
    stable = _with(_latencies(8, 500))
    v = seq(_with(_latencies(9, 19, shift=0.6), requests=100), stable)
    assert v.outcome is Judgement.INCONCLUSIVE and "19 of 20 latency samples per color" in v.reasons
    assert seq(_with(_latencies(9, 20, shift=0.6), requests=100), stable).outcome is Judgement.FAIL


def test_without_latency_samples_the_p99_ratio_applies() -> None:
    slow = seq(WindowMetrics(1000, 5, 0.5), WindowMetrics(10_000, 50, 0.2))
    assert slow.outcome is Judgement.FAIL and not slow.conclusive
    assert any("more than 1.5x stable" in r for r in slow.reasons)
    missing = seq(WindowMetrics(1000, 5), WindowMetrics(10_000, 50, 0.2))
    assert "no p99 data for the new color" in missing.reasons
    assert seq(WindowMetrics(1000, 5), WindowMetrics(10_000, 50), require_latency=False).outcome is Judgement.PASS


def test_p99_guard_on_samples_exactly_at_the_limit() -> None:
    at = seq(_with((2.0,) * 60), None)
    assert at.outcome is Judgement.PASS, at.reasons
    beyond = seq(_with((2.001,) * 60), None)
    assert beyond.outcome is Judgement.FAIL and beyond.conclusive


def test_quantile_lower_bound_is_an_order_statistic() -> None:
    samples = [i / 100 for i in range(1, 101)]
    bound = quantile_lower_bound(samples, 0.5, 0.975)
    assert bound is not None and 0.35 < bound < 0.5
    assert quantile_lower_bound(samples[:2], 0.99, 0.995) == 0.01  # P(min of 2 <= p99) = 0.9999
    assert quantile_lower_bound(samples[:1], 0.99, 0.995) is None  # too few for a bound
    assert quantile_lower_bound([], 0.99, 0.995) is None


# -- statistical behaviour, simulated with fixed seeds -----------------------------------------------------
RATE = 60
BACKGROUND = 0.005


def _look(rng: np.random.Generator, weight: int, seconds: int, fault: float, counts: list[int]) -> None:
    """`seconds` more of traffic at RATE req/s, `weight`% to the new color: adds to [new, new errors,
    stable, stable errors]."""
    new = int(rng.binomial(RATE * seconds, weight / 100))
    stable = RATE * seconds - new
    counts[0] += new
    counts[1] += int(rng.binomial(new, BACKGROUND + fault))
    counts[2] += stable
    counts[3] += int(rng.binomial(stable, BACKGROUND))


def _judge(counts: list[int], cfg: AnalysisConfig) -> Verdict:
    new, stable = WindowMetrics(counts[0], counts[1], 0.05), WindowMetrics(counts[2], counts[3], 0.05)
    return evaluate(new, stable, NO_ALARMS, cfg)


def test_good_releases_are_rolled_back_at_most_alpha_per_step() -> None:
    """400 good releases, 0.5% background errors in both colors, steps 1/10/50% at 60 req/s.

    Every step is looked at every 15 s until the caller would give up (two bakes of 600/120/60 s),
    as the driver looks (`bake.py`): a test that accepted is settled for the rest of the step,
    while the guards judge every look. A false rollback is any FAIL of a step. The margin: the
    measured rate must not exceed alpha itself, with no allowance for sampling noise, because
    Wald's bounds are conservative; what this measures is whether profiling out the background
    rate (not exact in Wald's theory) and the repeated looks keep it so. Fixed seed, so the figure
    is deterministic: 4 of 1200 steps (0.33%, against alpha = 1%).
    """
    cfg = AnalysisConfig()
    rng = np.random.default_rng(14)
    failed = steps = 0
    for _ in range(400):
        for weight, looks in ((1, 80), (10, 16), (50, 8)):
            steps += 1
            counts, settled = [0, 0, 0, 0], frozenset[str]()
            for _ in range(looks):
                _look(rng, weight, 15, 0.0, counts)
                new, stable = WindowMetrics(counts[0], counts[1], 0.05), WindowMetrics(counts[2], counts[3], 0.05)
                verdict = evaluate(new, stable, NO_ALARMS, cfg, settled)
                if verdict.outcome is Judgement.FAIL:
                    failed += 1
                    break
                settled |= verdict.accepted
    assert failed / steps <= cfg.alpha, f"{failed} of {steps} steps of good releases failed"


def test_a_30_percent_error_fault_fails_conclusively_within_few_new_requests() -> None:
    """At a 1% step (0.6 new-color requests/s), looked at every second: the first FAIL comes within
    a few dozen new-color requests, and it is conclusive."""
    cfg = AnalysisConfig()
    rng = np.random.default_rng(30)
    served: list[int] = []
    for _ in range(200):
        counts = [0, 0, 0, 0]
        while True:
            _look(rng, 1, 1, 0.30, counts)
            v = _judge(counts, cfg)
            if v.outcome is Judgement.FAIL:
                assert v.conclusive, v.reasons
                served.append(counts[0])
                break
    served.sort()
    assert served[len(served) // 2] <= 20 and served[-1] <= 60, served


# -- the observed split ----------------------------------------------------------------------------------
def split(new: int, stable: int, expected: int, **cfg: object) -> Verdict:
    return check_split(new, stable, expected, replace(AnalysisConfig(), **cfg))


def test_split_within_tolerance_passes_exactly_at_its_edge() -> None:
    assert split(15, 85, 10).outcome is Judgement.PASS  # 15% of 100: exactly 5 points off
    assert split(5, 95, 10).outcome is Judgement.PASS
    assert split(16, 84, 10).outcome is Judgement.INCONCLUSIVE  # beyond, but not significantly
    assert split(4, 96, 10).outcome is Judgement.INCONCLUSIVE


def test_split_needs_min_requests_to_pass() -> None:
    assert split(10, 90, 10).outcome is Judgement.PASS
    v = split(10, 89, 10)
    assert v.outcome is Judgement.INCONCLUSIVE and "99 of 100 requests" in v.reasons[0]
    assert split(0, 0, 10).outcome is Judgement.INCONCLUSIVE


def test_a_significantly_wrong_split_fails_and_counts() -> None:
    v = split(500, 500, 10)
    # Counted, not conclusive: a window starting at the weight change holds old-weight requests.
    assert v.outcome is Judgement.FAIL and not v.conclusive
    assert "new color served 50.0% of 1000 requests, set 10%" in v.reasons[0]
    assert split(0, 1000, 50).outcome is Judgement.FAIL  # weights never applied


def test_split_alpha_boundary() -> None:
    # 25 of 100 against the band's edge at 15%: fail only when p < split_alpha.
    p = split(25, 75, 10, split_alpha=0.49).figures["p_beyond_tolerance"]
    assert isinstance(p, float) and p == pytest.approx(stats.binomtest(25, 100, 0.15, alternative="greater").pvalue)
    assert split(25, 75, 10, split_alpha=p).outcome is Judgement.INCONCLUSIVE
    assert split(25, 75, 10, split_alpha=math.nextafter(p, 1.0)).outcome is Judgement.FAIL


@pytest.mark.parametrize(
    ("new", "stable", "expected", "outcome"),
    [
        (0, 1000, 0, Judgement.PASS),
        (30, 970, 0, Judgement.PASS),  # 3% on the new color set to 0%: within 5 points
        (200, 800, 0, Judgement.FAIL),
        (1000, 0, 100, Judgement.PASS),  # before scaling the old color down: it serves nothing
        (980, 20, 100, Judgement.PASS),
        (500, 500, 100, Judgement.FAIL),
    ],
    ids=["0-clean", "0-within", "0-leak", "100-clean", "100-within", "100-half"],
)
def test_split_at_0_and_100_percent(new: int, stable: int, expected: int, outcome: Judgement) -> None:
    assert split(new, stable, expected).outcome is outcome


# -- settings ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "key"),
    [
        ({"judge": "bayesian"}, "analysis.judge"),
        ({"alpha": 0}, "analysis.alpha"),
        ({"alpha": 0.5}, "analysis.alpha"),
        ({"alpha": float("nan")}, "analysis.alpha"),
        ({"alpha": True}, "analysis.alpha"),
        ({"beta": 0}, "analysis.beta"),
        ({"beta": 0.5}, "analysis.beta"),
        ({"min_detectable_error_increase": 0}, "analysis.min_detectable_error_increase"),
        ({"min_detectable_error_increase": 1}, "analysis.min_detectable_error_increase"),
        ({"min_detectable_latency_ratio": 0.9}, "analysis.min_detectable_latency_ratio"),
        (
            {"min_detectable_latency_ratio": 1, "min_detectable_latency_seconds": 0},
            "analysis.min_detectable_latency_ratio",
        ),
        ({"min_detectable_latency_seconds": -0.1}, "analysis.min_detectable_latency_seconds"),
        ({"min_detectable_latency_seconds": float("inf")}, "analysis.min_detectable_latency_seconds"),
        ({"latency_min_samples": 4}, "analysis.latency_min_samples"),
        ({"latency_min_samples": 20.0}, "analysis.latency_min_samples"),
        ({"split_tolerance": 0}, "analysis.split_tolerance"),
        ({"split_tolerance": 100}, "analysis.split_tolerance"),
        ({"split_alpha": 0}, "analysis.split_alpha"),
        ({"split_min_requests": 0}, "analysis.split_min_requests"),
        ({"min_requests": "50"}, "analysis.min_requests"),
        ({"require_latency": "yes"}, "analysis.require_latency"),
        ({"p99_floor_seconds": -1}, "analysis.p99_floor_seconds"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()),
)
def test_bad_sequential_settings_name_the_setting(kw: dict, key: str) -> None:
    with pytest.raises(InputError) as err:
        AnalysisConfig(**kw)
    assert err.value.key == key


def test_settings_at_the_edges_of_their_ranges_are_accepted() -> None:
    AnalysisConfig(min_detectable_latency_ratio=1, min_detectable_latency_seconds=0.05)
    AnalysisConfig(min_detectable_latency_ratio=1.5, min_detectable_latency_seconds=0)
    AnalysisConfig(latency_min_samples=5, split_min_requests=1, alpha=0.49, beta=0.49)


# The analysis settings of a release journaled before issue 14 (driver/core/service.py writes
# `ServiceSpec.analysis.to_dict()` into every record).
OLD_RECORD = {
    "max_error_rate": 0.05,
    "max_p99_seconds": 2.0,
    "min_apdex": 0.8,
    "min_requests": 50,
    "threshold": 2,
    "max_error_rate_increase": 0.02,
    "max_p99_ratio": 1.5,
    "p99_floor_seconds": 0.1,
    "require_latency": False,
    "poll_seconds": 15.0,
}


def test_an_old_record_without_the_new_settings_reads_with_their_defaults() -> None:
    cfg = AnalysisConfig.from_dict(json.loads(json.dumps(OLD_RECORD)))
    assert cfg.require_latency is False and cfg.threshold == 2
    assert cfg.split_tolerance == 5.0
    assert cfg.alpha_scope == "judgement"  # its alpha, if any, was each judgement's


def test_an_old_release_resumed_after_the_upgrade_keeps_the_judge_it_started_with() -> None:
    # A record without `judge` predates the sequential judge: the threshold judge started it.
    assert AnalysisConfig.from_dict(dict(OLD_RECORD)).judge == "threshold"
    assert AnalysisConfig().judge == "sequential"  # while a new release gets the new default
    new = AnalysisConfig.from_dict(AnalysisConfig().to_dict())
    assert new.judge == "sequential"


def test_settings_round_trip_through_json() -> None:
    cfg = AnalysisConfig(judge="threshold", alpha=0.02, beta=0.1, min_detectable_latency_seconds=0.2)
    assert AnalysisConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_an_unknown_setting_in_a_record_is_refused_naming_it() -> None:
    with pytest.raises(InputError) as err:
        AnalysisConfig.from_dict({**OLD_RECORD, "alpah": 0.01})
    assert err.value.key == "analysis.alpah"


def test_verdict_dict_says_whether_it_is_conclusive() -> None:
    v = seq(WindowMetrics(10, 5), None)
    assert v.to_dict()["conclusive"] is True and v.to_dict()["outcome"] == "fail"


def test_an_accepted_sprt_is_named_and_a_settled_one_is_not_run_again() -> None:
    stable = WindowMetrics(5000, 25, 0.2)
    good = seq(WindowMetrics(500, 2, 0.2), stable)
    assert good.accepted == frozenset({"error_sprt"})
    assert good.to_dict()["accepted"] == ["error_sprt"]
    # 4% against 0.5%: the SPRT fails it, but a settled SPRT is not asked again in the step ...
    later = WindowMetrics(1000, 40, 0.2)
    assert seq(later, stable).outcome is Judgement.FAIL
    settled = evaluate(later, stable, AlarmStatus(), SEQ, frozenset({"error_sprt"}))
    assert settled.outcome is Judgement.PASS, settled.reasons
    assert settled.figures["error_sprt"] == {"settled": "accepted earlier in the step"}
    assert settled.accepted == frozenset()
    # ... while the always-valid guard still judges every look: 30% errors fail conclusively.
    gross = evaluate(WindowMetrics(100, 30, 0.2), stable, AlarmStatus(), SEQ, frozenset({"error_sprt"}))
    assert gross.outcome is Judgement.FAIL and gross.conclusive


def test_a_settled_latency_test_is_not_run_again_and_unknown_tests_are_refused() -> None:
    fast, slow = [0.05 + i * 1e-4 for i in range(200)], [0.4 + i * 1e-4 for i in range(200)]
    stable = WindowMetrics(200, 0, None, latencies=tuple(fast))
    assert "latency_rank" in seq(WindowMetrics(200, 0, None, latencies=tuple(fast)), stable).accepted
    slower = WindowMetrics(200, 0, None, latencies=tuple(slow))
    assert seq(slower, stable).outcome is Judgement.FAIL
    settled = evaluate(slower, stable, AlarmStatus(), SEQ, frozenset({"error_sprt", "latency_rank"}))
    assert settled.outcome is Judgement.PASS, settled.reasons
    with pytest.raises(ValueError, match="unknown tests"):
        evaluate(slower, stable, AlarmStatus(), SEQ, frozenset({"p99"}))


# -- a release-wide alpha ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "synthetic, steps, shares",
    [
        (True, 5, (0.03, 0.006)),  # the bake half, 5 step judgements the other half
        (True, 1, (0.03, 0.03)),  # one step judgement: still only the other half
        (False, 2, (0.06, 0.03)),  # no bake: the steps share all of it
        (True, 0, (0.06, 0.06)),  # a bake and no step with a comparison: the bake has it all
        (False, 0, (0.06, 0.06)),
    ],
)
def test_a_release_wide_alpha_is_shared_out_and_sums_to_at_most_alpha(
    synthetic: bool, steps: int, shares: tuple[float, float]
) -> None:
    bake, step = AnalysisConfig(alpha=0.06).for_release(synthetic, steps)
    assert (bake.alpha, step.alpha) == pytest.approx(shares)
    assert bake.alpha_scope == step.alpha_scope == "judgement"
    spent = (bake.alpha if synthetic else 0.0) + step.alpha * steps
    assert spent <= 0.06 + 1e-12  # Bonferroni: the release's bound holds
    assert step.for_release(synthetic, steps) == (step, step), "a judgement's share is not shared out again"


def test_alpha_for_each_judgement_is_kept_as_it_is() -> None:
    bake, step = AnalysisConfig(alpha=0.02, alpha_scope="judgement").for_release(True, 5)
    assert bake.alpha == step.alpha == 0.02  # the meaning before


def test_an_unknown_alpha_scope_is_refused_naming_it() -> None:
    with pytest.raises(InputError) as err:
        AnalysisConfig(alpha_scope="step")
    assert err.value.key == "analysis.alpha_scope"
    assert "release, judgement" in err.value.problem


def test_a_new_release_journals_a_release_wide_alpha() -> None:
    assert AnalysisConfig.from_dict(json.loads(json.dumps(AnalysisConfig().to_dict()))).alpha_scope == "release"
