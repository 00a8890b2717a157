"""Service releases on the release machine, driven by a fake clock and in-memory ports."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import Weights
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.errors import PortError, StateError
from zero_downtime.driver.core.machine import Machine, Progress, latest_status
from zero_downtime.driver.core.metric_checks import MetricJudge, MetricSample, parse_analysis_file
from zero_downtime.driver.core.plan import SyntheticBake, build_plan
from zero_downtime.driver.core.ports import WindowMetrics
from zero_downtime.driver.core.service import (
    FORWARD_STATES,
    ServicePorts,
    ServiceRelease,
    ServiceSpec,
)
from zero_downtime.driver.core.status import ROLLED_BACK, SUCCEEDED
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fakes import (
    FakeCheck,
    FakeDeployer,
    FakeMetrics,
    FakeRouter,
    FakeSynthetic,
    Killed,
    RecordingPublisher,
)


@dataclass
class World:
    clock: FakeClock
    router: FakeRouter
    metrics: FakeMetrics
    deployer: FakeDeployer
    check: FakeCheck
    publisher: RecordingPublisher
    journal: ReleaseStore
    progress: list[Progress] = field(default_factory=list)

    synthetic: FakeSynthetic = field(default_factory=FakeSynthetic)
    metric_judge: MetricJudge | None = None

    def ports(self) -> ServicePorts:
        return ServicePorts(
            router=self.router,
            metrics=self.metrics,
            deployer=self.deployer,
            checks=[self.check],
            synthetic=self.synthetic,
            metric_judge=self.metric_judge,
        )

    def start(self, spec: ServiceSpec, on_progress: Callable[[Progress], None] | None = None) -> Machine:
        return Machine.start(
            ServiceRelease(spec, self.ports()),
            self.journal,
            self.clock,
            publisher=self.publisher,
            on_progress=on_progress or self.progress.append,
        )

    def load(self) -> Machine:
        """The latest release, as `resume`/`promote`/`abort` find it in the journal."""
        status = latest_status(self.journal)
        strategy = ServiceRelease(ServiceSpec.from_dict(status.spec), self.ports())
        return Machine.continue_(strategy, self.journal, self.clock, status, publisher=self.publisher)


@pytest.fixture
def world(tmp_path: Path) -> World:
    router = FakeRouter(Weights(blue=100, green=0))
    clock = FakeClock()
    return World(
        clock=clock,
        router=router,
        metrics=FakeMetrics(router=router),
        deployer=FakeDeployer(router),
        check=FakeCheck(),
        publisher=RecordingPublisher(),
        journal=ReleaseStore(LocalBlobs(tmp_path), "zero-downtime", "dev", "api", clock),
    )


def make_spec(strategy: str = "canary", **kw: object) -> ServiceSpec:
    plan_kw = {
        k: kw.pop(k)
        for k in list(kw)
        if k
        in {"steps", "interval", "intervals", "step_percent", "bake", "pause_at", "pause_before_promote", "synthetic"}
    }
    if strategy == "canary":
        plan_kw.setdefault("steps", [10, 50, 100])
        plan_kw.setdefault("interval", 60)
    if strategy != "all-at-once":
        plan_kw.setdefault("synthetic", SyntheticBake(requests=100, seconds=10, probe_requests=10))
    analysis = kw.pop("analysis", AnalysisConfig(min_requests=20, poll_seconds=15, judge="threshold"))
    return ServiceSpec(
        stack="dev",
        service="api",
        image="repo/api:2",
        desired_count=2,
        stable_color="blue",
        plan=build_plan(strategy, **plan_kw),  # type: ignore[arg-type]
        analysis=analysis,  # type: ignore[arg-type]
        keep_warm_seconds=kw.pop("keep_warm_seconds", 120.0),  # type: ignore[arg-type]
        verify_timeout_seconds=10.0,
        verify_poll_seconds=1.0,
        **kw,  # type: ignore[arg-type]
    )


def transitions(world: World, rid: str) -> list[tuple[str, int | None]]:
    return [(r.state, r.status.step) for r in world.journal.records(rid) if r.event in ("start", "transition")]


def run(world: World, spec: ServiceSpec) -> Machine:
    machine = world.start(spec)
    machine.run()
    return machine


def test_healthy_canary_walks_every_state_in_order(world: World) -> None:
    ctl = run(world, make_spec())
    assert ctl.status.state == "SUCCEEDED"
    assert transitions(world, ctl.status.release_id) == [
        ("PENDING", None),
        ("DEPLOYING_IDLE", None),
        ("WAITING_HEALTHY", None),
        ("PRE_TRAFFIC_CHECKS", None),
        ("SYNTHETIC_BAKE", None),
        ("SHIFTING", 0),
        ("BAKING", 0),
        ("SHIFTING", 1),
        ("BAKING", 1),
        ("SHIFTING", 2),
        ("BAKING", 2),
        ("PROMOTING", 2),
        ("KEEPING_WARM", 2),
        ("SUCCEEDED", 2),
    ]
    assert world.router.writes == [Weights(90, 10), Weights(50, 50), Weights(0, 100)]
    assert ("deploy_idle", "green", "repo/api:2", 2) in world.deployer.calls
    assert ("reconcile", {"blue": 0, "green": 100}, "green") in world.deployer.calls
    assert world.deployer.calls[-1] == ("scale_down", "blue")
    assert world.check.runs == 1
    states = [e.state for e in world.publisher.events]
    assert states[0] == "PENDING" and states[-1] == "SUCCEEDED"


def test_each_step_bakes_its_own_interval(world: World) -> None:
    ctl = run(world, make_spec(steps=[25, 100], intervals=[30, 90]))
    recs = world.journal.records(ctl.status.release_id)
    started = {
        r.status.step: r.status.facts["step_started_at"]
        for r in recs
        if r.state == "BAKING" and r.event == "transition"
    }
    shift_1 = next(r.ts for r in recs if r.state == "SHIFTING" and r.status.step == 1)
    assert shift_1 - started[0] == pytest.approx(30)
    promote = next(r.ts for r in recs if r.state == "PROMOTING")
    assert promote - started[1] == pytest.approx(90)


@pytest.mark.parametrize(
    ("strategy", "kw", "writes", "checks"),
    [
        ("blue-green", {"bake": 60}, [Weights(0, 100)], 1),
        ("all-at-once", {"interval": 60}, [Weights(0, 100)], 0),
        ("linear", {"step_percent": 50, "interval": 60}, [Weights(50, 50), Weights(0, 100)], 1),
    ],
    ids=["blue-green", "all-at-once", "linear"],
)
def test_other_strategies_succeed(world: World, strategy: str, kw: dict, writes: list[Weights], checks: int) -> None:
    ctl = run(world, make_spec(strategy, **kw))
    assert ctl.status.state == "SUCCEEDED"
    assert world.router.writes == writes
    assert world.check.runs == checks


def test_pause_step_waits_for_promote(world: World) -> None:
    ctl = run(world, make_spec(pause_at=[10]))
    assert ctl.status.state == "PAUSED" and ctl.status.step == 0
    assert world.router.weights == Weights(90, 10)
    again = world.load()
    assert again.promote().state is SUCCEEDED
    assert world.router.weights == Weights(0, 100)


def test_pause_before_promote_keeps_full_traffic_until_promote(world: World) -> None:
    ctl = run(world, make_spec(pause_before_promote=True))
    assert ctl.status.state == "PAUSED" and ctl.status.step == 2
    assert ("reconcile", {"blue": 0, "green": 100}, "green") not in world.deployer.calls
    assert ctl.promote().state is SUCCEEDED


def test_promote_refused_unless_paused(world: World) -> None:
    ctl = run(world, make_spec())
    with pytest.raises(StateError, match="PAUSED"):
        ctl.promote()


def _rolled_back_to_blue(world: World, ctl: Machine) -> None:
    assert ctl.status.state == "ROLLED_BACK"
    assert world.router.weights == Weights(100, 0)
    assert ("reconcile", {"blue": 100, "green": 0}, "blue") in world.deployer.calls
    assert world.deployer.calls[-1] == ("scale_down", "green")


def test_not_healthy_rolls_back_without_shifting(world: World) -> None:
    world.deployer.healthy = False
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "not healthy" in ctl.status.reason
    assert Weights(90, 10) not in world.router.writes


def test_failed_pre_traffic_check_rolls_back_before_any_traffic(world: World) -> None:
    world.check.passed = False
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "pre-traffic check http failed" in ctl.status.reason
    assert world.router.writes and all(w == Weights(100, 0) for w in world.router.writes)


def test_deploy_error_rolls_back(world: World) -> None:
    world.deployer.fail_on.add("deploy_idle")
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "DEPLOYING_IDLE failed" in ctl.status.reason


def test_verify_catches_weights_the_balancer_did_not_apply(world: World) -> None:
    world.router.drop_writes = True
    ctl = run(world, make_spec())
    assert ctl.status.state == "ROLLED_BACK"
    assert "verify: load balancer reports {'blue': 100, 'green': 0}" in ctl.status.reason
    states = [s for s, _ in transitions(world, ctl.status.release_id)]
    assert "BAKING" not in states


def test_alarm_mid_step_rolls_back_and_measures_latency(world: World) -> None:
    def fire(now: float) -> None:
        if world.router.weights == Weights(50, 50):
            world.metrics.firing["green"] = ("api-green-5xx",)

    world.clock.on_sleep(fire)
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "api-green-5xx" in ctl.status.reason
    res = ctl.result()
    assert res.rollback_seconds is not None and 0 <= res.rollback_seconds <= 10
    restored = [r for r in res.trail if r.event == "traffic_restored"]
    assert restored and restored[0].detail["fast_path"] is True


def _bad_metrics(world: World) -> Callable[[float, float], WindowMetrics]:
    """20% errors on the new color's share of 10 requests/s."""

    def window(start: float, end: float) -> WindowMetrics:
        n = int((end - start) * 10 * world.router.weights.green / 100)
        return WindowMetrics(requests=n, errors_5xx=n // 5, p99_seconds=0.05)

    return window


def test_metric_breach_rolls_back_after_threshold_failed_checks(world: World) -> None:
    world.metrics.new_fn = _bad_metrics(world)
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, threshold=3, judge="threshold")))
    _rolled_back_to_blue(world, ctl)
    checks = [r for r in world.journal.records(ctl.status.release_id) if r.event == "check"]
    assert [c.detail["verdict"]["outcome"] for c in checks] == ["fail", "fail", "fail"]
    assert "3 failed checks (threshold 3)" in ctl.status.reason


