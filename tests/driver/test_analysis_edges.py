"""Gate decisions at their edges: tests written to kill the surviving mutants of `analysis.py`.

Each test states real behaviour: a boundary value, which estimate a rule judges, a figure the
journal records for the operator, or the reason the operator reads.
docs/DEVELOPING.md#mutation-testing lists the mutants they kill and the equivalent ones.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from dataclasses import replace

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
    rate_above_evidence,
    wilson_lower_bound,
)
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.ports import AlarmStatus, WindowMetrics

SEQ = AnalysisConfig(min_requests=50, alpha=0.01, alpha_scope="judgement")  # one judgement, at 0.01


def seq(new: WindowMetrics, stable: WindowMetrics | None = None, **cfg: object) -> Verdict:
    return evaluate(new, stable, AlarmStatus(), replace(SEQ, **cfg))


def samples(new: list[float] | tuple[float, ...]) -> WindowMetrics:
    """A window with latency samples and no reported p99 (the sequential judge's own estimate)."""
    return WindowMetrics(len(new), 0, None, latencies=tuple(new))


def spread(centre: float, n: int = 200) -> tuple[float, ...]:
    """n distinct latencies within 0.2% of `centre`: any shift of the whole set is significant."""
    return tuple(centre * (1 + i * 1e-5) for i in range(n))


def test_wilson_bound_without_requests_is_zero() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(3, -1) == 0.0


def test_wilson_bound_of_5_in_100_is_the_textbook_value() -> None:
    # The 95% Wilson score interval of 5/100 is [0.0215, 0.1118] (Newcombe 1998, method 3).
    assert wilson_lower_bound(5, 100) == pytest.approx(0.021543, abs=1e-6)


def test_a_verdict_records_outcome_reasons_conclusiveness_and_figures() -> None:
    v = Verdict(Judgement.FAIL, ("p99 3.000s > 2.000s",), {"requests": 10}, conclusive=True)
    assert v.to_dict() == {"outcome": "fail", "reasons": ["p99 3.000s > 2.000s"], "conclusive": True, "requests": 10}
    accepted = Verdict(Judgement.PASS, accepted=frozenset({"latency_rank", "error_sprt"}))
    assert accepted.to_dict()["accepted"] == ["error_sprt", "latency_rank"]


# -- the threshold judge -----------------------------------------------------------------------------------
def threshold(new: WindowMetrics, stable: WindowMetrics | None, **cfg: object) -> Verdict:
    return evaluate(new, stable, AlarmStatus(), AnalysisConfig(**{"min_requests": 100, "judge": "threshold", **cfg}))


def test_threshold_judge_says_it_waits_for_p99_data() -> None:
    v = threshold(WindowMetrics(200, 0), None)
    assert v.outcome is Judgement.INCONCLUSIVE and v.reasons == ("no p99 data for the new color",)


def test_threshold_judge_compares_the_error_rate_difference_not_the_sum() -> None:
    # 1.5% on both colors: no increase at all, though the two rates add up to 3% > 2 points.
    v = threshold(WindowMetrics(200, 3, 0.2), WindowMetrics(1000, 15, 0.2))
    assert v.outcome is Judgement.PASS, v.reasons
    # 4% against 1.5%: 2.5 points more.
    worse = threshold(WindowMetrics(200, 8, 0.2), WindowMetrics(1000, 15, 0.2))
    assert worse.reasons == ("error rate 4.00% exceeds stable 1.50% by more than 2.00%",)


# -- the error SPRT ----------------------------------------------------------------------------------------
def test_the_sprt_figures_are_rounded_to_4_places() -> None:
    v = seq(WindowMetrics(500, 5, 0.2), WindowMetrics(5000, 25, 0.2))
    # LLR -2.06991..., Wald's bounds at alpha/2 = 0.005 and beta = 0.2: log(0.2/0.995), log(0.8/0.005).
    assert v.figures["error_sprt"] == {"llr": -2.0699, "accept_at": -1.6044, "reject_at": 5.0752}


# -- the sequential judge's guards -------------------------------------------------------------------------
def test_the_figures_of_every_check() -> None:
    v = seq(WindowMetrics(100, 5, 0.2, apdex=0.9), None)
    assert v.figures == {
        "judge": "sequential",
        "requests": 100,
        "errors_5xx": 5,
        "error_rate": 0.05,
        "p99_seconds": 0.2,
        "apdex": 0.9,
        "alarms_firing": [],
        "error_guard_log_evidence": -3.3484,  # rounded to 4 places
    }


def test_an_alarm_without_detail_names_the_alarm_and_its_source() -> None:
    v = evaluate(WindowMetrics(100, 0, 0.2), None, AlarmStatus(firing=("web-5xx",), source="members"), SEQ)
    assert v.outcome is Judgement.ALARM and v.reasons == ("alarm in ALARM: web-5xx [members]",)
    assert v.conclusive is True and v.figures["alarms_firing"] == ["web-5xx"] and v.figures["requests"] == 100


def test_an_alarm_with_detail_names_every_alarm_and_the_detail() -> None:
    alarms = AlarmStatus(firing=("web-5xx", "web-p99"), source="composite", detail="web-health in ALARM")
    v = evaluate(WindowMetrics(100, 0, 0.2), None, alarms, SEQ)
    assert v.reasons == ("alarm in ALARM: web-5xx, web-p99 [composite] (web-health in ALARM)",)


def test_sequential_error_guard_exactly_at_max_error_rate_passes() -> None:
    # 5 errors in 100 requests is 5.00%: not above max_error_rate (and no always-valid evidence).
    at = seq(WindowMetrics(100, 5, 0.2), None)
    assert at.outcome is Judgement.PASS, at.reasons
    beyond = seq(WindowMetrics(100, 6, 0.2), None)
    assert beyond.outcome is Judgement.FAIL and beyond.conclusive is False
    assert beyond.reasons == ("error rate 6.00% > 5.00%",)


def test_sequential_p99_without_samples_exactly_at_the_limit_passes() -> None:
    assert seq(WindowMetrics(100, 0, 2.0), None).outcome is Judgement.PASS
    beyond = seq(WindowMetrics(100, 0, 2.001), None)
    assert beyond.outcome is Judgement.FAIL and beyond.conclusive is False
    assert beyond.reasons == ("p99 2.001s > 2.000s",)


def test_sequential_p99_ratio_failures_are_counted_not_conclusive() -> None:
    v = seq(WindowMetrics(1000, 5, 0.5), WindowMetrics(10_000, 50, 0.2))
    assert v.outcome is Judgement.FAIL and v.conclusive is False


def test_sequential_apdex_exactly_at_the_minimum_passes() -> None:
    assert seq(WindowMetrics(100, 0, 0.2, apdex=0.8), None).outcome is Judgement.PASS
    below = seq(WindowMetrics(100, 0, 0.2, apdex=0.799), None)
    assert below.outcome is Judgement.FAIL and below.conclusive is False
    assert below.reasons == ("apdex 0.799 < 0.800",)


def test_a_failed_or_waiting_check_still_names_the_tests_that_accepted() -> None:
    # Equal error rates accept the SPRT; a low Apdex fails the check (counted), and the caller
    # must still settle the SPRT for the rest of the step.
    stable = WindowMetrics(5000, 25, 0.2)
    failed = seq(WindowMetrics(500, 2, 0.2, apdex=0.7), stable)
    assert failed.outcome is Judgement.FAIL and failed.accepted == frozenset({"error_sprt"})
    # Equal error rates, latency samples still too few: waiting, with the SPRT accepted.
    few = WindowMetrics(500, 2, None, latencies=(0.05,) * 10)
    waiting = seq(few, WindowMetrics(5000, 25, None, latencies=(0.05,) * 100))
    assert waiting.outcome is Judgement.INCONCLUSIVE and waiting.accepted == frozenset({"error_sprt"})
    assert waiting.reasons == ("10 of 20 latency samples per color",)
    assert waiting.figures["requests"] == 500


def test_a_settled_latency_test_is_recorded_as_settled() -> None:
    settled = evaluate(samples(spread(0.05)), samples(spread(0.05)), AlarmStatus(), SEQ, frozenset({"latency_rank"}))
    assert settled.figures["latency_rank"] == {"settled": "accepted earlier in the step"}


def test_the_sprt_reasons_quote_both_error_rates() -> None:
    clean = seq(WindowMetrics(60, 0, 0.2), WindowMetrics(1000, 0, 0.2))
    assert clean.reasons == ("error rate 0.00% against stable 0.00%: not yet shown equal (LLR -1.21)",)
    some = seq(WindowMetrics(200, 2, 0.2), WindowMetrics(2000, 10, 0.2))
    assert some.reasons == ("error rate 1.00% against stable 0.50%: not yet shown equal (LLR -0.83)",)


# -- the error SPRT's likelihood ratio and the always-valid guard's evidence -------------------------------
def test_both_colors_failing_every_request_is_evidence_of_equal_rates() -> None:
    # A dependency down for both colors is not the new version's fault: H1's best stable rate is at
    # the top of its range (1 - increase), H0's is 1.
    assert error_llr(10, 10, 1000, 1000, 0.02) == pytest.approx(1000 * math.log(0.98), rel=1e-12)


def test_no_errors_anywhere_puts_the_best_stable_rate_at_zero_exactly() -> None:
    assert error_llr(0, 100, 0, 1000, 0.02) == pytest.approx(100 * math.log(0.98), rel=1e-12)


def test_one_error_in_one_request_is_some_evidence_but_far_from_conclusive() -> None:
    # Beta(2, 1) mixture over (5%, 1] against 5%: 0.5 x (1 - 0.05^2) / 0.95 / 0.05 = 10.5.
    assert rate_above_evidence(1, 1, 0.05) == pytest.approx(math.log(10.5), rel=1e-12)
    assert rate_above_evidence(1, 1, 0.05) < evidence_boundary(0.01)


def test_a_clean_window_far_below_the_limit_has_no_evidence_at_all() -> None:
    # P(rate > 50%) under the mixture underflows to 0: minus infinity, not an error.
    assert rate_above_evidence(0, 100_000, 0.5) == -math.inf
    assert seq(WindowMetrics(100_000, 0, 0.2), None, max_error_rate=0.5).outcome is Judgement.PASS


# -- settings ----------------------------------------------------------------------------------------------
def test_an_unknown_setting_says_so() -> None:
    with pytest.raises(InputError) as err:
        AnalysisConfig.from_dict({"alpah": 0.01})
    assert (err.value.key, err.value.problem) == ("analysis.alpah", "unknown analysis setting")


INF, NAN = float("inf"), float("nan")
# (setting, values accepted at the edges of its range, values refused just beyond them, the message)
RANGES: list[tuple[str, list[object], list[object], str]] = [
    ("max_error_rate", [0, 0.999], [1, -0.001, NAN, True], "must be in [0, 1)"),
    ("max_p99_seconds", [0.001, 0.5], [0, -1, INF, True], "must be > 0 seconds"),
    ("min_apdex", [0, 1], [-0.001, 1.001], "must be in [0, 1]"),
    ("min_requests", [1], [0, 1.0, True], "must be >= 1"),
    ("threshold", [1], [0, 2.0], "must be >= 1"),
    ("max_error_rate_increase", [0, 0.999], [1, -0.001], "in [0, 1)"),
    ("max_p99_ratio", [1], [0.999], "must be >= 1"),
    ("p99_floor_seconds", [0], [-0.001], "must be >= 0 seconds"),
    ("require_latency", [True, False], [1, "yes"], "must be true or false"),
    ("poll_seconds", [0.001], [0, -1], "must be > 0 seconds"),
    ("judge", ["sequential", "threshold"], ["bayes"], "must be one of sequential, threshold, got 'bayes'"),
    ("alpha", [1e-9, 0.4999], [0, 0.5], "must be in (0, 0.5)"),
    ("beta", [1e-9, 0.4999], [0, 0.5], "must be in (0, 0.5)"),
    ("min_detectable_error_increase", [1e-9, 0.999], [0, 1], "must be in (0, 1)"),
    ("min_detectable_latency_ratio", [1, 100], [0.999, 100.001], "must be in [1, 100]"),
    ("min_detectable_latency_seconds", [0, 3600], [-0.001, 3600.001], "must be in [0, 3600] seconds"),
    ("latency_min_samples", [5, 1_000_000], [4, 1_000_001, 20.0], "must be an integer 5-1000000"),
    ("split_tolerance", [0.001, 99.999], [0, 100], "must be in (0, 100) points"),
    ("split_alpha", [1e-9, 0.4999], [0, 0.5], "must be in (0, 0.5)"),
    ("split_min_requests", [1, 1_000_000], [0, 1_000_001, 1.0], "must be an integer 1-1000000"),
]


@pytest.mark.parametrize(("name", "ok", "bad", "problem"), RANGES, ids=[r[0] for r in RANGES])
def test_each_setting_is_accepted_at_its_edges_and_refused_beyond_them(
    name: str, ok: list[object], bad: list[object], problem: str
) -> None:
    for value in ok:
        assert getattr(AnalysisConfig(**{name: value}), name) == value  # type: ignore[arg-type]
    for value in bad:
        with pytest.raises(InputError) as err:
            AnalysisConfig(**{name: value})  # type: ignore[arg-type]
        assert (err.value.key, err.value.problem) == (f"analysis.{name}", problem), value


def test_a_latency_effect_needs_a_ratio_above_1_or_some_seconds() -> None:
    AnalysisConfig(min_detectable_latency_ratio=1, min_detectable_latency_seconds=0.001)
    AnalysisConfig(min_detectable_latency_ratio=1.001, min_detectable_latency_seconds=0)
    with pytest.raises(InputError) as err:
        AnalysisConfig(min_detectable_latency_ratio=1, min_detectable_latency_seconds=0)
    assert (err.value.key, err.value.problem) == (
        "analysis.min_detectable_latency_ratio",
        "a minimum latency effect is needed: ratio > 1 or min_detectable_latency_seconds > 0",
    )


# -- order statistics and the spending of alpha over looks -------------------------------------------------
def test_one_sample_bounds_the_median_at_50_percent_confidence() -> None:
    # P(a single sample <= the median) = 0.5 >= 0.4: the one sample is a 40% lower bound of the median.
    assert quantile_lower_bound([0.3], 0.5, 0.4) == 0.3
    assert quantile_lower_bound([0.3], 0.5, 0.6) is None  # 0.5 < 0.6: no bound


def test_look_spending_at_the_second_level_is_a_quarter_of_the_first() -> None:
    first, second = look_spending(0.005, 20, 20), look_spending(0.005, 40, 20)
    assert first == (0, pytest.approx(0.005 * 6 / math.pi**2))
    assert second == (1, pytest.approx(0.005 * 6 / (math.pi**2 * 4)))


# -- the p99 guard on samples ------------------------------------------------------------------------------
def test_the_p99_guard_judges_the_nearest_rank_p99_of_the_samples() -> None:
    # 100 samples: the nearest-rank p99 is the 99th (2.3 s), not the 98th or the maximum. The 99.5%
    # lower bound of p99 is the 96th (0.1 s), under the limit: a counted failure, not a conclusive one.
    v = seq(samples([0.1] * 97 + [2.2, 2.3, 2.4]))
    assert v.outcome is Judgement.FAIL and v.conclusive is False
    assert v.reasons == ("p99 2.300s > 2.000s",)
    assert v.figures["p99_lower_bound_seconds"] == 0.1
    # 50 samples: the nearest-rank p99 is the maximum (ceil(49.5) = 50th).
    assert seq(samples([0.1] * 48 + [2.2, 2.4])).reasons == ("p99 2.400s > 2.000s",)


def test_the_p99_guard_uses_a_reported_p99_before_the_samples() -> None:
    reported = WindowMetrics(100, 0, 2.5, latencies=(0.1,) * 100)
    v = seq(reported)
    assert v.outcome is Judgement.FAIL and v.reasons == ("p99 2.500s > 2.000s",) and v.conclusive is False
    # 98 fast samples and 1.9 s at the p99: under the limit on the samples.
    assert seq(samples([0.1] * 98 + [1.9, 3.0])).outcome is Judgement.PASS


def test_the_p99_lower_bound_is_taken_at_1_minus_alpha_over_2() -> None:
    # n = 100, q = 0.99: the 99.5% lower bound is the 96th sample, the 98% one the 97th.
    assert stats.binom.ppf(0.005, 100, 0.99) == 96 and stats.binom.ppf(0.02, 100, 0.99) == 97
    v = seq(samples([0.1] * 96 + [3.0] * 4))
    assert v.figures["p99_lower_bound_seconds"] == 0.1
    assert v.outcome is Judgement.FAIL and v.conclusive is False  # p99 3 s, on the estimate only
    slow = seq(samples([3.0] * 100))
    assert slow.conclusive is True
    assert slow.reasons == ("p99 3.000s > 2.000s (99.5% lower bound 3.000s)",)


# -- the latency rank tests --------------------------------------------------------------------------------
def test_the_minimum_latency_effect_is_the_ratio_for_slow_endpoints() -> None:
    # At 1 s, 1.25x (250 ms) is larger than +100 ms: 10% slower is within half of it (1.118x), and
    # significantly faster than the whole of it. Judged on +100 ms it would fail.
    v = seq(samples(spread(1.1)), samples(spread(1.0)))
    assert v.outcome is Judgement.PASS, v.reasons
    assert "latency_rank" in v.accepted


def test_the_minimum_latency_effect_is_the_seconds_for_fast_endpoints() -> None:
    # At 50 ms, +100 ms is larger than 1.25x: half of it is +50 ms. 80 ms slower fails conclusively.
    v = seq(samples(spread(0.13)), samples(spread(0.05)))
    assert v.outcome is Judgement.FAIL and v.conclusive is True
    assert v.reasons[0].startswith("latency: median 0.130s against stable 0.050s, slower than half of 1.25x or +0.1s")
    # 40 ms slower is within half the effect and beyond nothing: not failed.
    assert seq(samples(spread(0.09)), samples(spread(0.05))).outcome is not Judgement.FAIL


def draw(seed: int, base: float, n: int = 20) -> tuple[float, ...]:
    """n latencies spread widely over [base, base + 0.3 s)."""
    rng = random.Random(seed)
    return tuple(round(base + rng.random() * 0.3, 3) for _ in range(n))


def test_a_latency_test_without_enough_evidence_says_what_it_waits_for() -> None:
    # 20 samples each side, the new color about 60 ms slower: neither significantly slower than
    # half the effect nor significantly within it.
    v = seq(WindowMetrics(100, 0, None, latencies=draw(2, 0.11)), WindowMetrics(100, 0, None, latencies=draw(1, 0.05)))
    assert v.outcome is Judgement.INCONCLUSIVE
    assert v.reasons == ("latency: median 0.288s against stable 0.192s, not yet shown within 1.25x or +0.1s",)


def test_the_latency_figures_name_the_one_sided_tests_and_their_levels() -> None:
    new, stable = draw(2, 0.11, 200), draw(1, 0.05, 200)
    v = seq(samples(new), samples(stable))
    half = [max(y * math.sqrt(1.25), y + 0.05) for y in stable]
    whole = [max(y * 1.25, y + 0.1) for y in stable]
    level, alpha_now = look_spending(SEQ.alpha / 2, 200, SEQ.latency_min_samples)
    assert (level, alpha_now) == (3, pytest.approx(0.005 * 6 / (math.pi**2 * 16)))  # 200 = 20 x 2^3.3
    p_slower = stats.mannwhitneyu(new, half, alternative="greater").pvalue
    p_within = stats.mannwhitneyu(new, whole, alternative="less").pvalue
    assert 0 < p_slower < 0.5 and 0 < p_within < 0.5  # where one- and two-sided p-values differ
    assert v.figures["latency_rank"] == {
        "new_median_seconds": statistics.median(new),
        "stable_median_seconds": statistics.median(stable),
        "look_level": 3,
        "p_slower": pytest.approx(p_slower),
        "alpha_at_look": alpha_now,
        "p_within_effect": pytest.approx(p_within),
        "beta_at_look": look_spending(SEQ.beta, 200, SEQ.latency_min_samples)[1],
    }


def test_tied_samples_give_no_evidence_and_the_figures_stay_json() -> None:
    # Stable at 0 s slowed by half the effect (+50 ms) ties every new sample: no evidence, p = 1.
    v = seq(samples([0.05] * 50), samples([0.0] * 50))
    assert v.figures["latency_rank"]["p_slower"] == 1.0  # type: ignore[index]
    json.dumps(v.to_dict(), allow_nan=False)


def test_a_p_value_that_is_not_a_number_is_no_evidence() -> None:
    # scipy answers NaN for inputs it cannot rank (a NaN latency; older releases also for all ties):
    # recorded as p = 1, never NaN, which would neither fail nor pass and is not JSON.
    assert analysis._p_value(float("nan")) == 1.0
    assert analysis._p_value(np.float64(0.25)) == 0.25


# -- the observed split ------------------------------------------------------------------------------------
def split(new: int, stable: int, expected: int, **cfg: object) -> Verdict:
    return check_split(new, stable, expected, replace(AnalysisConfig(), **cfg))


def test_split_figures_are_recorded() -> None:
    v = split(100, 200, 30)
    assert v.figures == {
        "new_requests": 100,
        "stable_requests": 200,
        "expected_new_percent": 30,
        "tolerance_points": 5.0,
        "observed_new_percent": 33.333,
    }


def test_no_requests_at_all_is_inconclusive_with_its_figures() -> None:
    v = split(0, 0, 10)
    assert v.outcome is Judgement.INCONCLUSIVE
    assert v.reasons == ("0 of 100 requests to confirm the split",)
    assert v.figures == {"new_requests": 0, "stable_requests": 0, "expected_new_percent": 10, "tolerance_points": 5.0}


def test_a_single_request_is_judged_like_any_other() -> None:
    assert split(1, 0, 100, split_min_requests=1).outcome is Judgement.PASS
    v = split(1, 0, 100)
    assert v.reasons == ("new color served 100.0% of 1 requests, set 100%: 1 of 100 requests to confirm it",)


def test_a_split_inside_the_band_records_its_figures_whether_it_passes_or_waits() -> None:
    ok = split(10, 90, 10)
    assert (ok.outcome, ok.reasons, ok.figures["observed_new_percent"]) == (Judgement.PASS, (), 10.0)
    waiting = split(10, 89, 10)
    assert waiting.outcome is Judgement.INCONCLUSIVE
    assert waiting.figures["observed_new_percent"] == pytest.approx(10.101)


def test_a_split_off_but_not_yet_significantly_says_so() -> None:
    v = split(16, 84, 10)
    assert v.outcome is Judgement.INCONCLUSIVE
    assert v.reasons == (
        "new color served 16.0% of 100 requests, set 10%: off by more than 5 points, not yet significantly",
    )
    assert v.figures["p_beyond_tolerance"] == pytest.approx(
        stats.binomtest(16, 100, 0.15, alternative="greater").pvalue
    )
