"""End-to-end releases against moto in server mode: real ELBv2/CloudWatch/SNS API calls.

What moto cannot do, and how these tests deal with it (see shared anchors):
- no composite alarms: the stack's composite name is kept in the outputs but absent in moto, so
  the metrics source reads the member alarms and says so (source "members");
- alarms never change state by themselves: tests drive them with `set_alarm_state`;
- no percentile statistics (get_metric_data answers 500 for p99/PR): the source runs with
  `percentiles=False` and the analysis with `require_latency=False`; p99/Apdex gates are covered
  by the pure analysis tests instead;
- no Pulumi CLI here: `up` is a fake Stack whose `up` writes the configured weights to the rule
  the way the program's ListenerRule would.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import Weights
from zero_downtime.contract.release_state import ColorState, ServiceState
from zero_downtime.driver.adapters.aws.router import ElbRuleRouter
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.compose import Driver, Runtime, Target
from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.machine import Machine, latest_status
from zero_downtime.driver.core.plan import build_plan
from zero_downtime.driver.core.ports import EventPublisher
from zero_downtime.driver.core.service import ServicePorts, ServiceRelease, ServiceSpec
from zero_downtime.store.local import LocalBlobs

from tests.driver.aws_world import (
    FakeProgram,
    build_paired_service,
    feed_traffic,
    put_traffic,
    rule_weights,
)
from tests.driver.clock import FakeClock
from tests.driver.fake_stack import FakeStack

RPS = 20.0


@dataclass
class Env:
    aws: dict[str, Any]
    entry: dict[str, Any]
    stack: FakeStack
    clock: FakeClock
    ports: ServicePorts
    publisher: EventPublisher
    journal: ReleaseStore

    def weights(self) -> dict[str, int]:
        return rule_weights(self.aws["elbv2"], self.entry["productionRuleArn"], self.entry)

    def start(self, spec: ServiceSpec, **kw: Any) -> Machine:
        strategy = ServiceRelease(spec, self.ports)
        return Machine.start(strategy, self.journal, self.clock, publisher=self.publisher, **kw)

    def release(self, spec: ServiceSpec) -> Any:
        return self.start(spec).run()


def make_env(aws: dict[str, Any], tmp_path: Path, *, apply: bool = True) -> Env:
    entry = build_paired_service(aws)
    (tmp_path / "Pulumi.yaml").write_text("name: zero-downtime\n")
    blobs = LocalBlobs(tmp_path / "store")
    stack = FakeStack({"services": {"api": entry}}, on_up=FakeProgram(aws, entry, blobs) if apply else None)
    clock = FakeClock(start=time.time() - 3600)
    # The composition root builds the ports exactly as `zdd-release` does.
    target = Target(stack="dev", service="api", work_dir=tmp_path, store_url=blobs.url, percentiles=False, notify=True)
    driver = Driver(
        target, Runtime(open_stack=lambda name, work_dir: stack, clients=aws, clock=clock, health_poll_seconds=1.0)
    )
    service = driver.service_outputs()
    state = ServiceState(
        live_color="blue",
        weights=service.weights,
        blue=ColorState(service.blue.image, service.blue.desired_count),
        green=ColorState(service.green.image, service.green.desired_count),
    )
    driver.journal.write_service_state(state)
    ports = driver.service_ports(service, state)
    return Env(aws, entry, stack, clock, ports, driver.publisher(service), driver.journal)


def traffic(env: Env, green_error_rate: Callable[[float], float] = lambda now: 0.0) -> None:
    feed_traffic(env.clock, env.aws, env.entry, green_error_rate, rps=RPS)


def spec(strategy: str = "canary", **plan: Any) -> ServiceSpec:
    if strategy == "canary":
        plan.setdefault("steps", [10, 50, 100])
        plan.setdefault("interval", 60)
    return ServiceSpec(
        stack="dev",
        service="api",
        image="repo/api:2",
        desired_count=2,
        stable_color="blue",
        plan=build_plan(strategy, **plan),
        analysis=AnalysisConfig(min_requests=20, threshold=2, poll_seconds=15, require_latency=False),
        keep_warm_seconds=60,
        verify_timeout_seconds=5,
        verify_poll_seconds=1,
        health_timeout_seconds=30,
    )


def released(env: Env) -> ServiceState:
    """The service's release state as a fresh reader of the store sees it."""
    state = ReleaseStore(
        LocalBlobs(Path(env.journal.blobs.url[len("file://") :])), "zero-downtime", "dev", "api", env.clock
    )
    found = state.service_state()
    assert found is not None
    return found


