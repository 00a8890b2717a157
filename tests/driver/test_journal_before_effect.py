"""Journal before effect, checked at the moment of every effect, and kills inside port calls.

The release machine promises to journal each state before its effect, so a driver killed anywhere
can be resumed or aborted from the journal alone. The kill tests elsewhere die in `on_progress`,
between a record and the next port call; these tests watch the ports themselves:

* `Announcing` wraps the router, the deployer and the migration runner. Whenever an effect port is
  called (deploy, declare, set weights, reconcile, scale down, a migration command) it asserts
  that the journal's last record already announces that effect: its state is one whose handler
  performs it, and the weights, color, image or migration phase in the call are the ones that
  record implies. The contract (irreversible) must find the release already recorded as frozen;
  the rollback's redeploy of a scaled-down old color (`restore_stable`) must find its own record.
  Moving an effect ahead of its record fails.
* Kills *inside* each effect call (before and after the call took effect), then `resume` or
  `abort` from the journal on a fresh machine: both must end correctly, with traffic on a color
  that was deployed and healthy; once the contract has started, `abort` is refused and traffic
  stays on the new color. Strategies: canary, blue-green, linear, all-at-once, blue-green with
  expand/contract migrations, and the rollback of that release aborted after the old color was
  scaled down (which redeploys it first).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import Color, Weights
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.errors import FrozenError
from zero_downtime.driver.core.machine import Machine
from zero_downtime.driver.core.migrations import COMPAT_GATE, CONTRACT_CHECK, CONTRACTING, EXPANDING, is_frozen
from zero_downtime.driver.core.ports import MigrationResult
from zero_downtime.driver.core.service import (
    DEPLOYING_IDLE,
    KEEPING_WARM,
    PROMOTING,
    ROLLING_BACK,
    SHIFTING,
    ServicePorts,
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
from tests.driver.test_migrations_release import MIGRATIONS, FakeRunner
from tests.driver.test_service_release import World, make_spec

# The states whose handler performs each effect (driver/core/service.py, migrations.py). deploy_idle
# in ROLLING_BACK is the redeploy of the old color (`restore_stable`), checked against its record.
ANNOUNCED_BY: dict[str, frozenset[str]] = {
    "deploy_idle": frozenset({DEPLOYING_IDLE, ROLLING_BACK}),
    "declare": frozenset({SHIFTING, ROLLING_BACK}),
    "set_weights": frozenset({SHIFTING, ROLLING_BACK}),
    "reconcile": frozenset({SHIFTING, PROMOTING, ROLLING_BACK}),
    "scale_down": frozenset({KEEPING_WARM, ROLLING_BACK}),
    "migrate": frozenset({COMPAT_GATE, EXPANDING, CONTRACTING}),
}
TRAFFIC_EFFECTS = ("deploy_idle", "declare", "set_weights", "reconcile", "scale_down")
PHASE_OF = {COMPAT_GATE: "compat", EXPANDING: "expand", CONTRACTING: "contract"}

# Effect calls of a clean release: deploy; declare, set weights, reconcile per step; the promotion's
# reconcile; the old color's scale-down; with migrations, compat and expand before the deploy and
# the contract last (checked by test_the_kill_cases_cover_every_effect_call).
EFFECT_CALLS = {"canary": 12, "blue-green": 6, "linear": 12, "all-at-once": 6, "migrations": 9}


@dataclass
class Announcing(AnnouncedEffects):
    """A service release's effects, each checked against the journal's last record."""

    journal: ReleaseStore
    spec: ServiceSpec

    def check(self, effect: str, *args: Any) -> None:
        last = self.announcing(self.journal, effect, args, ANNOUNCED_BY[effect])
        status = last.status
        spec = ServiceSpec.from_dict(status.spec)
        # weights_in reads the spec only; the ports are never called
        strategy = ServiceRelease(spec, ServicePorts(None, None, None))  # type: ignore[arg-type]
        if effect == "migrate":
            phase, command, image = args[:3]
            migrations = spec.plan.migrations
            assert migrations is not None, f"migration {phase} run in a release without migrations"
            assert phase == PHASE_OF[status.state], f"{phase} run while the journal announces {status.state}"
            assert command == getattr(migrations, f"{phase}_command") and image == spec.image, args
            if phase == "contract":  # irreversible: the release must already be recorded as frozen
                assert is_frozen(status), "the contract ran before the journal recorded the release as frozen"
        elif status.state == ROLLING_BACK and effect == "deploy_idle":
            assert last.event == "restore_stable", (
                f"deploy_idle{args} while rolling back; the journal's last record is {last.event}, not restore_stable"
            )
            expected_deploy = (spec.stable_color, spec.stable_image, max(1, spec.stable_desired_count))
            assert args == expected_deploy, f"deploy_idle{args}; restore_stable announces {expected_deploy}"
        elif effect in ("declare", "set_weights", "reconcile"):
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


class WatchedRunner(FakeRunner):
    """The migration runner: every command is an effect (the contract cannot be undone)."""

    def __init__(self, watch: Announcing) -> None:
        super().__init__()
        self.watch = watch

    def run(self, phase: str, command: str, image: str, env: Mapping[str, str]) -> MigrationResult:
        return self.watch.effect("migrate", super().run, phase, command, image, env)


@dataclass
class MigratingWorld(World):
    """`test_service_release`'s world with a migration runner."""

    runner: FakeRunner | None = None

    def ports(self) -> ServicePorts:
        return dataclasses.replace(super().ports(), migrations=self.runner)


