"""The Automation API layer against a fake Stack (the Pulumi CLI is not installed here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult
from zero_downtime.contract import ContractError, Weights, parse_service
from zero_downtime.contract.release_state import ColorState, ServiceState
from zero_downtime.driver.adapters.pulumi_stack import StackOps, select_stack
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.adapters.stack_deployer import StackDeployer
from zero_downtime.driver.core.errors import BusyError, PortError, StackBusy
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fake_stack import FakeStack, command_error, concurrent_update
from tests.driver.outputs_fixtures import color_entry, service_entry


def ops_for(stack: FakeStack, **kw: object) -> tuple[StackOps, FakeClock, list[str]]:
    clock = FakeClock()
    lines: list[str] = []
    return StackOps(stack, clock, on_output=lines.append, **kw), clock, lines  # type: ignore[arg-type]


def test_config_is_written_with_path_true_and_not_secret() -> None:
    stack = FakeStack()
    ops, _, _ = ops_for(stack)
    ops.set_config({"services.api.green.image": "repo/api:2"})
    assert stack.calls == [("set_config", "services.api.green.image", "repo/api:2", True)]


def test_up_streams_output() -> None:
    stack = FakeStack()
    ops, _, lines = ops_for(stack)
    ops.up("zdd: test")
    assert stack.calls == [("up", "zdd: test")]
    assert lines == ["Updating (fake)"]


def test_concurrent_update_is_retried_with_backoff() -> None:
    stack = FakeStack()
    stack.raise_on["up"] = [concurrent_update(), concurrent_update()]
    ops, clock, _ = ops_for(stack, backoff_seconds=5, attempts=5)
    ops.up()
    assert [c for c in stack.calls if c[0] == "up"] == [("up", None)] * 3
    assert clock.slept == [5, 10]


def test_concurrent_update_reported_after_the_last_attempt() -> None:
    stack = FakeStack()
    stack.raise_on["up"] = [concurrent_update() for _ in range(3)]
    ops, clock, _ = ops_for(stack, backoff_seconds=1, attempts=3, max_backoff_seconds=1.5)
    with pytest.raises(StackBusy, match=r"another update is running.*gave up after 3 attempts") as err:
        ops.up()
    assert clock.slept == [1, 1.5]
    # Busy outside a release (the CLI exits 5), a failed operation inside one (the release rolls back).
    assert isinstance(err.value, BusyError) and isinstance(err.value, PortError)


def test_command_error_is_mapped_with_the_cli_message() -> None:
    stack = FakeStack()
    stack.raise_on["up"] = [command_error("error: aws:ecs:Service api-green: AccessDenied")]
    ops, _, _ = ops_for(stack)
    with pytest.raises(PortError, match="up failed:\nerror: aws:ecs:Service api-green"):
        ops.up()


def test_stack_lost_mid_operation_is_a_port_error() -> None:
    stack = FakeStack()
    stack.raise_on["outputs"] = [auto.StackNotFoundError(CommandResult("", "error: no stack named 'prod' found", 255))]
    ops, _, _ = ops_for(stack)
    with pytest.raises(PortError, match="stack output: stack not found"):
        ops.outputs()


def test_interrupted_update_is_repaired_with_refresh() -> None:
    stack = FakeStack()
    stack.raise_on["up"] = [
        command_error(
            "error: the current deployment has 1 resource(s) with pending operations:\n"
            "  * urn:pulumi:dev::zero-downtime::aws:ecs/service:Service::api-green, "
            "interrupted while creating"
        )
    ]
    ops, _, _ = ops_for(stack)
    ops.up()
    assert [c[0] for c in stack.calls] == ["up", "refresh", "up"]
    assert ("refresh", True) in stack.calls  # clear_pending_creates=True


def test_outputs_are_unwrapped() -> None:
    ops, _, _ = ops_for(FakeStack({"services": {"api": {"mode": "paired"}}}))
    assert ops.outputs() == {"services": {"api": {"mode": "paired"}}}


def test_select_stack_without_the_cli_says_so() -> None:
    if shutil.which("pulumi"):
        pytest.skip("a Pulumi CLI is installed; this checks the message when it is missing")
    with pytest.raises(PortError, match="Pulumi CLI is not installed"):
        select_stack("dev", Path.cwd())


def _service() -> dict:
    return {"services": {"api": service_entry("api", blue=color_entry("api", "blue", desired_count=3))}}


def test_stack_deployer_records_release_state_before_each_up(tmp_path: Path) -> None:
    stack = FakeStack()
    ops, clock, _ = ops_for(stack)
    store = ReleaseStore(LocalBlobs(tmp_path), "zero-downtime", "dev", "api", clock)
    start = ServiceState("blue", Weights(100, 0), ColorState("repo/api:1", 3), ColorState("repo/api:1", 0))
    store.write_service_state(start)
    seen: list[ServiceState | None] = []
    stack.on_up = lambda config: seen.append(
        ReleaseStore(LocalBlobs(tmp_path), "zero-downtime", "dev", "api", clock).service_state()
    )
    dep = StackDeployer(ops, parse_service(_service(), "api"), store, start, elbv2=None, clock=clock)
    dep.release_id = "r-1-x"
    dep.deploy_idle("green", "repo/api:2", 3)
    dep.declare(Weights(90, 10), "blue")  # no `up`
    dep.reconcile(Weights(90, 10), "blue")  # the same state: only the `up`
    dep.scale_down("green")
    assert [c for c in stack.calls if c[0] == "up"] == [
        ("up", "zdd: deploy repo/api:2 to api/green"),
        ("up", "zdd: api weights {'blue': 90, 'green': 10} live blue"),
        ("up", "zdd: scale api/green to 0"),
    ]
    assert not [c for c in stack.calls if c[0] == "set_config"]  # git's config is never written
    # Each `up` ran the program against what was recorded just before it.
    assert [s.green if s else None for s in seen] == [
        ColorState("repo/api:2", 3),
        ColorState("repo/api:2", 3),
        ColorState("repo/api:2", 0),
    ]
    assert seen[1] is not None and seen[1].weights == Weights(90, 10) and seen[1].release_id == "r-1-x"


def test_the_drivers_up_runs_with_the_policy_packs() -> None:
    stack = FakeStack()
    ops = StackOps(stack, FakeClock(), policy_packs=["/work/policies"])
    ops.up("zdd: x")
    assert stack.up_kwargs[-1]["policy_packs"] == ["/work/policies"]
    StackOps(stack, FakeClock()).up("zdd: y")
    assert "policy_packs" not in stack.up_kwargs[-1]


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda s: s["services"]["api"].pop("productionRuleArn"), "services.api.productionRuleArn"),
        (lambda s: s["services"]["api"].update(liveColor="red"), "services.api.liveColor"),
        (lambda s: s["services"]["api"]["green"].pop("targetGroupArn"), "services.api.green.targetGroupArn"),
        (lambda s: s["services"]["api"].update(weights={"blue": 70, "green": 70}), "services.api.weights"),
        (lambda s: s.pop("services"), "services.api"),
    ],
    ids=["rule", "live-color", "target-group", "weights", "no-services"],
)
def test_outputs_errors_name_the_key(mutate, key: str) -> None:
    data = _service()
    mutate(data)
    with pytest.raises(ContractError) as err:
        parse_service(data, "api")
    assert err.value.key == key
