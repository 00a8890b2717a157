"""Journal before effect, checked at the moment of every effect, and kills inside port calls.

The release machine promises to journal each state before its effect, so a driver killed anywhere
can be resumed or aborted from the journal alone. The kill tests elsewhere die in `on_progress`,
between a record and the next port call; these tests watch the ports themselves:

* `Announcing` wraps the router and the deployer. Whenever an effect port is called (deploy,
  declare, set weights, reconcile, scale down) it asserts that the journal's last record already
  announces that effect: its state is one whose handler performs it, and the weights, color or
  image in the call are the ones that record implies. Moving an effect ahead of its record fails.
* Kills *inside* each effect call (before and after the call took effect), then `resume` or
  `abort` from the journal on a fresh machine: both must end correctly, with traffic on a color
  that was deployed and healthy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import Color, Weights
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.service import (
    DEPLOYING_IDLE,
    KEEPING_WARM,
    PROMOTING,
    ROLLING_BACK,
    SHIFTING,
    ServiceRelease,
    ServiceSpec,
)
from zero_downtime.driver.core.status import ROLLED_BACK, SUCCEEDED
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fakes import (
    AnnouncedEffects,
    FakeCheck,
    FakeDeployer,
    FakeMetrics,
    FakeRouter,
    Killed,
    RecordingPublisher,
    Timing,
)
from tests.driver.test_service_release import World, make_spec

# The states whose handler performs each effect (driver/core/service.py).
ANNOUNCED_BY: dict[str, frozenset[str]] = {
    "deploy_idle": frozenset({DEPLOYING_IDLE}),
    "declare": frozenset({SHIFTING, ROLLING_BACK}),
    "set_weights": frozenset({SHIFTING, ROLLING_BACK}),
    "reconcile": frozenset({SHIFTING, PROMOTING, ROLLING_BACK}),
    "scale_down": frozenset({KEEPING_WARM, ROLLING_BACK}),
}
EFFECTS = tuple(ANNOUNCED_BY)

# Effect calls of a clean release: deploy; declare, set weights, reconcile per step; the promotion's
# reconcile; the old color's scale-down (checked by test_the_kill_cases_cover_every_effect_call).
EFFECT_CALLS = {"canary": 12, "blue-green": 6}


@dataclass
class Announcing(AnnouncedEffects):
    """A service release's effects, each checked against the journal's last record."""

    journal: ReleaseStore
    spec: ServiceSpec

    def check(self, effect: str, *args: Any) -> None:
        last = self.announcing(self.journal, effect, args, ANNOUNCED_BY[effect])
        status = last.status
        spec = ServiceSpec.from_dict(status.spec)
        strategy = ServiceRelease(spec, None)  # type: ignore[arg-type]  # weights_in reads the spec only
        if effect in ("declare", "set_weights", "reconcile"):
            weights = args[0]
            assert weights == strategy.weights_in(status), (
                f"{effect}({weights.as_dict()}) but the journal ({status.state}, step {status.step}) "
                f"announces {strategy.weights_in(status)}"
            )
        elif effect == "scale_down":
            expected: Color = spec.stable_color if status.state == KEEPING_WARM else spec.new_color
            assert args[0] == expected, f"scale_down({args[0]}) announced by {status.state}, expected {expected}"
        elif effect == "deploy_idle":
            assert args[:2] == (spec.new_color, spec.image), f"deploy_idle{args} but the journal announces {spec}"
        self.calls.append((effect, status.state))


class WatchedRouter(FakeRouter):
    def __init__(self, watch: Announcing, weights: Weights) -> None:
        super().__init__(weights)
        self.watch = watch

    def set_weights(self, weights: Weights) -> None:
        self.watch.effect("set_weights", super().set_weights, weights)


class WatchedDeployer(FakeDeployer):
    def __init__(self, watch: Announcing, router: FakeRouter) -> None:
        super().__init__(router)
        self.watch = watch
        self.deployed: set[Color] = {"blue"}
        self.up: set[Color] = {"blue"}

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        def real(c: Color, i: str, n: int) -> None:
            FakeDeployer.deploy_idle(self, c, i, n)
            self.deployed.add(c)
            self.up.add(c)

        self.watch.effect("deploy_idle", real, color, image, desired_count)

    def healthy_targets(self, color: Color) -> int:
        return 10 if color in self.up else 0

    def declare(self, weights: Weights, live_color: Color) -> None:
        self.watch.effect("declare", super().declare, weights, live_color)

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        self.watch.effect("reconcile", super().reconcile, weights, live_color)

    def scale_down(self, color: Color) -> None:
        def real(c: Color) -> None:
            FakeDeployer.scale_down(self, c)
            self.up.discard(c)

        self.watch.effect("scale_down", real, color)


def _world(tmp_path: Path, spec: ServiceSpec, kill_at: int | None = None, timing: Timing = "before") -> World:
    clock = FakeClock()
    journal = ReleaseStore(LocalBlobs(tmp_path / "store"), "zero-downtime", "dev", "api", clock)
    watch = Announcing(journal, spec, kill_at=kill_at, kill_timing=timing)
    router = WatchedRouter(watch, Weights(blue=100, green=0))
    return World(
        clock=clock,
        router=router,
        metrics=FakeMetrics(router=router),
        deployer=WatchedDeployer(watch, router),
        check=FakeCheck(),
        publisher=RecordingPublisher(),
        journal=journal,
    )


def _watch(world: World) -> Announcing:
    return world.router.watch  # type: ignore[attr-defined]


SPECS = {
    "canary": lambda: make_spec("canary", steps=[10, 50, 100]),
    "blue-green": lambda: make_spec("blue-green", bake=30),
}


def _effects_of_a_clean_release(tmp_path: Path, strategy: str) -> list[tuple[str, str]]:
    world = _world(tmp_path / "clean", SPECS[strategy]())
    machine = world.start(SPECS[strategy]())
    assert machine.run().state == SUCCEEDED
    return _watch(world).calls


@pytest.mark.parametrize("strategy", SPECS)
def test_every_effect_of_a_good_release_is_announced_by_the_journal_first(tmp_path: Path, strategy: str) -> None:
    calls = _effects_of_a_clean_release(tmp_path, strategy)
    # Every kind of forward effect happened (and each passed the check when it did).
    assert {effect for effect, _ in calls} == set(EFFECTS), calls
    assert calls[0] == ("deploy_idle", DEPLOYING_IDLE)
    assert calls[-1] == ("scale_down", KEEPING_WARM)


def test_every_effect_of_a_rollback_is_announced_by_the_journal_first(tmp_path: Path) -> None:
    from zero_downtime.driver.core.ports import WindowMetrics

    spec = make_spec("canary", steps=[10, 50, 100])
    world = _world(tmp_path, spec)
    world.metrics.new_fn = lambda s, e: WindowMetrics(requests=200, errors_5xx=80, p99_seconds=0.05)
    assert world.start(spec).run().state == ROLLED_BACK
    rollback = [effect for effect, state in _watch(world).calls if state == ROLLING_BACK]
    assert rollback == ["declare", "set_weights", "reconcile", "scale_down"]


def test_an_effect_ahead_of_its_record_is_caught(tmp_path: Path) -> None:
    """The check itself can fail: an effect called while the journal still says the previous state."""
    spec = make_spec("canary", steps=[10, 50, 100])
    world = _world(tmp_path, spec)
    world.start(spec)  # journals PENDING only
    with pytest.raises(AssertionError, match="must already be one of"):
        world.deployer.deploy_idle("green", spec.image, 2)
    with pytest.raises(AssertionError, match="must already be one of"):
        world.router.set_weights(Weights(90, 10))


def _kill_cases() -> list[Any]:
    # The number of effect calls of a clean release, per strategy (checked by the first test above):
    # a kill in each one of them, before and after it took effect.
    return [
        pytest.param(strategy, index, timing, id=f"{strategy}-effect{index}-{timing}")
        for strategy, n in EFFECT_CALLS.items()
        for index in range(n)
        for timing in ("before", "after")
    ]


def test_the_kill_cases_cover_every_effect_call(tmp_path: Path) -> None:
    for strategy, n in EFFECT_CALLS.items():
        assert len(_effects_of_a_clean_release(tmp_path / strategy, strategy)) == n, strategy


def _killed_inside(tmp_path: Path, strategy: str, index: int, timing: Timing) -> World:
    spec = SPECS[strategy]()
    world = _world(tmp_path, spec, kill_at=index, timing=timing)
    with pytest.raises(Killed, match=f"inside .*, {timing}"):
        world.start(spec).run()
    _watch(world).kill_at = None  # the next driver lives
    return world


def _serving_is_safe(world: World) -> Color:
    """Traffic is on exactly one color, and that color was deployed and is up."""
    weights = world.router.observed_weights().as_dict()
    live = [c for c, w in weights.items() if w == 100]
    assert len(live) == 1, weights
    deployer: WatchedDeployer = world.deployer  # type: ignore[assignment]
    assert live[0] in deployer.up, f"traffic on {live[0]}, which is down"
    return live[0]  # type: ignore[return-value]


@pytest.mark.parametrize(("strategy", "index", "timing"), _kill_cases())
def test_killed_inside_an_effect_then_resumed_from_the_journal(
    tmp_path: Path, strategy: str, index: int, timing: Timing
) -> None:
    world = _killed_inside(tmp_path, strategy, index, timing)
    result = world.load().resume()
    assert result.state == SUCCEEDED, result.reason
    assert _serving_is_safe(world) == "green"
    assert "blue" not in world.deployer.up  # type: ignore[attr-defined]


@pytest.mark.parametrize(("strategy", "index", "timing"), _kill_cases())
def test_killed_inside_an_effect_then_aborted_from_the_journal(
    tmp_path: Path, strategy: str, index: int, timing: Timing
) -> None:
    world = _killed_inside(tmp_path, strategy, index, timing)
    machine = world.load()
    if machine.status.state == KEEPING_WARM and "blue" not in world.deployer.up:  # type: ignore[attr-defined]
        # Killed after blue was scaled down: nothing to roll back to; abort must refuse, not break traffic.
        result = machine.abort("operator abort after the kill")
        assert _serving_is_safe(world) == "green", result.reason
        return
    result = machine.abort("operator abort after the kill")
    assert result.state == ROLLED_BACK, result.reason
    assert _serving_is_safe(world) == "blue"
    assert "green" not in world.deployer.up  # type: ignore[attr-defined]
