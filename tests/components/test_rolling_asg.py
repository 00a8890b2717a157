"""RollingAutoScalingGroup under mocks: what it registers, and what it refuses."""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordedResource, RecordingMocks

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def reference_args(**overrides: Any) -> dict[str, Any]:
    """The article's reference fleet: 10 instances, min 8 in service, batches of 2, PT5M pause."""
    args: dict[str, Any] = {
        "vpc_id": "vpc-0abc",
        "subnet_ids": ["subnet-private-a", "subnet-private-b"],
        "listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/edge/1/2",
        "routing": {"priority": 200, "path_patterns": ["/reports/*"]},
        "load_balancer_arn_suffix": "app/edge/0123456789abcdef",
        "load_balancer_security_group_id": "sg-alb0123",
        "instance_type": "t3.small",
        "ami_id": "ami-0123456789abcdef0",
        "user_data": "#!/bin/bash\necho ready\n",
        "instance_port": 8080,
        "desired_capacity": 10,
        "min_size": 8,
        "max_size": 12,
        "rolling_update": {"MinInstancesInService": 8, "MaxBatchSize": 2, "PauseTime": "PT5M"},
    }
    args.update(overrides)
    return args


def build(args: dict[str, Any], name: str = "reports") -> Evaluation:
    def program() -> None:
        from zero_downtime.components.rolling_asg import RollingAutoScalingGroup

        fleet = RollingAutoScalingGroup(name, args)  # type: ignore[arg-type]
        pulumi.export("release", fleet.release_outputs)

    return run_under_mocks(program)


def only(evaluation: Evaluation, type_token: str) -> RecordedResource:
    found = evaluation.of_type(type_token)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.fixture(scope="module")
def reference() -> Evaluation:
    return build(reference_args())


def test_group_pins_the_launch_templates_explicit_latest_version(reference: Evaluation) -> None:
    template = only(reference, ResourceType.LAUNCH_TEMPLATE)
    group = only(reference, ResourceType.AUTOSCALING_GROUP)
    pinned = group.inputs["launchTemplate"]
    assert pinned["id"] == template.id
    assert pinned["version"] == str(template.outputs["latestVersion"])
    assert pinned["version"] not in ("$Latest", "$Default")
    assert reference.outputs["release"]["launchTemplateVersion"] == pinned["version"]


def test_released_version_pins_the_group_below_the_latest_version() -> None:
    evaluation = build(reference_args(released_version=3))
    template = only(evaluation, ResourceType.LAUNCH_TEMPLATE)
    group = only(evaluation, ResourceType.AUTOSCALING_GROUP).inputs
    assert group["launchTemplate"] == {"id": template.id, "version": "3"}
    release = evaluation.outputs["release"]
    assert release["launchTemplateVersion"] == "3"
    assert release["launchTemplateLatestVersion"] == str(template.outputs["latestVersion"])


def test_translation_notes_reach_the_outputs() -> None:
    policy = {"MinInstancesInService": 8, "MaxBatchSize": 2, "SuspendProcesses": ["AZRebalance"]}
    evaluation = build(reference_args(rolling_update=policy))
    (note,) = evaluation.outputs["release"]["refreshNotes"]
    assert "AZRebalance" in note and "not suspended" in note


def test_launch_template_requires_imdsv2_and_encrypts_the_root_volume(reference: Evaluation) -> None:
    template = only(reference, ResourceType.LAUNCH_TEMPLATE).inputs
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpEndpoint"] == "enabled"
    (root,) = template["blockDeviceMappings"]
    assert root["ebs"]["encrypted"] == "true"
    assert root["ebs"]["volumeType"] == "gp3"
    assert template["imageId"] == "ami-0123456789abcdef0"
    assert template["instanceType"] == "t3.small"
    assert base64.b64decode(template["userData"]).decode() == "#!/bin/bash\necho ready\n"


def test_group_uses_elb_health_checks_and_its_own_target_group(reference: Evaluation) -> None:
    group = only(reference, ResourceType.AUTOSCALING_GROUP).inputs
    target_group = only(reference, ResourceType.TARGET_GROUP)
    assert group["healthCheckType"] == "ELB"
    assert group["healthCheckGracePeriod"] == 300
    assert group["targetGroupArns"] == [target_group.outputs["arn"]]
    assert group["vpcZoneIdentifiers"] == ["subnet-private-a", "subnet-private-b"]
    assert (group["desiredCapacity"], group["minSize"], group["maxSize"]) == (10, 8, 12)
    assert group["terminationPolicies"][0] == "OldestLaunchTemplate"
    assert group["defaultInstanceWarmup"] == 120
    assert "warmPool" not in group
    assert target_group.inputs["port"] == 8080
    assert target_group.inputs["healthCheck"]["path"] == "/health"