def test_one_failed_check_below_threshold_is_tolerated(world: World) -> None:
    calls = {"n": 0}

    def flaky(start: float, end: float) -> WindowMetrics:
        calls["n"] += 1
        n = int((end - start) * 10 * world.router.weights.green / 100)
        errors = n if calls["n"] == 1 else 0
        return WindowMetrics(requests=n, errors_5xx=errors, p99_seconds=0.05)

    world.metrics.new_fn = flaky
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, threshold=2, judge="threshold")))
    assert ctl.status.state == "SUCCEEDED"
    assert ctl.status.failed_checks == 1


def test_no_data_is_never_healthy(world: World) -> None:
    world.metrics.new_fn = lambda s, e: WindowMetrics(requests=0, errors_5xx=0)
    world.metrics.healthy_rps = 0  # no data from either color (a source that lost its metrics)
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "not enough evidence" in ctl.status.reason
    baking = [r for r in world.journal.records(ctl.status.release_id) if r.state == "BAKING"]
    # The step bakes its interval plus two extension intervals before it gives up.
    assert baking[-1].ts - baking[0].ts == pytest.approx(180)


@pytest.mark.parametrize("extension", [None, 1.0])
def test_a_step_whose_evidence_comes_late_passes_within_its_two_extensions(
    world: World, extension: float | None
) -> None:
    # No new-color request until 130 s into the step (bake 60 s, poll 15 s): one extension (to
    # 120 s) ends without evidence, the second one (to 180 s) gets it. The default is two.
    world.metrics.new_fn = lambda s, e: WindowMetrics(
        requests=0 if e - s < 130 else 100, errors_5xx=0, p99_seconds=0.05
    )
    kw = {} if extension is None else {"extension_factor": extension}
    ctl = run(world, make_spec(steps=[100], synthetic=None, **kw))
    if extension is None:
        assert ctl.status.state == "SUCCEEDED", ctl.status.reason
    else:
        _rolled_back_to_blue(world, ctl)
        assert "not enough evidence" in ctl.status.reason


