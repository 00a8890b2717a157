"""The full rehearsal once (real HAProxy, real processes, the driver's controller), then its figures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.rehearsal import chart as chart_module
from zero_downtime.rehearsal.chart import write_chart
from zero_downtime.rehearsal.report import Summary, chart_notes, summarize
from zero_downtime.rehearsal.scenario import BAD, GOOD, RehearsalConfig, RehearsalResult, run_rehearsal

FIRST_STEP = 10
CONFIG = RehearsalConfig(
    rate=120,
    steps=(FIRST_STEP, 50, 100),
    interval=7,
    poll_seconds=1,
    min_requests=20,
    threshold=2,
    baseline_seconds=1,
    keep_warm_seconds=1,
    settle_seconds=1,
    bad_error_rate=0.3,
    max_seconds=300,
    synthetic_requests=200,  # a quarter of the default: the suite's CPU; `make run` sends the default
)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory, haproxy_binary: str) -> RehearsalResult:
    out = tmp_path_factory.mktemp("rehearsal")
    return run_rehearsal(RehearsalConfig(**{**CONFIG.__dict__, "out_dir": out}))


@pytest.fixture(scope="module")
def summary(rehearsal: RehearsalResult) -> Summary:
    return summarize(rehearsal)


pytestmark = pytest.mark.timeout(240)


def test_good_canary_under_load_has_zero_failed_requests(summary: Summary) -> None:
    assert summary.good_release_state == "SUCCEEDED", summary.good_release_reason
    assert summary.good_release_requests is not None and summary.good_release_requests >= 2000
    assert summary.good_release_failed == 0


def test_good_canary_moved_traffic_step_by_step(rehearsal: RehearsalResult) -> None:
    good = rehearsal.releases[GOOD]
    new = "green" if good.stable_color == "blue" else "blue"
    applied = [w.weights.of(new) for w in rehearsal.weight_history if good.start <= w.at <= good.end]
    assert applied == [FIRST_STEP, 50, 100]
    promoted_at = next(w.at for w in rehearsal.weight_history if w.weights.of(new) == 100)
    next_change = next(w.at for w in rehearsal.weight_history if w.at > promoted_at)
    # Judged by when the answer came back: a busy client may send a request well after it stamped it.
    served = {r.version for r in rehearsal.records if promoted_at + 0.5 < r.done_at < next_change - 0.2}
    assert served == {GOOD}  # after the promotion, until the next release moves traffic


def test_bad_release_is_rolled_back_with_exposure_bounded_by_the_first_step(summary: Summary) -> None:
    assert summary.bad_release_state == "ROLLED_BACK"
    assert "error rate" in (summary.bad_release_reason or "")
    share = summary.bad_version_share_release
    assert share is not None
    # Rolled back during the first step: the bad version never had more than its weight. The synthetic
    # bake (on by default) may catch it before any user request: then it served none.
    assert 0 <= share <= FIRST_STEP / 100 + 0.02
    assert share > 0 or summary.bad_release_caught_before_users
    assert summary.bad_version_share_all is not None and summary.bad_version_share_all <= share


def test_rollback_is_quick_after_the_first_bad_response(summary: Summary) -> None:
    assert summary.rollback_seconds is not None
    # Detection needs `threshold` failed checks, one per poll; restoring the weights is instant.
    assert summary.rollback_seconds <= CONFIG.threshold * CONFIG.poll_seconds + 3
    assert summary.detection_to_restore_seconds is not None and summary.detection_to_restore_seconds < 2


def test_no_bad_version_after_the_rollback(rehearsal: RehearsalResult, summary: Summary) -> None:
    assert summary.traffic_restored_at is not None
    late = [r for r in rehearsal.records if r.version == BAD and r.sent_at > summary.traffic_restored_at + 0.5]
    assert late == []


def test_everything_is_stopped(rehearsal: RehearsalResult, summary: Summary) -> None:
    assert rehearsal.leftover_pids == []
    assert summary.forced_stops == 0 and summary.graceful_stops >= 4
    assert summary.expectations and summary.ok


def test_no_app_or_haproxy_process_survives(rehearsal: RehearsalResult) -> None:
    ours = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if rehearsal.workdir.encode() in b" ".join(cmdline):  # HAProxy's config is in the run's dir
            ours.append(pid)
    assert ours == []


def test_report_and_chart_are_written(
    rehearsal: RehearsalResult, summary: Summary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures: list[Any] = []
    real_close = chart_module.plt.close
    monkeypatch.setattr(chart_module.plt, "close", lambda fig: (figures.append(fig), real_close(fig)))
    png = write_chart(rehearsal, tmp_path / "chart.png", chart_notes(summary))
    # The synthetic requests, which the bars leave out, are marked: each release's bake, labelled
    # with the count the driver sent, and a tick per request.
    labels = [t.get_text() for t in figures[0].axes[0].texts]
    bakes = [label for label in labels if label.startswith("synthetic bake ")]
    assert [b.split(":")[0] for b in bakes] == ["synthetic bake v2", "synthetic bake v3"]
    sent = sum(n for via, n in summary.synthetic_requests.items())
    [ticks] = [line for line in figures[0].axes[0].lines if line.get_label() == "synthetic request"]
    assert len(ticks.get_xdata()) == sent
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000
    data = json.loads(json.dumps(summary.to_dict()))
    assert data["good_release_failed"] == 0
    assert [p["name"] for p in data["phases"]][:3] == ["baseline v1", "release v2 (good)", "release v3 (faulty)"]