def test_refresh_preferences_translate_the_policy_and_roll_back_on_the_fleets_alarms(
    reference: Evaluation,
) -> None:
    refresh = only(reference, ResourceType.AUTOSCALING_GROUP).inputs["instanceRefresh"]
    alarm_names = sorted(r.inputs["name"] for r in reference.of_type(ResourceType.METRIC_ALARM))
    prefs = refresh["preferences"]
    assert refresh["strategy"] == "Rolling"
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (80, 100)
    assert prefs["instanceWarmup"] == "300"
    assert prefs["autoRollback"] is True and prefs["skipMatching"] is True
    assert len(alarm_names) == 3
    assert sorted(prefs["alarmSpecification"]["alarms"]) == alarm_names
    release = reference.outputs["release"]
    assert sorted(release["alarmNames"]) == alarm_names
    assert release["refreshPreferences"]["MinHealthyPercentage"] == 80
    assert sorted(release["refreshPreferences"]["AlarmSpecification"]["Alarms"]) == alarm_names


def test_alarms_watch_the_fleets_target_group(reference: Evaluation) -> None:
    suffix = only(reference, ResourceType.TARGET_GROUP).outputs["arnSuffix"]
    latency = next(r for r in reference.of_type(ResourceType.METRIC_ALARM) if "p99" in r.name)
    assert latency.inputs["dimensions"]["TargetGroup"] == suffix
    composite = only(reference, ResourceType.COMPOSITE_ALARM)
    assert reference.outputs["release"]["compositeAlarmName"] == composite.inputs["alarmName"]


def test_instances_accept_only_the_alb_on_the_instance_port(reference: Evaluation) -> None:
    (ingress,) = reference.of_type(ResourceType.SECURITY_GROUP_INGRESS)
    security_group = only(reference, ResourceType.SECURITY_GROUP)
    assert ingress.inputs["referencedSecurityGroupId"] == "sg-alb0123"
    assert (ingress.inputs["fromPort"], ingress.inputs["toPort"]) == (8080, 8080)
    assert "cidrIpv4" not in ingress.inputs
    assert ingress.inputs["securityGroupId"] == security_group.id
    template = only(reference, ResourceType.LAUNCH_TEMPLATE).inputs
    assert template["vpcSecurityGroupIds"] == [security_group.id]


def test_listener_rule_forwards_its_condition_to_the_fleet(reference: Evaluation) -> None:
    rule = only(reference, ResourceType.LISTENER_RULE).inputs
    target_group = only(reference, ResourceType.TARGET_GROUP)
    assert rule["priority"] == 200
    assert rule["conditions"] == [{"pathPattern": {"values": ["/reports/*"]}}]
    assert rule["actions"] == [{"type": "forward", "targetGroupArn": target_group.outputs["arn"]}]
    assert rule["listenerArn"].endswith("listener/app/edge/1/2")


def test_ami_from_an_ssm_parameter_is_resolved_to_a_plain_id() -> None:
    args = reference_args(ami_ssm_parameter=AMI_PARAMETER)
    del args["ami_id"]
    evaluation = build(args)
    lookups = [call for call in evaluation.mocks.calls if call[0] == "aws:ssm/getParameter:getParameter"]
    assert [call[1]["name"] for call in lookups] == [AMI_PARAMETER]
    image_id = only(evaluation, ResourceType.LAUNCH_TEMPLATE).inputs["imageId"]
    assert image_id.startswith("ami-") and "resolve:ssm" not in image_id