def test_abort_request_during_bake_rolls_back(world: World) -> None:
    def request(now: float) -> None:
        if world.router.weights == Weights(90, 10):
            last = world.journal.last()
            assert last is not None
            world.journal.request_abort(last.status.release_id, "operator said so")

    world.clock.on_sleep(request)
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "operator said so" in ctl.status.reason
    assert world.journal.abort_requested(ctl.status.release_id) is None


def test_abort_while_paused(world: World) -> None:
    ctl = run(world, make_spec(pause_at=[10]))
    res = world.load().abort()
    assert res.state == "ROLLED_BACK"
    _rolled_back_to_blue(world, world.load())
    assert ctl.status.release_id == res.release_id


def test_abort_refused_after_success(world: World) -> None:
    ctl = run(world, make_spec())
    with pytest.raises(StateError, match="already succeeded"):
        ctl.abort()


def test_alarm_during_keep_warm_rolls_back_to_warm_color(world: World) -> None:
    def fire(now: float) -> None:
        if (
            world.router.weights == Weights(0, 100)
            and ("reconcile", {"blue": 0, "green": 100}, "green") in world.deployer.calls
        ):
            world.metrics.firing["green"] = ("api-green-latency",)

    world.clock.on_sleep(fire)
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "keep-warm" in ctl.status.reason
    assert ("scale_down", "blue") not in world.deployer.calls


def test_fast_path_failure_falls_back_to_reconcile(world: World) -> None:
    world.metrics.firing["green"] = ("api-green-5xx",)
    world.router.fail_writes = False

    def break_router(now: float) -> None:
        world.router.fail_writes = True

    world.clock.on_sleep(break_router)
    ctl = run(world, make_spec())
    # The first shift happened before the router broke; rollback used `up` instead.
    assert ctl.status.state == "ROLLED_BACK"
    restored = [r for r in world.journal.records(ctl.status.release_id) if r.event == "traffic_restored"]
    assert restored[0].detail["fast_path"] is False
    assert world.router.weights == Weights(100, 0)


def test_rollback_that_cannot_restore_traffic_fails_then_resume_finishes_it(world: World) -> None:
    world.metrics.firing["green"] = ("api-green-5xx",)

    def break_all(now: float) -> None:
        world.router.fail_writes = True
        world.deployer.fail_on.add("reconcile")

    world.clock.on_sleep(break_all)
    ctl = run(world, make_spec())
    assert ctl.status.state == "FAILED"
    assert "rollback failed" in ctl.status.reason
    world.router.fail_writes = False
    world.deployer.fail_on.clear()
    res = world.load().resume()
    assert res.state == "ROLLED_BACK"
    assert world.router.weights == Weights(100, 0)


def test_rollback_is_idempotent(world: World) -> None:
    world.metrics.firing["green"] = ("api-green-5xx",)
    ctl = run(world, make_spec())
    assert ctl.status.state == "ROLLED_BACK"
    world.router.weights = Weights(60, 40)  # someone moved traffic by hand
    res = world.load().abort("again")
    assert res.state == "ROLLED_BACK"
    assert world.router.weights == Weights(100, 0)
    assert world.deployer.calls.count(("scale_down", "green")) == 2


# -- resume from every state ---------------------------------------------------------------
def _kill_on(state: str) -> Callable[[Progress], None]:
    def hook(p: Progress) -> None:
        if p.state == state:
            raise Killed(state)

    return hook


def _start_and_kill(world: World, spec: ServiceSpec, state: str) -> str:
    ctl = world.start(spec, on_progress=_kill_on(state))
    if state != "PENDING":  # PENDING is recorded by start() itself
        with pytest.raises(Killed):
            ctl.run()
    last = world.journal.last(ctl.status.release_id)
    assert last is not None and last.state == state
    return ctl.status.release_id


@pytest.mark.parametrize("state", FORWARD_STATES)
def test_resume_continues_from_every_forward_state(world: World, state: str) -> None:
    rid = _start_and_kill(world, make_spec(), state)
    res = world.load().resume()
    assert res.release_id == rid
    assert res.state == "SUCCEEDED"
    assert world.router.weights == Weights(0, 100)
    assert any(r.event == "resume" for r in res.trail)


def test_resume_in_baking_with_unexpected_weights_rolls_back(world: World) -> None:
    _start_and_kill(world, make_spec(), "BAKING")
    world.router.weights = Weights(70, 30)  # not what the journal says step 0 set
    res = world.load().resume()
    assert res.state == "ROLLED_BACK"
    assert "journal expects" in res.reason
    assert world.router.weights == Weights(100, 0)


def test_resume_in_rolling_back_finishes_the_rollback(world: World) -> None:
    world.metrics.firing["green"] = ("api-green-5xx",)
    _start_and_kill(world, make_spec(), "ROLLING_BACK")
    assert ("scale_down", "green") not in world.deployer.calls
    res = world.load().resume()
    assert res.state == "ROLLED_BACK"
    assert world.deployer.calls[-1] == ("scale_down", "green")


def test_resume_in_paused_stays_paused(world: World) -> None:
    run(world, make_spec(pause_at=[10]))
    res = world.load().resume()
    assert res.state == "PAUSED"


@pytest.mark.parametrize("final", [SUCCEEDED, ROLLED_BACK])
def test_resume_of_a_finished_release_changes_nothing(world: World, final: str) -> None:
    if final == ROLLED_BACK:
        world.deployer.healthy = False
    run(world, make_spec())
    before = list(world.deployer.calls)
    res = world.load().resume()
    assert res.state == final
    assert world.deployer.calls == before


# -- the safety interlock and record-before-move -----------------------------------------------
def test_shift_to_a_color_short_of_healthy_targets_waits_then_is_refused(world: World) -> None:
    world.deployer.targets["green"] = 1  # the release asks for 2, and the platform never brings the second
    spec = dataclasses.replace(make_spec(), health_timeout_seconds=100.0)
    ctl = run(world, spec)
    assert ctl.status.state == "ROLLED_BACK"
    reason = ctl.status.reason
    assert reason == "interlock: green has 1 healthy target of 2 needed after waiting 100s; traffic stays where it is"
    assert world.router.writes and all(w == Weights(100, 0) for w in world.router.writes)  # green never got traffic
    records = world.journal.records(ctl.status.release_id)
    waits = [r for r in records if r.event == "capacity_wait"]
    assert len(waits) == 1 and waits[0].state == "SHIFTING" and waits[0].status.step == 0
    waited = records[-1].ts - waits[0].ts
    assert 100 <= waited < 100 + 15 + 1e-6  # the whole timeout, give or take one poll


