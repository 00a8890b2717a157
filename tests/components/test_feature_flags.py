"""FeatureFlags: a flag set on AWS AppConfig with alarm monitors, under Pulumi's mocks."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import ArgError
from zero_downtime.contract import flags as flag_doc
from zero_downtime.contract import parse_feature_flags
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import ProviderRefusal, RecordingMocks, unsecret

ALARM = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-blue-health"
ARGS: dict[str, Any] = {
    "environment": "prod",
    "flags": {"new-checkout": {"percentage": 5, "allow": ["qa-1"], "description": "the new checkout"}},
    "alarm_arns": [ALARM],
    "alarm_names": ["web-blue-health"],
}


def flags(**overrides: Any) -> Evaluation:
    from zero_downtime.components.feature_flags import FeatureFlags

    return run_under_mocks(lambda: FeatureFlags("checkout", {**ARGS, **overrides}), stack="unit")


def test_it_creates_a_hosted_feature_flag_profile_with_the_configured_flags() -> None:
    ev = flags()
    [profile] = ev.of_type(T.APPCONFIG_PROFILE)
    assert profile.inputs["type"] == "AWS.AppConfig.FeatureFlags"
    assert profile.inputs["locationUri"] == "hosted"
    [version] = ev.of_type(T.APPCONFIG_HOSTED_VERSION)
    assert version.inputs["contentType"] == "application/json"
    assert version.inputs["configurationProfileId"] == profile.outputs["configurationProfileId"]
    doc = flag_doc.parse_document(unsecret(version.inputs["content"]))
    assert doc["values"]["new-checkout"] == {
        "enabled": True,
        "percentage": 5,
        "allow": ["qa-1"],
        "deny": [],
        "segments": [],
    }
    assert doc["flags"]["new-checkout"]["description"] == "the new checkout"
    assert flag_doc.percentage_of(doc, "new-checkout") == 5


def test_the_first_version_is_deployed_to_the_environment_with_the_set_s_strategy() -> None:
    ev = flags(strategy={"growth_type": "EXPONENTIAL", "growth_factor": 2, "final_bake_time_minutes": 30})
    # Two strategies, registered in no fixed order: told apart by their purpose tag.
    strategies = ev.of_type(T.APPCONFIG_STRATEGY)
    [kill] = [s for s in strategies if s.inputs.get("tags", {}).get("purpose") == "kill-switch"]
    [strategy] = [s for s in strategies if s is not kill]
    assert (kill.inputs["deploymentDurationInMinutes"], kill.inputs["finalBakeTimeInMinutes"]) == (0, 0)
    assert kill.inputs["growthFactor"] == 100 and kill.inputs["tags"]["purpose"] == "kill-switch"
    assert strategy.inputs["growthType"] == "EXPONENTIAL"
    assert strategy.inputs["growthFactor"] == 2.0
    assert strategy.inputs["finalBakeTimeInMinutes"] == 30
    assert strategy.inputs["deploymentDurationInMinutes"] == 10
    assert strategy.inputs["replicateTo"] == "NONE"
    [env] = ev.of_type(T.APPCONFIG_ENVIRONMENT)
    [deployment] = ev.of_type(T.APPCONFIG_DEPLOYMENT)
    assert deployment.inputs["environmentId"] == env.outputs["environmentId"]
    assert deployment.inputs["deploymentStrategyId"] == strategy.id
    assert deployment.inputs["configurationVersion"] == "1"


def test_alarm_monitors_use_a_role_appconfig_assumes_that_may_only_describe_alarms() -> None:
    ev = flags()
    [env] = ev.of_type(T.APPCONFIG_ENVIRONMENT)
    [role] = ev.of_type(T.IAM_ROLE)
    assert env.inputs["monitors"] == [{"alarmArn": ALARM, "alarmRoleArn": role.outputs["arn"]}]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "appconfig.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    [policy] = ev.of_type(T.IAM_ROLE_POLICY)
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert [s["Action"] for s in statements] == ["cloudwatch:DescribeAlarms"]


def test_without_alarms_there_are_no_monitors_and_no_role() -> None:
    ev = flags(alarm_arns=[], alarm_names=[])
    [env] = ev.of_type(T.APPCONFIG_ENVIRONMENT)
    assert not env.inputs.get("monitors")
    assert ev.of_type(T.IAM_ROLE) == []


@pulumi.runtime.test
def test_release_outputs_parse_with_the_driver_s_contract() -> Any:
    from zero_downtime.components.feature_flags import FeatureFlags

    pulumi.runtime.set_mocks(RecordingMocks(), project="zero-downtime", stack="unit", preview=False)
    ff = FeatureFlags("checkout", {**ARGS})

    def check(value: Any) -> None:
        parsed = parse_feature_flags({"featureFlags": {"checkout": value}}, "checkout")
        assert parsed.flags == ("new-checkout",)
        assert parsed.environment_name == "prod"
        assert parsed.alarm_names == ("web-blue-health",)
        assert parsed.agent_path == "/applications/checkout/environments/prod/configurations/flags"
        assert parsed.config_path == "featureFlags.checkout"
        assert parsed.kill_switch_strategy_id and parsed.kill_switch_strategy_id != parsed.deployment_strategy_id

    return pulumi.Output.all(ff.release_outputs).apply(lambda v: check(v[0]))


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        pytest.param({"environment": "x" * 65}, "environment", id="environment-too-long"),
        pytest.param({"application_name": ""}, "application_name", id="application-empty"),
        pytest.param({"flags": {}}, "flags", id="no-flags"),
        pytest.param({"flags": {"1bad": {}}}, "flags.1bad", id="key-starts-with-digit"),
        pytest.param({"flags": {"a b": {}}}, "flags.a b", id="key-with-space"),
        pytest.param({"flags": {"f": {"percentage": 101}}}, "flags.f.percentage", id="percentage-101"),
        pytest.param({"flags": {"f": {"percentage": True}}}, "flags.f.percentage", id="percentage-bool"),
        pytest.param({"flags": {"f": {"enabled": "yes"}}}, "flags.f.enabled", id="enabled-string"),
        pytest.param({"flags": {"f": {"allow": ["a"], "deny": ["a"]}}}, "flags.f.allow", id="allow-deny-overlap"),
        pytest.param({"flags": {"f": {"colour": 1}}}, "flags.f.colour", id="unknown-flag-key"),
        pytest.param({"strategy": {"growth_type": "STEP"}}, "strategy.growth_type", id="growth-type"),
        pytest.param({"strategy": {"growth_factor": 0}}, "strategy.growth_factor", id="growth-factor-0"),
        pytest.param({"strategy": {"growth_factor": 101}}, "strategy.growth_factor", id="growth-factor-101"),
        pytest.param(
            {"strategy": {"deployment_duration_minutes": 1441}},
            "strategy.deployment_duration_minutes",
            id="duration-1441",
        ),
        pytest.param({"strategy": {"final_bake_time_minutes": -1}}, "strategy.final_bake_time_minutes", id="bake"),
        pytest.param({"strategy": {"bake": 1}}, "strategy.bake", id="unknown-strategy-key"),
        pytest.param({"alarm_arns": [ALARM] * 6}, "alarm_arns", id="six-monitors"),
        pytest.param({"alarm_arns": ["arn:aws:sns:x"]}, "alarm_arns[0]", id="not-an-alarm"),
    ],
)
def test_bad_args_are_refused_naming_the_key_before_anything_is_created(overrides: dict, key: str) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ArgError) as caught:
        run_under_mocks(lambda: _build(overrides), stack="unit", mocks=mocks)
    assert caught.value.key == key
    assert mocks.resources == []


def _build(overrides: dict) -> Any:
    from zero_downtime.components.feature_flags import FeatureFlags

    return FeatureFlags("checkout", {**ARGS, **overrides})


@pytest.mark.parametrize(
    ("typ", "inputs", "problem"),
    [
        (T.APPCONFIG_PROFILE, {"applicationId": "a", "locationUri": "hosted", "name": "f", "type": "Flags"}, "type"),
        (
            T.APPCONFIG_STRATEGY,
            {"deploymentDurationInMinutes": 1, "growthFactor": 0, "replicateTo": "NONE", "name": "s"},
            "growthFactor",
        ),
        (
            T.APPCONFIG_STRATEGY,
            {"deploymentDurationInMinutes": 1, "growthFactor": 5, "name": "s"},
            "replicateTo is required",
        ),
        (T.APPCONFIG_ENVIRONMENT, {"applicationId": "a", "name": "e", "monitors": [{"alarmRoleArn": "r"}]}, "alarmArn"),
        (T.APPCONFIG_DEPLOYMENT, {"applicationId": "a"}, "configurationProfileId is required"),
    ],
)
def test_the_mocks_refuse_what_appconfig_would(typ: str, inputs: dict, problem: str) -> None:
    mocks = RecordingMocks()
    args = pulumi.runtime.MockResourceArgs(
        typ=typ, name="x", inputs=inputs, provider=None, resource_id=None, custom=True
    )
    with pytest.raises(ProviderRefusal, match=problem):
        mocks.new_resource(args)