def test_optional_warm_pool_checkpoints_and_host_rule() -> None:
    evaluation = build(
        reference_args(
            warm_pool={"min_size": 2, "pool_state": "Running", "reuse_on_scale_in": True},
            instance_refresh={"checkpoint_percentages": [20, 50, 100], "checkpoint_delay_seconds": 600},
            routing={"priority": 7, "host_headers": ["reports.example.com"]},
        )
    )
    group = only(evaluation, ResourceType.AUTOSCALING_GROUP).inputs
    assert group["warmPool"] == {"minSize": 2, "poolState": "Running", "instanceReusePolicy": {"reuseOnScaleIn": True}}
    prefs = group["instanceRefresh"]["preferences"]
    assert prefs["checkpointPercentages"] == [20, 50, 100]
    assert prefs["checkpointDelay"] == "600"
    rule = only(evaluation, ResourceType.LISTENER_RULE).inputs
    assert rule["conditions"] == [{"hostHeader": {"values": ["reports.example.com"]}}]


@pulumi.runtime.test
def test_component_outputs_pin_the_version_and_name_the_alarms() -> pulumi.Output:
    """The component's own Output attributes, read through pulumi.runtime.test."""
    pulumi.runtime.set_mocks(RecordingMocks(), project="zero-downtime", stack="unit", preview=False)
    from zero_downtime.components.rolling_asg import RollingAutoScalingGroup

    fleet = RollingAutoScalingGroup("orders", reference_args())  # type: ignore[arg-type]

    def check(values: list[Any]) -> None:
        version, alarm_names, composite, preferences, asg_name = values
        assert version.isdigit()
        assert len(alarm_names) == 3 and all(n.startswith("zero-downtime-unit-orders-") for n in alarm_names)
        assert composite.endswith("-health")
        assert preferences["AlarmSpecification"]["Alarms"] == alarm_names
        assert preferences["AutoRollback"] is True
        assert asg_name.startswith("orders-asg")

    return pulumi.Output.all(
        fleet.launch_template_version,
        fleet.alarm_names,
        fleet.composite_alarm_name,
        fleet.refresh_preferences,
        fleet.auto_scaling_group_name,
    ).apply(check)


AN_OUTPUT = object()
"""Stands for an Output: creating one at import time would tie it to the collection-time loop."""


@dataclass(frozen=True)
class Bad:
    id: str
    changes: dict[str, Any]
    key: str
    remove: tuple[str, ...] = ()


BAD_ARGS = [
    Bad("no-ami", {}, "ami_id", remove=("ami_id",)),
    Bad("ami-and-parameter", {"ami_ssm_parameter": AMI_PARAMETER}, "ami_id"),
    Bad("ami-not-an-id", {"ami_id": "amazon-linux"}, "ami_id"),
    Bad("parameter-not-a-path", {"ami_ssm_parameter": "al2023"}, "ami_ssm_parameter", remove=("ami_id",)),
    Bad("no-instance-type", {}, "instance_type", remove=("instance_type",)),
    Bad("desired-above-max", {"desired_capacity": 13}, "desired_capacity"),
    Bad("desired-below-min", {"desired_capacity": 7}, "desired_capacity"),
    Bad("min-above-max", {"min_size": 13}, "min_size"),
    Bad("desired-zero", {"desired_capacity": 0, "min_size": 0}, "desired_capacity"),
    Bad("desired-an-output", {"desired_capacity": AN_OUTPUT}, "desired_capacity"),
    Bad("no-routing", {}, "routing", remove=("routing",)),
    Bad("routing-without-priority", {"routing": {"path_patterns": ["/r/*"]}}, "routing.priority"),
    Bad("routing-priority-50000", {"routing": {"priority": 50_000, "path_patterns": ["/r/*"]}}, "routing.priority"),
    Bad("routing-without-condition", {"routing": {"priority": 5}}, "routing"),
    Bad("routing-paths-a-string", {"routing": {"priority": 5, "path_patterns": "/r/*"}}, "routing.path_patterns"),
    Bad(
        "routing-too-many-values",
        {"routing": {"priority": 5, "path_patterns": ["/a", "/b", "/c"], "host_headers": ["x", "y", "z"]}},
        "routing.path_patterns",
    ),
    Bad("port-zero", {"instance_port": 0}, "instance_port"),
    Bad("health-path-relative", {"health_check": {"path": "health"}}, "health_check.path"),
    Bad("health-timeout-not-below-interval", {"health_check": {"timeout_seconds": 10}}, "health_check.timeout_seconds"),
    Bad("health-unknown-key", {"health_check": {"port": 80}}, "health_check.port"),
    Bad("warm-pool-state", {"warm_pool": {"pool_state": "Paused"}}, "warm_pool.pool_state"),
    Bad("warm-pool-negative", {"warm_pool": {"min_size": -1}}, "warm_pool.min_size"),
    Bad("warm-pool-not-a-map", {"warm_pool": 2}, "warm_pool"),
    Bad("warm-pool-unknown-key", {"warm_pool": {"size": 2}}, "warm_pool.size"),
    Bad("hop-limit-zero", {"metadata_hop_limit": 0}, "metadata_hop_limit"),
    Bad("released-version-zero", {"released_version": 0}, "released_version"),
    Bad("released-version-latest", {"released_version": "$Latest"}, "released_version"),
    Bad("alarm-threshold", {"alarms": {"evaluation_periods": 0}}, "alarms.evaluation_periods"),
    Bad(
        "policy-min-in-service",
        {"rolling_update": {"MinInstancesInService": 10}},
        "rolling_update.MinInstancesInService",
    ),
    Bad("policy-batch", {"rolling_update": {"MaxBatchSize": 0}}, "rolling_update.MaxBatchSize"),
    Bad("policy-pause", {"rolling_update": {"PauseTime": "PT90M"}}, "rolling_update.PauseTime"),
    Bad(
        "refresh-min-not-below-max",
        {"instance_refresh": {"min_healthy_percentage": 100}},
        "instance_refresh.max_healthy_percentage",
    ),
]