def _replaced_after(world: World, color: str, polls: int) -> None:
    """One of `color`'s two targets dies now and its replacement is healthy `polls` sleeps later."""
    world.deployer.targets[color] = 1
    left = [polls]

    def tick(now: float) -> None:
        left[0] -= 1
        if left[0] == 0:
            world.deployer.targets[color] = 2

    world.clock.on_sleep(tick)


def test_a_replaced_target_is_waited_for_and_the_release_goes_on(world: World) -> None:
    def first_step_baked(p: Progress) -> None:
        world.progress.append(p)
        if p.state == "SHIFTING" and p.step == 1 and "green" not in world.deployer.targets:
            _replaced_after(world, "green", 3)  # a task of green died during step 0's bake

    ctl = world.start(make_spec(), on_progress=first_step_baked)
    res = ctl.run()
    assert res.state == "SUCCEEDED", res.reason
    records = world.journal.records(ctl.status.release_id)
    wait = next(r for r in records if r.event == "capacity_wait")
    back = next(r for r in records if r.event == "capacity_restored")
    assert (wait.state, wait.status.step) == ("SHIFTING", 1) and back.status.facts["capacity_short_since"] is None
    assert wait.detail["note"] == "green has 1 healthy target of 2 needed: waiting up to 600s"
    [shown] = [p for p in world.progress if p.message == wait.detail["note"]]  # the UI says why it waits
    assert (shown.state, shown.step, shown.weights) == ("SHIFTING", 1, Weights(90, 10))
    # traffic stayed at step 0's weights while green was short, and moved on only once it was whole
    assert not [r for r in records if wait.seq < r.seq < back.seq and r.event == "transition"]
    assert back.detail["waited_seconds"] == pytest.approx(3 * 15)
    assert world.router.writes[:2] == [Weights(90, 10), Weights(50, 50)]


def test_a_short_color_that_carries_traffic_with_no_healthy_target_is_rolled_back_at_once(world: World) -> None:
    def all_green_dies(p: Progress) -> None:
        if p.state == "SHIFTING" and p.step == 1:
            world.deployer.targets["green"] = 0

    ctl = world.start(make_spec(), on_progress=all_green_dies)
    res = ctl.run()
    assert res.state == "ROLLED_BACK"
    assert res.reason == (
        "interlock: green has 0 healthy targets of 2 needed while it serves 10% of traffic; traffic stays where it is"
    )
    assert not [r for r in world.journal.records(ctl.status.release_id) if r.event == "capacity_wait"]
    assert world.router.weights == Weights(100, 0)


def test_before_any_user_traffic_even_no_healthy_target_is_waited_for(world: World) -> None:
    def green_replaced(p: Progress) -> None:
        if p.state == "SHIFTING" and p.step == 0 and "green" not in world.deployer.targets:
            world.deployer.targets["green"] = 0
            world.clock.on_sleep(lambda now: world.deployer.targets.__setitem__("green", 2))

    res = world.start(make_spec(), on_progress=green_replaced).run()
    assert res.state == "SUCCEEDED", res.reason


def test_an_alarm_while_waiting_for_targets_rolls_back(world: World) -> None:
    def green_short(p: Progress) -> None:
        if p.state == "SHIFTING" and p.step == 1:
            world.deployer.targets["green"] = 1
            world.metrics.firing["green"] = ("api-green-5xx",)

    res = world.start(make_spec(), on_progress=green_short).run()
    assert res.state == "ROLLED_BACK"
    assert res.reason == "alarm in ALARM while waiting for green's targets: api-green-5xx [members]"


def test_abort_while_waiting_for_targets_rolls_back(world: World) -> None:
    def green_short(p: Progress) -> None:
        if p.state == "SHIFTING" and p.step == 1 and "green" not in world.deployer.targets:
            world.deployer.targets["green"] = 1
            world.clock.on_sleep(lambda now: world.journal.request_abort(rid[0], "operator said so"))

    ctl = world.start(make_spec(), on_progress=green_short)
    rid = [ctl.status.release_id]
    res = ctl.run()
    assert res.state == "ROLLED_BACK" and "operator said so" in res.reason
    assert world.router.weights == Weights(100, 0)


def test_a_resumed_wait_keeps_its_deadline(world: World) -> None:
    spec = dataclasses.replace(make_spec(), health_timeout_seconds=100.0)

    def green_short_then_killed(p: Progress) -> None:
        if p.state == "SHIFTING" and p.step == 1:
            world.deployer.targets["green"] = 1
            world.clock.on_sleep(_kill_once)

    killed: list[float] = []

    def _kill_once(now: float) -> None:
        if not killed:
            killed.append(now)
            raise Killed("mid-wait")

    ctl = world.start(spec, on_progress=green_short_then_killed)
    with pytest.raises(Killed):
        ctl.run()
    since = world.journal.last(ctl.status.release_id).status.facts["capacity_short_since"]  # type: ignore[union-attr]
    world.clock._hooks.clear()
    world.clock.sleep(60)  # the driver was down a minute
    res = world.load().resume()
    assert res.state == "ROLLED_BACK" and "after waiting 100s" in res.reason
    assert world.journal.last(ctl.status.release_id).ts - since < 100 + 15  # type: ignore[union-attr]


def test_rollback_to_a_color_without_healthy_targets_keeps_traffic_and_says_why(world: World) -> None:
    def stable_dies(now: float) -> None:
        if world.router.weights == Weights(50, 50):
            world.deployer.targets["blue"] = 0
            world.metrics.firing["green"] = ("api-green-5xx",)

    world.clock.on_sleep(stable_dies)
    spec = dataclasses.replace(make_spec(), stable_desired_count=2)
    ctl = run(world, spec)
    assert ctl.status.state == "FAILED"
    reason = ctl.status.reason
    assert "rollback refused by the interlock: blue has 0 healthy targets of 2 needed" in reason
    assert "traffic stays at {'blue': 50, 'green': 50}" in reason and "run `resume` once blue is healthy" in reason
    assert world.router.weights == Weights(50, 50)  # never moved to a color that cannot serve
    world.deployer.targets["blue"] = 2
    world.clock._hooks.clear()
    res = world.load().resume()
    assert res.state == "ROLLED_BACK" and world.router.weights == Weights(100, 0)


