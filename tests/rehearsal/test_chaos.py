"""Chaos during the rehearsal (`--chaos`): the pure scheduling and attribution, then one short run with
every event against real HAProxy, app processes and a driver process on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import Weights
from zero_downtime.rehearsal import chart as chart_module
from zero_downtime.rehearsal.chaos import (
    KILL_DRIVER,
    KILL_NEW_INSTANCE,
    KINDS,
    RELOAD_HAPROXY,
    SLOW_DOWNSTREAM,
    ChaosEvent,
    Placement,
    attribute,
    breaker_changes,
    chaos_summary,
    parse_chaos,
    placement,
)
from zero_downtime.rehearsal.cli import main
from zero_downtime.rehearsal.haproxy_config import HaproxyLayout, render_config
from zero_downtime.rehearsal.haproxy_runtime import ServerStat
from zero_downtime.rehearsal.lifetime import MARKER_ENV
from zero_downtime.rehearsal.loadgen import Record
from zero_downtime.rehearsal.metrics import HaproxyMetrics
from zero_downtime.rehearsal.report import Summary, summarize
from zero_downtime.rehearsal.scenario import BAD, GOOD, RehearsalConfig, RehearsalResult, run_rehearsal


def rec(at: float, status: int = 200, **kw: Any) -> Record:
    return Record(sent_at=at, latency=0.01, status=status, version=kw.pop("version", "v2"), server="green-1", **kw)


# -- parsing and placement -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("all", KINDS),
        ("kill-driver,kill-new-instance", (KILL_NEW_INSTANCE, KILL_DRIVER)),  # canonical order
        (" reload-haproxy ", (RELOAD_HAPROXY,)),
    ],
    ids=["all", "reordered", "spaces"],
)
def test_parse_chaos(text: str, expected: tuple[str, ...]) -> None:
    assert parse_chaos(text) == expected


@pytest.mark.parametrize("text", ["bogus", "kill-driver,nope", ",", "all,kill-driver"])
def test_parse_chaos_refuses_naming_the_flag(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--chaos: "):
        parse_chaos(text)


def test_placement_spreads_the_events_over_the_bakes_in_order() -> None:
    assert placement(KINDS, 3) == {
        KILL_NEW_INSTANCE: Placement(0, 0.375),
        RELOAD_HAPROXY: Placement(1, 0.125),
        SLOW_DOWNSTREAM: Placement(1, 0.875),
        KILL_DRIVER: Placement(2, 0.625),
    }
    one = placement(KINDS, 1)  # blue/green: one step, four moments in its bake
    assert [one[k].step for k in KINDS] == [0, 0, 0, 0]
    assert [one[k].fraction for k in KINDS] == [0.125, 0.375, 0.625, 0.875]
    assert placement([KILL_DRIVER], 2) == {KILL_DRIVER: Placement(1, 0.0)}
    with pytest.raises(ValueError, match="no step"):
        placement(KINDS, 0)


# -- attribution ---------------------------------------------------------------------------------------------
def test_attribute_assigns_each_failure_to_the_event_window_that_holds_it() -> None:
    kill = ChaosEvent(KILL_NEW_INSTANCE, at=10.0, until=11.0)
    reload_ = ChaosEvent(RELOAD_HAPROXY, at=11.5, until=12.0)
    in_flight = Record(9.95, 0.1, 0, None, None, "RemoteProtocolError")  # sent before the kill, cut by it
    failed = [rec(9.9, 502), in_flight, rec(10.2, 502), rec(11.8, 503), rec(12.9, 503), rec(13.1, 0, error="x")]
    by_kind, unexplained = attribute(failed, [reload_, kill], grace=1.0)
    assert [r.sent_at for r in by_kind[KILL_NEW_INSTANCE]] == [9.95, 10.2]
    # 11.8 is in both windows (the kill's grace runs to 12.0): the latest event owns it.
    assert [r.sent_at for r in by_kind[RELOAD_HAPROXY]] == [11.8, 12.9]
    assert [r.sent_at for r in unexplained] == [9.9, 13.1]


def test_breaker_changes_per_instance() -> None:
    records = [
        rec(1.0, breaker="closed"),
        rec(1.1, breaker="closed", version="v1"),
        rec(2.0, breaker="open"),
        rec(2.1, breaker="open"),
        rec(5.0, breaker="half-open"),
        rec(5.1, breaker="closed"),
        rec(5.2),  # no header (no downstream): ignored
    ]
    assert [(c.at, c.before, c.after) for c in breaker_changes(records)] == [
        (2.0, "closed", "open"),
        (5.0, "open", "half-open"),
        (5.1, "half-open", "closed"),
    ]


KILL_FIGURES = {"in_flight_at_kill": 1, "sent_before_deregistered": 1}  # HAProxy gave it 2 it never answered


def test_chaos_summary_allows_failures_only_to_unavoidable_events() -> None:
    kill = ChaosEvent(KILL_NEW_INSTANCE, at=10.0, until=11.0, figures=dict(KILL_FIGURES))
    reload_ = ChaosEvent(RELOAD_HAPROXY, at=20.0, until=20.5)
    ok = chaos_summary([kill, reload_], [], [rec(10.5, 502), rec(15.0)], (0.0, 30.0), 0.0)
    assert ok["expectations"] == {
        "every chaos event happened": True,
        "no failed request beyond what a chaos event cannot avoid": True,
    }
    assert [e["failed_requests"] for e in ok["events"]] == [1, 0]
    assert [e["allowed_failures"] for e in ok["events"]] == [2, 0]
    assert ok["events"][0]["failed_by_kind"] == {"HTTP 502": 1}

    by_reload = chaos_summary([kill, reload_], [], [rec(20.2, 503)], (0.0, 30.0), 0.0)
    assert not by_reload["expectations"]["no failed request beyond what a chaos event cannot avoid"]
    unexplained = chaos_summary([kill], [], [rec(25.0, 500)], (0.0, 30.0), 0.0)
    assert unexplained["failed_unexplained_in_good_release"] == 1
    assert not unexplained["expectations"]["no failed request beyond what a chaos event cannot avoid"]
    background = chaos_summary([kill], [], [rec(25.0, 500, fault="noise")], (0.0, 30.0), 0.0)
    assert background["failed_unexplained_in_good_release"] == 0  # `--noise` is not the chaos' doing
    missed = chaos_summary([kill], [KILL_DRIVER], [], (0.0, 30.0), 0.0)
    assert not missed["expectations"]["every chaos event happened"]
    broken = chaos_summary([ChaosEvent(KILL_DRIVER, 1.0, 2.0, error="RuntimeError: x")], [], [], None, 0.0)
    assert not broken["expectations"]["every chaos event happened"]


@pytest.mark.parametrize(
    ("figures", "failures", "passes"),
    [
        (KILL_FIGURES, 2, True),  # exactly what HAProxy had given the killed instance
        (KILL_FIGURES, 3, False),  # one more: a regression that fails requests the kill cannot explain
        (KILL_FIGURES, 40, False),  # e.g. traffic kept going to the dead slot: failed many, caught
        ({"in_flight_at_kill": 0, "sent_before_deregistered": 0}, 1, False),
        ({}, 1, False),  # not measured (the event broke before): nothing may be blamed on it
        ({**KILL_FIGURES, "share_kept": "no: cannot send 100% to green: no instances"}, 40, True),
    ],
    ids=["at-the-bound", "one-over", "many", "nothing-in-flight", "not-measured", "only-instance"],
)
def test_a_killed_instance_explains_at_most_what_haproxy_had_given_it(
    figures: dict[str, Any], failures: int, passes: bool
) -> None:
    kill = ChaosEvent(KILL_NEW_INSTANCE, at=10.0, until=12.0, figures=dict(figures))
    failed = [rec(10.0 + i * 0.02, 502) for i in range(failures)]
    summary = chaos_summary([kill], [], failed, (0.0, 30.0), 0.0)
    [row] = summary["events"]
    assert row["failed_requests"] == failures and summary["failed_unexplained_in_good_release"] == 0
    assert summary["expectations"]["no failed request beyond what a chaos event cannot avoid"] is passes


def test_the_breaker_expectation_needs_a_breaker_that_opened() -> None:
    slow = ChaosEvent(SLOW_DOWNSTREAM, at=10.0, until=14.0)
    never = chaos_summary([slow], [], [rec(11.0, breaker="closed"), rec(12.0, breaker="closed")], None, 0.0)
    assert never["expectations"]["the circuit breaker opened during slow-downstream"] is False
    opened = chaos_summary([slow], [], [rec(11.0, breaker="closed"), rec(11.5, breaker="open")], None, 0.0)
    assert opened["expectations"]["the circuit breaker opened during slow-downstream"] is True
    assert opened["events"][0]["figures"]["breaker_first_open_after_seconds"] == 1.5


# -- the pieces the events rely on -----------------------------------------------------------------------------
class ResettingApi:
    """`show stat` whose counters drop to 0 once, as after a reload (a new worker)."""

    def __init__(self) -> None:
        self.counts = [(100, 4), (120, 5), (3, 0), (10, 1)]

    def show_stat(self, backend: str) -> dict[str, ServerStat]:
        total, errors = self.counts.pop(0)
        by_class = {"2xx": total - errors, "5xx": errors}
        return {"green-1": ServerStat(backend, "green-1", "UP", 10, by_class, total, "L7OK", "127.0.0.1:1")}


def test_metrics_stay_cumulative_across_a_counter_reset() -> None:
    ticks = iter(range(100))
    metrics = HaproxyMetrics(ResettingApi(), clock=lambda: float(next(ticks)))  # type: ignore[arg-type]
    for _ in range(4):
        metrics.sample()
    # 100 -> 120 (+20), reset, 3 (+3 since the reset), 10 (+7): 30 in all, errors 1 + 0 + 1.
    window = metrics.window("green", 0.0, 3.0)
    assert (window.requests, window.errors_5xx) == (30, 2)


def test_a_reloadable_layout_loads_the_server_state_and_starts_slots_enabled() -> None:
    plain = render_config(HaproxyLayout(bind="127.0.0.1:8080", socket_path="/tmp/s"))
    assert "server-state-file" not in plain and " disabled" in plain
    text = render_config(HaproxyLayout(bind="127.0.0.1:8080", socket_path="/tmp/s", state_file="/tmp/state"))
    assert "    server-state-file /tmp/state" in text
    assert "    load-server-state-from-file global" in text
    assert " disabled" not in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--chaos", "bogus"], "--chaos: unknown event 'bogus'"),
        (["--chaos", "all", "--only", "bad"], "--chaos: needs the good release"),
    ],
    ids=["unknown", "without-good-release"],
)
def test_cli_refuses_bad_chaos_with_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().out.replace("\n", " ")
    assert not (tmp_path / "out").exists()  # nothing was started or written


# -- one short run with every event --------------------------------------------------------------------------
CONFIG = RehearsalConfig(
    rate=40,
    steps=(50, 100),
    interval=6,
    poll_seconds=1,
    baseline_seconds=1,
    keep_warm_seconds=1,
    settle_seconds=1,
    synthetic_requests=20,
    synthetic_seconds=1,
    probe_requests=5,
    max_seconds=200,
    chaos=KINDS,
)


@pytest.fixture(scope="module")
def chaos_run(tmp_path_factory: pytest.TempPathFactory, haproxy_binary: str) -> RehearsalResult:
    out = tmp_path_factory.mktemp("chaos")
    return run_rehearsal(RehearsalConfig(**{**CONFIG.__dict__, "out_dir": out}))


@pytest.fixture(scope="module")
def chaos_summary_(chaos_run: RehearsalResult) -> Summary:
    return summarize(chaos_run)


pytestmark_e2e = pytest.mark.timeout(180)


@pytestmark_e2e
def test_good_release_survives_every_event_and_the_faulty_one_is_still_rolled_back(
    chaos_run: RehearsalResult, chaos_summary_: Summary
) -> None:
    s = chaos_summary_
    why = f"good release {s.good_release_state}: {s.good_release_reason}; missed: {chaos_run.chaos_missed}"
    assert [e.kind for e in sorted(chaos_run.chaos, key=lambda e: KINDS.index(e.kind))] == list(KINDS), why
    assert [e.error for e in chaos_run.chaos] == [None] * 4 and chaos_run.chaos_missed == []
    assert s.good_release_state == "SUCCEEDED", s.good_release_reason
    assert s.bad_release_state == "ROLLED_BACK"
    rows = {row["kind"]: row for row in s.chaos["events"]}
    assert all(rows[k]["failed_requests"] == 0 for k in KINDS if k != KILL_NEW_INSTANCE)
    # The kill may fail what HAProxy had given the killed instance, counted from HAProxy's counters.
    kill = rows[KILL_NEW_INSTANCE]
    assert isinstance(kill["allowed_failures"], int), kill["figures"]
    assert kill["failed_requests"] <= kill["allowed_failures"], kill
    assert s.chaos["failed_unexplained_in_good_release"] == 0, s.chaos["failed_unexplained_by_kind"]
    assert s.expectations and s.ok, s.expectations


def _alive_in_this_run(pid: int, marker: str) -> bool:
    """A live (not zombie) process carrying this run's marker. On a busy machine a gone process's
    pid is soon someone else's (CI saw a reused pid whose name held a space), so a pid alone says
    nothing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return False
    state = stat.rsplit(")", 1)[1].split()[0]  # the name, in parentheses, may hold spaces
    return state != "Z" and f"{MARKER_ENV}={marker}".encode() in environ.split(b"\0")