@pytest.mark.parametrize("case", BAD_ARGS, ids=lambda c: c.id)
def test_bad_args_name_the_key_and_create_nothing(case: Bad) -> None:
    args = copy.deepcopy({k: v for k, v in reference_args().items() if k not in case.remove})
    args.update({k: pulumi.Output.from_input(10) if v is AN_OUTPUT else v for k, v in case.changes.items()})
    with pytest.raises(ArgError) as raised:
        build(args)
    assert raised.value.key == case.key, str(raised.value)
    assert str(raised.value).startswith(f"{case.key}: ")


def test_bad_args_register_no_resource() -> None:
    errors: list[ArgError] = []

    def program() -> None:
        from zero_downtime.components.rolling_asg import RollingAutoScalingGroup

        try:
            RollingAutoScalingGroup("bad", reference_args(rolling_update={"MaxBatchSize": 0}))  # type: ignore[arg-type]
        except ArgError as err:
            errors.append(err)

    evaluation = run_under_mocks(program)
    assert [e.key for e in errors] == ["rolling_update.MaxBatchSize"]
    assert evaluation.resources == []


# -- the resolve step and the child attributes ----------------------------------------------------------
WIRED = ("vpc_id", "subnet_ids", "listener_arn", "load_balancer_arn_suffix", "load_balancer_security_group_id")


def test_resolve_needs_no_wired_input_and_writes_every_default() -> None:
    from zero_downtime.components.release_alarms import DEFAULT_THRESHOLDS
    from zero_downtime.components.rolling_asg import (
        DEFAULT_FLEET_MATCHER,
        DEFAULT_GRACE_PERIOD_SECONDS,
        DEFAULT_INSTANCE_PORT,
        DEFAULT_INSTANCE_WARMUP_SECONDS,
        DEFAULT_METADATA_HOP_LIMIT,
        DEFAULT_ROOT_DEVICE_NAME,
        DEFAULT_ROOT_VOLUME_SIZE_GIB,
        WIRED_INPUTS,
        resolve_rolling_asg,
    )
    from zero_downtime.components.routing import DEFAULT_DEREGISTRATION_DELAY_SECONDS, RoutingSettings

    assert set(WIRED_INPUTS) == set(WIRED)
    config_only = {
        "routing": {"priority": 200, "path_patterns": ["/reports/*"]},
        "instance_type": "t3.small",
        "ami_id": "ami-0123456789abcdef0",
        "desired_capacity": 2,
        "min_size": 2,
        "max_size": 4,
    }
    settings = resolve_rolling_asg(config_only)  # type: ignore[arg-type]
    assert settings.routing == RoutingSettings(priority=200, path_patterns=["/reports/*"])
    assert (settings.desired_capacity, settings.min_size, settings.max_size) == (2, 2, 4)
    assert settings.instance_port == DEFAULT_INSTANCE_PORT == 80
    assert settings.health_check.matcher == DEFAULT_FLEET_MATCHER
    assert settings.grace_period_seconds == DEFAULT_GRACE_PERIOD_SECONDS
    assert settings.default_instance_warmup_seconds == DEFAULT_INSTANCE_WARMUP_SECONDS
    assert settings.deregistration_delay_seconds == DEFAULT_DEREGISTRATION_DELAY_SECONDS
    assert (settings.root_volume_size_gib, settings.root_device_name, settings.metadata_hop_limit) == (
        DEFAULT_ROOT_VOLUME_SIZE_GIB,
        DEFAULT_ROOT_DEVICE_NAME,
        DEFAULT_METADATA_HOP_LIMIT,
    )
    assert (settings.warm_pool, settings.released_version, settings.ami_ssm_parameter) == (None, None, None)
    assert settings.alarms == DEFAULT_THRESHOLDS
    # AWS's own refresh defaults when no policy is given.
    assert (settings.refresh.min_healthy_percentage, settings.refresh.max_healthy_percentage) == (90, 100)


