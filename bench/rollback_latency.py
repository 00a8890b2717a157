"""Rollback latency: from the failing check to the load balancer rule reporting 100% stable.

Two paths through the real release machine and service strategy (driver/core/), against moto's
ELBv2 on 127.0.0.1:
- fast path: the strategy sets the rule weights directly (ELBv2 modify_rule), verifies them with
  describe_rules, then reconciles the stack;
- reconcile-only: the direct write of the rollback is unavailable, so traffic moves only when `up`
  finishes. `up` is simulated: it sleeps --up-seconds, then writes the rule as the program would.
Each run is a real canary release whose first step (50%) meets a firing alarm at its first check.
The figure is what the machine records (detection time -> verified restore). It leaves out how long
the signal takes to reach the driver: on AWS, ALB metrics arrive in 60-second periods.

Run: .venv/bin/python bench/rollback_latency.py [--runs 20] [--up-seconds 2.0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from zero_downtime.contract import COLORS, Color, Weights
from zero_downtime.driver.adapters.aws.clients import retry_config
from zero_downtime.driver.adapters.aws.router import ElbRuleRouter
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.errors import PortError
from zero_downtime.driver.core.machine import Machine
from zero_downtime.driver.core.plan import build_plan
from zero_downtime.driver.core.ports import AlarmStatus, SystemClock, WindowMetrics
from zero_downtime.driver.core.service import ServicePorts, ServiceRelease, ServiceSpec
from zero_downtime.store.local import LocalBlobs

STABLE = Weights(100, 0)


def weighted_rule(elbv2: Any, ec2: Any) -> tuple[str, dict[Color, str]]:
    """An ALB with a listener rule forwarding 100/0 to two target groups (what the stack creates)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elbv2.create_load_balancer(Name="bench-alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    tgs = {
        c: elbv2.create_target_group(Name=f"bench-{c}", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for c in COLORS
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]
    forward = {"TargetGroups": [{"TargetGroupArn": tgs[c], "Weight": STABLE.of(c)} for c in COLORS]}
    rule = elbv2.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=50000,
        Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[{"Type": "forward", "ForwardConfig": forward}],
    )["Rules"][0]
    return rule["RuleArn"], tgs


class NoFastPath:
    """A router whose direct write of the rollback is unavailable: forces the reconcile-only path."""

    def __init__(self, inner: ElbRuleRouter) -> None:
        self.inner = inner

    def set_weights(self, weights: Weights) -> None:
        if weights == STABLE:
            raise PortError("fast path disabled for the benchmark")
        self.inner.set_weights(weights)

    def observed_weights(self) -> Weights:
        return self.inner.observed_weights()


class SimulatedUpDeployer:
    """`reconcile` = a Pulumi `up` of `up_seconds` that ends by writing the rule."""

    def __init__(self, router: ElbRuleRouter, up_seconds: float) -> None:
        self.router = router
        self.up_seconds = up_seconds

    def deploy_idle(self, color: Color, image: str, desired_count: int) -> None:
        return None

    def wait_healthy(self, color: Color, timeout_seconds: float) -> bool:
        return True

    def healthy_targets(self, color: Color) -> int:
        return 1

    def declare(self, weights: Weights, live_color: Color) -> None:
        return None

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        if weights == STABLE:  # only the rollback pays for an `up` here; the forward shift is direct
            time.sleep(self.up_seconds)
        self.router.set_weights(weights)

    def scale_down(self, color: Color) -> None:
        return None


class AlarmOnCanary:
    """The green alarm fires as soon as green takes traffic: the first check detects it."""

    def __init__(self, router: ElbRuleRouter) -> None:
        self.router = router

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        return WindowMetrics(requests=0, errors_5xx=0)

    def alarms(self, color: Color) -> AlarmStatus:
        if color == "green" and self.router.observed_weights().green > 0:
            return AlarmStatus(firing=("bench-green-5xx",), source="members")
        return AlarmStatus()


def one_run(router: Any, real_router: ElbRuleRouter, up_seconds: float, journal_dir: Path) -> float:
    """A canary whose first step meets a firing alarm; return the recorded detection -> restore seconds."""
    real_router.set_weights(STABLE)
    spec = ServiceSpec(
        stack="bench",
        service="api",
        image="repo/api:2",
        desired_count=1,
        stable_color="blue",
        plan=build_plan("canary", steps=[50, 100], interval=60),
        analysis=AnalysisConfig(poll_seconds=0.01),
        verify_timeout_seconds=up_seconds + 30,
        verify_poll_seconds=0.02,
    )
    ports = ServicePorts(
        router=router,
        metrics=AlarmOnCanary(real_router),
        deployer=SimulatedUpDeployer(real_router, up_seconds),
    )
    release = ServiceRelease(spec, ports)
    store = ReleaseStore(LocalBlobs(journal_dir), "bench", "bench", "api", SystemClock())
    res = Machine.start(release, store, SystemClock()).run()
    if res.state != "ROLLED_BACK" or res.rollback_seconds is None:
        raise SystemExit(f"rollback did not complete: {res.state} {res.reason}")
    if real_router.observed_weights() != STABLE:
        raise SystemExit("rule does not report 100% stable after the rollback")
    return float(res.rollback_seconds)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per path (>= 20)")
    parser.add_argument("--up-seconds", type=float, default=2.0, help="simulated `up` duration")
    args = parser.parse_args()
    if args.runs < 20:
        parser.error("--runs must be at least 20")
    if args.up_seconds <= 0:
        parser.error("--up-seconds must be > 0")

    # The emulator's access log and the expected "fast path failed" warnings are noise here.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("zero_downtime").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        kw = {
            "region_name": "us-east-1",
            "endpoint_url": url,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "config": retry_config(2),
        }
        elbv2 = boto3.client("elbv2", **kw)
        rule_arn, target_groups = weighted_rule(elbv2, boto3.client("ec2", **kw))
        real = ElbRuleRouter(elbv2, rule_arn, target_groups)
        results: dict[str, list[float]] = {"fast path": [], "reconcile only": []}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                # Interleaved so drift in the emulator affects both paths alike.
                results["fast path"].append(one_run(real, real, args.up_seconds, Path(tmp) / f"f{i}"))
                results["reconcile only"].append(one_run(NoFastPath(real), real, args.up_seconds, Path(tmp) / f"r{i}"))
    finally:
        server.stop()

    print("rollback latency, failing check -> rule reports 100% stable (moto ELBv2, 127.0.0.1)")
    print(f"runs per path: {args.runs}; simulated `up`: {args.up_seconds:.2f} s")
    print(f"{'path':<16}{'median s':>10}{'p95 s':>10}{'min s':>10}{'max s':>10}")
    for name, values in results.items():
        print(
            f"{name:<16}{statistics.median(values):>10.3f}{p95(values):>10.3f}{min(values):>10.3f}{max(values):>10.3f}"
        )
    fast, slow = results["fast path"], results["reconcile only"]
    med_ratio = statistics.median(slow) / max(statistics.median(fast), 1e-9)
    p95_ratio = p95(slow) / max(p95(fast), 1e-9)
    print(f"ratio reconcile-only / fast path: median {med_ratio:.1f}x, p95 {p95_ratio:.1f}x")


if __name__ == "__main__":
    main()
