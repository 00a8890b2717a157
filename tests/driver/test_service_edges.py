"""The service strategy's limits exactly at their bounds (a `<` told apart from `<=`): each
`ServiceSpec` range accepted at its edge and refused one step beyond it, naming the setting; and
the weights verified until exactly `verify_timeout_seconds` after they were set, not a poll longer;
and a step still lacking evidence exactly at its bake's end checked again a poll later, not at once."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from zero_downtime.contract import Weights
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.analysis import AnalysisConfig, Judgement, Verdict
from zero_downtime.driver.core.bake import bake_check, counted_errors, counted_fact, is_repeat, settled_in
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.plan import Step
from zero_downtime.driver.core.service import BAKING, MAX_DESIRED_COUNT
from zero_downtime.driver.core.status import ROLLED_BACK, SUCCEEDED, Status
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fakes import FakeCheck, FakeDeployer, FakeMetrics, FakeRouter, RecordingPublisher
from tests.driver.test_service_release import World, make_spec

TINY = math.nextafter(0.0, math.inf)
"""The smallest float above 0: "> 0" accepts it, ">= 0" is told apart by 0 itself."""
BELOW_ZERO = math.nextafter(0.0, -math.inf)

# (setting, accepted at the edge, refused one step beyond, words of the refusal)
RANGES = [
    ("desired_count", 1, 0, f"integer 1-{MAX_DESIRED_COUNT}"),
    ("desired_count", MAX_DESIRED_COUNT, MAX_DESIRED_COUNT + 1, f"integer 1-{MAX_DESIRED_COUNT}"),
    ("stable_desired_count", 0, -1, f"integer 0-{MAX_DESIRED_COUNT}"),
    ("stable_desired_count", MAX_DESIRED_COUNT, MAX_DESIRED_COUNT + 1, f"integer 0-{MAX_DESIRED_COUNT}"),
    ("health_timeout_seconds", TINY, 0.0, "must be > 0 seconds"),
    ("verify_timeout_seconds", TINY, 0.0, "must be > 0 seconds"),
    ("verify_poll_seconds", TINY, 0.0, "must be > 0 seconds"),
    ("keep_warm_seconds", 0.0, BELOW_ZERO, "must be >= 0 seconds"),
    ("extension_factor", 0.0, BELOW_ZERO, "must be >= 0"),
]


@pytest.mark.parametrize(("key", "edge", "beyond", "words"), RANGES, ids=[f"{r[0]}-{r[1]:g}" for r in RANGES])
def test_each_setting_is_accepted_at_its_edge_and_refused_one_step_beyond(
    key: str, edge: float, beyond: float, words: str
) -> None:
    spec = make_spec("blue-green", bake=30)
    assert getattr(dataclasses.replace(spec, **{key: edge}), key) == edge
    with pytest.raises(InputError) as refused:
        dataclasses.replace(spec, **{key: beyond})
    assert refused.value.key == key and words in refused.value.problem, refused.value


class SlowRouter(FakeRouter):
    """The load balancer shows the first write `delay` seconds after it was made; later writes at once."""

    def __init__(self, clock: FakeClock, delay: float) -> None:
        super().__init__(Weights(blue=100, green=0))
        self.clock = clock
        self.pending: tuple[Weights, float] | None = None
        self.delay = delay

    def set_weights(self, weights: Weights) -> None:
        self.writes.append(weights)
        if len(self.writes) == 1:
            self.pending = (weights, self.clock.now() + self.delay)
        else:
            self.pending, self.weights = None, weights

    def observed_weights(self) -> Weights:
        if self.pending is not None and self.clock.now() >= self.pending[1]:
            self.weights, self.pending = self.pending[0], None
        return self.weights


def _slow_world(tmp_path: Path, delay: float) -> World:
    clock = FakeClock()
    router = SlowRouter(clock, delay)
    return World(
        clock=clock,
        router=router,
        metrics=FakeMetrics(router=router),
        deployer=FakeDeployer(None),  # its reconcile leaves the weights to the router
        check=FakeCheck(),
        publisher=RecordingPublisher(),
        journal=ReleaseStore(LocalBlobs(tmp_path), "zero-downtime", "dev", "api", clock),
    )


def test_weights_that_show_exactly_at_the_verify_timeout_pass_and_one_poll_later_roll_back(tmp_path: Path) -> None:
    spec = make_spec("canary", steps=[10, 50, 100])  # verify_timeout_seconds 10, verify_poll_seconds 1
    assert (spec.verify_timeout_seconds, spec.verify_poll_seconds) == (10.0, 1.0)
    on_time = _slow_world(tmp_path / "on-time", delay=10.0)
    result = on_time.start(spec).run()
    assert result.state == SUCCEEDED, result.reason
    first_bake = next(r for r in on_time.journal.records(result.release_id) if r.state == BAKING)
    assert first_bake.detail["observed"] == {"blue": 90, "green": 10}
    late = _slow_world(tmp_path / "late", delay=11.0)
    result = late.start(spec).run()
    assert result.state == ROLLED_BACK
    assert (
        result.reason
        == "verify: load balancer reports {'blue': 100, 'green': 0} after setting {'blue': 90, 'green': 10}"
    )
    assert late.router.weights == Weights(blue=100, green=0)


def test_a_step_lacking_evidence_at_the_end_of_its_bake_is_checked_again_a_poll_later(tmp_path: Path) -> None:
    """bake 60 s, polls of 15 s: the fourth check lands exactly on the bake's end. With no evidence
    yet, the next check must wait a poll (`remaining <= 0`); checking again at once would re-read
    the same instant forever (the fake clock does not move), so a sleep of 0 fails at once here."""
    spec = make_spec("canary", steps=[10, 50, 100], interval=60, synthetic=None)
    world = _slow_world(tmp_path, delay=0.0)
    world.metrics.healthy_rps = 0.1  # a trickle: far from min_requests on either color

    def no_sleep_of_zero(now: float) -> None:
        assert world.clock.slept[-1] > 0, f"slept 0 s at {now - 1_700_000_000.0:g} s: checked the same instant again"

    world.clock.on_sleep(no_sleep_of_zero)
    result = world.start(spec).run()
    assert result.state == ROLLED_BACK and result.reason.startswith("not enough evidence to pass the step: ")
    records = world.journal.records(result.release_id)
    started = next(r for r in records if r.state == BAKING).status.facts["step_started_at"]
    checks = [round(r.ts - started, 6) for r in records if r.event == "check"]
    # every poll, through the bake (60 s) and its two extensions (to 180 s), then the rollback
    assert checks == [15.0 * i for i in range(1, 13)]


# --- the bake's bookkeeping of counted failures and settled tests (issue 17, mutmut's survivors) ---


def _status(**facts: object) -> Status:
    return Status(release_id="r1", kind="service", stack="dev", target="web", spec={}, facts=facts)


def test_counted_errors_reads_only_a_whole_number_of_the_same_window() -> None:
    window = {"window_started_at": 100.0}
    assert counted_errors(_status(counted_errors={**window, "errors": 3}), 100.0) == 3
    assert counted_errors(_status(counted_errors={**window, "errors": 3}), 160.0) is None  # a new window
    assert counted_errors(_status(counted_errors={**window, "errors": True}), 100.0) is None  # a bool is no count
    assert counted_errors(_status(counted_errors={**window, "errors": "3"}), 100.0) is None
    assert counted_errors(_status(counted_errors={**window, "errors": 2.5}), 100.0) is None
    assert counted_errors(_status(counted_errors=[3]), 100.0) is None
    assert counted_errors(_status(), 100.0) is None


def test_a_counted_failure_is_journaled_unless_it_repeats_one_or_rests_on_more_than_errors() -> None:
    failed = Verdict(outcome=Judgement.FAIL, failed_on_errors=4)
    assert counted_fact(failed, False, 100.0) == {"counted_errors": {"window_started_at": 100.0, "errors": 4}}
    assert counted_fact(failed, True, 100.0) == {}  # a repeat: the last count stands
    assert counted_fact(Verdict(outcome=Judgement.FAIL), False, 100.0) == {}
    assert counted_fact(Verdict(outcome=Judgement.FAIL), True, 100.0) == {}
    last = _status(counted_errors={"window_started_at": 100.0, "errors": 4})
    assert is_repeat(failed, last, 100.0) is True  # no error the last count did not see
    assert is_repeat(Verdict(outcome=Judgement.FAIL, failed_on_errors=5), last, 100.0) is False
    assert is_repeat(failed, last, 160.0) is False  # another window: counted again
    assert is_repeat(Verdict(outcome=Judgement.INCONCLUSIVE, failed_on_errors=4), last, 100.0) is False


def test_settled_tests_are_those_of_the_same_step_only() -> None:
    settled = {"step": 2, "tests": ["error_sprt", 7, "latency"]}
    assert settled_in(_status(settled=settled), 2) == frozenset({"error_sprt", "latency"})
    assert settled_in(_status(settled=settled), 3) == frozenset()
    assert settled_in(_status(settled={"step": 2, "tests": "error_sprt"}), 2) == frozenset()
    assert settled_in(_status(settled=[2]), 2) == frozenset()


class _BareMachine:
    """What `bake_check` uses of a machine: a clock, the status and what it records."""

    def __init__(self, status: Status, now: float) -> None:
        self.status, self.t, self.records, self.rollbacks = status, now, [], []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def abort_requested(self) -> bool:
        return False

    def begin_rollback(self, reason: str) -> None:
        self.rollbacks.append(reason)

    def record(self, event: str, **kwargs: object) -> None:
        self.records.append((event, kwargs))


def test_a_bake_whose_start_was_not_journaled_counts_from_its_first_check() -> None:
    m = _BareMachine(_status(), now=100.0)  # no step_started_at in the facts
    seen: list[tuple[float, float]] = []

    def check(started: float, now: float, settled: frozenset[str]) -> Verdict:
        seen.append((started, now))
        return Verdict(outcome=Judgement.PASS)

    cfg = AnalysisConfig(poll_seconds=10.0)
    passed = bake_check(m, 0, Step(weight=10, bake_seconds=60.0), cfg, 2.0, check, lambda *_: None)  # type: ignore[arg-type]
    assert (passed, seen) == (False, [(100.0, 110.0)])  # baked 10 of 60 seconds: not yet passed
    assert m.records[0][0] == "check" and m.rollbacks == []


@pytest.mark.parametrize(
    ("bake_seconds", "checks"),
    [(25.0, [10.0, 20.0, 25.0]), (20.5, [10.0, 20.0, 20.5]), (20.0, [10.0, 20.0])],
    ids=["5s-left", "half-a-second-left", "on-a-poll"],
)
def test_the_last_check_of_a_bake_lands_on_its_end_not_a_whole_poll_later(
    bake_seconds: float, checks: list[float]
) -> None:
    """Polls of 10 s: the check after the last whole poll waits only what is left of the bake, and
    the step passes then; what is left is reported at every check."""
    m = _BareMachine(_status(step_started_at=100.0), now=100.0)
    seen: list[float] = []
    reported: list[tuple[int, float]] = []

    def check(started: float, now: float, settled: frozenset[str]) -> Verdict:
        seen.append(now - started)
        return Verdict(outcome=Judgement.PASS)

    def report(verdict: Verdict, failed: int, remaining: float) -> None:
        reported.append((failed, remaining))

    cfg = AnalysisConfig(poll_seconds=10.0)
    step = Step(weight=10, bake_seconds=bake_seconds)
    passed = [bake_check(m, 0, step, cfg, 2.0, check, report) for _ in checks]  # type: ignore[arg-type]
    assert (passed, seen) == ([False] * (len(checks) - 1) + [True], checks)
    assert reported == [(0, pytest.approx(bake_seconds - c)) for c in checks]


def test_a_check_that_finds_an_abort_request_neither_judges_nor_passes_the_step() -> None:
    m = _BareMachine(_status(step_started_at=100.0), now=100.0)
    m.abort_requested = lambda: True  # type: ignore[method-assign]
    judged: list[float] = []

    def check(started: float, now: float, settled: frozenset[str]) -> Verdict:
        judged.append(now)
        return Verdict(outcome=Judgement.PASS)

    step = Step(weight=10, bake_seconds=5.0)
    cfg = AnalysisConfig(poll_seconds=10.0)
    assert bake_check(m, 0, step, cfg, 2.0, check, lambda *_: None) is False  # type: ignore[arg-type]
    assert (judged, m.records, m.rollbacks) == ([], [], [])  # the loop rolls back, not the check


def test_an_alarm_rolls_back_with_all_its_reasons() -> None:
    m = _BareMachine(_status(step_started_at=100.0), now=100.0)
    alarm = Verdict(outcome=Judgement.ALARM, reasons=("alarm web-5xx in ALARM", "alarm web-p99 in ALARM"))
    cfg = AnalysisConfig(poll_seconds=10.0)
    passed = bake_check(m, 0, Step(weight=10, bake_seconds=60.0), cfg, 2.0, lambda *_: alarm, lambda *_: None)  # type: ignore[arg-type]
    assert passed is False
    assert m.rollbacks == ["alarm web-5xx in ALARM; alarm web-p99 in ALARM"]


def test_a_repeated_counted_failure_is_journaled_as_a_repeat_without_counting_it_again() -> None:
    counted = {"window_started_at": 100.0, "errors": 4}
    m = _BareMachine(_status(step_started_at=100.0, counted_errors=counted), now=100.0)
    m.status = dataclasses.replace(m.status, failed_checks=1)
    again = Verdict(outcome=Judgement.FAIL, reasons=("4 errors",), failed_on_errors=4)
    cfg = AnalysisConfig(poll_seconds=10.0, threshold=2)
    passed = bake_check(m, 0, Step(weight=10, bake_seconds=60.0), cfg, 2.0, lambda *_: again, lambda *_: None)  # type: ignore[arg-type]
    assert passed is False and m.rollbacks == []  # still one counted failure: below the threshold
    [(event, kwargs)] = m.records
    assert event == "check" and kwargs["failed_checks"] == 1 and kwargs["facts"] is None
    assert kwargs["detail"]["repeat_of_counted_failure"] is True  # type: ignore[index]


@pytest.mark.parametrize(
    ("verdict", "failed_before", "now", "reason"),
    [
        (Verdict(outcome=Judgement.FAIL, conclusive=True), 0, 100.0, "conclusive: e; l"),
        (Verdict(outcome=Judgement.FAIL), 1, 100.0, "2 failed checks (threshold 2): e; l"),
        (Verdict(outcome=Judgement.INCONCLUSIVE), 0, 270.0, "not enough evidence to pass the step: e; l"),
    ],
    ids=["conclusive", "threshold", "no-evidence"],
)
def test_a_rollback_from_a_check_gives_its_cause_and_every_reason(
    verdict: Verdict, failed_before: int, now: float, reason: str
) -> None:
    """bake 60 s from 100 s, extended twice (to 280 s): the check at `now` + 10 s rolls back."""
    m = _BareMachine(dataclasses.replace(_status(step_started_at=100.0), failed_checks=failed_before), now=now)
    judged = dataclasses.replace(verdict, reasons=("e", "l"))
    cfg = AnalysisConfig(poll_seconds=10.0, threshold=2)
    passed = bake_check(m, 0, Step(weight=10, bake_seconds=60.0), cfg, 2.0, lambda *_: judged, lambda *_: None)  # type: ignore[arg-type]
    assert passed is False and m.rollbacks == [reason]
