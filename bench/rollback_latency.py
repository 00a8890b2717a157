"""Rollback latency: from the failing check to the load balancer rule reporting 100% stable.

Two paths through the real controller (driver/controller.py), against moto's ELBv2 on 127.0.0.1:
- fast path: the controller sets the rule weights directly (ELBv2 modify_rule), verifies them
  with describe_rules, then reconciles the stack;
- reconcile-only: the direct write is unavailable, so traffic moves only when `up` finishes.
  `up` is simulated: it sleeps --up-seconds, then writes the rule as the program would.
The figure is what the controller records (detection time -> verified restore), for each run.

Run: .venv/bin/python bench/rollback_latency.py [--runs 20] [--up-seconds 2.0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from moto.server import ThreadedMotoServer

from driver.analysis import AnalysisConfig
from driver.aws.clients import retry_config
from driver.aws.router import ElbRuleRouter
from driver.controller import Ports, ReleaseController, ReleaseSpec, State
from driver.journal import Journal
from driver.plan import build_plan
from driver.ports import AlarmStatus, Color, PortError, SystemClock, Weights, WindowMetrics
from tests.driver.aws_world import build_paired_service


class NoFastPath:
    """A router whose direct write is unavailable: forces the reconcile-only path."""

    def __init__(self, inner: ElbRuleRouter) -> None:
        self.inner = inner

    def set_weights(self, weights: Weights) -> None:
        raise PortError("fast path disabled for the benchmark")

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

    def reconcile(self, weights: Weights, live_color: Color) -> None:
        time.sleep(self.up_seconds)
        self.router.set_weights(weights)

    def scale_down(self, color: Color) -> None:
        return None


class QuietMetrics:
    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        return WindowMetrics(requests=0, errors_5xx=0)

    def alarms(self, color: Color) -> AlarmStatus:
        return AlarmStatus()


def one_run(router: Any, real_router: ElbRuleRouter, up_seconds: float, journal_dir: Path) -> float:
    """Put the release mid-canary (50/50), then let the controller roll back; return seconds."""
    real_router.set_weights(Weights(50, 50))
    spec = ReleaseSpec(
        stack="bench",
        service="api",
        image="repo/api:2",
        desired_count=1,
        stable_color="blue",
        plan=build_plan("canary", steps=[50, 100], interval=60),
        analysis=AnalysisConfig(),
        verify_timeout_seconds=up_seconds + 30,
        verify_poll_seconds=0.02,
    )
    ports = Ports(
        router=router,
        metrics=QuietMetrics(),
        deployer=SimulatedUpDeployer(real_router, up_seconds),
        clock=SystemClock(),
    )
    journal = Journal(journal_dir, "bench", "api")
    ctl = ReleaseController.start(spec, ports, journal)
    ctl.state, ctl.step = State.BAKING, 0  # as if the failing check arrived mid-step
    res = ctl.abort("benchmark: failing check")
    if res.state is not State.ROLLED_BACK or res.rollback_seconds is None:
        raise SystemExit(f"rollback did not complete: {res.state} {res.reason}")
    if real_router.observed_weights() != Weights(100, 0):
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
    logging.getLogger("driver").setLevel(logging.ERROR)
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
        aws = {n: boto3.client(n, **kw) for n in ("elbv2", "ec2", "cloudwatch", "sns")}
        entry = build_paired_service(aws)
        real = ElbRuleRouter(
            aws["elbv2"],
            entry["productionRuleArn"],
            {c: entry[c]["targetGroupArn"] for c in ("blue", "green")},
        )
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
