"""The real stack program's exports, read back through the contract's parsers.

Each shipped stack with services or fleets is evaluated under mocks; every exported entry must parse
with `contract.parse_service` / `parse_fleet`, and the parsed record must say what the stack file
configured (images, counts, weights, live color, config path) and point at the resources the program
registered (ARNs that look like ARNs, of the right resources).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from zero_downtime.contract import (
    COLORS,
    FleetOutputs,
    ServiceOutputs,
    Weights,
    fleet_names,
    other_color,
    parse_fleet,
    parse_service,
    service_names,
)
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import PROJECT_ROOT, Evaluation, evaluate_program, stack_names

PROJECT = "zero-downtime"
ARN = re.compile(r"^arn:aws:(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<resource>.+)$")


def stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def declared(stack: str, section: str) -> dict[str, Any]:
    return stack_file(stack).get(f"{PROJECT}:{section}") or {}


RELEASE_STACKS = [s for s in stack_names() if declared(s, "services") or declared(s, "fleets")]
OTHER_STACKS = [s for s in stack_names() if s not in RELEASE_STACKS]
_EVALUATIONS: dict[str, Evaluation] = {}


def evaluation(stack: str) -> Evaluation:
    if stack not in _EVALUATIONS:
        _EVALUATIONS[stack] = evaluate_program(stack)
    return _EVALUATIONS[stack]


def arn(value: str, service: str, resource_prefix: str) -> re.Match[str]:
    match = ARN.match(value)
    assert match, f"not an ARN: {value!r}"
    assert match["service"] == service, value
    assert match["resource"].startswith(resource_prefix), value
    return match


def registered(ev: Evaluation, type_token: str, name: str) -> Any:
    [resource] = [r for r in ev.of_type(type_token) if r.name == name]
    return resource


def test_the_shipped_stacks_exercise_services_and_fleets() -> None:
    assert {"dev", "staging", "prod"} <= set(RELEASE_STACKS)
    assert any(declared(s, "fleets") for s in RELEASE_STACKS), "no shipped stack declares a fleet"


@pytest.mark.parametrize("stack", RELEASE_STACKS)
def test_every_service_parses_to_what_the_stack_file_configures(stack: str) -> None:
    ev = evaluation(stack)
    config = declared(stack, "services")
    assert service_names(ev.outputs) == sorted(config)
    for name, cfg in config.items():
        svc = parse_service(ev.outputs, name)
        assert isinstance(svc, ServiceOutputs)
        assert (svc.name, svc.config_path) == (name, f"services.{name}")
        assert svc.mode == cfg.get("mode", "paired")
        assert svc.live_color == cfg["liveColor"]
        assert svc.idle_color == other_color(cfg["liveColor"])
        defaults = Weights.all_to(svc.live_color)
        configured = {c: cfg[c].get("weight", defaults.of(c)) for c in COLORS}
        expected_weights = Weights(**configured) if svc.mode == "paired" else defaults
        assert svc.weights == expected_weights
        for color in COLORS:
            out, given = svc.color(color), cfg[color]
            assert out.image == given["image"]
            assert out.weight == configured[color]
            assert out.desired_count == given.get("desiredCount", 1 if configured[color] > 0 else 0)


@pytest.mark.parametrize("stack", RELEASE_STACKS)
def test_every_service_points_at_the_resources_the_program_registered(stack: str) -> None:
    ev = evaluation(stack)
    outputs = ev.outputs
    for name in service_names(outputs):
        svc = parse_service(outputs, name)
        # The shared edge: the same values the stack exports for other stacks.
        assert svc.cluster_arn == outputs["clusterArn"]
        assert arn(svc.cluster_arn, "ecs", "cluster/")["resource"] == f"cluster/{svc.cluster_name}"
        assert svc.load_balancer_arn_suffix == outputs["loadBalancerArnSuffix"]
        assert svc.load_balancer_arn_suffix.startswith("app/")
        assert svc.production_listener_arn == outputs["productionListenerArn"]
        assert svc.test_listener_arn == outputs["testListenerArn"]
        arn(svc.production_listener_arn, "elasticloadbalancing", "listener/")
        # The service's own rules, topic and URLs.
        for rule_arn, rule_name in ((svc.production_rule_arn, "prod-rule"), (svc.test_rule_arn, "test-rule")):
            arn(rule_arn, "elasticloadbalancing", "listener-rule/")
            assert rule_arn == registered(ev, T.LISTENER_RULE, f"{name}-{rule_name}").outputs["arn"]
        assert svc.notification_topic_arn is not None
        arn(svc.notification_topic_arn, "sns", f"{name}-releases")
        assert svc.production_url.startswith(outputs["productionBaseUrl"])
        assert svc.test_url.startswith(outputs["testBaseUrl"])
        alarms_seen: set[str] = set()
        for color in COLORS:
            out = svc.color(color)
            target_group = registered(ev, T.TARGET_GROUP, f"{name}-{color}-tg")
            assert out.target_group_arn == target_group.outputs["arn"]
            assert out.target_group_arn_suffix == target_group.outputs["arnSuffix"]
            arn(out.target_group_arn, "elasticloadbalancing", f"{out.target_group_arn_suffix}")
            service = registered(ev, T.ECS_SERVICE, f"{name}-{color}-svc" if svc.mode == "paired" else f"{name}-svc")
            assert (out.service_name, out.service_arn) == (service.outputs["name"], service.outputs["arn"])
            arn(out.service_arn, "ecs", f"service/{svc.cluster_name}/")
            arn(out.task_definition_arn, "ecs", "task-definition/")
            assert len(out.alarm_names) == 3 and out.composite_alarm_name is not None
            composite = registered(ev, T.COMPOSITE_ALARM, f"{name}-{color}-alarms-health")
            assert out.composite_alarm_name == composite.inputs["alarmName"]
            assert all(f'ALARM("{alarm}")' in composite.inputs["alarmRule"] for alarm in out.alarm_names)
            alarms_seen.update(out.alarm_names)
        assert len(alarms_seen) == 6, "each color watches its own alarms"


REFRESH_KEYS = {
    "minHealthyPercentage": "MinHealthyPercentage",
    "maxHealthyPercentage": "MaxHealthyPercentage",
    "instanceWarmupSeconds": "InstanceWarmup",
    "checkpointPercentages": "CheckpointPercentages",
    "checkpointDelaySeconds": "CheckpointDelay",
    "skipMatching": "SkipMatching",
    "autoRollback": "AutoRollback",
}


@pytest.mark.parametrize("stack", [s for s in RELEASE_STACKS if declared(s, "fleets")])
def test_every_fleet_parses_to_what_the_stack_file_configures(stack: str) -> None:
    ev = evaluation(stack)
    config = declared(stack, "fleets")
    assert fleet_names(ev.outputs) == sorted(config)
    for name, cfg in config.items():
        fleet = parse_fleet(ev.outputs, name)
        assert isinstance(fleet, FleetOutputs)
        assert (fleet.name, fleet.config_path) == (name, f"fleets.{name}")
        assert (fleet.desired_capacity, fleet.min_size, fleet.max_size) == (
            cfg["desiredCapacity"],
            cfg["minSize"],
            cfg["maxSize"],
        )
        assert fleet.launch_template_latest_version >= 1
        assert fleet.launch_template_version == cfg.get("releasedVersion", fleet.launch_template_latest_version)
        for key, value in (cfg.get("instanceRefresh") or {}).items():
            assert fleet.refresh_preferences[REFRESH_KEYS[key]] == value, key
        assert fleet.refresh_preferences["AlarmSpecification"]["Alarms"] == list(fleet.alarm_names)

        group = registered(ev, T.AUTOSCALING_GROUP, f"{name}-asg")
        assert (fleet.auto_scaling_group_name, fleet.auto_scaling_group_arn) == (
            group.outputs["name"],
            group.outputs["arn"],
        )
        arn(fleet.auto_scaling_group_arn, "autoscaling", "autoScalingGroup:")
        assert fleet.auto_scaling_group_arn.endswith(f"autoScalingGroupName/{fleet.auto_scaling_group_name}")
        assert fleet.launch_template_id == registered(ev, T.LAUNCH_TEMPLATE, f"{name}-lt").id
        assert fleet.launch_template_id.startswith("lt-")
        target_group = registered(ev, T.TARGET_GROUP, f"{name}-tg")
        assert fleet.target_group_arn == target_group.outputs["arn"]
        arn(fleet.target_group_arn, "elasticloadbalancing", fleet.target_group_arn_suffix)
        assert fleet.listener_rule_arn == registered(ev, T.LISTENER_RULE, f"{name}-rule").outputs["arn"]
        arn(fleet.listener_rule_arn, "elasticloadbalancing", "listener-rule/")
        assert fleet.load_balancer_arn_suffix == ev.outputs["loadBalancerArnSuffix"]
        assert len(fleet.alarm_names) == 3
        assert (
            fleet.composite_alarm_name == registered(ev, T.COMPOSITE_ALARM, f"{name}-alarms-health").inputs["alarmName"]
        )


@pytest.mark.parametrize("stack", OTHER_STACKS)
def test_stacks_without_services_or_fleets_export_none(stack: str) -> None:
    outputs = evaluation(stack).outputs
    assert service_names(outputs) == [] and fleet_names(outputs) == []
