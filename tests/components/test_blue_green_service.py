"""BlueGreenService under mocks: what it registers, and what it refuses."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordedResource, RecordingMocks

LB_SUFFIX = "app/test-alb/0123456789abcdef"


def base_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/test",
        "vpc_id": "vpc-0123",
        "subnet_ids": ["subnet-a", "subnet-b"],
        "load_balancer_arn_suffix": LB_SUFFIX,
        "load_balancer_security_group_id": "sg-alb",
        "production_listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/test-alb/x/prod",
        "test_listener_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/test-alb/x/test",
        "production_base_url": "http://alb.example.com",
        "test_base_url": "http://alb.example.com:9000",
        "live_color": "blue",
        "blue": {"image": "registry.example.com/web:1", "desired_count": 2, "weight": 90},
        "green": {"image": "registry.example.com/web:2", "desired_count": 2, "weight": 10},
        "tags": {"team": "platform"},
    }
    args.update(overrides)
    return args


def build(args: dict[str, Any], mocks: RecordingMocks | None = None) -> Evaluation:
    from zero_downtime.components.blue_green_service import BlueGreenService

    def program() -> None:
        svc = BlueGreenService("web", args)
        pulumi.export("release", svc.release_outputs)

    return run_under_mocks(program, stack="unit", mocks=mocks)


def one(ev: Evaluation, type_token: str, name: str) -> RecordedResource:
    matches = [r for r in ev.of_type(type_token) if r.name == name]
    assert len(matches) == 1, f"expected one {type_token} named {name}, got {[r.name for r in ev.of_type(type_token)]}"
    return matches[0]


@pytest.fixture(scope="module")
def paired() -> Evaluation:
    return build(base_args())


def test_paired_mode_registers_one_of_everything_per_color(paired: Evaluation) -> None:
    counts = {t: len(paired.of_type(t)) for t in T}
    assert counts[T.ECS_SERVICE] == 2
    assert counts[T.ECS_TASK_DEFINITION] == 2
    assert counts[T.TARGET_GROUP] == 2
    assert counts[T.LISTENER_RULE] == 2
    assert counts[T.RELEASE_ALARMS] == 2
    assert counts[T.METRIC_ALARM] == 6
    assert counts[T.COMPOSITE_ALARM] == 2
    assert counts[T.SNS_TOPIC] == 1
    assert counts[T.LOG_GROUP] == 1
    assert counts[T.IAM_ROLE] == 2  # execution role and task role; no ECS infrastructure role in paired mode
    assert counts[T.SECURITY_GROUP] == 1


def test_production_rule_forwards_to_both_target_groups_by_weight(paired: Evaluation) -> None:
    tg_arn = {c: one(paired, T.TARGET_GROUP, f"web-{c}-tg").outputs["arn"] for c in ("blue", "green")}
    prod = one(paired, T.LISTENER_RULE, "web-prod-rule")
    assert prod.inputs["listenerArn"].endswith("/prod")
    forward = prod.inputs["actions"][0]["forward"]
    assert {g["arn"]: g["weight"] for g in forward["targetGroups"]} == {tg_arn["blue"]: 90, tg_arn["green"]: 10}
    assert "stickiness" not in forward


def test_test_listener_rule_sends_everything_to_the_idle_color(paired: Evaluation) -> None:
    tg_arn = {c: one(paired, T.TARGET_GROUP, f"web-{c}-tg").outputs["arn"] for c in ("blue", "green")}
    rule = one(paired, T.LISTENER_RULE, "web-test-rule")
    assert rule.inputs["listenerArn"].endswith("/test")
    weights = {g["arn"]: g["weight"] for g in rule.inputs["actions"][0]["forward"]["targetGroups"]}
    assert weights == {tg_arn["green"]: 100, tg_arn["blue"]: 0}


def test_catch_all_rule_without_routing_and_conditions_with_routing() -> None:
    routed = build(base_args(routing={"priority": 120, "path_patterns": ["/api/*"], "host_headers": ["shop.example"]}))
    rule = one(routed, T.LISTENER_RULE, "web-prod-rule")
    assert rule.inputs["priority"] == 120
    assert {"pathPattern": {"values": ["/api/*"]}} in rule.inputs["conditions"]
    assert {"hostHeader": {"values": ["shop.example"]}} in rule.inputs["conditions"]
    assert routed.outputs["release"]["productionUrl"] == "http://shop.example/api"
    assert routed.outputs["release"]["testUrl"] == "http://shop.example:9000/api"


def test_catch_all_rule_is_the_lowest_priority(paired: Evaluation) -> None:
    rule = one(paired, T.LISTENER_RULE, "web-prod-rule")
    assert rule.inputs["priority"] == 50000
    assert rule.inputs["conditions"] == [{"pathPattern": {"values": ["/*"]}}]


def test_stickiness_is_on_the_weighted_forward_when_enabled() -> None:
    ev = build(base_args(stickiness={"enabled": True, "duration_seconds": 120}))
    forward = one(ev, T.LISTENER_RULE, "web-prod-rule").inputs["actions"][0]["forward"]
    assert forward["stickiness"] == {"enabled": True, "duration": 120}


def test_target_groups_health_check_and_short_deregistration_delay(paired: Evaluation) -> None:
    for color in ("blue", "green"):
        tg = one(paired, T.TARGET_GROUP, f"web-{color}-tg")
        assert tg.inputs["targetType"] == "ip"
        assert tg.inputs["deregistrationDelay"] == 30
        hc = tg.inputs["healthCheck"]
        assert (hc["enabled"], hc["path"], hc["interval"], hc["healthyThreshold"], hc["unhealthyThreshold"]) == (
            True,
            "/health",
            10,
            2,
            2,
        )


def test_health_check_settings_come_from_args() -> None:
    ev = build(
        base_args(
            health_check={"path": "/ready", "interval_seconds": 15, "timeout_seconds": 4, "healthy_threshold": 3},
            deregistration_delay_seconds=45,
        )
    )
    tg = one(ev, T.TARGET_GROUP, "web-green-tg")
    assert tg.inputs["deregistrationDelay"] == 45
    assert tg.inputs["healthCheck"]["path"] == "/ready"
    assert tg.inputs["healthCheck"]["interval"] == 15
    assert tg.inputs["healthCheck"]["timeout"] == 4
    assert tg.inputs["healthCheck"]["healthyThreshold"] == 3


def test_each_color_is_a_rolling_service_with_circuit_breaker_and_100_200(paired: Evaluation) -> None:
    for color in ("blue", "green"):
        svc = one(paired, T.ECS_SERVICE, f"web-{color}-svc")
        assert svc.inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
        assert svc.inputs["deploymentMinimumHealthyPercent"] == 100
        assert svc.inputs["deploymentMaximumPercent"] == 200
        assert svc.inputs["healthCheckGracePeriodSeconds"] == 60
        assert svc.inputs["deploymentController"] == {"type": "ECS"}
        assert svc.inputs["launchType"] == "FARGATE"
        assert svc.inputs["desiredCount"] == 2
        tg = one(paired, T.TARGET_GROUP, f"web-{color}-tg")
        assert svc.inputs["loadBalancers"][0]["targetGroupArn"] == tg.outputs["arn"]
        assert svc.inputs["networkConfiguration"]["assignPublicIp"] is False


def test_services_wait_for_the_rules_that_attach_their_target_groups(paired: Evaluation) -> None:
    rule_urns = {r.name for r in paired.of_type(T.LISTENER_RULE)}
    for svc in paired.of_type(T.ECS_SERVICE):
        assert {d.rsplit("::", 1)[-1] for d in svc.dependencies} >= rule_urns


def test_task_definition_carries_the_color_image_and_secure_defaults(paired: Evaluation) -> None:
    task = one(paired, T.ECS_TASK_DEFINITION, "web-green-task")
    [container] = json.loads(task.inputs["containerDefinitions"])
    assert container["image"] == "registry.example.com/web:2"
    assert container["portMappings"] == [{"containerPort": 8080, "protocol": "tcp"}]
    assert container["readonlyRootFilesystem"] is True
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert {"name": "APP_COLOR", "value": "green"} in container["environment"]
    assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert task.inputs["networkMode"] == "awsvpc"


def test_secrets_are_injected_by_reference_never_as_plain_environment() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password"
    ev = build(base_args(secrets={"DB_PASSWORD": arn}, environment={"LOG_LEVEL": "info"}))
    [container] = json.loads(one(ev, T.ECS_TASK_DEFINITION, "web-blue-task").inputs["containerDefinitions"])
    assert container["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": arn}]
    assert "DB_PASSWORD" not in {e["name"] for e in container["environment"]}
    policy = json.loads(one(ev, T.IAM_ROLE_POLICY, "web-read-secrets").inputs["policy"])
    assert policy["Statement"][0]["Resource"] == [arn]


def test_alarm_dimensions_point_at_the_color_target_group_and_the_alb(paired: Evaluation) -> None:
    for color in ("blue", "green"):
        tg_suffix = one(paired, T.TARGET_GROUP, f"web-{color}-tg").outputs["arnSuffix"]
        latency = one(paired, T.METRIC_ALARM, f"web-{color}-alarms-p99-latency")
        assert latency.inputs["dimensions"] == {"LoadBalancer": LB_SUFFIX, "TargetGroup": tg_suffix}
        assert latency.inputs["extendedStatistic"] == "p99"
        unhealthy = one(paired, T.METRIC_ALARM, f"web-{color}-alarms-unhealthy-hosts")
        assert unhealthy.inputs["dimensions"] == {"LoadBalancer": LB_SUFFIX, "TargetGroup": tg_suffix}
        error_rate = one(paired, T.METRIC_ALARM, f"web-{color}-alarms-5xx-rate")
        metrics = [q["metric"] for q in error_rate.inputs["metricQueries"] if "metric" in q]
        assert {m["metricName"] for m in metrics} == {"HTTPCode_Target_5XX_Count", "RequestCount"}
        assert all(m["dimensions"] == {"LoadBalancer": LB_SUFFIX, "TargetGroup": tg_suffix} for m in metrics)


def test_tags_on_every_taggable_resource(paired: Evaluation) -> None:
    taggable = [r for r in paired.resources if r.custom and "tags" in r.inputs]
    assert len(taggable) >= 15
    for resource in taggable:
        tags = resource.inputs["tags"]
        assert tags["service"] == "web", resource.name
        assert tags["stack"] == "unit", resource.name
        assert tags["managed-by"] == "pulumi-zero-downtime", resource.name
        assert tags["team"] == "platform", resource.name
    for color in ("blue", "green"):
        assert one(paired, T.ECS_SERVICE, f"web-{color}-svc").inputs["tags"]["color"] == color


def test_children_are_parented_to_the_component(paired: Evaluation) -> None:
    for resource in paired.of_type(T.ECS_SERVICE) + paired.of_type(T.TARGET_GROUP) + paired.of_type(T.LISTENER_RULE):
        assert resource.parent.endswith("zero-downtime:index:BlueGreenService::web")


def test_release_outputs_name_everything_the_driver_needs(paired: Evaluation) -> None:
    release = paired.outputs["release"]
    assert (release["liveColor"], release["idleColor"]) == ("blue", "green")
    assert release["weights"] == {"blue": 90, "green": 10}
    assert release["configPath"] == "services.web"
    assert release["productionRuleArn"] == one(paired, T.LISTENER_RULE, "web-prod-rule").outputs["arn"]
    assert release["testRuleArn"] == one(paired, T.LISTENER_RULE, "web-test-rule").outputs["arn"]
    assert release["clusterName"] == "test"
    for color in ("blue", "green"):
        out = release[color]
        tg = one(paired, T.TARGET_GROUP, f"web-{color}-tg")
        assert (out["targetGroupArn"], out["targetGroupArnSuffix"]) == (tg.outputs["arn"], tg.outputs["arnSuffix"])
        assert out["serviceName"] == one(paired, T.ECS_SERVICE, f"web-{color}-svc").outputs["name"]
        composite = one(paired, T.COMPOSITE_ALARM, f"web-{color}-alarms-health")
        assert out["compositeAlarmName"] == composite.inputs["alarmName"]
        assert len(out["alarmNames"]) == 3
        assert all(f'ALARM("{name}")' in composite.inputs["alarmRule"] for name in out["alarmNames"])


@pytest.fixture
def component_mocks() -> RecordingMocks:
    from pulumi.runtime import settings

    mocks = RecordingMocks()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="zero-downtime", stack="unit", preview=False)
    return mocks


@pulumi.runtime.test
def test_component_outputs_resolve_to_the_configured_colors(component_mocks: RecordingMocks):
    from zero_downtime.components.blue_green_service import BlueGreenService

    svc = BlueGreenService(
        "web", base_args(live_color="green", blue={"image": "a:1", "weight": 0}, green={"image": "a:2"})
    )

    def check(values: list[Any]) -> None:
        live, idle, weights, colors = values
        assert (live, idle) == ("green", "blue")
        assert weights == {"blue": 0, "green": 100}
        assert colors["green"]["desiredCount"] == 1  # defaults: a color with traffic runs a task
        assert colors["blue"]["desiredCount"] == 0

    return pulumi.Output.all(svc.live_color, svc.idle_color, svc.weights, svc.colors).apply(check)


def test_native_mode_hands_the_rules_to_ecs() -> None:
    ev = build(base_args(mode="native", native={"strategy": "CANARY", "canary_percent": 10, "bake_time_minutes": 15}))
    assert len(ev.of_type(T.ECS_SERVICE)) == 1
    for rule in ev.of_type(T.LISTENER_RULE):
        assert rule.ignore_changes == ["actions"], rule.name
    paired_rules = build(base_args()).of_type(T.LISTENER_RULE)
    assert paired_rules and all(rule.ignore_changes == [] for rule in paired_rules)

    svc = one(ev, T.ECS_SERVICE, "web-svc")
    tg_arn = {c: one(ev, T.TARGET_GROUP, f"web-{c}-tg").outputs["arn"] for c in ("blue", "green")}
    [lb] = svc.inputs["loadBalancers"]
    assert lb["targetGroupArn"] == tg_arn["blue"]
    advanced = lb["advancedConfiguration"]
    assert advanced["alternateTargetGroupArn"] == tg_arn["green"]
    assert advanced["productionListenerRule"] == one(ev, T.LISTENER_RULE, "web-prod-rule").outputs["arn"]
    assert advanced["testListenerRule"] == one(ev, T.LISTENER_RULE, "web-test-rule").outputs["arn"]
    assert advanced["roleArn"] == one(ev, T.IAM_ROLE, "web-ecs-infra-role").outputs["arn"]
    config = svc.inputs["deploymentConfiguration"]
    assert config["strategy"] == "CANARY"
    assert config["bakeTimeInMinutes"] == "15"
    assert config["canaryConfiguration"]["canaryPercent"] == 10
    assert svc.inputs["alarms"]["rollback"] is True
    assert len(svc.inputs["alarms"]["alarmNames"]) == 6
    infra_policy = one(ev, T.IAM_ROLE_POLICY_ATTACHMENT, "web-ecs-infra-policy")
    assert infra_policy.inputs["policyArn"].endswith("AmazonECSInfrastructureRolePolicyForLoadBalancers")


@dataclass
class BadArgs:
    id: str
    change: dict[str, Any]
    key: str


def _with(path: str, value: Any) -> dict[str, Any]:
    return {path: value}


BAD_ARGS = [
    BadArgs("weight-above-100", _with("blue.weight", 150), "blue.weight"),
    BadArgs("negative-weight", _with("green.weight", -5), "green.weight"),
    BadArgs("weights-not-100", _with("green.weight", 20), "green.weight"),
    BadArgs("unknown-live-color", _with("live_color", "red"), "live_color"),
    BadArgs("missing-image", _with("green.image", ""), "green.image"),
    BadArgs("weight-without-tasks", _with("green.desired_count", 0), "green.desired_count"),
    BadArgs("bad-name", _with("@name", "Web_1"), "name"),
    BadArgs("health-path", _with("health_check", {"path": "health"}), "health_check.path"),
    BadArgs("timeout-over-interval", _with("health_check", {"interval_seconds": 5, "timeout_seconds": 5}), "timeout"),
    BadArgs("deregistration", _with("deregistration_delay_seconds", 4000), "deregistration_delay_seconds"),
    BadArgs("routing-without-condition", _with("routing", {"priority": 10}), "routing"),
    BadArgs("priority-reserved", _with("routing", {"priority": 50000, "path_patterns": ["/x"]}), "routing.priority"),
    BadArgs("unknown-mode", _with("mode", "rolling"), "mode"),
    BadArgs("native-without-strategy", _with("mode", "native"), "native"),
    BadArgs("fargate-cpu", _with("cpu", 300), "cpu"),
    BadArgs("alarm-threshold", _with("alarms", {"error_rate_percent": 0}), "alarms.error_rate_percent"),
]


@pytest.mark.parametrize("case", BAD_ARGS, ids=lambda c: c.id)
def test_bad_args_fail_before_anything_is_registered(case: BadArgs) -> None:
    from zero_downtime.components.blue_green_service import BlueGreenService

    args = copy.deepcopy(base_args())
    name = "web"
    for path, value in case.change.items():
        if path == "@name":
            name = value
            continue
        *parents, leaf = path.split(".")
        target = args
        for part in parents:
            target = target[part]
        target[leaf] = value
    mocks = RecordingMocks()
    with pytest.raises(ArgError, match=case.key):
        run_under_mocks(lambda: BlueGreenService(name, args), stack="unit", mocks=mocks)
    assert mocks.resources == []


# -- the resolve step and the child attributes ----------------------------------------------------------
CONFIG_ONLY = {"live_color": "green", "blue": {"image": "a:1"}, "green": {"image": "a:2"}}
"""What a user configures, without any of the wired inputs (cluster, VPC, listeners...)."""


def test_resolve_needs_no_wired_input_and_writes_every_default() -> None:
    from zero_downtime.components.blue_green_service import (
        DEFAULT_CPU,
        DEFAULT_LOG_RETENTION_DAYS,
        DEFAULT_MEMORY,
        WIRED_INPUTS,
        resolve_blue_green,
    )
    from zero_downtime.components.defaults import DEFAULT_CONTAINER_PORT
    from zero_downtime.components.release_alarms import DEFAULT_THRESHOLDS
    from zero_downtime.components.routing import DEFAULT_DEREGISTRATION_DELAY_SECONDS, HealthCheckSettings

    assert not set(WIRED_INPUTS) & set(CONFIG_ONLY)
    settings = resolve_blue_green("web", CONFIG_ONLY)  # type: ignore[arg-type]
    assert (settings.live_color, settings.idle_color, settings.mode) == ("green", "blue", "paired")
    assert settings.weights == settings.production_weights == {"blue": 0, "green": 100}
    assert (settings.blue.desired_count, settings.green.desired_count) == (0, 1)
    assert (settings.blue.image, settings.green.image) == ("a:1", "a:2")
    assert settings.container_port == DEFAULT_CONTAINER_PORT == 8080
    assert (settings.cpu, settings.memory, settings.log_retention_days) == (
        DEFAULT_CPU,
        DEFAULT_MEMORY,
        DEFAULT_LOG_RETENTION_DAYS,
    )
    assert settings.deregistration_delay_seconds == DEFAULT_DEREGISTRATION_DELAY_SECONDS
    assert settings.stop_timeout_seconds == DEFAULT_DEREGISTRATION_DELAY_SECONDS + 5
    assert settings.health_check == HealthCheckSettings()
    assert settings.alarms == DEFAULT_THRESHOLDS
    assert (settings.routing, settings.stickiness, settings.native) == (None, None, None)


def test_settings_are_frozen() -> None:
    from dataclasses import FrozenInstanceError

    from zero_downtime.components.blue_green_service import resolve_blue_green

    settings = resolve_blue_green("web", CONFIG_ONLY)  # type: ignore[arg-type]
    with pytest.raises(FrozenInstanceError):
        settings.cpu = 512  # type: ignore[misc]


def test_resolve_accepts_outputs_where_the_value_is_known_only_at_deployment() -> None:
    from zero_downtime.components.blue_green_service import resolve_blue_green

    seen: list[Any] = []

    def program() -> None:
        # Outputs belong to a running program: create them under the mocks' runtime.
        weight, port = pulumi.Output.from_input(50), pulumi.Output.from_input(9000)
        args = {
            "live_color": "blue",
            "blue": {"image": pulumi.Output.from_input("a:1"), "weight": weight},
            "green": {"image": "a:2", "weight": weight},
            "container_port": port,
        }
        seen.append((resolve_blue_green("web", args), weight, port))  # type: ignore[arg-type]

    run_under_mocks(program, stack="unit")
    [(settings, weight, port)] = seen
    assert settings.container_port is port
    assert settings.blue.weight is weight
    # An unknown weight may carry traffic, so the color runs a task by default.
    assert (settings.blue.desired_count, settings.green.desired_count) == (1, 1)


def test_mode_must_be_known_at_preview() -> None:
    from zero_downtime.components.blue_green_service import resolve_blue_green

    errors: list[ArgError] = []

    def program() -> None:
        try:
            resolve_blue_green("web", {**CONFIG_ONLY, "mode": pulumi.Output.from_input("native")})  # type: ignore[typeddict-item]
        except ArgError as err:
            errors.append(err)

    run_under_mocks(program, stack="unit")
    assert [e.key for e in errors] == ["mode"]


def test_a_native_strategy_must_be_known_at_preview() -> None:
    """The strategy decides which block (canary or linear) the deployment configuration gets; an
    Output never equals "CANARY", so it would silently leave the block out."""
    errors: list[tuple[str, str]] = []

    def program() -> None:
        try:
            _resolved(mode="native", native={"strategy": pulumi.Output.from_input("CANARY"), "canary_percent": 20})
        except ArgError as err:
            errors.append((err.key, str(err)))

    run_under_mocks(program, stack="unit")
    assert errors == [
        ("native.strategy", "native.strategy: must be known at preview (BLUE_GREEN, CANARY or LINEAR), not an Output")
    ]


def test_native_settings_default_the_strategy_timing_and_put_production_on_the_live_color() -> None:
    from zero_downtime.components.blue_green_service import (
        DEFAULT_BAKE_TIME_MINUTES,
        DEFAULT_CANARY_PERCENT,
        DEFAULT_STEP_BAKE_TIME_MINUTES,
        NativeSettings,
        resolve_blue_green,
    )

    args = base_args(mode="native", native={"strategy": "LINEAR"})
    settings = resolve_blue_green("web", args)  # type: ignore[arg-type]
    assert settings.native == NativeSettings(strategy="LINEAR")
    assert settings.native.bake_time_minutes == DEFAULT_BAKE_TIME_MINUTES
    assert settings.native.canary_percent == DEFAULT_CANARY_PERCENT
    assert settings.native.step_bake_time_minutes == DEFAULT_STEP_BAKE_TIME_MINUTES
    assert settings.weights == {"blue": 90, "green": 10}
    assert settings.production_weights == {"blue": 100, "green": 0}


@pytest.mark.parametrize("missing", ["cluster_arn", "production_listener_arn", "subnet_ids"])
def test_a_missing_wired_input_fails_naming_it_before_anything_is_registered(missing: str) -> None:
    from zero_downtime.components.blue_green_service import BlueGreenService

    args = {k: v for k, v in base_args().items() if k != missing}
    mocks = RecordingMocks()
    with pytest.raises(ArgError) as raised:
        run_under_mocks(lambda: BlueGreenService("web", args), stack="unit", mocks=mocks)  # type: ignore[arg-type]
    assert raised.value.key == missing
    assert mocks.resources == []


def build_with_children(args: dict[str, Any]) -> tuple[Evaluation, Any]:
    from zero_downtime.components.blue_green_service import BlueGreenService

    from tests.components.children import export_urns

    built: list[BlueGreenService] = []

    def program() -> None:
        svc = BlueGreenService("web", args)  # type: ignore[arg-type]
        built.append(svc)
        children: dict[str, pulumi.Resource] = {
            "production_rule": svc.production_rule,
            "test_rule": svc.test_rule,
            "topic": svc.topic,
            "log_group": svc.log_group,
            "execution_role": svc.execution_role,
            "task_role": svc.task_role,
            "security_group": svc.security_group,
        }
        for attribute in ("target_groups", "services", "task_definitions", "alarms"):
            children.update({f"{attribute}.{c}": getattr(svc, attribute)[c] for c in ("blue", "green")})
        if svc.infra_role is not None:
            children["infra_role"] = svc.infra_role
        export_urns(children)

    return run_under_mocks(program, stack="unit"), built[0]


def test_children_are_the_registered_resources_in_paired_mode() -> None:
    from tests.components.children import registered_children

    ev, svc = build_with_children(base_args())
    children = registered_children(ev)
    assert svc.infra_role is None
    assert children == {
        "production_rule": (T.LISTENER_RULE, "web-prod-rule"),
        "test_rule": (T.LISTENER_RULE, "web-test-rule"),
        "topic": (T.SNS_TOPIC, "web-releases"),
        "log_group": (T.LOG_GROUP, "web-logs"),
        "execution_role": (T.IAM_ROLE, "web-execution-role"),
        "task_role": (T.IAM_ROLE, "web-task-role"),
        "security_group": (T.SECURITY_GROUP, "web-tasks-sg"),
        **{f"target_groups.{c}": (T.TARGET_GROUP, f"web-{c}-tg") for c in ("blue", "green")},
        **{f"services.{c}": (T.ECS_SERVICE, f"web-{c}-svc") for c in ("blue", "green")},
        **{f"task_definitions.{c}": (T.ECS_TASK_DEFINITION, f"web-{c}-task") for c in ("blue", "green")},
        **{f"alarms.{c}": (T.RELEASE_ALARMS, f"web-{c}-alarms") for c in ("blue", "green")},
    }


def test_children_in_native_mode_map_both_colors_to_the_one_service() -> None:
    from tests.components.children import registered_children

    ev, svc = build_with_children(base_args(mode="native", native={"strategy": "BLUE_GREEN"}))
    children = registered_children(ev)
    assert svc.services["blue"] is svc.services["green"]
    assert svc.task_definitions["blue"] is svc.task_definitions["green"]
    assert children["services.blue"] == children["services.green"] == (T.ECS_SERVICE, "web-svc")
    assert children["task_definitions.green"] == (T.ECS_TASK_DEFINITION, "web-task")
    assert children["infra_role"] == (T.IAM_ROLE, "web-ecs-infra-role")
    assert children["target_groups.green"] == (T.TARGET_GROUP, "web-green-tg")


# -- the resolve step's refusals, word for word, and its bounds at their edges ---------------------------
SM_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf"
IDLE_GREEN = {"blue": {"image": "a:1", "weight": 100}}
"""Blue takes all traffic, so green's own settings (weight 0) decide alone."""
NATIVE_REQUIRED = "is required when mode is native (strategy BLUE_GREEN, CANARY or LINEAR)"


