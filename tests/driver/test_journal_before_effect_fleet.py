"""Journal before effect for fleet releases, checked at the moment of every effect, and kills inside
each effect call.

The same promise as `test_journal_before_effect.py` makes for services, for `driver/core/fleet.py`:

* `Announcing` wraps the fleet's effect ports: the release state write (`write_fleet_state`), the
  stack (`up`, `refresh`) and the instance refresher (`start`, `rollback`, `cancel`). Whenever one
  is called it asserts that the journal's last record already announces that effect: its state is
  one whose handler performs it, and the call carries what that record implies (the version and AMI
  written, the template version a refresh starts towards; a refresh is started only after the
  `refresh_starting` record, and `up` applies only a release state already in the store). Reads
  (`get`, `latest`, `template_versions`, metrics) are not effects and are not checked.
* Kills *inside* each effect call (before and after it took effect), then `resume` or `abort` from
  the journal on a fresh machine: the group must end on the version the outcome says, the release
  store must say the same, and the driver must never start a second refresh.

The world is `test_fleet_release.py`'s: the recording fake of the autoscaling API behind the real
`InstanceRefresher`, the fake stack that applies the fleet's release state, `StackOps`, a real
release store on local files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from zero_downtime.contract.release_state import FleetState
from zero_downtime.driver.adapters.aws.instance_refresh import InstanceRefresher
from zero_downtime.driver.adapters.pulumi_stack import StackOps
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.errors import StateError
from zero_downtime.driver.core.fleet import PROMOTING, REFRESHING, UPDATING_STACK, FleetPorts, FleetRelease, FleetSpec
from zero_downtime.driver.core.machine import Machine, latest_status
from zero_downtime.driver.core.ports import DesiredTemplate
from zero_downtime.driver.core.status import FAILED, ROLLED_BACK, ROLLING_BACK, SUCCEEDED, Status
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fakes import AnnouncedEffects, Killed, Timing
from tests.driver.fleet_world import GROUP, NEW_AMI, OLD_AMI, PREFS, RELEASED, TEMPLATE_ID, FakeAutoScaling, FleetStack
from tests.driver.test_fleet_release import Metrics

TARGET = RELEASED + 1

# The states whose handler performs each effect (driver/core/fleet.py).
ANNOUNCED_BY: dict[str, frozenset[str]] = {
    "write_fleet_state": frozenset({UPDATING_STACK, PROMOTING, ROLLING_BACK}),
    "up": frozenset({UPDATING_STACK, PROMOTING, ROLLING_BACK}),
    "refresh": frozenset({PROMOTING}),
    "start": frozenset({REFRESHING}),
    "rollback": frozenset({ROLLING_BACK}),
    "cancel": frozenset({ROLLING_BACK}),
}

Scenario = Literal["good", "alarm"]
# Effect calls of each scenario (checked by the first test below):
# good: store (N, new AMI), up, start; store (T, new AMI), refresh, up.
# alarm: store (N, new AMI), up, start; rollback; store (N, old AMI), up.
EFFECTS = {
    "good": [
        ("write_fleet_state", UPDATING_STACK),
        ("up", UPDATING_STACK),
        ("start", REFRESHING),
        ("write_fleet_state", PROMOTING),
        ("refresh", PROMOTING),
        ("up", PROMOTING),
    ],
    "alarm": [
        ("write_fleet_state", UPDATING_STACK),
        ("up", UPDATING_STACK),
        ("start", REFRESHING),
        ("rollback", ROLLING_BACK),
        ("write_fleet_state", ROLLING_BACK),
        ("up", ROLLING_BACK),
    ],
}


def announced_state(status: Status, spec: FleetSpec) -> tuple[int, str]:
    """(released version, AMI) that the journal's state says the release store holds, or is about to."""
    if status.state == UPDATING_STACK:
        return spec.released_version, spec.ami_id
    if status.state == PROMOTING:
        return int(status.facts["target_version"]), spec.ami_id
    return spec.released_version, spec.previous_ami  # ROLLING_BACK puts back what the release changed


@dataclass
class Announcing(AnnouncedEffects):
    """A fleet release's effects, each checked against the journal's last record."""

    journal: ReleaseStore
    stack: FleetStack

    def check(self, effect: str, *args: Any) -> None:
        last = self.announcing(self.journal, effect, args, ANNOUNCED_BY[effect])
        status = last.status
        spec = FleetSpec.from_dict(status.spec)
        if effect == "write_fleet_state":
            state: FleetState = args[0]
            assert (state.released_version, state.ami_id) == announced_state(status, spec), (
                f"write_fleet_state({state.released_version}, {state.ami_id}) but the journal "
                f"({status.state}) announces {announced_state(status, spec)}"
            )
            assert state.release_id == status.release_id
        elif effect in ("up", "refresh"):
            # `up` applies the store's release state: it must be the one this state announces.
            stored = self.stack.released()
            assert stored is not None, f"{effect} before the release state was written"
            assert (stored.released_version, stored.ami_id) == announced_state(status, spec), (
                f"{effect} applies ({stored.released_version}, {stored.ami_id}) but the journal "
                f"({status.state}) announces {announced_state(status, spec)}"
            )
        elif effect == "start":
            assert last.event == "refresh_starting", f"start after {last.event}, not after refresh_starting"
            assert "refresh_id" not in status.facts
            desired: DesiredTemplate = args[1]
            assert desired == spec.template(int(status.facts["target_version"])), desired
        else:  # rollback, cancel: of the refresh the journal names
            assert "refresh_id" in status.facts, f"{effect} without a journaled refresh"
        self.calls.append((effect, status.state))