def test_rollback_to_a_stable_color_short_of_its_count_goes_ahead_and_says_so(world: World) -> None:
    # One stable target flaps its health check as the new color fails: users are failing on the new
    # color now, so one healthy target is enough to take them back.
    def stable_flaps(now: float) -> None:
        if world.router.weights == Weights(50, 50):
            world.deployer.targets["blue"] = 1
            world.metrics.firing["green"] = ("api-green-5xx",)

    world.clock.on_sleep(stable_flaps)
    ctl = run(world, dataclasses.replace(make_spec(), stable_desired_count=2))
    assert ctl.status.state == "ROLLED_BACK" and world.router.weights == Weights(100, 0)
    [note] = [r for r in world.journal.records(ctl.status.release_id) if r.event == "rollback_to_reduced_capacity"]
    assert note.detail["note"] == (
        "blue has 1 healthy target of 2 needed: traffic moves back anyway (the new color is failing its users)"
    )


def test_rollback_with_traffic_already_on_stable_needs_no_healthy_check(world: World) -> None:
    world.deployer.healthy = False  # fails before any shift
    world.deployer.targets["blue"] = 0
    ctl = run(world, make_spec())
    assert ctl.status.state == "ROLLED_BACK"  # nothing was given to blue: it already had 100%


def test_release_state_is_declared_before_the_load_balancer_moves(world: World) -> None:
    events: list[str] = []
    set_weights, declare = world.router.set_weights, world.deployer.declare

    def logged_set(weights: Weights) -> None:
        events.append(f"lb {weights.green}")
        set_weights(weights)

    def logged_declare(weights: Weights, live: str) -> None:
        events.append(f"store {weights.green}")
        declare(weights, live)  # type: ignore[arg-type]

    world.router.set_weights = logged_set  # type: ignore[method-assign]
    world.deployer.declare = logged_declare  # type: ignore[method-assign]
    world.metrics.firing["green"] = ("api-green-5xx",)
    run(world, make_spec())
    # Shift to 10%, then the rollback: the store always hears first, so an `up` in between keeps it.
    assert events == ["store 10", "lb 10", "store 0", "lb 0"]


# -- evidence before and between the steps (issue 14) ------------------------------------------------------
def _errors(rate: float) -> Callable[[int], WindowMetrics]:
    return lambda n: WindowMetrics(n, round(n * rate), 0.05, latencies=(0.05,) * n)


def test_a_gross_fault_is_rolled_back_in_the_synthetic_bake_before_any_user_request(world: World) -> None:
    world.synthetic.test = _errors(0.3)
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, poll_seconds=15)))
    _rolled_back_to_blue(world, ctl)
    assert ctl.status.reason.startswith("synthetic bake, before any user request: ")
    states = [s for s, _ in transitions(world, ctl.status.release_id)]
    assert "SHIFTING" not in states and "BAKING" not in states
    assert world.router.writes and all(w == Weights(100, 0) for w in world.router.writes), "no weight moved to green"
    # 30% errors are conclusive after one of the first, small parts: the rest is never sent.
    [check] = [r for r in world.journal.records(ctl.status.release_id) if r.event == "check"]
    looks, parts = check.detail["synthetic"]["looks"], SyntheticBake(requests=100).parts()
    assert looks < len(parts)
    # each look sends its stable and new parts at once (in either order), then judges both
    sent = [(via, n) for via, n, _ in world.synthetic.calls]
    looks_sent = [sorted(sent[i : i + 2]) for i in range(0, len(sent), 2)]
    assert looks_sent == [[("production", n), ("test", n)] for n, _ in parts[:looks]]


def test_a_look_sends_its_stable_and_new_parts_at_the_same_time(world: World) -> None:
    # Each part waits until the other one has started: sent one after the other, they never meet.
    import threading

    meet = threading.Barrier(2, timeout=5)
    bake_calls = 2 * len(SyntheticBake(requests=100).parts())  # then the probes: the test listener alone

    def part(n: int) -> WindowMetrics:
        if len(world.synthetic.calls) <= bake_calls:
            meet.wait()  # BrokenBarrierError after 5 s alone: the release would fail on it
        return WindowMetrics(n, 0, 0.05, latencies=(0.05,) * n)

    world.synthetic.test = world.synthetic.production = part
    ctl = run(world, make_spec())
    assert ctl.status.state == SUCCEEDED, ctl.status.reason
    [shift] = [r for r in world.journal.records(ctl.status.release_id) if r.state == "SHIFTING" and r.status.step == 0]
    assert shift.detail["synthetic"]["looks"] == len(SyntheticBake(requests=100).parts())


def test_a_bake_cut_short_by_the_sender_is_judged_on_what_came_back(world: World) -> None:
    # The burst sender fails on the third part: the two parts that came back are judged (clean
    # here, so too little evidence: no verdict), and the record says how many were.
    def test_listener(n: int) -> WindowMetrics:
        if sum(via == "test" for via, _, _ in world.synthetic.calls) == 3:
            raise PortError("the probe function could not be invoked")
        return WindowMetrics(n, 0, 0.05, latencies=(0.05,) * n)

    world.synthetic.test = test_listener
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, poll_seconds=15)))
    assert ctl.status.state == SUCCEEDED, ctl.status.reason
    [shift] = [r for r in world.journal.records(ctl.status.release_id) if r.state == "SHIFTING" and r.status.step == 0]
    first_two = sum(n for n, _ in SyntheticBake(requests=100).parts()[:2])
    assert shift.detail["synthetic"]["looks"] == 2
    assert shift.detail["synthetic"]["new"]["requests"] == first_two