def _refusal(**overrides: Any) -> tuple[str, str]:
    """(key, whole message) of the ArgError resolving `base_args(**overrides)` raises."""
    from zero_downtime.components.blue_green_service import resolve_blue_green

    with pytest.raises(ArgError) as raised:
        resolve_blue_green("web", base_args(**overrides))  # type: ignore[arg-type]
    assert str(raised.value) == f"{raised.value.key}: {raised.value.problem}"
    return raised.value.key, str(raised.value)


def _resolved(**overrides: Any) -> Any:
    from zero_downtime.components.blue_green_service import resolve_blue_green

    return resolve_blue_green("web", base_args(**overrides))  # type: ignore[arg-type]


RESOLVE_REFUSED = [
    # colors
    ({"blue": None}, "blue", "is required: image, and optionally desired_count and weight"),
    ({"green": "a:2"}, "green", "is required: image, and optionally desired_count and weight"),
    ({"green": {"image": "a:2", "weight": 10, "replicas": 2, "port": 1}}, "green.port", "is not a known color setting"),
    ({"green": {"weight": 10}}, "green.image", "is required (a container image reference)"),
    ({"blue": {"image": "a:1", "weight": -1}}, "blue.weight", "must be >= 0, got -1"),
    ({"blue": {"image": "a:1", "weight": 101}}, "blue.weight", "must be <= 100, got 101"),
    ({**IDLE_GREEN, "green": {"image": "a:2", "desired_count": -1}}, "green.desired_count", "must be >= 0, got -1"),
    (
        {"green": {"image": "a:2", "weight": 10, "desired_count": 5001}},
        "green.desired_count",
        "must be <= 5000, got 5001",
    ),
    # stickiness
    ({"stickiness": True}, "stickiness", "must be a mapping of stickiness settings, got True"),
    ({"stickiness": {"enabled": True, "ttl": 5}}, "stickiness.ttl", "is not a stickiness setting"),
    ({"stickiness": {"duration_seconds": 60}}, "stickiness.enabled", "is required (true or false)"),
    ({"stickiness": {"enabled": True, "duration_seconds": 0}}, "stickiness.duration_seconds", "must be >= 1, got 0"),
    (
        {"stickiness": {"enabled": True, "duration_seconds": 604801}},
        "stickiness.duration_seconds",
        "must be <= 604800, got 604801",
    ),
    # native
    ({"mode": "native"}, "native", NATIVE_REQUIRED),
    ({"mode": "native", "native": {}}, "native", NATIVE_REQUIRED),
    ({"mode": "native", "native": "CANARY"}, "native", "must be a mapping of native deployment settings, got 'CANARY'"),
    (
        {"mode": "native", "native": {"strategy": "ROLLING"}},
        "native.strategy",
        "must be one of BLUE_GREEN, CANARY, LINEAR, got 'ROLLING'",
    ),
    *[
        ({"mode": "native", "native": {"strategy": "CANARY", key: value}}, f"native.{key}", problem)
        for key in ("bake_time_minutes", "canary_bake_time_minutes", "step_bake_time_minutes")
        for value, problem in ((-1, "must be >= 0, got -1"), (1441, "must be <= 1440, got 1441"))
    ],
    (
        {"mode": "native", "native": {"strategy": "CANARY", "canary_percent": 0.09}},
        "native.canary_percent",
        "must be >= 0.1, got 0.09",
    ),
    (
        {"mode": "native", "native": {"strategy": "CANARY", "canary_percent": 100.5}},
        "native.canary_percent",
        "must be <= 100, got 100.5",
    ),
    (
        {"mode": "native", "native": {"strategy": "LINEAR", "step_percent": 2.99}},
        "native.step_percent",
        "must be >= 3, got 2.99",
    ),
    (
        {"mode": "native", "native": {"strategy": "LINEAR", "step_percent": 100.5}},
        "native.step_percent",
        "must be <= 100, got 100.5",
    ),
    # secrets
    ({"secrets": ["A"]}, "secrets", "must be a mapping of names to strings, got list"),
    ({"secrets": {"": SM_SECRET}}, "secrets", "names must be non-empty strings, got ''"),
    ({"secrets": {"A": 5}}, "secrets.A", "secret references must be strings (quote it), got 5"),
    (
        {"secrets": {"DB_PASSWORD": "hunter2"}},
        "secrets.DB_PASSWORD",
        "must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>) "
        "or an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>), never the secret itself",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "key", "problem"), RESOLVE_REFUSED, ids=[f"{k}: {p}"[:70] for _, k, p in RESOLVE_REFUSED]
)
def test_resolve_refuses_colors_stickiness_native_and_secrets_exactly(
    overrides: dict[str, Any], key: str, problem: str
) -> None:
    assert _refusal(**overrides) == (key, f"{key}: {problem}")


