"""A world for flag releases through the real CLI: a recorded fake of AppConfig, CloudWatch in moto.

moto (5.2) implements AppConfig's applications, profiles and hosted versions but not environments,
deployment strategies or deployments (`test_moto_has_no_appconfig_deployments` shows it), so the
AppConfig client here is an in-memory fake. Every call it receives is checked against botocore's
model of the AppConfig API (`validate_parameters`: names, types, required members), so the adapter's
requests have the exact shape boto3 would send. Deployments reach the hosts after `deploy_ticks`
fake-clock ticks (DEPLOYING -> BAKING, then COMPLETE after `bake_ticks` more), except with the
kill-switch strategy (no duration, no bake: complete at once), and a monitored alarm in ALARM rolls a
running deployment back, as AppConfig does. StopDeployment refuses what AWS documents it refuses: a
deployment that is not DEPLOYING, unless `AllowRevert` is given.

The service's per-variant metrics go to moto's CloudWatch on every tick, split by the percentage the
hosts are served: `on_error_rate` of the flagged requests fail.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from zero_downtime.contract import build_feature_flags
from zero_downtime.contract import flags as flag_doc
from zero_downtime.driver.adapters.aws.flag_metrics import NAMESPACE
from zero_downtime.driver.cli import main
from zero_downtime.driver.compose import Runtime
from zero_downtime.store import Blobs, open_blobs

from tests.driver.clock import FakeClock
from tests.driver.conftest import StoreSetup
from tests.driver.fake_stack import FakeStack
from tests.driver.release_world import LEASE_SECONDS, Dying

APP, ENV, PROFILE, STRATEGY, KILL = "app1234", "env1234", "prf1234", "str1234", "kil1234"
FLAG_SET, FLAG = "checkout", "new-checkout"
ALARM = "web-green-health"
_MODEL = botocore.session.get_session().get_service_model("appconfig")


class FakeAppConfig:
    """The AppConfig calls the adapter makes, validated against botocore's model, kept in memory."""

    def __init__(self, clock: FakeClock, deploy_ticks: int = 2, bake_ticks: int | None = None) -> None:
        self.clock = clock
        self.deploy_ticks = deploy_ticks
        self.bake_ticks = deploy_ticks if bake_ticks is None else bake_ticks
        """Ticks a deployment stays BAKING (its strategy's final bake time) before COMPLETE."""
        self.versions: dict[int, bytes] = {}
        self.deployments: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stopped: list[tuple[int, str]] = []
        """(deployment number, the state StopDeployment left it in), in order."""
        self.alarm_firing: Callable[[], bool] = lambda: False
        clock.on_sleep(lambda now: self._tick())

    def _call(self, op: str, params: dict[str, Any]) -> None:
        validate_parameters(params, _MODEL.operation_model(op).input_shape)  # raises on a bad shape
        self.calls.append((op, params))

    def seed(self, document: str) -> None:
        """What `pulumi up` leaves: version 1 deployed and complete."""
        self.versions[1] = document.encode()
        self.deployments.append(self._deployment(1, "1", "COMPLETE"))

    def _deployment(self, number: int, version: str, state: str) -> dict[str, Any]:
        return {
            "DeploymentNumber": number,
            "ConfigurationProfileId": PROFILE,
            "ConfigurationName": "flags",
            "ConfigurationVersion": version,
            "State": state,
            "ticks": 0,
        }

    def _tick(self) -> None:
        for d in self.deployments:
            if d["State"] in ("DEPLOYING", "BAKING"):
                if self.alarm_firing():
                    d["State"] = "ROLLED_BACK"
                    continue
                d["ticks"] += 1
                if d["State"] == "DEPLOYING" and d["ticks"] >= self.deploy_ticks:
                    d["State"] = "BAKING"
                elif d["State"] == "BAKING" and d["ticks"] >= self.deploy_ticks + self.bake_ticks:
                    d["State"] = "COMPLETE"

    # -- the boto3 client surface --------------------------------------------------------------------
    def list_deployments(self, **params: Any) -> dict[str, Any]:
        self._call("ListDeployments", params)
        items = [{k: v for k, v in d.items() if k != "ticks"} for d in reversed(self.deployments)]
        return {"Items": items}

    def get_hosted_configuration_version(self, **params: Any) -> dict[str, Any]:
        self._call("GetHostedConfigurationVersion", params)
        return {"Content": io.BytesIO(self.versions[params["VersionNumber"]]), "ContentType": "application/json"}

    def create_hosted_configuration_version(self, **params: Any) -> dict[str, Any]:
        self._call("CreateHostedConfigurationVersion", params)
        flag_doc.parse_document(params["Content"])  # AppConfig validates feature-flag content
        number = max(self.versions) + 1
        self.versions[number] = params["Content"]
        return {"VersionNumber": number}

    def start_deployment(self, **params: Any) -> dict[str, Any]:
        self._call("StartDeployment", params)
        newest = self.deployments[-1]
        if newest["State"] in ("DEPLOYING", "BAKING") or params.get("LatestDeploymentNumber") != len(self.deployments):
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "deployment in progress"}}, "Start")
        # The kill switch's strategy (no duration, no bake) is complete at once.
        state = "COMPLETE" if params["DeploymentStrategyId"] == KILL else "DEPLOYING"
        self.deployments.append(self._deployment(len(self.deployments) + 1, params["ConfigurationVersion"], state))
        return {"DeploymentNumber": len(self.deployments)}

    def stop_deployment(self, **params: Any) -> dict[str, Any]:
        """As AWS documents StopDeployment: it works only on a deployment that is DEPLOYING, unless
        `AllowRevert` is given; then an in-progress one (BAKING, VALIDATING) ends ROLLED_BACK and a
        COMPLETE one REVERTED (AppConfig allows that for 72 hours; not modelled)."""
        self._call("StopDeployment", params)
        d = self.deployments[params["DeploymentNumber"] - 1]
        revert = bool(params.get("AllowRevert"))
        if d["State"] == "DEPLOYING" or (revert and d["State"] in ("BAKING", "VALIDATING")):
            d["State"] = "ROLLED_BACK"
        elif revert and d["State"] == "COMPLETE":
            d["State"] = "REVERTED"
        else:
            message = f"deployment {d['DeploymentNumber']} is {d['State']}; only DEPLOYING stops without AllowRevert"
            raise ClientError({"Error": {"Code": "BadRequestException", "Message": message}}, "StopDeployment")
        self.stopped.append((d["DeploymentNumber"], d["State"]))
        return {}

    # -- what the hosts are served -------------------------------------------------------------------
    def served_percentage(self, flag: str = FLAG) -> int:
        served = next(d for d in reversed(self.deployments) if d["State"] in ("BAKING", "COMPLETE"))
        return flag_doc.percentage_of(flag_doc.parse_document(self.versions[int(served["ConfigurationVersion"])]), flag)


