"""`deploy --ami`, `resume` and `abort` for fleets through the CLI: the fake stack and autoscaling of
`fleet_world.py`, CloudWatch alarms in moto (server mode on 127.0.0.1)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.driver.cli import ExitCode, Runtime, main
from zero_downtime.store.local import LocalBlobs

from tests.driver.clock import FakeClock
from tests.driver.fake_stack import command_error
from tests.driver.fleet_world import NEW_AMI, OLD_AMI, RELEASED, TEMPLATE_ID, FakeAutoScaling, FleetStack

RELEASED_KEY = "fleets.batch.releasedVersion"


class Cli:
    def __init__(self, aws: dict[str, Any], tmp_path: Path, *, pinned: str | None = None) -> None:
        # Real time minus an hour: moto's alarms and the analysis window use wall-clock seconds.
        self.clock = FakeClock(start=time.time() - 3600)
        self.asg = FakeAutoScaling(self.clock)
        (tmp_path / "Pulumi.yaml").write_text("name: zero-downtime\n")
        self.blobs = LocalBlobs(tmp_path / "store")
        self.stack = FleetStack(self.asg, self.blobs)
        if pinned is not None:
            self.stack.config[RELEASED_KEY] = pinned
        self.rt = Runtime(
            open_stack=lambda name, wd: self.stack,
            clients={"autoscaling": self.asg, "cloudwatch": aws["cloudwatch"], "ssm": aws["ssm"]},
            clock=self.clock,
        )
        self.base = ["--stack", "dev", "--service", "batch", "--work-dir", str(tmp_path)]

    def run(self, command: str, *extra: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main([command, *self.base, *extra], runtime=self.rt, stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def config_writes(self) -> list[tuple[Any, ...]]:
        return [c for c in self.stack.calls if c[0] in ("set_config", "up", "refresh")]

    def released(self) -> tuple[int, str] | None:
        state = self.stack.released()
        return None if state is None else (state.released_version, state.ami_id)

    def release_objects(self) -> list[str]:
        return [k for k in self.blobs.list("") if "/locks/" not in k]


@pytest.mark.parametrize(
    ("extra", "pinned", "names"),
    [
        (["--ami", "nope"], None, "--ami"),
        ([], None, "--image: required: pass --image, or set services.batch.image"),
        (["--ami", NEW_AMI, "--image", "x"], None, "--ami"),
        (["--ami", NEW_AMI, "--refresh-timeout", "0"], None, "--refresh-timeout"),
        (["--ami", NEW_AMI, "--service", "nosuch"], None, "unknown fleet 'nosuch'"),
        (["--ami", NEW_AMI], "2", f"{RELEASED_KEY}: is 2 in config but the stack's group is on version 3"),
        (["--ami", NEW_AMI], "latest", f"{RELEASED_KEY}: must be a launch template version number"),
    ],
    ids=["bad-ami", "no-ami", "ami-and-image", "timeout", "unknown-fleet", "stale-pin", "pin-not-number"],
)
def test_bad_fleet_input_is_refused_and_changes_nothing(
    aws: dict[str, Any], tmp_path: Path, extra: list[str], pinned: str | None, names: str
) -> None:
    cli = Cli(aws, tmp_path, pinned=pinned)
    config_before = dict(cli.stack.config)
    code, _, err = cli.run("deploy", *extra)
    assert code == ExitCode.REFUSED and names in err and "nothing was changed" in err
    assert cli.config_writes() == [] and cli.stack.config == config_before and cli.asg.ops() == []
    assert cli.release_objects() == []


def test_deploy_fleet_succeeds_and_records_the_released_version(aws: dict[str, Any], tmp_path: Path) -> None:
    cli = Cli(aws, tmp_path)
    code, out, err = cli.run("deploy", "--ami", NEW_AMI, "--json", "--poll", "30")
    assert code == ExitCode.SUCCESS, err
    report = json.loads(out)
    assert report["state"] == "SUCCEEDED"
    # No loadBalancerArnSuffix in these outputs: no ALB metrics, so success says it had no evidence.
    assert "analysis inconclusive: 0 of 50 required requests" in report["reason"]
    assert "held on launch template version 3" in err
    (start,) = cli.asg.starts()
    assert start["DesiredConfiguration"]["LaunchTemplate"] == {"LaunchTemplateId": TEMPLATE_ID, "Version": "4"}
    assert cli.released() == (4, NEW_AMI)
    assert cli.stack.config["fleets.batch.amiId"] == OLD_AMI  # git's config is never written
    # A second release of the same fleet starts from the new released version, read from the store.
    code, out, err = cli.run("deploy", "--ami", "ami-0third22", "--json", "--poll", "30")
    assert code == ExitCode.SUCCESS, err
    assert cli.asg.starts()[-1]["DesiredConfiguration"]["LaunchTemplate"]["Version"] == "5"
    assert cli.released() == (5, "ami-0third22")


def test_deploy_fleet_alarm_rolls_back_with_exit_3(aws: dict[str, Any], tmp_path: Path) -> None:
    cw = aws["cloudwatch"]
    cw.put_metric_alarm(
        AlarmName="batch-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cli = Cli(aws, tmp_path)
    cli.clock.on_sleep(
        lambda now: cw.set_alarm_state(AlarmName="batch-5xx", StateValue="ALARM", StateReason="test: 5xx")
    )
    code, out, err = cli.run("deploy", "--ami", NEW_AMI, "--json", "--poll", "30")
    assert code == ExitCode.ROLLED_BACK, err
    report = json.loads(out)
    assert report["state"] == "ROLLED_BACK" and "batch-5xx" in report["reason"]
    assert cli.asg.ops() == ["start", "rollback"] and cli.asg.group_version == RELEASED
    assert cli.released() == (RELEASED, OLD_AMI)  # everything the release changed is put back
    code, out, _ = cli.run("status", "--json")
    status = json.loads(out)
    assert code == ExitCode.SUCCESS and status["state"] == "ROLLED_BACK" and status["image"] == NEW_AMI
    # abort after the rollback is a no-op that reports the same outcome.
    code, out, _ = cli.run("abort", "--json")
    assert code == ExitCode.ROLLED_BACK and cli.asg.ops() == ["start", "rollback"]


def test_failed_promotion_blocks_deploy_until_resumed(aws: dict[str, Any], tmp_path: Path) -> None:
    cli = Cli(aws, tmp_path)
    real_refresh = cli.stack.refresh

    def refresh_then_break_up(**kwargs: Any) -> Any:
        # Only PROMOTING refreshes the stack: the `up` that follows it fails, once.
        cli.stack.refresh = real_refresh  # type: ignore[method-assign]
        cli.stack.raise_on["up"] = [command_error("error: provider crashed")]
        return real_refresh(**kwargs)

    cli.stack.refresh = refresh_then_break_up  # type: ignore[method-assign]
    code, out, err = cli.run("deploy", "--ami", NEW_AMI, "--json", "--poll", "30")
    assert code == ExitCode.ERROR and "run `resume`" in json.loads(out)["reason"]
    writes = len(cli.config_writes())
    code, _, err = cli.run("deploy", "--ami", "ami-0third22")
    assert code == ExitCode.REFUSED and "run `resume` first" in err
    code, _, err = cli.run("abort")
    assert code == ExitCode.REFUSED and "already succeeded" in err
    assert len(cli.config_writes()) == writes  # neither refusal wrote anything
    code, out, err = cli.run("resume", "--json")
    assert code == ExitCode.SUCCESS, err
    assert cli.released() == (4, NEW_AMI)


def test_an_ssm_fleet_rolls_out_the_ami_resolved_at_release_time_and_keeps_it(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    parameter = "/platform/amis/batch"  # moto reserves the public /aws/service/ names
    aws["ssm"].put_parameter(Name=parameter, Value=NEW_AMI, Type="String")
    cli = Cli(aws, tmp_path)
    cli.stack.ssm_parameter = parameter
    cli.stack._publish()
    code, _, err = cli.run("deploy", "--ami-from-ssm", "--json", "--poll", "30")
    assert code == ExitCode.SUCCESS, err
    assert f"{parameter} resolves to {NEW_AMI} now" in err
    assert cli.released() == (4, NEW_AMI)  # the resolved AMI is what the store keeps
    assert cli.stack.config["fleets.batch.amiId"] == OLD_AMI  # and git's config is not touched
    # A new AMI is published to the parameter: an unrelated `up` changes nothing.
    aws["ssm"].put_parameter(Name=parameter, Value="ami-0newer222", Type="String", Overwrite=True)
    template_versions = dict(cli.stack.template_amis)
    cli.stack.up()
    assert cli.stack.template_amis == template_versions and cli.stack.provider_refreshes == 0


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--ami-from-ssm"], "--ami: required: fleet batch names no SSM parameter"),
        (["--ami-from-ssm", "--ami", NEW_AMI], "--ami: give --ami or --ami-from-ssm, not both"),
    ],
    ids=["no-parameter", "both"],
)
def test_ami_from_ssm_refusals(aws: dict[str, Any], tmp_path: Path, extra: list[str], names: str) -> None:
    cli = Cli(aws, tmp_path)
    code, _, err = cli.run("deploy", *extra)
    assert code == ExitCode.REFUSED and names in err
    assert cli.release_objects() == [] and cli.asg.ops() == []
