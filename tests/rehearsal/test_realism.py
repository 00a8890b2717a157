"""What makes the rehearsal realistic, without processes: metrics lag (fake clock), noise flags, the
per-color latency sample, and the report's settings and figures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from zero_downtime.app.settings import SettingsError, load_settings
from zero_downtime.contract import Color, Weights
from zero_downtime.driver.core.machine import Result
from zero_downtime.driver.core.plan import build_plan
from zero_downtime.driver.core.ports import AlarmStatus, WindowMetrics
from zero_downtime.driver.core.status import Status
from zero_downtime.rehearsal.cli import EXIT_USAGE, main, parse_noise
from zero_downtime.rehearsal.deployer import AppRelease
from zero_downtime.rehearsal.haproxy_runtime import ServerStat
from zero_downtime.rehearsal.loadgen import Record
from zero_downtime.rehearsal.metrics import HaproxyMetrics, LaggedMetrics
from zero_downtime.rehearsal.report import render, summarize
from zero_downtime.rehearsal.router import WeightChange
from zero_downtime.rehearsal.scenario import (
    BAD,
    GOOD,
    SERVICE,
    STACK,
    Phase,
    RehearsalConfig,
    RehearsalResult,
    ReleaseRun,
)
from zero_downtime.rehearsal.synthetic import Probe


# -- metrics lag ------------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingSource:
    """A MetricsSource that answers every window with its own bounds and keeps the calls."""

    calls: list[tuple[Color, float, float]] = field(default_factory=list)
    firing: tuple[str, ...] = ()

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        self.calls.append((color, start, end))
        return WindowMetrics(requests=int(end - start), errors_5xx=0)

    def alarms(self, color: Color) -> AlarmStatus:
        return AlarmStatus(firing=self.firing, source="members" if self.firing else "none")


def test_lag_hides_what_happened_after_the_horizon() -> None:
    inner, clock = RecordingSource(), FakeClock(1000.0)
    lagged = LaggedMetrics(inner, 60, clock)
    # A step that started 10 s ago: everything in it is newer than the horizon, so nothing is known yet.
    assert lagged.window("green", 990.0, 1000.0) == WindowMetrics(requests=0, errors_5xx=0)
    assert inner.calls == []
    # 70 s into the step: its first 10 s are visible, no more.
    clock.now = 1060.0
    assert lagged.window("green", 990.0, 1060.0).requests == 10
    assert inner.calls == [("green", 990.0, 1000.0)]
    # An old window is shown whole.
    assert lagged.window("blue", 100.0, 200.0).requests == 100
    assert inner.calls[-1] == ("blue", 100.0, 200.0)


def test_lag_delays_alarms_too() -> None:
    inner, clock = RecordingSource(), FakeClock(1000.0)
    lagged = LaggedMetrics(inner, 60, clock)
    assert not lagged.alarms("green").is_firing
    inner.firing = ("green-5xx",)
    clock.now = 1010.0
    assert not lagged.alarms("green").is_firing  # in ALARM for 0 s: not visible yet
    clock.now = 1069.0
    assert not lagged.alarms("green").is_firing  # the state read at 1000 is what the driver knows
    clock.now = 1071.0
    assert lagged.alarms("green").firing == ("green-5xx",)  # read at 1010, now 61 s old


def test_zero_lag_passes_through_and_a_bad_lag_is_refused() -> None:
    inner, clock = RecordingSource(), FakeClock(1000.0)
    assert LaggedMetrics(inner, 0, clock).window("blue", 990.0, 1000.0).requests == 10
    for bad in (-1, 3601, float("nan")):
        with pytest.raises(ValueError, match="lag_seconds"):
            LaggedMetrics(inner, bad, clock)


# -- per-color latencies ------------------------------------------------------------------------------------
class FakeApi:
    def show_stat(self, backend: str) -> dict[str, ServerStat]:
        return {}


def test_window_carries_a_bounded_sample_of_the_colors_latencies() -> None:
    records = [
        Record(sent_at=float(i), latency=0.01, status=200, version="v", server=f"{color}-1", server_seconds=i / 1000)
        for i in range(100)
        for color in ("blue", "green")
    ]
    metrics = HaproxyMetrics(FakeApi(), lambda: records, clock=FakeClock(200.0), max_latencies=30)  # type: ignore[arg-type]
    window = metrics.window("green", 10.0, 89.0)
    assert len(window.latencies) == 30
    assert window.latencies == tuple(i / 1000 for i in range(60, 90))  # the most recent ones
    assert window.p99_seconds == 0.089  # p99 still over the whole window
    assert metrics.window("blue", 500.0, 600.0).latencies == ()


# -- noise ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.005:50", (0.005, 50.0)), ("0:0", (0.0, 0.0)), ("0.01", (0.01, 0.0)), ("0:25", (0.0, 25.0))],
    ids=lambda v: str(v),
)
def test_noise_flag_parses(text: str, expected: tuple[float, float]) -> None:
    assert parse_noise(text) == expected


@pytest.mark.parametrize("value", ["abc", "0.1:x", "0.6:10", "-0.1:0", "0.01:-5", "0.01:20000", "nan:1", "0.1:inf"])
def test_bad_noise_is_refused_with_exit_2_naming_the_flag(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["--out", str(out), f"--noise={value}"]) == EXIT_USAGE
    assert "--noise" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--metrics-lag", "-1"], "--metrics-lag"),
        (["--metrics-lag", "4000"], "--metrics-lag"),
        (["--synthetic-requests", "0"], "--synthetic-requests"),
        (["--probe-requests", "-1"], "--probe-requests"),
        (["--synthetic-seconds", "0"], "--synthetic-seconds"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_bad_realism_flags_are_refused(
    args: list[str], flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["--out", str(out), *args]) == EXIT_USAGE
    assert flag in capsys.readouterr().out
    assert not out.exists()


def test_noise_reaches_every_version_and_the_app_validates_it() -> None:
    env = AppRelease("v2", noise_error_rate=0.005, noise_jitter_ms=50).env()
    settings = load_settings(env)
    assert (settings.noise_error_rate, settings.noise_jitter_ms, settings.error_rate) == (0.005, 50.0, 0.0)
    for key, value in (("APP_NOISE_ERROR_RATE", "0.9"), ("APP_NOISE_JITTER_MS", "-1"), ("APP_NOISE_JITTER_MS", "x")):
        with pytest.raises(SettingsError, match=key):
            load_settings({key: value})


def test_synthetic_switch_fills_the_plan() -> None:
    assert RehearsalConfig().good_plan().synthetic is not None
    assert RehearsalConfig(synthetic=False).good_plan().synthetic is None
    assert RehearsalConfig(bad_strategy="all-at-once").bad_plan().synthetic is None  # it checks nothing
    bake = RehearsalConfig(synthetic_requests=50, synthetic_seconds=3, probe_requests=7).good_plan().synthetic
    assert bake is not None and (bake.requests, bake.seconds, bake.probe_requests) == (50, 3, 7)


# -- the report --------------------------------------------------------------------------------------------------
def _run(version: str, start: float, end: float, state: str) -> ReleaseRun:
    status = Status(release_id=f"r-{version}", kind="service", stack=STACK, target=SERVICE, spec={}, state=state)
    return ReleaseRun(
        version, "blue", build_plan("canary", steps=[10, 100], interval=1), Result(status, ()), start, end
    )


def _result(cfg: RehearsalConfig, records: list[Record], probes: list[Probe], restored_at: float) -> RehearsalResult:
    return RehearsalResult(
        config=cfg,
        records=records,
        phases=[Phase("release v2 (good)", 0, 10), Phase("release v3 (faulty)", 10, 20)],
        releases={GOOD: _run(GOOD, 0, 10, "SUCCEEDED"), BAD: _run(BAD, 10, 20, "ROLLED_BACK")},
        weight_history=[WeightChange(restored_at, Weights.all_to("blue"))],
        stops=[],
        started_at=0,
        ended_at=20,
        probes=probes,
    )


def _rec(at: float, version: str, status: int = 200, fault: str | None = None) -> Record:
    return Record(at, 0.01, status, version, "green-1", fault=fault)


def test_report_states_the_settings_and_separates_the_background() -> None:
    cfg = RehearsalConfig(noise_error_rate=0.005, noise_jitter_ms=50, metrics_lag_seconds=60, judge="threshold")
    records = [
        *(_rec(t / 10, GOOD) for t in range(0, 100)),
        _rec(2.0, GOOD, 500, "noise"),  # background: explained
        _rec(3.0, GOOD, 502),  # not explained by the background
        _rec(10.5, BAD, 500, "noise"),  # the bad version's background failure is not its fault
        _rec(11.0, BAD, 500, "injected"),
        *(_rec(10 + t / 10, "v2") for t in range(0, 100)),
    ]
    summary = summarize(_result(cfg, records, [], restored_at=12.0))
    assert summary.good_release_failed == 2 and summary.good_release_failed_beyond_background == 1
    assert summary.expectations["0 failed requests beyond the background during the good release"] is False
    assert "0 failed requests during the good release" not in summary.expectations
    assert summary.first_bad_response_at == 11.01 and summary.first_bad_response_via == "user"
    assert summary.rollback_seconds == pytest.approx(0.99)
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["settings"]["noise"] == {"error_rate": 0.005, "jitter_ms": 50}
    assert data["settings"]["metrics_lag_seconds"] == 60
    assert data["settings"]["synthetic"]["on"] is True
    assert data["settings"]["judge"] == "threshold"
    assert data["bad_version_share_release"] == pytest.approx(2 / 102)


def test_report_credits_a_fault_caught_before_any_user_request() -> None:
    cfg = RehearsalConfig()
    records = [_rec(t / 10, GOOD) for t in range(0, 200)]  # v3 never served a user
    probes = [Probe("test", 10.5, 500, 0.01, BAD, "green-1", done_at=10.6, fault="injected")]
    probes += [Probe("production", 10.2, 200, 0.01, GOOD, "blue-1", done_at=10.3)]
    summary = summarize(_result(cfg, records, probes, restored_at=11.0))
    assert summary.first_bad_response_via == "synthetic"
    assert summary.rollback_seconds == pytest.approx(0.4)
    assert summary.bad_release_caught_before_users is True
    assert summary.bad_version_share_release == 0
    assert summary.synthetic_requests == {"test": 1, "production": 1}
    assert summary.release_synthetic[BAD] == 1
    assert summary.expectations["faulty release got traffic"] is True  # through the test listener


def test_latency_fault_counts_every_response_of_the_bad_version() -> None:
    cfg = RehearsalConfig(bad_error_rate=0, bad_latency_ms=600, synthetic=False)
    records = [_rec(t / 10, GOOD) for t in range(0, 100)] + [_rec(12.0, BAD), _rec(13.0, BAD)]
    summary = summarize(_result(cfg, records, [], restored_at=14.0))
    assert summary.first_bad_response_at == 12.01 and summary.rollback_seconds == pytest.approx(1.99)
    assert summary.settings["synthetic"] == {
        "on": False,
        "requests": 0,
        "seconds": 0,
        "probe_requests": 0,
        "concurrency": 0,
    }


def test_printed_report_names_the_settings() -> None:
    from rich.console import Console

    cfg = RehearsalConfig(noise_error_rate=0.005, noise_jitter_ms=50, metrics_lag_seconds=60, synthetic=False)
    summary = summarize(_result(cfg, [_rec(1.0, GOOD)], [], restored_at=12.0))
    console = Console(record=True, width=160)
    render(summary, console)
    text = console.export_text()
    assert "0.50% errors, 0-50 ms jitter" in text
    assert "metrics lag" in text and "60 s" in text
    assert "synthetic bake + probes" in text and "off" in text
    assert "beyond the background noise" in text