def test_a_process_counts_as_left_behind_only_alive_and_marked_for_this_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    marker = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], env={MARKER_ENV: marker, "PATH": "/usr/bin:/bin"}
    )
    try:
        assert _alive_in_this_run(proc.pid, marker)
        assert not _alive_in_this_run(proc.pid, marker + "-another-run")
    finally:
        proc.kill()
    proc.wait()
    assert not _alive_in_this_run(proc.pid, marker)


@pytestmark_e2e
def test_each_event_really_happened(chaos_run: RehearsalResult, chaos_summary_: Summary) -> None:
    events = {e.kind: e for e in chaos_run.chaos}
    kill = events[KILL_NEW_INSTANCE].figures
    assert kill["replacement_pid"] != kill["killed_pid"] and kill["replaced_up_after_seconds"] is not None
    reload_ = events[RELOAD_HAPROXY].figures
    assert reload_["new_worker"] != reload_["old_worker"]
    # its window lasts until the old worker has gone (it closes its kept-alive connections as it goes)
    assert isinstance(reload_["old_worker_gone_after_seconds"], float), reload_
    # Mid-shift: with steps 50,100 it hits the 50% step, traffic split between the colors.
    assert reload_["weights_before"] == reload_["weights_after"] == Weights.shifted("blue", 50).as_dict()
    driver = events[KILL_DRIVER].figures
    assert driver["new_pid"] != driver["killed_pid"] and driver["resumed_in"] == "BAKING"
    trail = chaos_run.releases[GOOD].result.trail
    assert [r.event for r in trail].count("resume") == 1  # resumed from the journal, once
    opened = [c for c in chaos_summary_.chaos["breaker_changes"] if c["to"] == "open"]
    slow = next(row for row in chaos_summary_.chaos["events"] if row["kind"] == SLOW_DOWNSTREAM)
    assert opened and slow["figures"]["downstream_calls"]["failing"] > 0
    # Every killed or replaced process is gone after the run.
    for pid in (kill["killed_pid"], kill["replacement_pid"], driver["killed_pid"], driver["new_pid"]):
        assert not _alive_in_this_run(pid, chaos_run.workdir), pid
    assert chaos_run.leftover_pids == []
    assert chaos_run.releases[BAD].result.state == "ROLLED_BACK"


@pytestmark_e2e
def test_the_chart_marks_every_event(
    chaos_run: RehearsalResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures: list[Any] = []
    real_close = chart_module.plt.close
    monkeypatch.setattr(chart_module.plt, "close", lambda fig: (figures.append(fig), real_close(fig)))
    chart_module.write_chart(chaos_run, tmp_path / "chaos.png")
    labels = [t.get_text() for t in figures[0].axes[0].texts]
    assert sorted(label for label in labels if label.startswith("chaos: ")) == sorted(f"chaos: {k}" for k in KINDS)