def test_a_fault_the_bake_can_only_suspect_is_judged_on_the_whole_bake(world: World) -> None:
    # 8% errors with the threshold judge: never conclusive, so every part goes out, and the
    # last look's failure (8% > 5% with min_requests) rolls back before any user request.
    world.synthetic.test = _errors(0.08)
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, poll_seconds=15, judge="threshold")))
    _rolled_back_to_blue(world, ctl)
    assert ctl.status.reason.startswith("synthetic bake, before any user request: ")
    parts = SyntheticBake(requests=100).parts()
    assert [n for via, n, _ in world.synthetic.calls if via == "test"] == [n for n, _ in parts]


@pytest.mark.parametrize(
    "scope, errors, rolled_back",
    [
        # 14 errors, the bake's last 14 of 100 requests: at the last look, log evidence 3.46 that the
        # error rate is above 5%. Conclusive at alpha 0.1 for one judgement (log(2 / 0.1) = 3.00), not
        # at the synthetic bake's half of the release's 0.1 (log(2 / 0.05) = 3.69).
        ("judgement", 14, True),
        ("release", 14, False),
        # 15 errors: 4.66, conclusive at the bake's half, not at a step's share (0.01: 5.30).
        ("release", 15, True),
    ],
)
def test_a_release_wide_alpha_asks_each_judgement_for_more_evidence(
    world: World, scope: str, errors: int, rolled_back: bool
) -> None:
    # min_requests 200: the point estimate alone never fails the bake.
    sent = [0]

    def last_requests_fail(n: int) -> WindowMetrics:
        first, sent[0] = sent[0], sent[0] + n
        failed = len(set(range(first, sent[0])) & set(range(100 - errors, 100)))
        return WindowMetrics(n, failed, 0.05, latencies=(0.05,) * n)

    world.synthetic.test = last_requests_fail
    spec = make_spec(analysis=AnalysisConfig(min_requests=200, poll_seconds=15, alpha=0.1, alpha_scope=scope))
    ctl = run(world, spec)
    reason = ctl.status.reason or ""
    assert reason.startswith("synthetic bake, before any user request: ") is rolled_back, reason
    states = [s for s, _ in transitions(world, ctl.status.release_id)]
    assert ("SHIFTING" in states) is not rolled_back


def test_a_release_judges_its_steps_with_their_share_of_alpha(world: World) -> None:
    spec = make_spec(analysis=AnalysisConfig(alpha=0.05))  # steps 10, 50, 100 with a bake and probes
    release = ServiceRelease(spec, world.ports())
    assert spec.plan.step_judgements() == 2 + 3
    assert release.synthetic_analysis.alpha == pytest.approx(0.025)
    assert release.analysis.alpha == pytest.approx(0.005)
    resumed = ServiceRelease(ServiceSpec.from_dict(json.loads(json.dumps(spec.to_dict()))), world.ports())
    assert (resumed.synthetic_analysis, resumed.analysis) == (release.synthetic_analysis, release.analysis)


@pytest.mark.parametrize(
    "analysis, kw, line",
    [
        (
            AnalysisConfig(),
            {},
            "judge sequential, alpha 0.02 per release: synthetic bake 0.01, 5 step judgements 0.002 each",
        ),
        (
            AnalysisConfig(alpha=0.03, alpha_scope="judgement"),
            {"synthetic": None},
            "alpha 0.03 per judgement: 2 step judgements 0.03 each",
        ),
        (
            AnalysisConfig(),
            {"strategy": "blue-green", "synthetic": None},
            "alpha 0.02 per release: absolute guards only",
        ),
        (AnalysisConfig(judge="threshold"), {}, "judge threshold"),
    ],
)
def test_the_start_line_says_how_alpha_is_shared_out(
    world: World, analysis: AnalysisConfig, kw: dict[str, Any], line: str
) -> None:
    assert line in ServiceRelease(make_spec(analysis=analysis, **kw), world.ports()).alpha_shares()


def test_a_healthy_synthetic_bake_records_both_sides_and_moves_on(world: World) -> None:
    ctl = run(world, make_spec())
    assert ctl.status.state == "SUCCEEDED"
    [shift] = [r for r in world.journal.records(ctl.status.release_id) if r.state == "SHIFTING" and r.status.step == 0]
    synthetic = shift.detail["synthetic"]
    assert synthetic["new"]["requests"] == synthetic["stable"]["requests"] == 100
    assert synthetic["verdict"]["outcome"] == "pass"


def test_no_synthetic_answer_is_no_verdict_and_the_first_step_decides(world: World) -> None:
    world.synthetic.test = lambda n: WindowMetrics(0, 0)
    world.synthetic.production = lambda n: WindowMetrics(0, 0)
    ctl = run(world, make_spec())
    assert ctl.status.state == "SUCCEEDED"


def test_probes_through_the_test_listener_catch_what_user_metrics_do_not_show_yet(world: World) -> None:
    # The metrics source lags (no data for the new color yet), the probes see the fault at once.
    bake_calls = 2 * len(SyntheticBake(requests=100).parts())  # the bake: a stable and a test burst per part
    world.synthetic.test = lambda n: (
        WindowMetrics(n, 0, 0.05) if len(world.synthetic.calls) <= bake_calls else _errors(0.5)(n)
    )
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, threshold=2, judge="threshold")))
    _rolled_back_to_blue(world, ctl)
    assert "probes: error rate" in ctl.status.reason
    probe_calls = [c for c in world.synthetic.calls[bake_calls:]]
    assert probe_calls and all(via == "test" and n == 10 for via, n, _ in probe_calls)


def test_a_split_other_than_the_one_set_rolls_back(world: World) -> None:
    # The load balancer reports the weights that were set, but the new color gets no request.
    world.metrics.new_fn = lambda s, e: WindowMetrics(requests=0, errors_5xx=0)
    world.metrics.stable_fn = lambda s, e: WindowMetrics(int((e - s) * 10), 0, 0.05)
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, threshold=1, judge="threshold")))
    _rolled_back_to_blue(world, ctl)
    assert "observed split: " in ctl.status.reason