@pytest.mark.parametrize("missing", WIRED)
def test_a_missing_wired_input_fails_naming_it_and_creates_nothing(missing: str) -> None:
    args = {k: v for k, v in reference_args().items() if k != missing}
    errors: list[ArgError] = []

    def program() -> None:
        from zero_downtime.components.rolling_asg import RollingAutoScalingGroup

        try:
            RollingAutoScalingGroup("reports", args)  # type: ignore[arg-type]
        except ArgError as err:
            errors.append(err)

    evaluation = run_under_mocks(program)
    assert [e.key for e in errors] == [missing]
    assert evaluation.resources == []


def test_children_are_the_registered_resources() -> None:
    from tests.components.children import export_urns, registered_children

    def program() -> None:
        from zero_downtime.components.rolling_asg import RollingAutoScalingGroup

        fleet = RollingAutoScalingGroup("reports", reference_args())  # type: ignore[arg-type]
        export_urns(
            {
                "group": fleet.group,
                "launch_template": fleet.launch_template,
                "target_group": fleet.target_group,
                "rule": fleet.rule,
                "security_group": fleet.security_group,
                "alarms": fleet.alarms,
            }
        )

    assert registered_children(run_under_mocks(program)) == {
        "group": (ResourceType.AUTOSCALING_GROUP, "reports-asg"),
        "launch_template": (ResourceType.LAUNCH_TEMPLATE, "reports-lt"),
        "target_group": (ResourceType.TARGET_GROUP, "reports-tg"),
        "rule": (ResourceType.LISTENER_RULE, "reports-rule"),
        "security_group": (ResourceType.SECURITY_GROUP, "reports-sg"),
        "alarms": (ResourceType.RELEASE_ALARMS, "reports-alarms"),
    }


# -- the routing, health check and warm pool steps of resolve_rolling_asg --------------------------------
def fleet_config(**overrides: Any) -> dict[str, Any]:
    """What a user configures for a fleet of 2..4 instances: no wired input."""
    config: dict[str, Any] = {
        "routing": {"priority": 200, "path_patterns": ["/reports/*"]},
        "instance_type": "t3.small",
        "ami_id": "ami-0123456789abcdef0",
        "desired_capacity": 2,
        "min_size": 2,
        "max_size": 4,
    }
    config.update(overrides)
    return config


FLEET_REFUSALS = [
    pytest.param(
        {"routing": None},
        "routing",
        "is required: a priority and host_headers and/or path_patterns",
        id="routing-missing",
    ),
    pytest.param(
        {"health_check": 5},
        "health_check",
        "must be a mapping of health check settings, got 5",
        id="health-check-not-a-map",
    ),
    pytest.param(
        {"health_check": ["/health"]},
        "health_check",
        "must be a mapping of health check settings, got ['/health']",
        id="health-check-a-list",
    ),
    pytest.param(
        {"health_check": {"port": 80}},
        "health_check.port",
        "is not a health check setting",
        id="health-check-unknown-key",
    ),
    pytest.param(
        {"health_check": {"grace_period_seconds": -1}},
        "health_check.grace_period_seconds",
        "must be >= 0, got -1",
        id="grace-negative",
    ),
    pytest.param(
        {"health_check": {"grace_period_seconds": "5m"}},
        "health_check.grace_period_seconds",
        "must be an integer, got '5m'",
        id="grace-text",
    ),
    pytest.param(
        {"warm_pool": 2},
        "warm_pool",
        "must be a mapping of warm pool settings, got 2",
        id="warm-pool-not-a-map",
    ),
    pytest.param(
        {"warm_pool": {"size": 2}},
        "warm_pool.size",
        "is not a warm pool setting",
        id="warm-pool-unknown-key",
    ),
    pytest.param(
        {"warm_pool": {"min_size": -1}},
        "warm_pool.min_size",
        "must be >= 0, got -1",
        id="warm-pool-min-size-negative",
    ),
    pytest.param(
        {"warm_pool": {"max_group_prepared_capacity": 1}},
        "warm_pool.max_group_prepared_capacity",
        "must be >= 2, got 1",
        id="warm-pool-prepared-below-desired",
    ),
    pytest.param(
        {"warm_pool": {"pool_state": "Paused"}},
        "warm_pool.pool_state",
        "must be one of Stopped, Running, Hibernated, got 'Paused'",
        id="warm-pool-state",
    ),
    pytest.param(
        {"warm_pool": {"reuse_on_scale_in": "yes"}},
        "warm_pool.reuse_on_scale_in",
        "must be true or false, got 'yes'",
        id="warm-pool-reuse-not-a-bool",
    ),
]


