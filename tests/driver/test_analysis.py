"""Gate decisions over one metrics window."""

from __future__ import annotations

import pytest
from zero_downtime.driver.core.analysis import AnalysisConfig, Judgement, evaluate, wilson_lower_bound
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.ports import AlarmStatus, WindowMetrics

CFG = AnalysisConfig(min_requests=100)
STABLE = WindowMetrics(requests=1000, errors_5xx=5, p99_seconds=0.2, apdex=0.97)
NO_ALARMS = AlarmStatus()


def verdict(new: WindowMetrics, stable: WindowMetrics | None = STABLE, **cfg: object):
    return evaluate(new, stable, NO_ALARMS, AnalysisConfig(**{"min_requests": 100, **cfg}))


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
