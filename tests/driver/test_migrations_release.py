"""Expand/contract migrations in a service release: order, rollback rules, the freeze (issue 15).

The release machine with a fake clock and in-memory ports; the migration runner is a fake that
records every command and can be told to fail a phase.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from zero_downtime.contract import Weights
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.errors import FrozenError, InputError, PortError, StateError
from zero_downtime.driver.core.machine import Machine, latest_status
from zero_downtime.driver.core.migrations import (
    COMPAT_GATE,
    CONTRACT_CHECK,
    CONTRACTING,
    EXPANDING,
    FROZEN,
    is_frozen,
)
from zero_downtime.driver.core.plan import Migrations, Plan
from zero_downtime.driver.core.ports import MigrationResult
from zero_downtime.driver.core.service import ServicePorts, ServiceRelease, ServiceSpec
from zero_downtime.driver.core.status import FAILED, PAUSED, ROLLED_BACK, ROLLING_BACK, SUCCEEDED
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fakes import FakeCheck, FakeDeployer, FakeMetrics, FakeRouter, Killed, RecordingPublisher
from tests.driver.test_service_release import make_spec

MIGRATIONS = Migrations(
    expand_command="alembic upgrade expand",
    compat_command="smoke --old",
    contract_command="alembic upgrade contract",
    contract_delay_seconds=60.0,
)


@dataclass
class FakeRunner:
    fail: set[str] = field(default_factory=set)
    raise_on: set[str] = field(default_factory=set)
    runs: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    on_run: dict[str, object] = field(default_factory=dict)

    def run(self, phase: str, command: str, image: str, env: Mapping[str, str]) -> MigrationResult:
        self.runs.append((phase, command, image, dict(env)))
        hook = self.on_run.get(phase)
        if callable(hook):
            hook()
        if phase in self.raise_on:
            raise PortError(f"{phase} task could not be started")
        ok = phase not in self.fail
        return MigrationResult(phase, ok, "exit 0" if ok else "exit 1: boom", 0 if ok else 1, log_url=f"log://{phase}")

    @property
    def phases(self) -> list[str]:
        return [r[0] for r in self.runs]


class ScalingDeployer(FakeDeployer):
    """Healthy targets drop to 0 when a color is scaled down and come back when it is deployed."""

    def deploy_idle(self, color: str, image: str, desired_count: int) -> None:  # type: ignore[override]
        super().deploy_idle(color, image, desired_count)  # type: ignore[arg-type]
        self.targets[color] = desired_count

    def scale_down(self, color: str) -> None:  # type: ignore[override]
        super().scale_down(color)  # type: ignore[arg-type]
        self.targets[color] = 0


@dataclass
class World:
    clock: FakeClock
    router: FakeRouter
    deployer: ScalingDeployer
    runner: FakeRunner
    journal: ReleaseStore

    def ports(self) -> ServicePorts:
        return ServicePorts(
            router=self.router,
            metrics=FakeMetrics(router=self.router),
            deployer=self.deployer,
            checks=[FakeCheck()],
            migrations=self.runner,
        )

    def start(self, spec: ServiceSpec) -> Machine:
        return Machine.start(
            ServiceRelease(spec, self.ports()), self.journal, self.clock, publisher=RecordingPublisher()
        )

    def load(self) -> Machine:
        status = latest_status(self.journal)
        strategy = ServiceRelease(ServiceSpec.from_dict(status.spec), self.ports())
        return Machine.continue_(strategy, self.journal, self.clock, status)

    def states(self, rid: str) -> list[str]:
        return [r.state for r in self.journal.records(rid) if r.event in ("start", "transition")]


@pytest.fixture
def world(tmp_path: Path) -> World:
    router = FakeRouter(Weights(blue=100, green=0))
    clock = FakeClock()
    deployer = ScalingDeployer(router)
    deployer.targets = {"blue": 2, "green": 0}
    return World(
        clock, router, deployer, FakeRunner(), ReleaseStore(LocalBlobs(tmp_path), "zero-downtime", "dev", "api", clock)
    )


def spec_with(migrations: Migrations | None = MIGRATIONS, **kw: object) -> ServiceSpec:
    spec = make_spec("blue-green", bake=30, synthetic=None, stable_image="repo/api:1", stable_desired_count=2, **kw)
    return dataclasses.replace(spec, plan=dataclasses.replace(spec.plan, migrations=migrations))


def test_expand_runs_before_the_new_color_and_contract_after_the_old_one_is_gone(world: World) -> None:
    m = world.start(spec_with())
    res = m.run()
    assert res.state == SUCCEEDED, res.reason
    states = world.states(res.release_id)
    assert states[:4] == ["PENDING", COMPAT_GATE, EXPANDING, "DEPLOYING_IDLE"]
    assert states[-4:] == ["KEEPING_WARM", CONTRACT_CHECK, CONTRACTING, SUCCEEDED]
    assert world.runner.phases == ["compat", "expand", "contract"]
    # Expand before the new color was deployed; contract only after the old color was scaled down.
    calls = [c[0] for c in world.deployer.calls]
    assert calls.index("deploy_idle") >= 0 and ("scale_down", "blue") in world.deployer.calls
    env = world.runner.runs[0][3]
    assert (
        env["ZDD_OLD_IMAGE"] == "repo/api:1" and env["ZDD_NEW_IMAGE"] == "repo/api:2" and env["ZDD_PHASE"] == "compat"
    )
    # The contract waited for the contract delay after promotion (keep-warm 120 s here > 60 s).
    records = world.journal.records(res.release_id)
    contracting = next(r for r in records if r.state == CONTRACTING)
    assert contracting.ts >= float(contracting.status.facts["contract_not_before"])
    assert is_frozen(res.status) and "contract done" in res.reason


def test_keep_warm_shorter_than_the_contract_delay_is_refused() -> None:
    migrations = dataclasses.replace(MIGRATIONS, contract_delay_seconds=600.0)
    with pytest.raises(InputError) as info:
        spec_with(migrations, keep_warm_seconds=30.0)
    assert info.value.key == "keep_warm_seconds" and "contract delay (600s)" in info.value.problem


def test_the_contract_waits_for_the_contract_delay_after_promotion(world: World) -> None:
    migrations = dataclasses.replace(MIGRATIONS, contract_delay_seconds=120.0)
    m = world.start(spec_with(migrations, keep_warm_seconds=120.0))
    res = m.run()
    assert res.state == SUCCEEDED
    records = world.journal.records(res.release_id)
    warm = next(r for r in records if r.state == "KEEPING_WARM")
    contracting = next(r for r in records if r.state == CONTRACTING)
    assert contracting.ts - float(warm.status.facts["warm_since"]) >= 120.0


def test_a_failing_compat_gate_rolls_back_before_the_production_schema_changes(world: World) -> None:
    world.runner.fail = {"compat"}
    res = world.start(spec_with()).run()
    assert res.state == ROLLED_BACK
    assert "compatibility gate" in res.reason and "production schema was not changed" in res.reason
    assert world.runner.phases == ["compat"]  # no expand, no contract
    assert not [c for c in world.deployer.calls if c[0] == "deploy_idle"]  # the new color never started
    assert world.router.weights == Weights.all_to("blue") and not world.router.writes[:-1]


def test_a_failing_expand_rolls_back_and_keeps_the_expanded_schema(world: World) -> None:
    world.runner.fail = {"expand"}
    res = world.start(spec_with()).run()
    assert res.state == ROLLED_BACK and "expand failed" in res.reason
    assert world.runner.phases == ["compat", "expand"]  # nothing undoes the expand
    assert world.router.weights == Weights.all_to("blue")


def test_a_failure_after_expand_before_contract_rolls_back_and_never_contracts(world: World) -> None:
    world.deployer.healthy = False  # the new color never gets healthy
    res = world.start(spec_with()).run()
    assert res.state == ROLLED_BACK
    assert world.runner.phases == ["compat", "expand"]
    assert world.router.weights == Weights.all_to("blue")


def test_contract_refused_while_the_old_color_still_serves(world: World) -> None:
    world.deployer.scale_down = lambda color: world.deployer.calls.append(("scale_down", color))  # type: ignore[method-assign]
    res = world.start(spec_with()).run()
    assert res.state == PAUSED
    assert res.reason.startswith("contract refused: blue (the old version) still serves: 2 healthy targets")
    assert "contract" not in world.runner.phases
    assert not is_frozen(res.status)
    # Once the old color is gone, promote contracts.
    world.deployer.targets["blue"] = 0
    res = world.load().promote()
    assert res.state == SUCCEEDED and world.runner.phases[-1] == "contract"


def test_contract_refused_when_the_load_balancer_still_routes_to_the_old_color(world: World) -> None:
    def put_some_traffic_back() -> None:
        world.router.weights = Weights(blue=10, green=90)

    world.clock.on_sleep(lambda now: None)
    spec = spec_with()
    m = world.start(spec)
    # Run to CONTRACT_CHECK, then move traffic behind the driver's back.
    while m.status.state != CONTRACT_CHECK:
        m.strategy.handlers[m.status.state](m)
    put_some_traffic_back()
    res = m.run()
    assert res.state == PAUSED and "the load balancer routes {'blue': 10, 'green': 90}" in res.reason
    assert "contract" not in world.runner.phases
    # Abort before the contract: traffic goes back to the old color, which still serves.
    res = world.load().abort()
    assert res.state == ROLLED_BACK and world.router.weights == Weights.all_to("blue")


def test_abort_in_contract_check_redeploys_the_old_color_before_moving_traffic(world: World) -> None:
    m = world.start(spec_with())
    while m.status.state != CONTRACT_CHECK:
        m.strategy.handlers[m.status.state](m)
    assert world.deployer.targets["blue"] == 0
    res = world.load().abort("changed my mind")
    assert res.state == ROLLED_BACK, res.reason
    assert ("deploy_idle", "blue", "repo/api:1", 2) in world.deployer.calls
    assert world.router.weights == Weights.all_to("blue")
    assert "contract" not in world.runner.phases


def test_once_contract_starts_the_release_is_frozen(world: World) -> None:
    world.runner.fail = {"contract"}
    res = world.start(spec_with()).run()
    assert res.state == FAILED and res.reason.startswith(FROZEN)
    assert world.router.weights == Weights.all_to("green")  # no rollback
    assert not [r for r in world.journal.records(res.release_id) if r.state == ROLLING_BACK]
    with pytest.raises(FrozenError, match="frozen: roll forward only"):
        world.load().abort()
    assert world.router.weights == Weights.all_to("green")
    # Roll forward: resume runs the contract again.
    world.runner.fail = set()
    res = world.load().resume()
    assert res.state == SUCCEEDED and world.runner.phases.count("contract") == 2


def test_a_port_error_while_contracting_stops_frozen_not_rolled_back(world: World) -> None:
    world.runner.raise_on = {"contract"}
    res = world.start(spec_with()).run()
    assert res.state == FAILED and FROZEN in res.reason
    assert world.router.weights == Weights.all_to("green")


def test_an_abort_request_from_another_process_is_ignored_once_frozen(world: World) -> None:
    m = world.start(spec_with())
    world.runner.on_run["contract"] = lambda: world.journal.request_abort(m.status.release_id, "please")
    res = m.run()
    assert res.state == SUCCEEDED
    assert world.router.weights == Weights.all_to("green")


@pytest.mark.parametrize("state", [COMPAT_GATE, EXPANDING, CONTRACT_CHECK, CONTRACTING])
def test_killed_in_a_migration_state_resume_finishes(world: World, state: str) -> None:
    m = world.start(spec_with())

    def die_after(state_: str) -> None:
        original = world.journal.append

        def append(record):  # type: ignore[no-untyped-def]
            original(record)
            if record.state == state_ and record.event == "transition":
                raise Killed

        world.journal.append = append  # type: ignore[method-assign]

    die_after(state)
    with pytest.raises(Killed):
        m.run()
    del world.journal.append  # the next driver's journal works
    assert latest_status(world.journal).state == state
    res = world.load().resume()
    assert res.state == SUCCEEDED
    assert world.router.weights == Weights.all_to("green")
    # Handlers run twice at most for the state killed in; every phase ran.
    assert {"compat", "expand", "contract"} <= set(world.runner.phases)


def test_old_journals_without_migrations_still_load() -> None:
    spec = spec_with(None)
    data = spec.to_dict()
    del data["plan"]["migrations"]
    del data["stable_image"]
    again = ServiceSpec.from_dict(data)
    assert again.plan.migrations is None and again.stable_image == ""
    assert Plan.from_dict(spec_with().plan.to_dict()).migrations == MIGRATIONS


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({}, "expand_command"),
        ({"expand_command": "up"}, "compat_command"),
        ({"compat_command": "x", "contract_command": "c"}, "compat_command"),
        ({"contract_command": "c", "contract_delay_seconds": -1}, "contract_delay_seconds"),
        ({"expand_command": "up", "compat_command": "x", "contract_delay_seconds": 5}, "contract_delay_seconds"),
        ({"contract_command": "'unbalanced"}, "contract_command"),
        ({"contract_command": "   "}, "contract_command"),
    ],
)
def test_bad_migrations_are_refused_naming_the_setting(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(InputError) as info:
        Migrations(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key


def test_a_plan_with_migrations_needs_a_runner(world: World) -> None:
    world.runner = None  # type: ignore[assignment]
    res = world.start(spec_with()).run()
    assert res.state == ROLLED_BACK and "no migration runner" in res.reason


def test_promote_needs_a_paused_release(world: World) -> None:
    with pytest.raises(StateError, match="promote needs a PAUSED release"):
        world.start(spec_with()).promote()