@pytest.mark.parametrize(("changes", "key", "problem"), FLEET_REFUSALS)
def test_resolve_fleet_refuses_naming_the_key_with_the_whole_message(
    changes: dict[str, Any], key: str, problem: str
) -> None:
    from zero_downtime.components.rolling_asg import resolve_rolling_asg

    with pytest.raises(ArgError) as raised:
        resolve_rolling_asg(fleet_config(**changes))  # type: ignore[arg-type]
    assert (raised.value.key, raised.value.problem) == (key, problem)
    assert str(raised.value) == f"{key}: {problem}"


@pytest.mark.parametrize("grace", [0, 1, 3600], ids=["zero", "one", "an-hour"])
def test_resolve_fleet_accepts_a_grace_period_from_zero_and_reads_it_back(grace: int) -> None:
    from zero_downtime.components.rolling_asg import resolve_rolling_asg

    settings = resolve_rolling_asg(fleet_config(health_check={"grace_period_seconds": grace}))  # type: ignore[arg-type]
    assert settings.grace_period_seconds == grace


def test_resolve_fleet_passes_an_output_grace_period_unchecked() -> None:
    from zero_downtime.components.rolling_asg import resolve_rolling_asg

    grace = pulumi.Output.from_input(-1)
    settings = resolve_rolling_asg(fleet_config(health_check={"grace_period_seconds": grace}))  # type: ignore[arg-type]
    assert settings.grace_period_seconds is grace


def test_resolve_fleet_health_check_given_with_the_grace_period_keeps_the_other_defaults() -> None:
    from zero_downtime.components.rolling_asg import (
        DEFAULT_FLEET_MATCHER,
        DEFAULT_GRACE_PERIOD_SECONDS,
        resolve_rolling_asg,
    )

    plain = resolve_rolling_asg(fleet_config())  # type: ignore[arg-type]
    empty = resolve_rolling_asg(fleet_config(health_check={}))  # type: ignore[arg-type]
    graced = resolve_rolling_asg(fleet_config(health_check={"grace_period_seconds": 60}))  # type: ignore[arg-type]
    assert plain.grace_period_seconds == empty.grace_period_seconds == DEFAULT_GRACE_PERIOD_SECONDS
    assert plain.health_check == empty.health_check == graced.health_check
    assert graced.health_check.matcher == DEFAULT_FLEET_MATCHER


def test_resolve_fleet_warm_pool_defaults_and_values_read_back() -> None:
    from zero_downtime.components.rolling_asg import WarmPoolSettings, resolve_rolling_asg

    assert resolve_rolling_asg(fleet_config()).warm_pool is None  # type: ignore[arg-type]
    empty = resolve_rolling_asg(fleet_config(warm_pool={})).warm_pool  # type: ignore[arg-type]
    assert empty == WarmPoolSettings(
        min_size=0, max_group_prepared_capacity=None, pool_state="Stopped", reuse_on_scale_in=False
    )
    given = {"min_size": 3, "max_group_prepared_capacity": 2, "pool_state": "Hibernated", "reuse_on_scale_in": True}
    assert resolve_rolling_asg(fleet_config(warm_pool=given)).warm_pool == WarmPoolSettings(  # type: ignore[arg-type]
        min_size=3, max_group_prepared_capacity=2, pool_state="Hibernated", reuse_on_scale_in=True
    )