def flag_entry() -> dict[str, Any]:
    return build_feature_flags(
        config_path=f"featureFlags.{FLAG_SET}",
        application_id=APP,
        application_name=FLAG_SET,
        environment_id=ENV,
        environment_name="dev",
        configuration_profile_id=PROFILE,
        configuration_profile_name="flags",
        deployment_strategy_id=STRATEGY,
        kill_switch_strategy_id=KILL,
        flags=[FLAG, "dark-mode"],
        alarm_names=[ALARM],
        agent_path=f"/applications/{FLAG_SET}/environments/dev/configurations/flags",
    )


def put_variant(cw: Any, at: float, variant: str, requests: int, errors: int) -> None:
    dims = [
        {"Name": "FlagSet", "Value": FLAG_SET},
        {"Name": "Flag", "Value": FLAG},
        {"Name": "Variant", "Value": variant},
    ]
    ts = datetime.fromtimestamp(at, tz=UTC)
    cw.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {"MetricName": "Requests", "Dimensions": dims, "Timestamp": ts, "Value": requests, "Unit": "Count"},
            {"MetricName": "Errors5xx", "Dimensions": dims, "Timestamp": ts, "Value": errors, "Unit": "Count"},
        ],
    )


@dataclass
class FlagWorld:
    aws: dict[str, Any]
    store: StoreSetup
    tmp: Path
    on_error_rate: float = 0.0
    clock: FakeClock = field(default_factory=lambda: FakeClock(start=time.time() - 3600))
    appconfig: FakeAppConfig = field(init=False)
    checkouts: int = 0

    def __post_init__(self) -> None:
        self.appconfig = FakeAppConfig(self.clock)
        doc = flag_doc.build_document({FLAG: flag_doc.flag_value(), "dark-mode": flag_doc.flag_value(percentage=50)})
        self.appconfig.seed(doc)
        cw = self.aws["cloudwatch"]
        cw.put_metric_alarm(
            AlarmName=ALARM,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        self.appconfig.alarm_firing = self.alarm_firing
        last = {"t": self.clock.now()}

        def traffic(now: float) -> None:
            elapsed = now - last["t"]
            if elapsed <= 0:
                return
            pct = self.appconfig.served_percentage()
            total = int(20 * elapsed)
            on = total * pct // 100
            if on:
                put_variant(cw, now - elapsed / 2, "on", on, int(on * self.on_error_rate))
            if total - on:
                put_variant(cw, now - elapsed / 2, "off", total - on, 0)
            last["t"] = now

        self.clock.on_sleep(traffic)

    def alarm_firing(self) -> bool:
        alarms = self.aws["cloudwatch"].describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
        return bool(alarms) and alarms[0]["StateValue"] == "ALARM"

    def fire_alarm(self) -> None:
        self.aws["cloudwatch"].set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="test")

    def run(self, *argv: str, die_when: Callable[[str, bytes], bool] | None = None) -> tuple[int, str, str]:
        """One CLI command from a fresh checkout (a new directory; only git's files)."""
        self.checkouts += 1
        path = self.tmp / f"checkout-{self.checkouts}"
        path.mkdir()
        (path / "Pulumi.yaml").write_text("name: zero-downtime\nruntime: python\n")
        stack = FakeStack({"featureFlags": {FLAG_SET: flag_entry()}})
        stack.config["releaseStore"] = self.store.url
        out, err = io.StringIO(), io.StringIO()

        def blobs(url: str, **kw: Any) -> Blobs:
            inner = open_blobs(url, base_dir=path, s3_client=self.store.s3)
            return Dying(inner, die_when) if die_when else inner

        rt = Runtime(
            open_stack=lambda name, work_dir: stack,
            clients={**self.aws, "appconfig": self.appconfig},
            clock=self.clock,
            lease_seconds=LEASE_SECONDS,
            open_blobs=blobs,
        )
        command, *rest = argv
        where = ["--flag-set", FLAG_SET] if command in ("flag", "kill-flag") else ["--service", f"flags.{FLAG_SET}"]
        code = main(
            [command, "--stack", "dev", *where, "--work-dir", str(path), *rest], runtime=rt, stdout=out, stderr=err
        )
        return code, out.getvalue(), err.getvalue()

    def expire_leases(self) -> None:
        self.clock.sleep(LEASE_SECONDS + 1)


FAST_FLAG = [
    "--steps",
    "10,50,100",
    "--interval",
    "120",
    "--poll",
    "30",
    "--min-requests",
    "20",
    "--no-percentiles",
    "--deploy-poll",
    "5",
    "--deploy-timeout",
    "120",
]


def journal_states(out: str) -> list[str]:
    return [d["state"] for d in json.loads(out)["decisions"]]
