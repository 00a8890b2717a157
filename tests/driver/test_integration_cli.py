"""A real local stack through the real Automation API, with the AWS provider pointed at moto.

Runs only where the Pulumi CLI is on PATH (users' machines, their CI). It cannot run on the
machine this project is developed on: the Pulumi CLI is not installable there.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENDPOINT_SERVICES = ["autoscaling", "cloudwatch", "cloudwatchlogs", "ec2", "ecs", "elbv2", "iam", "sns", "ssm", "sts"]

pytestmark = pytest.mark.skipif(
    shutil.which("pulumi") is None,
    reason=(
        "needs the Pulumi CLI on PATH to drive a real local stack (`pulumi login --local`, "
        "Pulumi.local.yaml against moto); the CLI is not installable on this machine"
    ),
)


@pytest.fixture
def local_stack(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from pulumi import automation as auto

    # `pulumi login --local`, but into a throwaway directory so no real backend is touched.
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path / 'backend'}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "integration-test-only")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)  # boto3 in the driver
    (tmp_path / "backend").mkdir()
    stack = auto.create_or_select_stack(stack_name="local", work_dir=str(PROJECT_ROOT))
    for service in ENDPOINT_SERVICES:
        stack.set_config(f"aws:endpoints[0].{service}", auto.ConfigValue(moto_url), path=True)
    stack.up(on_output=lambda line: None)
    try:
        yield stack
    finally:
        stack.destroy(on_output=lambda line: None)
        # Put the committed endpoints back: the test rewrote them in Pulumi.local.yaml.
        for service in ENDPOINT_SERVICES:
            stack.set_config(
                f"aws:endpoints[0].{service}",
                auto.ConfigValue("http://127.0.0.1:4566"),
                path=True,
            )


def _feed(stop: threading.Event, entry: dict[str, Any], green_errors: float) -> None:
    """Publish ALB-style metrics for both colors every half second (ECS tasks do not run in moto)."""
    import boto3

    from tests.driver.aws_world import put_traffic

    cw = boto3.client("cloudwatch")
    for _ in range(2400):  # bounded: 20 minutes at most
        if stop.is_set():
            return
        now = time.time()
        put_traffic(cw, entry, "blue", now, 20, 0)
        put_traffic(cw, entry, "green", now, 20, int(20 * green_errors))
        stop.wait(0.5)


def _register_green_targets(entry: dict[str, Any]) -> None:
    import boto3

    elbv2 = boto3.client("elbv2")
    elbv2.register_targets(
        TargetGroupArn=entry["green"]["targetGroupArn"],
        Targets=[{"Id": "10.0.1.10", "Port": 8080}],
    )


@pytest.mark.parametrize(("green_errors", "expected"), [(0.0, 0), (0.5, 3)], ids=["canary", "rollback"])
def test_canary_and_rollback_through_the_real_automation_api(
    local_stack: Any, tmp_path: Path, green_errors: float, expected: int
) -> None:
    from zero_downtime.driver.cli import main

    entry = local_stack.outputs()["services"].value["web"]
    _register_green_targets(entry)
    stop = threading.Event()
    feeder = threading.Thread(target=_feed, args=(stop, entry, green_errors), daemon=True)
    feeder.start()
    try:
        code = main(
            [
                "deploy",
                "--stack",
                "local",
                "--service",
                "web",
                "--work-dir",
                str(PROJECT_ROOT),
                "--store",
                f"file://{tmp_path / 'store'}",
                "--image",
                "registry.example.com/shop/web:1.5.0",
                "--steps",
                "50,100",
                "--interval",
                "5",
                "--poll",
                "2",
                "--min-requests",
                "5",
                "--keep-warm",
                "2",
                "--no-percentiles",
                "--no-test-check",
            ]
        )
    finally:
        stop.set()
        feeder.join(timeout=5)
    assert code == expected
    outputs = local_stack.outputs()["services"].value["web"]
    assert outputs["liveColor"] == ("green" if expected == 0 else "blue")
    assert list((tmp_path / "store" / "zero-downtime" / "local" / "journal" / "web").glob("*/00000000.json"))
