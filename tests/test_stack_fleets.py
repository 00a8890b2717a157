"""The `fleets` config section: parsing, errors that name the config key, and the staging stack."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import pytest
from zero_downtime.contract.types import ResourceType
from zero_downtime.offline.evaluate import Evaluation, evaluate_program, load_stack_config
from zero_downtime.stack_config.convert import ConfigError
from zero_downtime.stack_config.fleets import parse_fleets


def fleet_config(**overrides: Any) -> dict[str, Any]:
    """One fleet as a user writes it in Pulumi.<stack>.yaml (camelCase, CloudFormation policy)."""
    settings: dict[str, Any] = {
        "instanceType": "t3.small",
        "amiSsmParameter": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        "instancePort": 8080,
        "routing": {"priority": 200, "pathPatterns": ["/reports/*"]},
        "healthCheck": {"path": "/reports/health", "gracePeriodSeconds": 240},
        "desiredCapacity": 10,
        "minSize": 8,
        "maxSize": 12,
        "rollingUpdate": {"MinInstancesInService": 8, "MaxBatchSize": 2, "PauseTime": "PT5M"},
    }
    settings.update(overrides)
    return settings


def test_parse_keeps_the_cloudformation_policy_and_converts_the_rest() -> None:
    parsed = parse_fleets(
        {"reports": fleet_config(alarms={"errorRatePercent": 2}, tags={"owner": "reports"})},
        stack_alarms={"error_rate_percent": 5, "p99_latency_seconds": 1.5},
        stack_tags={"environment": "staging", "owner": "platform"},
    )
    args = parsed["reports"]
    assert args["rolling_update"] == {"MinInstancesInService": 8, "MaxBatchSize": 2, "PauseTime": "PT5M"}
    assert args["routing"] == {"priority": 200, "path_patterns": ["/reports/*"]}
    assert args["health_check"] == {"path": "/reports/health", "grace_period_seconds": 240}
    assert args["ami_ssm_parameter"].endswith("x86_64")
    assert args["alarms"] == {"error_rate_percent": 2, "p99_latency_seconds": 1.5}
    assert args["tags"] == {"environment": "staging", "owner": "reports"}
    assert not {"vpc_id", "subnet_ids", "listener_arn"} & set(args)


def test_no_fleets_section_means_no_fleets() -> None:
    assert parse_fleets(None) == {}


@dataclass(frozen=True)
class BadConfig:
    id: str
    fleets: Any
    key: str
    services: dict[str, Any] | None = None


SERVICES_WITH_API = {"api": {"routing": {"priority": 100, "path_patterns": ["/api/*"]}}}

BAD_CONFIG = [
    BadConfig("not-a-map", ["reports"], "fleets"),
    BadConfig("fleet-not-a-map", {"reports": "t3.small"}, "fleets.reports"),
    BadConfig("bad-name", {"Reports_1": fleet_config()}, "fleets.Reports_1"),
    BadConfig("name-taken-by-a-service", {"api": fleet_config()}, "fleets.api", SERVICES_WITH_API),
    BadConfig(
        "priority-taken-by-a-service",
        {"reports": fleet_config(routing={"priority": 100, "pathPatterns": ["/r/*"]})},
        "fleets.reports.routing.priority",
        SERVICES_WITH_API,
    ),
    BadConfig(
        "priority-taken-by-another-fleet",
        {"reports": fleet_config(), "batch": fleet_config(routing={"priority": 200, "hostHeaders": ["b.example.com"]})},
        "fleets.batch.routing.priority",
    ),
    BadConfig("unknown-key", {"reports": fleet_config(amiID="ami-1")}, "fleets.reports.amiID"),
    BadConfig("wired-key-not-settable", {"reports": fleet_config(listenerArn="arn:x")}, "fleets.reports.listenerArn"),
    BadConfig(
        "batch-below-one",
        {"reports": fleet_config(rollingUpdate={"MaxBatchSize": 0})},
        "fleets.reports.rollingUpdate.MaxBatchSize",
    ),
    BadConfig(
        "min-in-service-not-below-desired",
        {"reports": fleet_config(rollingUpdate={"MinInstancesInService": 10})},
        "fleets.reports.rollingUpdate.MinInstancesInService",
    ),
    BadConfig(
        "pause-over-an-hour",
        {"reports": fleet_config(rollingUpdate={"PauseTime": "PT2H"})},
        "fleets.reports.rollingUpdate.PauseTime",
    ),
    BadConfig(
        "unknown-policy-field",
        {"reports": fleet_config(rollingUpdate={"MaxBatch": 2})},
        "fleets.reports.rollingUpdate.MaxBatch",
    ),
    BadConfig(
        "policy-not-a-map",
        {"reports": fleet_config(rollingUpdate="MaxBatchSize=2")},
        "fleets.reports.rollingUpdate",
    ),
    BadConfig(
        "min-healthy-not-below-max",
        {"reports": fleet_config(instanceRefresh={"minHealthyPercentage": 100, "maxHealthyPercentage": 100})},
        "fleets.reports.instanceRefresh.maxHealthyPercentage",
    ),
    BadConfig(
        "checkpoints-descending",
        {"reports": fleet_config(instanceRefresh={"checkpointPercentages": [60, 30]})},
        "fleets.reports.instanceRefresh.checkpointPercentages",
    ),
    BadConfig(
        "unknown-refresh-key",
        {"reports": fleet_config(instanceRefresh={"bakeTime": 60})},
        "fleets.reports.instanceRefresh.bakeTime",
    ),
    BadConfig(
        "warm-pool-state",
        {"reports": fleet_config(warmPool={"poolState": "Paused"})},
        "fleets.reports.warmPool.poolState",
    ),
    BadConfig(
        "released-version-floating",
        {"reports": fleet_config(releasedVersion="$Latest")},
        "fleets.reports.releasedVersion",
    ),
    BadConfig("desired-above-max", {"reports": fleet_config(desiredCapacity=20)}, "fleets.reports.desiredCapacity"),
    BadConfig(
        "routing-without-condition",
        {"reports": fleet_config(routing={"priority": 300})},
        "fleets.reports.routing",
    ),
    BadConfig(
        "health-timeout-not-below-interval",
        {"reports": fleet_config(healthCheck={"intervalSeconds": 5, "timeoutSeconds": 5})},
        "fleets.reports.healthCheck.timeoutSeconds",
    ),
    BadConfig("no-ami", {"reports": fleet_config(amiSsmParameter=None)}, "fleets.reports.amiId"),
    BadConfig(
        "alarm-threshold",
        {"reports": fleet_config(alarms={"datapointsToAlarm": 5})},
        "fleets.reports.alarms.datapointsToAlarm",
    ),
]


@pytest.mark.parametrize("case", BAD_CONFIG, ids=lambda c: c.id)
def test_bad_config_names_the_config_key(case: BadConfig) -> None:
    raw = copy.deepcopy(case.fleets)
    if isinstance(raw, dict):
        raw = {
            name: {k: v for k, v in s.items() if v is not None} if isinstance(s, dict) else s for name, s in raw.items()
        }
    with pytest.raises(ConfigError, match=rf"^{re.escape(case.key)}: "):
        parse_fleets(raw, services=case.services)


# The staging stack, loaded from the real Pulumi.staging.yaml.


@pytest.fixture(scope="module")
def staging() -> Evaluation:
    return evaluate_program("staging")


def test_staging_declares_a_fleet_in_its_stack_file() -> None:
    config = load_stack_config("staging")
    assert "zero-downtime:fleets" in config.values


def test_staging_fleet_runs_behind_the_shared_alb_with_its_own_rule(staging: Evaluation) -> None:
    fleets = staging.outputs["fleets"]
    assert list(fleets) == ["reports"]
    fleet = fleets["reports"]
    (group,) = staging.of_type(ResourceType.AUTOSCALING_GROUP)
    rules = {r.name: r for r in staging.of_type(ResourceType.LISTENER_RULE)}
    rule = rules["reports-rule"]
    assert rule.inputs["listenerArn"] == staging.outputs["productionListenerArn"]
    assert rule.outputs["arn"] == fleet["listenerRuleArn"]
    other_priorities = [r.inputs["priority"] for n, r in rules.items() if n != "reports-rule"]
    assert rule.inputs["priority"] not in other_priorities
    assert group.outputs["name"] == fleet["autoScalingGroupName"]
    assert group.outputs["arn"] == fleet["autoScalingGroupArn"]
    assert group.inputs["healthCheckType"] == "ELB"
    assert group.inputs["launchTemplate"] == {
        "id": fleet["launchTemplateId"],
        "version": fleet["launchTemplateVersion"],
    }
    assert fleet["launchTemplateVersion"].isdigit()
    assert group.inputs["targetGroupArns"] == [fleet["targetGroupArn"]]


def test_staging_fleet_uses_the_private_subnets_and_the_alb_security_group(staging: Evaluation) -> None:
    private = sorted(r.id for r in staging.of_type(ResourceType.SUBNET) if "private" in r.name)
    (group,) = staging.of_type(ResourceType.AUTOSCALING_GROUP)
    assert len(private) >= 2
    assert sorted(group.inputs["vpcZoneIdentifiers"]) == private
    alb_sg = next(r for r in staging.of_type(ResourceType.SECURITY_GROUP) if r.name.endswith("alb-sg"))
    ingress = next(r for r in staging.of_type(ResourceType.SECURITY_GROUP_INGRESS) if r.name == "reports-from-alb")
    assert ingress.inputs["referencedSecurityGroupId"] == alb_sg.id


def test_staging_fleet_refresh_rolls_back_on_its_alarms(staging: Evaluation) -> None:
    fleet = staging.outputs["fleets"]["reports"]
    (group,) = staging.of_type(ResourceType.AUTOSCALING_GROUP)
    prefs = group.inputs["instanceRefresh"]["preferences"]
    assert prefs["autoRollback"] is True
    assert prefs["alarmSpecification"]["alarms"] == fleet["alarmNames"]
    assert fleet["refreshPreferences"]["AlarmSpecification"]["Alarms"] == fleet["alarmNames"]
    alarm_names = {r.inputs["name"] for r in staging.of_type(ResourceType.METRIC_ALARM)}
    assert set(fleet["alarmNames"]) <= alarm_names
    composites = {r.inputs["alarmName"] for r in staging.of_type(ResourceType.COMPOSITE_ALARM)}
    assert fleet["compositeAlarmName"] in composites


def test_bad_fleet_config_fails_the_stack_naming_the_key() -> None:
    broken = {"reports": fleet_config(rollingUpdate={"MaxBatchSize": 0})}
    with pytest.raises(ConfigError, match=r"^fleets\.reports\.rollingUpdate\.MaxBatchSize: "):
        evaluate_program("staging", overrides={"fleets": broken})
