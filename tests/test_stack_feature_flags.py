"""The `featureFlags` config section through the real program: flag sets on AppConfig that watch the
composite alarms of the services they name, exported through the contract; bad keys refused by name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from zero_downtime.contract import parse_feature_flags
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import evaluate_program
from zero_downtime.offline.mocks import RecordingMocks
from zero_downtime.policies.appconfig import check_alarm_monitors
from zero_downtime.stack_config.convert import ConfigError

FLAGS: dict[str, Any] = {
    "checkout": {
        "flags": {"new-checkout": {"percentage": 0, "allow": ["qa-1"]}, "dark_mode": {"enabled": False}},
        "strategy": {"growthType": "EXPONENTIAL", "growthFactor": 2, "finalBakeTimeMinutes": 15},
        "monitorServices": ["web"],
    }
}


def test_a_flag_set_monitors_both_colors_composite_alarms_of_the_named_service() -> None:
    ev = evaluate_program("prod", overrides={"featureFlags": FLAGS})
    composites = {a.outputs["arn"] for a in ev.of_type(T.COMPOSITE_ALARM) if a.name.startswith("web-")}
    [env] = ev.of_type(T.APPCONFIG_ENVIRONMENT)
    assert len(composites) == 2
    assert {m["alarmArn"] for m in env.inputs["monitors"]} == composites
    assert env.inputs["name"] == "prod"  # the stack name by default
    assert env.inputs["tags"]["stack"] == "prod"
    assert list(check_alarm_monitors(env.inputs, {"prod": False, "prodStacks": ["prod"]})) == []
    # Two strategies in no fixed order: the set's own, and the kill switch (tagged by purpose).
    strategies = ev.of_type(T.APPCONFIG_STRATEGY)
    [strategy] = [s for s in strategies if s.inputs.get("tags", {}).get("purpose") != "kill-switch"]
    assert (strategy.inputs["growthType"], strategy.inputs["finalBakeTimeInMinutes"]) == ("EXPONENTIAL", 15)
    parsed = parse_feature_flags(ev.outputs, "checkout")
    assert parsed.flags == ("dark_mode", "new-checkout")
    composite_names = {a.inputs["alarmName"] for a in ev.of_type(T.COMPOSITE_ALARM) if a.name.startswith("web-")}
    assert set(parsed.alarm_names) == composite_names


def test_staging_ships_a_flag_set_that_web_reads_and_monitors() -> None:
    """The shipped Pulumi.staging.yaml, as users deploy it: a flag set on AppConfig watching web's
    alarms, read by web's tasks through the agent; what `zdd-release flag` and `kill-flag` act on."""
    ev = evaluate_program("staging")
    parsed = parse_feature_flags(ev.outputs, "checkout")
    assert parsed.flags == ("dark_mode", "new-checkout") and parsed.kill_switch_strategy_id
    [env] = ev.of_type(T.APPCONFIG_ENVIRONMENT)
    assert len(env.inputs["monitors"]) == 2  # web's composite alarms, both colors
    assert list(check_alarm_monitors(env.inputs, {"prod": False, "prodStacks": ["prod"]})) == []
    web_tasks = [t for t in ev.of_type(T.ECS_TASK_DEFINITION) if t.name.startswith("web-")]
    assert len(web_tasks) == 2
    for task in web_tasks:
        containers = {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}
        assert "appconfig-agent" in containers
        env_vars = {e["name"]: e["value"] for c in containers.values() for e in c.get("environment", [])}
        assert env_vars["APP_FLAG_SET"] == "checkout" and env_vars["APP_EMF_METRICS"] == "true"


def test_without_the_section_nothing_of_appconfig_is_created() -> None:
    ev = evaluate_program("prod")
    assert not [r for r in ev.resources if r.type.startswith("aws:appconfig/")]
    assert "featureFlags" not in ev.outputs


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"monitorServices": ["nope"]}, "featureFlags.checkout.monitorServices[0]"),
        ({"monitorServices": "web"}, "featureFlags.checkout.monitorServices"),
        ({"flags": {"new_checkout": {"percentage": 150}}}, "featureFlags.checkout.flags.new_checkout.percentage"),
        ({"flags": {"9lives": {}}}, "featureFlags.checkout.flags.9lives"),
        ({"strategy": {"growthType": "STEP"}}, "featureFlags.checkout.strategy.growthType"),
        ({"strategy": {"deploymentDurationMinutes": 2000}}, "featureFlags.checkout.strategy.deploymentDurationMinutes"),
        ({"bakeTime": 3}, "featureFlags.checkout.bakeTime"),
        ({"alarmArns": ["arn:aws:cloudwatch:us-east-1:1:alarm:a"] * 4}, "featureFlags.checkout.monitorServices"),
    ],
)
def test_bad_config_is_refused_naming_the_key_before_anything_is_created(change: dict, key: str) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as caught:
        evaluate_program("prod", overrides={"featureFlags": {"checkout": {**FLAGS["checkout"], **change}}}, mocks=mocks)
    assert str(caught.value).startswith(f"{key}:"), str(caught.value)
    assert mocks.resources == []