class WatchedStack:
    def __init__(self, watch: Announcing, inner: StackOps) -> None:
        self.watch, self.inner = watch, inner

    def up(self, message: str = "") -> Any:
        return self.watch.effect("up", self.inner.up, message)

    def refresh(self) -> Any:
        return self.watch.effect("refresh", self.inner.refresh)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class WatchedRefresher:
    def __init__(self, watch: Announcing, inner: InstanceRefresher) -> None:
        self.watch, self.inner = watch, inner

    def start(self, preferences: Mapping[str, Any], desired: DesiredTemplate | None = None) -> str:
        return self.watch.effect("start", self.inner.start, preferences, desired)

    def rollback(self) -> None:
        self.watch.effect("rollback", self.inner.rollback)

    def cancel(self) -> None:
        self.watch.effect("cancel", self.inner.cancel)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class WatchedStates:
    def __init__(self, watch: Announcing, inner: ReleaseStore) -> None:
        self.watch, self.inner = watch, inner

    def write_fleet_state(self, state: FleetState) -> None:
        self.watch.effect("write_fleet_state", self.inner.write_fleet_state, state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class World:
    tmp: Path
    clock: FakeClock
    asg: FakeAutoScaling
    stack: FleetStack
    metrics: Metrics
    watch: Announcing

    def journal(self) -> ReleaseStore:
        """A driver process's release store (each process opens its own)."""
        return ReleaseStore(LocalBlobs(self.tmp), "zero-downtime", "dev", "batch", self.clock)

    def ports(self, journal: ReleaseStore) -> FleetPorts:
        return FleetPorts(
            WatchedStack(self.watch, StackOps(self.stack, self.clock)),  # type: ignore[arg-type]
            WatchedRefresher(self.watch, InstanceRefresher(self.asg, GROUP)),  # type: ignore[arg-type]
            self.metrics,
            WatchedStates(self.watch, journal),  # type: ignore[arg-type]
        )

    def start(self) -> Machine:
        journal = self.journal()
        return Machine.start(FleetRelease(make_spec(), self.ports(journal)), journal, self.clock)

    def load(self) -> Machine:
        """A new driver process: state from the release store only."""
        journal = self.journal()
        status = latest_status(journal)
        strategy = FleetRelease(FleetSpec.from_dict(status.spec), self.ports(journal))
        return Machine.continue_(strategy, journal, self.clock, status)

    def settle(self) -> None:
        """AWS carries on without the driver: whatever refresh is running finishes."""
        for _ in range(10):
            self.asg.describe_instance_refreshes(AutoScalingGroupName=GROUP)

    def released(self) -> tuple[int, str] | None:
        state = self.stack.released()
        return None if state is None else (state.released_version, state.ami_id)


def make_spec() -> FleetSpec:
    return FleetSpec(
        stack="dev",
        fleet="batch",
        ami_id=NEW_AMI,
        config_path="fleets.batch",
        group_name=GROUP,
        launch_template_id=TEMPLATE_ID,
        released_version=RELEASED,
        previous_ami=OLD_AMI,
        preferences=PREFS,
        analysis=AnalysisConfig(min_requests=10, threshold=2, poll_seconds=30),
        timeout_seconds=600,
    )


def make_world(
    tmp_path: Path, scenario: Scenario = "good", kill_at: int | None = None, timing: Timing = "before"
) -> World:
    clock = FakeClock()
    asg = FakeAutoScaling(clock)
    stack = FleetStack(asg, LocalBlobs(tmp_path), pinned_in_config=False)
    metrics = Metrics()
    if scenario == "alarm":
        clock.on_sleep(lambda now: setattr(metrics, "firing", ("batch-5xx",)))
    journal = ReleaseStore(LocalBlobs(tmp_path), "zero-downtime", "dev", "batch", clock)
    watch = Announcing(journal, stack, kill_at=kill_at, kill_timing=timing)
    return World(tmp_path, clock, asg, stack, metrics, watch)


@pytest.mark.parametrize("scenario", ["good", "alarm"])
def test_every_effect_of_a_fleet_release_is_announced_by_the_journal_first(tmp_path: Path, scenario: Scenario) -> None:
    w = make_world(tmp_path, scenario)
    result = w.start().run()
    assert result.state == (SUCCEEDED if scenario == "good" else ROLLED_BACK), result.reason
    # Every effect happened, each one passed the check when it was called.
    assert w.watch.calls == EFFECTS[scenario]


def test_every_effect_of_an_irreversible_rollback_is_announced_by_the_journal_first(tmp_path: Path) -> None:
    w = make_world(tmp_path, "alarm")
    w.asg.reversible = False
    result = w.start().run()
    assert result.state == FAILED and "it was cancelled" in result.reason
    assert w.watch.calls[-2:] == [("rollback", ROLLING_BACK), ("cancel", ROLLING_BACK)]


def test_an_effect_ahead_of_its_record_is_caught(tmp_path: Path) -> None:
    """The check itself can fail: effects called while the journal still says PENDING."""
    w = make_world(tmp_path)
    m = w.start()  # journals PENDING only
    ports = m.strategy.ports  # type: ignore[attr-defined]
    state = FleetState(released_version=RELEASED, ami_id=NEW_AMI, release_id=m.status.release_id, updated_at=0.0)
    with pytest.raises(AssertionError, match="must already be one of"):
        ports.states.write_fleet_state(state)
    with pytest.raises(AssertionError, match="must already be one of"):
        ports.stack.up("early")
    with pytest.raises(AssertionError, match="must already be one of"):
        ports.refresher.start(PREFS, DesiredTemplate(TEMPLATE_ID, str(TARGET)))
    assert w.watch.calls == [] and w.asg.starts() == [] and w.stack.ups() == 0


def _kill_cases() -> list[Any]:
    return [
        pytest.param(scenario, index, timing, id=f"{scenario}-{effect}{index}-{timing}")
        for scenario, effects in EFFECTS.items()
        for index, (effect, _) in enumerate(effects)
        for timing in ("before", "after")
    ]


def _killed_inside(tmp_path: Path, scenario: Scenario, index: int, timing: Timing) -> World:
    w = make_world(tmp_path, scenario, kill_at=index, timing=timing)
    with pytest.raises(Killed, match=f"inside .*, {timing}"):
        w.start().run()
    assert w.watch.calls[-1] == EFFECTS[scenario][index]
    w.watch.kill_at = None  # the next driver lives
    return w


def _succeeded(w: World) -> None:
    w.settle()
    assert w.asg.group_version == TARGET
    assert w.released() == (TARGET, NEW_AMI)
    assert len(w.asg.starts()) == 1 and w.stack.provider_refreshes == 0


def _rolled_back(w: World) -> None:
    w.settle()
    assert w.asg.group_version == RELEASED, f"the group runs version {w.asg.group_version} after a rollback"
    assert w.released() == (RELEASED, OLD_AMI)
    assert len(w.asg.starts()) <= 1 and w.stack.provider_refreshes == 0


@pytest.mark.parametrize(("scenario", "index", "timing"), _kill_cases())
def test_killed_inside_a_fleet_effect_then_resumed_from_the_journal(
    tmp_path: Path, scenario: Scenario, index: int, timing: Timing
) -> None:
    w = _killed_inside(tmp_path, scenario, index, timing)
    result = w.load().resume()
    if scenario == "good":
        assert result.state == SUCCEEDED, result.reason
        _succeeded(w)
    else:
        assert result.state == ROLLED_BACK, result.reason
        _rolled_back(w)
        assert w.asg.ops() == ["start", "rollback"]  # the rollback is requested once


@pytest.mark.parametrize(("scenario", "index", "timing"), _kill_cases())
def test_killed_inside_a_fleet_effect_then_aborted_from_the_journal(
    tmp_path: Path, scenario: Scenario, index: int, timing: Timing
) -> None:
    w = _killed_inside(tmp_path, scenario, index, timing)
    machine = w.load()
    if machine.status.state == PROMOTING:
        # The refresh succeeded: AWS cannot undo it; abort refuses and resume records the release.
        with pytest.raises(StateError, match="already succeeded"):
            machine.abort("operator abort after the kill")
        assert w.load().resume().state == SUCCEEDED
        _succeeded(w)
        return
    result = machine.abort("operator abort after the kill")
    assert result.state == ROLLED_BACK, result.reason
    _rolled_back(w)


def test_abort_after_a_kill_inside_start_rolls_back_the_refresh_aws_started(tmp_path: Path) -> None:
    """Killed after AWS started the refresh, before its id was journaled: the abort must find that
    refresh (it began after `refresh_starting`) and roll it back, not report "no instance refresh
    was started" while AWS moves the group to the new version."""
    w = _killed_inside(tmp_path, "good", 2, "after")
    assert w.asg.refreshes and w.asg.refreshes[0]["Status"] == "Pending"
    result = w.load().abort("operator abort after the kill")
    assert result.state == ROLLED_BACK, result.reason
    assert "no instance refresh was started" not in result.reason
    assert any("adopted for the rollback" in r.detail.get("note", "") for r in result.trail), result.trail
    assert w.asg.ops() == ["start", "rollback"]
    _rolled_back(w)
