"""ASG fleet releases: instance refresh followed under analysis, rolled back or cancelled.

moto implements no instance refresh (the first test proves it, so this file notices when moto
gains it): the autoscaling API is a recording fake that speaks boto3's request/response shapes,
driven through the real `InstanceRefresher`. Everything else (journal, analysis) is real.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from driver.analysis import AnalysisConfig
from driver.aws.clients import AWS_ERRORS
from driver.aws.instance_refresh import InstanceRefresher
from driver.cli import ExitCode, Runtime, main
from driver.clock import FakeClock
from driver.controller import SpecError, State
from driver.fleet_release import FleetRelease, FleetSpec
from driver.journal import Journal
from driver.ports import AlarmStatus, WindowMetrics
from driver.stack_ops import StackOps
from tests.driver.fake_stack import FakeStack

GROUP = "zero-downtime-dev-batch-asg"


def test_moto_has_no_instance_refresh(aws: dict[str, Any]) -> None:
    import boto3

    from driver.aws.clients import retry_config

    asg = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=aws["url"], config=retry_config(1))
    # moto answers "not implemented" with an HTML 500 page, which botocore cannot parse.
    with pytest.raises(AWS_ERRORS):
        asg.start_instance_refresh(AutoScalingGroupName=GROUP, Preferences={})


def _error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "op")


class FakeAutoScaling:
    """The four instance-refresh calls, with AWS's statuses. Each describe advances by 25%."""

    def __init__(self, reversible: bool = True) -> None:
        self.refreshes: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reversible = reversible
        self.fail_at: int | None = None

    def _active(self) -> dict[str, Any] | None:
        return next((r for r in self.refreshes if r["Status"] in {"Pending", "InProgress"}), None)

    def start_instance_refresh(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("start", kw))
        if self._active():
            raise _error("InstanceRefreshInProgress", "an instance refresh is already running")
        rid = f"ir-{len(self.refreshes) + 1}"
        self.refreshes.insert(0, {"InstanceRefreshId": rid, "Status": "Pending", "PercentageComplete": 0})
        return {"InstanceRefreshId": rid}

    def describe_instance_refreshes(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe", kw))
        for r in self.refreshes:
            if r["Status"] in {"Pending", "InProgress"}:
                r["Status"] = "InProgress"
                r["PercentageComplete"] = min(100, r["PercentageComplete"] + 25)
                if self.fail_at is not None and r["PercentageComplete"] >= self.fail_at:
                    r["Status"], r["StatusReason"] = "Failed", "instances failed health checks"
                elif r["PercentageComplete"] == 100:
                    r["Status"] = "Successful"
            elif r["Status"] == "RollbackInProgress":
                r["Status"] = "RollbackSuccessful"
        ids = kw.get("InstanceRefreshIds")
        items = [r for r in self.refreshes if not ids or r["InstanceRefreshId"] in ids]
        return {"InstanceRefreshes": [dict(r) for r in items[: kw.get("MaxRecords", 50)]]}

    def cancel_instance_refresh(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("cancel", kw))
        active = self._active()
        if not active:
            raise _error("ActiveInstanceRefreshNotFound", "no active refresh")
        active["Status"] = "Cancelled"
        return {"InstanceRefreshId": active["InstanceRefreshId"]}

    def rollback_instance_refresh(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("rollback", kw))
        active = self._active()
        if not active:
            raise _error("ActiveInstanceRefreshNotFound", "no active refresh")
        if not self.reversible:
            raise _error("IrreversibleInstanceRefresh", "the launch template uses $Latest")
        active["Status"] = "RollbackInProgress"
        return {"InstanceRefreshId": active["InstanceRefreshId"]}

    def ops(self) -> list[str]:
        return [c[0] for c in self.calls if c[0] != "describe"]


class Metrics:
    def __init__(self) -> None:
        self.error_rate = 0.0
        self.firing: tuple[str, ...] = ()

    def window(self, start: float, end: float) -> WindowMetrics:
        n = int((end - start) * 10)
        return WindowMetrics(requests=n, errors_5xx=int(n * self.error_rate), p99_seconds=0.1)

    def alarms(self) -> AlarmStatus:
        return AlarmStatus(firing=self.firing, source="members" if self.firing else "none")


PREFS = {"MinHealthyPercentage": 90, "AutoRollback": False}


def setup(tmp_path: Path, *, adopt: bool = False, reversible: bool = True):
    asg = FakeAutoScaling(reversible)
    clock = FakeClock()
    stack = FakeStack()
    stack.config["fleets.batch.amiId"] = "ami-0old0000"
    if adopt:
        stack.on_up = lambda cfg: asg.start_instance_refresh(AutoScalingGroupName=GROUP)
    ops = StackOps(stack, clock)
    metrics = Metrics()
    spec = FleetSpec(
        stack="dev",
        fleet="batch",
        ami_id="ami-0new1111",
        config_path="fleets.batch",
        preferences=PREFS,
        analysis=AnalysisConfig(min_requests=10, threshold=2, poll_seconds=30),
        timeout_seconds=600,
    )
    journal = Journal(tmp_path, "dev", "batch")
    rel = FleetRelease.start(spec, ops, InstanceRefresher(asg, GROUP), metrics, clock, journal)
    return rel, asg, stack, metrics, clock, journal


def test_refresh_started_when_none_is_active(tmp_path: Path) -> None:
    rel, asg, stack, *_ = setup(tmp_path)
    res = rel.run()
    assert res.state is State.SUCCEEDED
    assert stack.config["fleets.batch.amiId"] == "ami-0new1111"
    start = next(kw for op, kw in asg.calls if op == "start")
    assert start["Preferences"] == PREFS and start["Strategy"] == "Rolling"
    assert any("started" in r["reason"] for r in res.trail if r["event"] == "refresh")


def test_refresh_started_by_the_stack_update_is_adopted(tmp_path: Path) -> None:
    rel, asg, *_ = setup(tmp_path, adopt=True)
    res = rel.run()
    assert res.state is State.SUCCEEDED
    assert asg.ops() == ["start"]  # only the stack's own start, none from the driver
    assert any("adopted" in r["reason"] for r in res.trail if r["event"] == "refresh")


def test_alarm_mid_refresh_rolls_back_and_restores_the_ami(tmp_path: Path) -> None:
    rel, asg, stack, metrics, clock, _ = setup(tmp_path)
    clock.on_sleep(lambda now: setattr(metrics, "firing", ("batch-5xx",)))
    res = rel.run()
    assert res.state is State.ROLLED_BACK and "batch-5xx" in res.reason
    assert asg.ops() == ["start", "rollback"]
    assert stack.config["fleets.batch.amiId"] == "ami-0old0000"


def test_irreversible_refresh_is_cancelled(tmp_path: Path) -> None:
    rel, asg, stack, metrics, *_ = setup(tmp_path, reversible=False)
    metrics.error_rate = 0.5
    res = rel.run()
    assert res.state is State.ROLLED_BACK and "2 failed checks" in res.reason
    assert asg.ops() == ["start", "rollback", "cancel"]
    assert any("cancelled" in r["reason"] for r in res.trail if r["event"] == "refresh")
    assert stack.config["fleets.batch.amiId"] == "ami-0old0000"


def test_aws_failed_refresh_reverts_config(tmp_path: Path) -> None:
    rel, asg, stack, *_ = setup(tmp_path)
    asg.fail_at = 50
    res = rel.run()
    assert res.state is State.ROLLED_BACK
    assert "instance refresh Failed: instances failed health checks" in res.reason
    assert stack.config["fleets.batch.amiId"] == "ami-0old0000"


def test_refresh_timeout_rolls_back(tmp_path: Path) -> None:
    rel, asg, *_ = setup(tmp_path)
    asg.describe_instance_refreshes = _stuck(asg)  # type: ignore[method-assign]
    res = rel.run()
    assert res.state is State.ROLLED_BACK and "not done within 600s" in res.reason


def _stuck(asg: FakeAutoScaling):
    def describe(**kw: Any) -> dict[str, Any]:
        return {"InstanceRefreshes": [dict(r) for r in asg.refreshes]}

    return describe


def test_resume_after_kill_follows_the_same_refresh(tmp_path: Path) -> None:
    rel, asg, stack, metrics, clock, journal = setup(tmp_path)

    class Killed(BaseException):
        pass

    def kill(now: float) -> None:
        raise Killed

    clock.on_sleep(kill)
    with pytest.raises(Killed):
        rel.run()
    clock._hooks.clear()
    again = FleetRelease.load(journal, StackOps(stack, clock), InstanceRefresher(asg, GROUP), metrics, clock)
    assert again.state == "REFRESHING"
    res = again.resume()
    assert res.state is State.SUCCEEDED
    assert asg.ops() == ["start"]


def test_bad_ami_is_refused() -> None:
    with pytest.raises(SpecError, match="--ami"):
        FleetSpec(stack="dev", fleet="batch", ami_id="latest", config_path="fleets.batch")


def _fleet_outputs() -> dict[str, Any]:
    return {
        "services": {},
        "fleets": {
            "batch": {
                "configPath": "fleets.batch",
                "autoScalingGroupName": GROUP,
                "targetGroupArnSuffix": "targetgroup/batch/1",
                "alarmNames": ["batch-5xx"],
                "compositeAlarmName": "batch-health",
                "refreshPreferences": PREFS,
            }
        },
    }


def test_cli_fleet_deploy_and_refusals(aws: dict[str, Any], tmp_path: Path) -> None:
    asg = FakeAutoScaling()
    stack = FakeStack(_fleet_outputs())
    stack.config["fleets.batch.amiId"] = "ami-0old0000"
    rt = Runtime(
        open_stack=lambda name, wd: stack,
        clients={"autoscaling": asg, "cloudwatch": aws["cloudwatch"]},
        clock=FakeClock(start=time.time() - 3600),
    )
    base = ["deploy", "--stack", "dev", "--service", "batch", "--work-dir", str(tmp_path)]

    def run(*extra: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        return main([*base, *extra], runtime=rt, stdout=out, stderr=err), out.getvalue(), err.getvalue()

    for bad, flag in (
        (["--ami", "nope"], "--ami"),
        ([], "--image"),
        (["--ami", "ami-0new1111", "--image", "x"], "--ami"),
    ):
        code, _, err = run(*bad)
        assert code == ExitCode.REFUSED and flag in err
    assert [c for c in stack.calls if c[0] in ("set_config", "up")] == []
    code, out, err = run("--ami", "ami-0new1111", "--json", "--poll", "30")
    assert code == ExitCode.SUCCESS, err
    report = json.loads(out)
    assert report["state"] == "SUCCEEDED"
    # No loadBalancerArnSuffix in these outputs: no ALB metrics, so success says it had no evidence.
    assert "analysis inconclusive: 0 of 50 required requests" in report["reason"]
    assert stack.config["fleets.batch.amiId"] == "ami-0new1111"