def test_resolve_colors_at_their_bounds_and_a_weighted_color_runs_a_task_by_default() -> None:
    top = _resolved(green={"image": "a:2", "weight": 10, "desired_count": 5000})
    assert top.green.desired_count == 5000
    idle = _resolved(**IDLE_GREEN, green={"image": "a:2", "desired_count": 0})
    assert (idle.blue.weight, idle.blue.desired_count, idle.green.weight, idle.green.desired_count) == (100, 1, 0, 0)
    least = _resolved(blue={"image": "a:1", "weight": 99}, green={"image": "a:2", "weight": 1})
    assert (least.green.weight, least.green.desired_count) == (1, 1)


def test_resolve_stickiness_defaults_its_duration_and_keeps_bounds_at_their_edges() -> None:
    from zero_downtime.components.blue_green_service import DEFAULT_STICKINESS_SECONDS, StickinessSettings

    assert _resolved(stickiness={"enabled": True}).stickiness == StickinessSettings(True, DEFAULT_STICKINESS_SECONDS)
    assert DEFAULT_STICKINESS_SECONDS == 300
    low = _resolved(stickiness={"enabled": False, "duration_seconds": 1}).stickiness
    assert low == StickinessSettings(False, 1)
    high = _resolved(stickiness={"enabled": True, "duration_seconds": 604800}).stickiness
    assert high == StickinessSettings(True, 604800)
    enabled = pulumi.Output.from_input(True)
    assert _resolved(stickiness={"enabled": enabled}).stickiness.enabled is enabled