def _world(tmp_path: Path, spec: ServiceSpec, kill_at: int | None = None, timing: Timing = "before") -> MigratingWorld:
    clock = FakeClock()
    journal = ReleaseStore(LocalBlobs(tmp_path / "store"), "zero-downtime", "dev", "api", clock)
    watch = Announcing(journal, spec, kill_at=kill_at, kill_timing=timing)
    router = WatchedRouter(watch, Weights(blue=100, green=0))
    return MigratingWorld(
        clock=clock,
        router=router,
        metrics=FakeMetrics(router=router),
        deployer=WatchedDeployer(watch, router),
        check=FakeCheck(),
        publisher=RecordingPublisher(),
        journal=journal,
        runner=WatchedRunner(watch),
    )


def _watch(world: World) -> Announcing:
    return world.router.watch  # type: ignore[attr-defined]


def _with_migrations() -> ServiceSpec:
    """Blue-green with compat, expand and contract (the old color's image and count recorded, so a
    rollback after it was scaled down can redeploy it)."""
    spec = make_spec("blue-green", bake=30, synthetic=None, stable_image="repo/api:1", stable_desired_count=2)
    return dataclasses.replace(spec, plan=dataclasses.replace(spec.plan, migrations=MIGRATIONS))


SPECS = {
    "canary": lambda: make_spec("canary", steps=[10, 50, 100]),
    "blue-green": lambda: make_spec("blue-green", bake=30),
    "linear": lambda: make_spec("linear", step_percent=40, interval=60),
    "all-at-once": lambda: make_spec("all-at-once", interval=60),
    "migrations": _with_migrations,
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
    if strategy == "migrations":
        assert {effect for effect, _ in calls} == {*TRAFFIC_EFFECTS, "migrate"}, calls
        assert calls[:3] == [("migrate", COMPAT_GATE), ("migrate", EXPANDING), ("deploy_idle", DEPLOYING_IDLE)]
        assert calls[-2:] == [("scale_down", KEEPING_WARM), ("migrate", CONTRACTING)]
    else:
        assert {effect for effect, _ in calls} == set(TRAFFIC_EFFECTS), calls
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


def _run_to(m: Machine, state: str) -> None:
    """Call the handlers one by one until the release records `state` (nothing runs in it yet)."""
    while m.status.state != state:
        m.strategy.handlers[m.status.state](m)


def test_a_migration_or_a_redeploy_ahead_of_its_record_is_caught(tmp_path: Path) -> None:
    spec = _with_migrations()
    world = _world(tmp_path, spec)
    runner: WatchedRunner = world.runner  # type: ignore[assignment]
    m = world.start(spec)  # PENDING
    with pytest.raises(AssertionError, match="must already be one of"):
        runner.run("compat", MIGRATIONS.compat_command, spec.image, {})
    _run_to(m, EXPANDING)
    with pytest.raises(AssertionError, match="compat run while the journal announces EXPANDING"):
        runner.run("compat", MIGRATIONS.compat_command, spec.image, {})
    _run_to(m, CONTRACT_CHECK)
    # A contract recorded without the freeze: the journal would let an abort move traffic back
    # onto a schema the old version cannot read.
    m.enter(CONTRACTING)
    with pytest.raises(AssertionError, match="before the journal recorded the release as frozen"):
        runner.run("contract", MIGRATIONS.contract_command, spec.image, {})
    m.begin_rollback("test")
    with pytest.raises(AssertionError, match="not restore_stable"):
        world.deployer.deploy_idle("blue", "repo/api:1", 2)


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
    if is_frozen(machine.status):
        # Killed inside the contract: roll forward only. Abort is refused and traffic stays on green.
        with pytest.raises(FrozenError, match="frozen: roll forward only"):
            machine.abort("operator abort after the kill")
        assert _serving_is_safe(world) == "green"
        return
    if machine.status.state == KEEPING_WARM and "blue" not in world.deployer.up:  # type: ignore[attr-defined]
        # Killed after blue was scaled down: nothing to roll back to; abort must refuse, not break traffic.
        result = machine.abort("operator abort after the kill")
        assert _serving_is_safe(world) == "green", result.reason
        return
    result = machine.abort("operator abort after the kill")
    assert result.state == ROLLED_BACK, result.reason
    assert _serving_is_safe(world) == "blue"
    assert "green" not in world.deployer.up  # type: ignore[attr-defined]


# -- the rollback that redeploys the old color first (restore_stable) ------------------------------
# A release with migrations aborted in CONTRACT_CHECK: the old color is already scaled down, so the
# rollback redeploys its image (`restore_stable`), then moves traffic back, reconciles and scales
# the new color down.
ROLLBACK_EFFECTS = ["deploy_idle", "declare", "set_weights", "reconcile", "scale_down"]


def _scaled_down_before_the_contract(tmp_path: Path) -> tuple[MigratingWorld, Announcing, int]:
    """A release with migrations run to CONTRACT_CHECK (blue scaled down); the effect calls so far."""
    spec = _with_migrations()
    world = _world(tmp_path, spec)
    _run_to(world.start(spec), CONTRACT_CHECK)
    assert "blue" not in world.deployer.up  # type: ignore[attr-defined]
    watch = _watch(world)
    return world, watch, len(watch.calls)


def test_every_effect_of_a_rollback_that_redeploys_the_old_color_is_announced_first(tmp_path: Path) -> None:
    world, watch, forward = _scaled_down_before_the_contract(tmp_path)
    result = world.load().abort("changed my mind")
    assert result.state == ROLLED_BACK, result.reason
    assert watch.calls[forward:] == [(effect, ROLLING_BACK) for effect in ROLLBACK_EFFECTS]
    assert _serving_is_safe(world) == "blue"
    assert ("deploy_idle", "blue", "repo/api:1", 2) in world.deployer.calls
    assert "green" not in world.deployer.up  # type: ignore[attr-defined]
    assert "contract" not in world.runner.phases  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("index", "timing"),
    [pytest.param(i, t, id=f"{effect}-{t}") for i, effect in enumerate(ROLLBACK_EFFECTS) for t in ("before", "after")],
)
def test_killed_inside_a_rollback_that_redeploys_the_old_color_then_resumed(
    tmp_path: Path, index: int, timing: Timing
) -> None:
    world, watch, forward = _scaled_down_before_the_contract(tmp_path)
    watch.kill_at, watch.kill_timing = forward + index, timing
    with pytest.raises(Killed, match=f"inside {ROLLBACK_EFFECTS[index]}, {timing}"):
        world.load().abort("changed my mind")
    watch.kill_at = None  # the next driver lives
    result = world.load().resume()
    assert result.state == ROLLED_BACK, result.reason
    assert _serving_is_safe(world) == "blue"
    assert "green" not in world.deployer.up  # type: ignore[attr-defined]
    assert "contract" not in world.runner.phases  # type: ignore[union-attr]