def test_healthy_canary_promotes_green(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    sqs = __import__("boto3").client("sqs", region_name="us-east-1", endpoint_url=aws["url"])
    queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["sns"].subscribe(TopicArn=env.entry["notificationTopicArn"], Protocol="sqs", Endpoint=qarn)
    traffic(env)
    ctl = env.start(spec())
    res = ctl.run()
    assert res.state == "SUCCEEDED", res.reason
    assert env.weights() == {"blue": 0, "green": 100}
    state = released(env)
    assert state.green == ColorState("repo/api:2", 2) and state.live_color == "green"
    assert state.blue.desired_count == 0
    assert not [c for c in env.stack.calls if c[0] == "set_config"]  # git's stack config is never written
    assert env.entry["liveColor"] == "green" and env.entry["blue"]["desiredCount"] == 0  # what `up` applied
    states = []
    for _ in range(5):
        msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            break
        states += [json.loads(json.loads(m["Body"])["Message"])["state"] for m in msgs]
    assert "PENDING" in states and "SUCCEEDED" in states


def test_alarm_mid_step_restores_stable_within_bound(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    traffic(env)
    fired: dict[str, float] = {}

    def fire(now: float) -> None:
        if not fired and env.weights() == {"blue": 50, "green": 50}:
            aws["cloudwatch"].set_alarm_state(
                AlarmName="api-green-5xx", StateValue="ALARM", StateReason="test: 5xx burst"
            )
            fired["wall"] = time.monotonic()

    env.clock.on_sleep(fire)
    res = env.release(spec())
    restored_wall = time.monotonic()
    assert res.state == "ROLLED_BACK"
    assert env.weights() == {"blue": 100, "green": 0}
    assert "api-green-5xx" in res.reason and "[members]" in res.reason
    # Bound: fast path plus verification, well under the 5 s verify timeout of the spec.
    assert restored_wall - fired["wall"] < 5.0
    assert res.rollback_seconds is not None and res.rollback_seconds <= 5
    last = env.journal.last(res.release_id)
    assert last is not None and last.state == "ROLLED_BACK"
    state = released(env)
    assert state.live_color == "blue" and state.green.desired_count == 0 and state.weights.blue == 100


def test_metric_breach_rolls_back(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    traffic(env, green_error_rate=lambda now: 0.3)
    res = env.release(spec())
    assert res.state == "ROLLED_BACK"
    assert "error rate" in res.reason
    assert env.weights() == {"blue": 100, "green": 0}
    fails = [
        r
        for r in env.journal.records(res.release_id)
        if r.event == "check" and r.detail["verdict"]["outcome"] == "fail"
    ]
    # The sequential judge (the default) rolls back on the first conclusive check: 30% against 0%.
    assert len(fails) == 1 and fails[0].detail["verdict"]["conclusive"] is True
    assert fails[0].detail["verdict"]["requests"] >= 1


def test_blue_green_flip_and_unhealthy_flip(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    traffic(env)
    ok = env.release(spec("blue-green", bake=60))
    assert ok.state == "SUCCEEDED"
    assert env.weights() == {"blue": 0, "green": 100}


def test_blue_green_rolls_back_on_errors_after_the_flip(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    traffic(env, green_error_rate=lambda now: 0.5)
    res = env.release(spec("blue-green", bake=60))
    assert res.state == "ROLLED_BACK"
    assert env.weights() == {"blue": 100, "green": 0}


class DroppingRouter:
    """Wraps the real router but never writes: a rule that did not change."""

    def __init__(self, inner: ElbRuleRouter) -> None:
        self.inner = inner

    def set_weights(self, weights: Weights) -> None:
        return None

    def observed_weights(self) -> Weights:
        return self.inner.observed_weights()


def test_verify_catches_a_rule_that_did_not_change(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path, apply=False)
    env.ports = dataclasses.replace(env.ports, router=DroppingRouter(env.ports.router))  # type: ignore[arg-type]
    traffic(env)
    res = env.release(spec())
    assert res.state == "ROLLED_BACK"
    assert res.reason.startswith("verify: load balancer reports {'blue': 100, 'green': 0}")
    assert not [r for r in res.trail if r.state == "BAKING"]


def test_router_keeps_stickiness_and_normalises_relative_weights(aws: dict[str, Any]) -> None:
    entry = build_paired_service(aws)
    elbv2 = aws["elbv2"]
    tgs = {c: entry[c]["targetGroupArn"] for c in ("blue", "green")}
    elbv2.modify_rule(
        RuleArn=entry["productionRuleArn"],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": tgs["blue"], "Weight": 1},
                        {"TargetGroupArn": tgs["green"], "Weight": 3},
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300},
                },
            }
        ],
    )
    router = ElbRuleRouter(elbv2, entry["productionRuleArn"], tgs)
    assert router.observed_weights() == Weights(25, 75)
    router.set_weights(Weights(90, 10))
    rule = elbv2.describe_rules(RuleArns=[entry["productionRuleArn"]])["Rules"][0]
    fwd = rule["Actions"][0]["ForwardConfig"]
    assert fwd["TargetGroupStickinessConfig"]["Enabled"] is True
    assert router.observed_weights() == Weights(90, 10)


def test_metrics_window_and_member_alarm_fallback(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    t0 = env.clock.now()
    put_traffic(aws["cloudwatch"], env.entry, "green", t0 + 10, 100, 7)
    put_traffic(aws["cloudwatch"], env.entry, "green", t0 + 70, 50, 1)
    put_traffic(aws["cloudwatch"], env.entry, "green", t0 + 500, 999, 999)  # outside the window
    m = env.ports.metrics.window("green", t0, t0 + 120)
    assert (m.requests, m.errors_5xx) == (150, 8)
    assert m.p99_seconds is None  # percentiles off: moto cannot compute them
    status = env.ports.metrics.alarms("green")
    assert status.source == "members" and not status.is_firing
    assert "composite api-green-health not found" in status.detail
    aws["cloudwatch"].set_alarm_state(AlarmName="api-green-latency", StateValue="ALARM", StateReason="test")
    assert env.ports.metrics.alarms("green").firing == ("api-green-latency",)
    assert env.ports.metrics.alarms("blue").firing == ()


def test_wait_healthy_times_out_without_targets(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    assert env.ports.deployer.wait_healthy("green", 10) is True
    green_tg = env.entry["green"]["targetGroupArn"]
    targets = aws["elbv2"].describe_target_health(TargetGroupArn=green_tg)
    aws["elbv2"].deregister_targets(
        TargetGroupArn=green_tg,
        Targets=[d["Target"] for d in targets["TargetHealthDescriptions"]],
    )
    before = env.clock.now()
    assert env.ports.deployer.wait_healthy("green", 10) is False
    assert env.clock.now() - before == pytest.approx(10)


def test_resume_after_kill_mid_bake_against_emulator(aws: dict[str, Any], tmp_path: Path) -> None:
    env = make_env(aws, tmp_path)
    traffic(env)

    class Killed(BaseException):
        pass

    def kill(p: Any) -> None:
        if p.state == "BAKING" and p.step == 1 and p.requests is not None:
            raise Killed

    ctl = env.start(spec(), on_progress=kill)
    with pytest.raises(Killed):
        ctl.run()
    assert env.weights() == {"blue": 50, "green": 50}
    status = latest_status(env.journal)
    strategy = ServiceRelease(ServiceSpec.from_dict(status.spec), env.ports)
    res = Machine.continue_(strategy, env.journal, env.clock, status).resume()
    assert res.state == "SUCCEEDED"
    assert env.weights() == {"blue": 0, "green": 100}
