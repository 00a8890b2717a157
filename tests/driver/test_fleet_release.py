"""ASG fleet releases: releasedVersion pinned, a refresh the driver starts towards the new launch
template version, followed under analysis, rolled back to the released version or cancelled.

moto implements no instance refresh (the first test proves it, so this file notices when moto
gains it): the autoscaling API is the recording fake in `fleet_world.py`, driven through the real
`InstanceRefresher`, and the stack is a fake Pulumi stack that applies the fleet's release state
(from the release store, else git's config) the way the program does. Machine, release store (local
files), analysis and StackOps are real.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract.release_state import FleetState
from zero_downtime.driver.adapters.aws.clients import AWS_ERRORS
from zero_downtime.driver.adapters.aws.instance_refresh import InstanceRefresher
from zero_downtime.driver.adapters.pulumi_stack import StackOps
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.errors import InputError, StateError
from zero_downtime.driver.core.fleet import FleetPorts, FleetRelease, FleetSpec
from zero_downtime.driver.core.machine import Machine, latest_status
from zero_downtime.driver.core.ports import AlarmStatus, WindowMetrics
from zero_downtime.driver.core.status import Record
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fake_stack import command_error
from tests.driver.fakes import Killed
from tests.driver.fleet_world import (
    GROUP,
    NEW_AMI,
    OLD_AMI,
    PREFS,
    RELEASED,
    TEMPLATE_ID,
    FakeAutoScaling,
    FleetStack,
    fleet_spec,
)

TARGET = RELEASED + 1
RELEASED_KEY = "fleets.batch.releasedVersion"
AMI_KEY = "fleets.batch.amiId"


def released(w: World) -> FleetState | None:
    return w.stack.released()


def pinned(w: World) -> tuple[int, str] | None:
    """(released version, AMI) as the release store says."""
    state = w.stack.released()
    return None if state is None else (state.released_version, state.ami_id)


def test_moto_has_no_instance_refresh(aws: dict[str, Any]) -> None:
    import boto3
    from zero_downtime.driver.adapters.aws.clients import retry_config

    asg = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws["url"], config=retry_config(1))
    # moto answers "not implemented" with an HTML 500 page, which botocore cannot parse.
    with pytest.raises(AWS_ERRORS):
        asg.start_instance_refresh(AutoScalingGroupName=GROUP, Preferences={})


class Metrics:
    def __init__(self) -> None:
        self.error_rate = 0.0
        self.firing: tuple[str, ...] = ()

    def window(self, start: float, end: float) -> WindowMetrics:
        n = int((end - start) * 10)
        return WindowMetrics(requests=n, errors_5xx=int(n * self.error_rate), p99_seconds=0.1)

    def alarms(self) -> AlarmStatus:
        return AlarmStatus(firing=self.firing, source="members" if self.firing else "none")


class HookedJournal(ReleaseStore):
    """A release store that runs `hook(record)` after writing each record (to kill the driver there)."""

    def __init__(self, root: Path, clock: FakeClock, hook: Callable[[Record], None] | None = None) -> None:
        super().__init__(LocalBlobs(root), "zero-downtime", "dev", "batch", clock)
        self.hook = hook

    def append(self, record: Record) -> None:
        super().append(record)
        if self.hook is not None:
            self.hook(record)


@dataclass
class World:
    rel: Machine
    spec: FleetSpec
    asg: FakeAutoScaling
    stack: FleetStack
    metrics: Metrics
    clock: FakeClock
    journal: HookedJournal
    tmp: Path

    def ports(self, store: ReleaseStore | None = None) -> FleetPorts:
        states = store or self.journal
        return FleetPorts(StackOps(self.stack, self.clock), InstanceRefresher(self.asg, GROUP), self.metrics, states)

    def reload(self) -> Machine:
        """A new driver process: state from the release store only."""
        self.journal.hook = None
        self.clock._hooks.clear()
        journal = ReleaseStore(LocalBlobs(self.tmp), "zero-downtime", "dev", "batch", self.clock)
        status = latest_status(journal)
        strategy = FleetRelease(FleetSpec.from_dict(status.spec), self.ports(journal))
        return Machine.continue_(strategy, journal, self.clock, status)

    def start(self, spec: FleetSpec) -> Machine:
        return Machine.start(FleetRelease(spec, self.ports()), self.journal, self.clock)


def make_world(
    tmp_path: Path, *, pinned_in_config: bool = False, ami: str = NEW_AMI, judge: str = "sequential"
) -> World:
    clock = FakeClock()
    asg = FakeAutoScaling(clock)
    stack = FleetStack(asg, LocalBlobs(tmp_path), pinned_in_config=pinned_in_config)
    metrics = Metrics()
    spec = fleet_spec(
        ami_id=ami,
        previous_ami=OLD_AMI,
        preferences=PREFS,
        analysis=AnalysisConfig(min_requests=10, threshold=2, poll_seconds=30, judge=judge),
        timeout_seconds=600,
    )
    journal = HookedJournal(tmp_path, clock)
    ports = FleetPorts(StackOps(stack, clock), InstanceRefresher(asg, GROUP), metrics, journal)
    rel = Machine.start(FleetRelease(spec, ports), journal, clock)
    return World(rel, spec, asg, stack, metrics, clock, journal, tmp_path)


def test_the_fake_world_reproduces_the_provider_rollback_problem(tmp_path: Path) -> None:
    """Without the pin, `up` moves the group and starts a refresh whose rollback stays on the
    new version (#34189): the assertions below on provider refreshes and versions can fail."""
    w = make_world(tmp_path)
    ops = StackOps(w.stack, w.clock)
    ops.set_config({AMI_KEY: NEW_AMI})
    ops.up()
    assert w.stack.provider_refreshes == 1 and w.asg.group_version == TARGET
    InstanceRefresher(w.asg, GROUP).rollback()
    for _ in range(2):  # AWS finishes the rollback
        InstanceRefresher(w.asg, GROUP).latest()
    assert w.asg.refreshes[0]["Status"] == "RollbackSuccessful"
    assert w.asg.group_version == TARGET  # "rolled back" to the same new version


@pytest.mark.parametrize("pinned_in_config", [False, True], ids=["unpinned-stack", "already-pinned"])
def test_success_pins_refreshes_to_the_new_version_then_records_it(tmp_path: Path, pinned_in_config: bool) -> None:
    w = make_world(tmp_path, pinned_in_config=pinned_in_config)
    res = w.rel.run()
    assert res.state == "SUCCEEDED", res.reason
    # Step 1: the pin and the AMI are in the release store before the first `up`; it starts no refresh.
    assert w.stack.seen[0] is not None and (w.stack.seen[0].released_version, w.stack.seen[0].ami_id) == (
        RELEASED,
        NEW_AMI,
    )
    assert w.stack.provider_refreshes == 0
    assert not [c for c in w.stack.calls if c[0] == "set_config"]  # git's config is never written
    # Step 2: one refresh, started by the driver towards version N+1 with the fleet's preferences.
    (start,) = w.asg.starts()
    assert start["DesiredConfiguration"] == {"LaunchTemplate": {"LaunchTemplateId": TEMPLATE_ID, "Version": "4"}}
    assert start["Preferences"] == PREFS and start["Strategy"] == "Rolling"
    assert w.asg.group_version == TARGET
    # Step 3: released version N+1 in the store, then refresh + up, which has nothing left to change.
    assert pinned(w) == (TARGET, NEW_AMI)
    assert w.stack.writes[-2:] == [("refresh", True), ("up", "zdd: batch released launch template version 4")]
    assert w.stack.seen[-1] is not None and w.stack.seen[-1].released_version == TARGET
    assert w.asg.ops() == ["start"] and w.stack.provider_refreshes == 0
    assert w.stack.outputs()["fleets"].value["batch"]["launchTemplateVersion"] == str(TARGET)


def test_unchanged_template_needs_no_refresh(tmp_path: Path) -> None:
    w = make_world(tmp_path, ami=OLD_AMI)
    res = w.rel.run()
    assert res.state == "SUCCEEDED" and "no refresh needed" in res.reason
    assert w.asg.ops() == [] and pinned(w) == (RELEASED, OLD_AMI)


def test_alarm_mid_refresh_rolls_back_to_the_released_version(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.clock.on_sleep(lambda now: setattr(w.metrics, "firing", ("batch-5xx",)))
    res = w.rel.run()
    assert res.state == "ROLLED_BACK" and "batch-5xx" in res.reason
    assert "returned the group to launch template version 3" in res.reason
    assert w.asg.ops() == ["start", "rollback"]
    assert w.asg.group_version == RELEASED
    # The store gets back the AMI it had; the pin on N never moved; one `up` applies it.
    assert pinned(w) == (RELEASED, OLD_AMI)
    assert w.stack.ups() == 2 and w.stack.provider_refreshes == 0
    assert w.stack.template_amis[w.stack.latest] == OLD_AMI  # the rejected AMI is gone from the template
    assert res.rollback_seconds is not None and res.rollback_seconds > 0


def test_a_conclusive_failure_rolls_back_at_the_check_that_finds_it(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.metrics.error_rate = 0.5
    res = w.rel.run()
    assert res.state == "ROLLED_BACK" and res.reason.startswith("conclusive: error rate 50.00% > 5.00% (conclusively)")
    assert [r.status.failed_checks for r in w.journal.records(res.release_id) if r.event == "check"] == [1]
    assert w.asg.ops() == ["start", "rollback"] and w.asg.group_version == RELEASED


def test_failing_analysis_rolls_back_after_threshold(tmp_path: Path) -> None:
    w = make_world(tmp_path, judge="threshold")  # never conclusive: it counts
    w.metrics.error_rate = 0.5
    res = w.rel.run()
    assert res.state == "ROLLED_BACK" and "2 failed checks (threshold 2)" in res.reason
    assert w.asg.ops() == ["start", "rollback"] and w.asg.group_version == RELEASED


def test_the_same_errors_read_again_are_not_a_second_failed_check(tmp_path: Path) -> None:
    # 16 errors in the refresh's first 300 requests, none after: 5.3%, then 5.3% of the same
    # window again (the window is cumulative from the refresh's start).
    w = make_world(tmp_path)
    w.metrics.window = lambda start, end: WindowMetrics(300 + int((end - start) // 30), 16, 0.1)  # type: ignore[method-assign]
    res = w.rel.run()
    assert res.state == "SUCCEEDED", res.reason
    checks = [r for r in w.journal.records(res.release_id) if r.event == "check"]
    assert len(checks) >= 2 and {r.status.failed_checks for r in checks} == {1}
    assert not checks[0].detail.get("repeat_of_counted_failure")
    assert all(r.detail["repeat_of_counted_failure"] for r in checks[1:])
    w2 = make_world(tmp_path / "more")
    w2.metrics.window = lambda start, end: WindowMetrics(
        300 + int((end - start) // 30), 16 + int((end - start) // 30), 0.1
    )  # type: ignore[method-assign]
    res2 = w2.rel.run()  # a new error at every check: each failure counts
    assert res2.state == "ROLLED_BACK" and "2 failed checks (threshold 2)" in res2.reason


def test_aws_auto_rollback_is_followed_not_repeated(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.asg.aws_rollback_at = 50
    res = w.rel.run()
    assert res.state == "ROLLED_BACK"
    assert "AWS is rolling the instance refresh back" in res.reason and "alarm batch-5xx" in res.reason
    assert w.asg.ops() == ["start"]  # AWS rolled back on its own; the driver only waited
    assert w.asg.group_version == RELEASED and pinned(w) == (RELEASED, OLD_AMI)


def test_not_reversible_refresh_is_cancelled_and_reported(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.asg.reversible = False
    w.metrics.error_rate = 0.5
    res = w.rel.run()
    assert res.state == "FAILED"
    assert w.asg.ops() == ["start", "rollback", "cancel"]
    assert "cannot roll this refresh back" in res.reason and "it was cancelled" in res.reason
    assert "keep launch template version 4" in res.reason
    assert f'"LaunchTemplateId":"{TEMPLATE_ID}","Version":"3"' in res.reason  # the restore command
    assert pinned(w) is not None and pinned(w)[0] == RELEASED  # type: ignore[index]


def test_refresh_failed_by_aws_is_reported_as_not_rolled_back(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.asg.fail_at = 50
    res = w.rel.run()
    assert res.state == "FAILED"
    assert "instance refresh Failed: instances failed health checks" in res.reason
    assert "is Failed" in res.reason and "--auto-scaling-group-name " + GROUP in res.reason
    assert w.asg.ops() == ["start"]  # nothing to roll back: AWS no longer runs the refresh


def test_refresh_timeout_rolls_back(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    stuck = w.asg.describe_instance_refreshes

    def describe(**kw: Any) -> dict[str, Any]:
        if w.asg.refreshes and w.asg.refreshes[0]["Status"] == "InProgress":
            w.asg.calls.append(("describe", kw))  # stays at 25% until the rollback
            return {"InstanceRefreshes": [{k: v for k, v in w.asg.refreshes[0].items() if k != "_from"}]}
        return stuck(**kw)

    w.asg.describe_instance_refreshes = describe  # type: ignore[method-assign]
    res = w.rel.run()
    assert res.state == "ROLLED_BACK" and "not done within 600s" in res.reason
    assert w.asg.group_version == RELEASED


def test_another_running_refresh_is_not_touched(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    # Someone else's refresh (no desired configuration) is running when ours would start.
    w.asg.start_instance_refresh(AutoScalingGroupName=GROUP, Strategy="Rolling", Preferences={})
    res = w.rel.run()
    assert res.state == "ROLLED_BACK" and "another instance refresh (ir-1" in res.reason
    assert "no instance refresh was started" in res.reason
    assert w.asg.ops() == ["start"]  # only the foreign one: no start, rollback or cancel by the driver


def test_abort_request_while_refreshing_rolls_back(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.clock.on_sleep(lambda now: w.journal.request_abort(w.rel.status.release_id, "operator"))
    res = w.rel.run()
    assert res.state == "ROLLED_BACK" and "aborted: operator" in res.reason
    assert w.asg.ops() == ["start", "rollback"] and w.asg.group_version == RELEASED


def _kill(pred: Callable[[Record], bool]) -> Callable[[Record], None]:
    def hook(record: Record) -> None:
        if pred(record):
            raise Killed

    return hook


def _at(state: str, event: str = "transition") -> Callable[[Record], bool]:
    return lambda r: r.state == state and r.event == event


@dataclass(frozen=True)
class KillCase:
    name: str
    kill_when: Callable[[Record], bool] | None
    """None: killed right after `start` journaled the release, before `run`."""
    alarm: bool = False


RESUME_CASES = [
    KillCase("pending", None),
    KillCase("updating-stack", _at("UPDATING_STACK")),
    KillCase("refresh-starting", _at("REFRESHING", "refresh_starting")),
    KillCase("refresh-journaled", _at("REFRESHING", "refresh")),
    KillCase("refreshing-check", _at("REFRESHING", "check")),
    KillCase("promoting", _at("PROMOTING")),
    KillCase("rolling-back", _at("ROLLING_BACK"), alarm=True),
    KillCase(
        "rollback-requested",
        _at("ROLLING_BACK", "refresh"),
        alarm=True,
    ),
]


@pytest.mark.parametrize("case", RESUME_CASES, ids=[c.name for c in RESUME_CASES])
def test_resume_after_kill_continues_from_the_journal(tmp_path: Path, case: KillCase) -> None:
    w = make_world(tmp_path)
    if case.alarm:
        w.clock.on_sleep(lambda now: setattr(w.metrics, "firing", ("batch-5xx",)))
    if case.kill_when is not None:
        w.journal.hook = _kill(case.kill_when)
        with pytest.raises(Killed):
            w.rel.run()
    last = w.journal.last()
    assert last is not None
    again = w.reload()
    assert again.status.state == last.state
    res = again.resume()
    assert len(w.asg.starts()) == 1  # never a second refresh
    assert w.stack.provider_refreshes == 0
    if case.alarm:
        assert res.state == "ROLLED_BACK", res.reason
        assert w.asg.ops() == ["start", "rollback"]  # the rollback is requested once
        assert w.asg.group_version == RELEASED and pinned(w) == (RELEASED, OLD_AMI)
    else:
        assert res.state == "SUCCEEDED", res.reason
        assert w.asg.group_version == TARGET and pinned(w) == (TARGET, NEW_AMI)


def test_resume_adopts_a_refresh_started_before_it_was_journaled(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    real_start = w.asg.start_instance_refresh

    def start_then_die(**kw: Any) -> dict[str, Any]:
        real_start(**kw)
        raise Killed  # AWS started it; the driver died before journaling its id

    w.asg.start_instance_refresh = start_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        w.rel.run()
    w.asg.start_instance_refresh = real_start  # type: ignore[method-assign]
    res = w.reload().resume()
    assert res.state == "SUCCEEDED"
    assert len(w.asg.starts()) == 1
    assert any("adopted" in r.detail.get("note", "") for r in res.trail if r.event == "refresh")


def test_failed_promotion_is_resumed_not_rolled_back(tmp_path: Path) -> None:
    w = make_world(tmp_path)

    def break_next_up(record: Record) -> None:
        if _at("PROMOTING")(record):
            w.stack.raise_on["up"] = [command_error("error: provider crashed")]

    w.journal.hook = break_next_up
    res = w.rel.run()
    assert res.state == "FAILED" and "run `resume`" in res.reason
    assert "group runs launch template version 4" in res.reason
    assert w.asg.ops() == ["start"]  # AWS finished the refresh: no rollback attempted
    again = w.reload()
    with pytest.raises(StateError, match="already succeeded"):
        again.abort("operator")
    res = again.resume()
    assert res.state == "SUCCEEDED" and pinned(w) == (TARGET, NEW_AMI)


def test_abort_after_rollback_is_idempotent(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.metrics.firing = ("batch-5xx",)
    assert w.rel.run().state == "ROLLED_BACK"
    calls = list(w.asg.calls)
    res = w.reload().abort("again")
    assert res.state == "ROLLED_BACK" and w.asg.calls == calls


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("ami_id", "latest", "ami_id"),
        ("ami_id", "ami-0abc 123", "ami_id"),
        ("released_version", 0, "fleets.batch.releasedVersion"),
        ("released_version", "3", "fleets.batch.releasedVersion"),
        ("timeout_seconds", 0, "timeout_seconds"),
        ("launch_template_id", "", "fleets.batch.launchTemplateId"),
    ],
    ids=["ami-word", "ami-space", "version-zero", "version-text", "timeout", "no-template"],
)
def test_bad_spec_is_refused(field: str, value: Any, key: str) -> None:
    with pytest.raises(InputError) as err:
        fleet_spec(**{field: value})
    assert err.value.key == key


def test_redeploy_after_rollback_starts_a_fresh_refresh(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.metrics.firing = ("batch-5xx",)
    assert w.rel.run().state == "ROLLED_BACK"
    # The rollback put the old AMI back (template version 5). The same AMI again, now healthy, makes
    # version 6; the old rolled-back refresh towards 4 must not be mistaken for this release's.
    assert pinned(w) == (RELEASED, OLD_AMI) and w.stack.latest == TARGET + 1
    w.metrics.firing = ()
    res = w.start(w.spec).run()
    assert res.state == "SUCCEEDED", res.reason
    assert [s["DesiredConfiguration"]["LaunchTemplate"]["Version"] for s in w.asg.starts()] == ["4", "6"]
    assert w.asg.group_version == TARGET + 2 and pinned(w) == (TARGET + 2, NEW_AMI)


def test_refresh_that_finishes_as_the_rollback_is_asked_is_reported(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.metrics.firing = ("batch-5xx",)
    real_rollback = w.asg.rollback_instance_refresh

    def finished_meanwhile(**kw: Any) -> dict[str, Any]:
        w.asg.refreshes[0]["Status"], w.asg.refreshes[0]["PercentageComplete"] = "Successful", 100
        w.asg.group_version = TARGET
        return real_rollback(**kw)  # AWS: ActiveInstanceRefreshNotFound

    w.asg.rollback_instance_refresh = finished_meanwhile  # type: ignore[method-assign]
    res = w.rel.run()
    assert res.state == "FAILED"
    assert "completed before the rollback, so the group runs version 4" in res.reason
    assert "releasedVersion 3" in res.reason and '"Version":"3"' in res.reason


def test_slow_rollback_fails_then_resume_waits_again(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.metrics.firing = ("batch-5xx",)
    w.asg.rollback_polls = 1_000
    res = w.rel.run()
    assert res.state == "FAILED" and "rollback of instance refresh ir-1 is not done within 600s" in res.reason
    w.asg.rollback_polls = 2  # AWS finishes on the next look
    res = w.reload().resume()
    assert res.state == "ROLLED_BACK" and w.asg.group_version == RELEASED
    assert w.asg.ops() == ["start", "rollback"]


def test_group_that_leaves_the_pin_fails_without_a_refresh(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    w.stack.ignores_the_pin = True  # e.g. a program that drops the released version
    res = w.rel.run()
    assert res.state == "FAILED" and "group is on launch template version 4, not the pinned 3" in res.reason
    res = w.reload().resume()  # redoes the update (not a rollback); still off the pin, so FAILED again
    assert res.state == "FAILED" and "not the pinned 3" in res.reason
    assert any(r.detail.get("note", "").startswith("resume: update the stack again") for r in res.trail)
    starts = w.asg.starts()
    assert starts and all("DesiredConfiguration" not in s for s in starts)  # the driver started none