def test_resolve_native_keeps_every_setting_at_its_edges_and_passes_outputs() -> None:
    from zero_downtime.components.blue_green_service import NativeSettings

    low = {
        "strategy": "CANARY",
        "bake_time_minutes": 0,
        "canary_percent": 0.1,
        "canary_bake_time_minutes": 0,
        "step_percent": 3,
        "step_bake_time_minutes": 0,
    }
    assert _resolved(mode="native", native=low).native == NativeSettings("CANARY", 0, 0.1, 0, 3, 0)
    high = {
        "strategy": "LINEAR",
        "bake_time_minutes": 1440,
        "canary_percent": 100,
        "canary_bake_time_minutes": 1440,
        "step_percent": 100,
        "step_bake_time_minutes": 1440,
    }
    assert _resolved(mode="native", native=high).native == NativeSettings("LINEAR", 1440, 100, 1440, 100, 1440)
    some = {"strategy": "LINEAR", "canary_bake_time_minutes": 7, "step_percent": 50, "step_bake_time_minutes": 4}
    assert _resolved(mode="native", native=some).native == NativeSettings("LINEAR", 10, 5, 7, 50, 4)
    canary, step = pulumi.Output.from_input(500), pulumi.Output.from_input(1)
    later = _resolved(mode="native", native={"strategy": "CANARY", "canary_percent": canary, "step_percent": step})
    assert later.native.canary_percent is canary and later.native.step_percent is step


def test_resolve_secrets_keeps_references_and_passes_outputs() -> None:
    assert _resolved(secrets=None).secrets == {}
    reference = pulumi.Output.from_input("hunter2")
    settings = _resolved(secrets={"DB_PASSWORD": reference, "TOKEN": SM_SECRET})
    assert settings.secrets["DB_PASSWORD"] is reference
    assert settings.secrets["TOKEN"] == SM_SECRET
    later = pulumi.Output.from_input({"A": "hunter2"})
    assert _resolved(secrets=later).secrets is later