def test_a_wrong_split_on_the_first_check_alone_does_not_roll_back(world: World) -> None:
    # The first check of the 10% step sees old-weight requests (nothing on green yet); later
    # checks see the split that was set. Counted once, below the threshold of 2: no rollback.
    def new(start: float, end: float) -> WindowMetrics:
        n = int((end - start) * 10 * world.router.weights.green / 100)
        stale = end - start <= 15 and world.router.weights.green == 10
        return WindowMetrics(0 if stale else n, 0, 0.05)

    world.metrics.new_fn = new
    world.metrics.stable_fn = lambda s, e: WindowMetrics(int((e - s) * 10 * world.router.weights.blue / 100), 0, 0.05)
    spec = make_spec(analysis=AnalysisConfig(min_requests=5, threshold=2, poll_seconds=15, judge="threshold"))
    ctl = run(world, spec)
    assert ctl.status.state == SUCCEEDED, ctl.status.reason
    first = next(
        r for r in world.journal.records(ctl.status.release_id) if r.event == "check" and "verdict" in r.detail
    )
    assert first.detail["verdict"]["outcome"] == "fail" and not first.detail["verdict"]["conclusive"]


def test_the_old_color_is_not_scaled_down_while_it_still_serves(world: World) -> None:
    def stable(start: float, end: float) -> WindowMetrics:
        promoted = any(c[0] == "reconcile" and c[2] == "green" for c in world.deployer.calls)
        share = 0.2 if promoted else world.router.weights.blue / 100  # after promotion it still gets a fifth
        return WindowMetrics(int((end - start) * 10 * share), 0, 0.05)

    world.metrics.stable_fn = stable
    ctl = run(world, make_spec())
    _rolled_back_to_blue(world, ctl)
    assert "observed split before scaling blue down" in ctl.status.reason
    assert ("scale_down", "blue") not in world.deployer.calls


def test_the_cheap_first_step_may_pass_on_probes_when_user_traffic_is_thin(world: World) -> None:
    # 1% of 10 requests/s is 6 requests in a minute: below min_requests, whatever the version does.
    ctl = run(world, make_spec(steps=[1, 100]))
    assert ctl.status.state == "SUCCEEDED"
    first = [r for r in world.journal.records(ctl.status.release_id) if r.event == "check" and r.status.step == 0]
    assert first[-1].detail["verdict"].get("passed_on") == "probes"


def test_without_probes_a_thin_first_step_never_passes(world: World) -> None:
    quiet = SyntheticBake(requests=100, seconds=10, probe_requests=0)
    ctl = run(world, make_spec(steps=[1, 100], synthetic=quiet))
    _rolled_back_to_blue(world, ctl)
    assert "not enough evidence" in ctl.status.reason


