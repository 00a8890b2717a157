"""Journal before effect for flag releases, checked at every flag store write, and kills inside it.

The same promise as `test_journal_before_effect.py` makes for services, for `driver/core/flag.py`,
whose effect port is the flag store: `set_percentage` (AppConfig: a hosted version, then a
deployment). Through the real CLI in `flag_world.py`'s world (the recorded AppConfig fake, moto's
CloudWatch, a release store on local files), `AppConfigFlagStore.set_percentage` is wrapped:

* whenever it is called, the journal's last record must already announce it: `SHIFTING` at a step
  whose weight is the percentage being set, or `ROLLING_BACK` with 0 (the kill switch);
* a kill *inside* each call (before and after it took effect), then `resume` or `abort` from a
  fresh checkout: the release must end where the outcome says (100% served after a good release,
  0% after a rollback or an abort).

Only the flag store's writes are checked here; the release state the flag strategy writes to the
release store is covered where that port is tested.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from zero_downtime.driver.adapters.aws.appconfig import AppConfigFlagStore
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.cli import ExitCode
from zero_downtime.driver.core.flag import SHIFTING, FlagSpec
from zero_downtime.driver.core.status import ROLLING_BACK

from tests.driver.conftest import StoreSetup
from tests.driver.fakes import AnnouncedEffects, Killed, Timing
from tests.driver.flag_world import FAST_FLAG, FLAG, FLAG_SET, FlagWorld

Scenario = Literal["good", "faulty", "alarm"]
# The percentages a release sets, in order (checked by the first test below): good: the plan's
# steps; faulty (30% of the flagged requests fail, the gate rolls back) and alarm (AppConfig rolls
# the first step's deployment back on the flag set's alarm, so the step is never served): the first
# step, then the kill switch.
EFFECTS: dict[str, list[tuple[int, str]]] = {
    "good": [(10, SHIFTING), (50, SHIFTING), (100, SHIFTING)],
    "faulty": [(10, SHIFTING), (0, ROLLING_BACK)],
    "alarm": [(10, SHIFTING), (0, ROLLING_BACK)],
}


@dataclass
class Announcing(AnnouncedEffects):
    """A flag release's `set_percentage` calls, each checked against the journal's last record."""

    journal: Callable[[], ReleaseStore]

    def check(self, effect: str, *args: Any) -> None:
        flag, percentage = args
        status = self.announcing(self.journal(), effect, args, frozenset({SHIFTING, ROLLING_BACK})).status
        spec = FlagSpec.from_dict(status.spec)
        assert flag == spec.flag
        if status.state == SHIFTING:
            assert status.step is not None
            announced = spec.plan.steps[status.step].weight
            assert percentage == announced, f"set {percentage}% but the journal's step {status.step} is {announced}%"
        else:
            assert percentage == 0, f"set {percentage}% while ROLLING_BACK, which announces the kill switch (0%)"
        self.calls.append((percentage, status.state))

    def wrap(self, real: Callable[..., None]) -> Callable[..., None]:
        def set_percentage(store: AppConfigFlagStore, flag: str, percentage: int) -> None:
            self.effect("set_percentage", lambda f, p: real(store, f, p), flag, percentage)

        return set_percentage


@pytest.fixture
def world(aws: dict[str, Any], tmp_path: Path) -> FlagWorld:
    return FlagWorld(aws, StoreSetup("local", f"file://{tmp_path / 'store'}"), tmp_path)


def watch(monkeypatch: pytest.MonkeyPatch, world: FlagWorld, kill_at: int | None = None, timing: Timing = "before"):
    def journal() -> ReleaseStore:
        return ReleaseStore(world.store.blobs(), "zero-downtime", "dev", f"flags.{FLAG_SET}", world.clock)

    announcing = Announcing(journal, kill_at=kill_at, kill_timing=timing)
    monkeypatch.setattr(AppConfigFlagStore, "set_percentage", announcing.wrap(AppConfigFlagStore.set_percentage))
    return announcing


def release(world: FlagWorld, scenario: Scenario) -> tuple[int, str, str]:
    world.on_error_rate = 0.3 if scenario == "faulty" else 0.0
    if scenario == "alarm":
        world.fire_alarm()
    return world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG)


@pytest.mark.parametrize("scenario", list(EFFECTS))
def test_every_flag_store_write_is_announced_by_the_journal_first(
    world: FlagWorld, monkeypatch: pytest.MonkeyPatch, scenario: Scenario
) -> None:
    w = watch(monkeypatch, world)
    code, _, err = release(world, scenario)
    assert code == (ExitCode.SUCCESS if scenario == "good" else ExitCode.ROLLED_BACK), err
    assert w.calls == EFFECTS[scenario]


def test_a_flag_store_write_ahead_of_its_record_is_caught(world: FlagWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check itself can fail: a write of the next step's percentage while the journal says BAKING."""
    from tests.driver.release_world import recorded

    w = watch(monkeypatch, world)
    with pytest.raises(Killed):
        world.run("flag", "--flag", FLAG, *FAST_FLAG, die_when=recorded("BAKING"))
    with pytest.raises(AssertionError, match=r"must already be one of \['ROLLING_BACK', 'SHIFTING'\]"):
        w.check("set_percentage", FLAG, 50)
    assert w.calls == [(10, SHIFTING)]


def _kill_cases() -> list[Any]:
    return [
        pytest.param(scenario, index, timing, id=f"{scenario}-set{pct}-{timing}")
        for scenario, effects in EFFECTS.items()
        for index, (pct, _) in enumerate(effects)
        for timing in ("before", "after")
    ]


def _killed_inside(
    world: FlagWorld, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, index: int, timing: Timing
) -> Announcing:
    w = watch(monkeypatch, world, kill_at=index, timing=timing)
    with pytest.raises(Killed, match=f"inside .*, {timing}"):
        release(world, scenario)
    assert w.calls[-1] == EFFECTS[scenario][index]
    w.kill_at = None  # the next driver lives
    world.expire_leases()
    return w


@pytest.mark.parametrize(("scenario", "index", "timing"), _kill_cases())
def test_killed_inside_a_flag_store_write_then_resumed(
    world: FlagWorld, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, index: int, timing: Timing
) -> None:
    _killed_inside(world, monkeypatch, scenario, index, timing)
    code, out, err = world.run("resume", "--json")
    if scenario == "good":
        assert code == ExitCode.SUCCESS, err
        assert json.loads(out)["state"] == "SUCCEEDED"
        assert world.appconfig.served_percentage() == 100
    else:
        assert code == ExitCode.ROLLED_BACK, err
        assert json.loads(out)["state"] == "ROLLED_BACK"
        assert world.appconfig.served_percentage() == 0


@pytest.mark.parametrize(("scenario", "index", "timing"), _kill_cases())
def test_killed_inside_a_flag_store_write_then_aborted(
    world: FlagWorld, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, index: int, timing: Timing
) -> None:
    w = _killed_inside(world, monkeypatch, scenario, index, timing)
    code, out, err = world.run("abort", "--json", "--reason", "operator abort after the kill")
    assert code == ExitCode.ROLLED_BACK, err
    assert json.loads(out)["state"] == "ROLLED_BACK"
    assert world.appconfig.served_percentage() == 0
    assert w.calls[-1] == (0, ROLLING_BACK)  # the abort's kill switch, announced like any other write