class _AppErrors:
    """A metric source: the app's own error rate per color, as an analysis file's check reads it."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates = rates
        self.reads: list[tuple[str, float, float]] = []

    def read(self, query: Any, color: str, start: float, end: float) -> MetricSample:
        self.reads.append((color, start, end))
        return MetricSample(self.rates[color], 1000)


def _metric_judge(source: _AppErrors, dry_run: bool = False) -> MetricJudge:
    plan = parse_analysis_file(
        {
            "checks": [
                {
                    "name": "app-errors",
                    "source": "http-json",
                    "query": {"url": "http://127.0.0.1:1/metrics.json", "value": "errors", "sample": "requests"},
                    "threshold": {"max": 0.02},
                    "min_sample": 100,
                    "dry_run": dry_run,
                }
            ]
        }
    )
    return MetricJudge(plan, {"http-json": source})


def test_an_analysis_file_check_rolls_back_the_bake_it_fails(world: World) -> None:
    source = _AppErrors({"green": 0.10, "blue": 0.0})
    world.metric_judge = _metric_judge(source)
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, threshold=2, judge="threshold")))
    _rolled_back_to_blue(world, ctl)
    assert "app-errors" in ctl.status.reason
    assert {color for color, _, _ in source.reads} >= {"green"}


def test_a_dry_run_check_is_reported_and_never_rolls_back(world: World) -> None:
    world.metric_judge = _metric_judge(_AppErrors({"green": 0.10, "blue": 0.0}), dry_run=True)
    ctl = run(world, make_spec())
    assert ctl.status.state == "SUCCEEDED"
    records = world.journal.records(ctl.status.release_id)
    checks = [r.detail["verdict"] for r in records if r.event == "check" and "verdict" in r.detail]
    assert any("app-errors" in json.dumps(v.get("metric_checks_dry_run_failed", "")) for v in checks)


# -- settled sequential tests ----------------------------------------------------------------
def _settles_then_drifts(world: World) -> None:
    """100 req/s split by the router. In the 10% step the new color is clean for the first check,
    then 4% errors: enough for the SPRT to fail it, not for the 5% guard."""

    def window(color_share: float, bad_after: float | None) -> Callable[[float, float], WindowMetrics]:
        def fn(start: float, end: float) -> WindowMetrics:
            n = int((end - start) * 100 * color_share())
            rate = 0.04 if bad_after is not None and end - start > bad_after else 0.0
            return WindowMetrics(requests=n, errors_5xx=int(n * rate), p99_seconds=0.05)

        return fn

    green = lambda: world.router.weights.green / 100  # noqa: E731
    world.metrics.new_fn = lambda s, e: window(green, 15.0 if world.router.weights.green == 10 else None)(s, e)
    world.metrics.stable_fn = lambda s, e: WindowMetrics(
        requests=(n := int((e - s) * 100 * (1 - green()))), errors_5xx=n // 200, p99_seconds=0.05
    )


def test_an_sprt_accepted_in_a_step_is_journaled_and_not_asked_again_in_that_step(world: World) -> None:
    _settles_then_drifts(world)
    spec = make_spec(analysis=AnalysisConfig(min_requests=20, poll_seconds=15), synthetic=None)
    ctl = run(world, spec)
    assert ctl.status.state == SUCCEEDED, ctl.status.reason
    checks = [r for r in world.journal.records(ctl.status.release_id) if r.event == "check" and r.status.step == 0]
    assert checks[0].detail["verdict"]["accepted"] == ["users:error_sprt"]
    assert checks[0].status.facts["settled"] == {"step": 0, "tests": ["users:error_sprt"]}
    assert checks[1].detail["verdict"]["error_sprt"] == {"settled": "accepted earlier in the step"}
    assert checks[1].detail["verdict"]["error_rate"] == pytest.approx(0.04)


def test_a_resumed_step_keeps_its_settled_tests(world: World) -> None:
    _settles_then_drifts(world)
    spec = make_spec(analysis=AnalysisConfig(min_requests=20, poll_seconds=15), synthetic=None)
    seen: list[Progress] = []

    def die_at_second_check(p: Progress) -> None:
        seen.append(p)
        # The third BAKING progress: entering the step, its first check, then its second check.
        if p.state == "BAKING" and p.step == 0 and sum(q.state == "BAKING" for q in seen) == 3:
            raise Killed("second check")

    ctl = world.start(spec, on_progress=die_at_second_check)
    with pytest.raises(Killed):
        ctl.run()
    resumed = world.load()
    assert resumed.status.facts["settled"] == {"step": 0, "tests": ["users:error_sprt"]}
    resumed.run()
    assert resumed.status.state == SUCCEEDED, resumed.status.reason


def test_a_later_step_runs_a_fresh_sprt(world: World) -> None:
    _settles_then_drifts(world)

    # The 10% step settles, then drifts (tolerated there); the 50% step has 4% errors from its
    # first request: its SPRT starts fresh, nothing settled carries over, and it fails.
    def new(s: float, e: float) -> WindowMetrics:
        weight = world.router.weights.green
        n = int((e - s) * 100 * weight / 100)
        bad = weight == 50 or (weight == 10 and e - s > 15)
        return WindowMetrics(requests=n, errors_5xx=int(n * 0.04) if bad else 0, p99_seconds=0.05)

    world.metrics.new_fn = new
    ctl = run(world, make_spec(analysis=AnalysisConfig(min_requests=20, poll_seconds=15), synthetic=None))
    _rolled_back_to_blue(world, ctl)
    assert "SPRT" in ctl.status.reason
    failed_in = [r for r in world.journal.records(ctl.status.release_id) if r.event == "check"][-1]
    assert failed_in.status.step == 1 and "settled" not in failed_in.detail["verdict"]["error_sprt"]


# -- a point-estimate error failure counts once per new error ---------------------------------------
def _few_errors_world(world: World, errors_at: Callable[[int], int]) -> None:
    """20 requests/s split by the router's weights; stable 1% errors; the new color `errors_at(n)`
    errors in its first n requests of a step (the window is cumulative, as every source's is)."""
    router = world.router

    def window(share: Callable[[], int], errors: Callable[[int], int]) -> Callable[[float, float], WindowMetrics]:
        def fn(start: float, end: float) -> WindowMetrics:
            n = int((end - start) * 20 * share() / 100)
            return WindowMetrics(n, errors(n), 0.05, apdex=0.99, latencies=(0.05,) * n)

        return fn

    world.metrics.new_fn = window(lambda: router.weights.green, errors_at)
    world.metrics.stable_fn = window(lambda: router.weights.blue, lambda n: n // 100)


def _checks(world: World, rid: str) -> list[tuple[int | None, int, str, bool]]:
    return [
        (
            r.status.step,
            r.status.failed_checks,
            r.detail["verdict"]["outcome"],
            bool(r.detail.get("repeat_of_counted_failure")),
        )
        for r in world.journal.records(rid)
        if r.event == "check" and "verdict" in r.detail
    ]


def _sequential(threshold: int = 2) -> AnalysisConfig:
    return AnalysisConfig(min_requests=20, poll_seconds=5, judge="sequential", threshold=threshold)


def test_the_same_errors_read_again_are_not_a_second_failed_check(world: World) -> None:
    # 2 errors in the first 20 requests of step 0, then none: 10%, then 6.67% of the same window
    _few_errors_world(world, lambda n: 0 if n < 20 else 2)
    ctl = run(world, make_spec(synthetic=None, analysis=_sequential()))
    assert ctl.status.state == "SUCCEEDED", ctl.status.reason
    checks = _checks(world, ctl.status.release_id)
    assert checks[1:3] == [(0, 1, "fail", False), (0, 1, "fail", True)]
    assert {c[1] for c in checks[1:]} == {1}  # never counted again
    repeat = [r for r in world.journal.records(ctl.status.release_id) if r.detail.get("repeat_of_counted_failure")]
    assert repeat[0].detail["verdict"]["failed_on_errors"] == 2
    started = repeat[0].status.facts["step_started_at"]
    assert repeat[0].status.facts["counted_errors"] == {"window_started_at": started, "errors": 2}


def test_a_new_error_makes_the_next_failure_count(world: World) -> None:
    _few_errors_world(world, lambda n: 0 if n < 20 else 2 if n < 30 else 3)
    ctl = run(world, make_spec(synthetic=None, analysis=_sequential()))
    assert ctl.status.state == "ROLLED_BACK"
    assert ctl.status.reason == "2 failed checks (threshold 2): error rate 10.00% > 5.00%"
    assert _checks(world, ctl.status.release_id)[1:3] == [(0, 1, "fail", False), (0, 2, "fail", False)]


def test_a_resumed_bake_counts_the_errors_of_its_fresh_window(world: World) -> None:
    # The kill blinds the analysis, so a resumed bake judges a new window: its errors are other
    # requests' errors, and its first failure counts even with no more errors than before.
    _few_errors_world(world, lambda n: 0 if n < 20 else 2)
    killed: list[int] = []

    def die_after_the_first_failure(p: Progress) -> None:
        # a check is reported, then recorded: die at the check after the counted one
        if p.state == "BAKING" and p.failed_checks == 1:
            killed.append(1)
            if len(killed) == 2:
                raise Killed("after the counted failure")

    ctl = world.start(
        make_spec(synthetic=None, analysis=_sequential(threshold=3)), on_progress=die_after_the_first_failure
    )
    with pytest.raises(Killed):
        ctl.run()
    res = world.load().resume()
    assert res.state == "SUCCEEDED", res.reason
    checks = _checks(world, ctl.status.release_id)
    assert [c for c in checks if c[2] == "fail"] == [(0, 1, "fail", False), (0, 2, "fail", False), (0, 2, "fail", True)]


def test_the_threshold_judge_still_counts_every_failing_check(world: World) -> None:
    # today's judge keeps its meaning ("N failing checks"), so the bench compares like with like
    _few_errors_world(world, lambda n: 0 if n < 20 else 2)
    analysis = AnalysisConfig(min_requests=20, poll_seconds=5, judge="threshold", threshold=2)
    ctl = run(world, make_spec(synthetic=None, analysis=analysis))
    assert ctl.status.state == "ROLLED_BACK"
    assert ctl.status.reason.startswith("2 failed checks (threshold 2): error rate 6.67% > 5.00%")
