"""BlueGreenService: two Fargate services (blue, green) behind one ALB rule that splits traffic by weight.

Paired mode (default): each color is its own ECS service with the rolling controller, circuit
breaker and 100/200 percentages, so a task definition change never fights a deployment
controller. Traffic moves only through the weights of the production rule, which live in stack
config; the release driver rewrites them. The test-listener rule always sends 100% to the idle
color so it can be checked before it takes production traffic.

Native mode hands traffic shifting to ECS's own BLUE_GREEN / CANARY / LINEAR strategies: one ECS
service, both target groups, and the rules' actions ignored for changes because ECS swaps them
on every deployment.
"""

import json
import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.release_alarms import AlarmThresholdsArgs, ReleaseAlarms, resolve_thresholds
from components.routing import (
    CATCH_ALL_PRIORITY,
    HealthCheckArgs,
    RoutingArgs,
    rule_conditions,
    target_group_health_check,
    validate_health_check,
    validate_routing,
)
from components.tags import standard_tags
from components.validation import ArgError, check_choice, check_int, check_number, is_known

COLORS = ("blue", "green")
MODES = ("paired", "native")
NATIVE_STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")
FARGATE_CPU = (256, 512, 1024, 2048, 4096, 8192, 16384)
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
ECS_INFRA_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


class ColorArgs(TypedDict):
    """What one color runs and how much production traffic it gets."""

    image: pulumi.Input[str]
    """Container image of this color (e.g. `registry/app:1.4.2`)."""
    desired_count: NotRequired[pulumi.Input[int]]
    """Tasks of this color (default: 1 when it has weight, else 0)."""
    weight: NotRequired[pulumi.Input[int]]
    """Share of production traffic, 0-100; both colors sum to 100 (default: 100 live, 0 idle)."""


class StickinessArgs(TypedDict):
    """Target-group stickiness of the weighted forward action."""

    enabled: pulumi.Input[bool]
    """Keep a client on the color it first reached."""
    duration_seconds: NotRequired[pulumi.Input[int]]
    """How long, 1-604800 (default 300)."""


class NativeDeploymentArgs(TypedDict):
    """ECS-native deployment strategy, used when mode is `native`."""

    strategy: pulumi.Input[str]
    """BLUE_GREEN, CANARY or LINEAR."""
    bake_time_minutes: NotRequired[pulumi.Input[int]]
    """Minutes both revisions run after the shift before the old one goes, 0-1440 (default 10)."""
    canary_percent: NotRequired[pulumi.Input[float]]
    """CANARY: share of traffic on the first step, 0.1-100 (default 5)."""
    canary_bake_time_minutes: NotRequired[pulumi.Input[int]]
    """CANARY: minutes at the canary share (default 10)."""
    step_percent: NotRequired[pulumi.Input[float]]
    """LINEAR: traffic added per step, 3-100 (default 10)."""
    step_bake_time_minutes: NotRequired[pulumi.Input[int]]
    """LINEAR: minutes per step (default 6)."""


class BlueGreenServiceArgs(TypedDict):
    """A service's two colors, its routing, health checks and alarms."""

    cluster_arn: pulumi.Input[str]
    """ECS cluster the services run in."""
    vpc_id: pulumi.Input[str]
    """VPC of the target groups."""
    subnet_ids: pulumi.Input[list[str]]
    """Subnets of the tasks."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """ALB ARN suffix, for the alarms' LoadBalancer dimension."""
    load_balancer_security_group_id: pulumi.Input[str]
    """Security group of the ALB: the only source allowed to reach the tasks."""
    production_listener_arn: pulumi.Input[str]
    """Listener that carries production traffic."""
    test_listener_arn: pulumi.Input[str]
    """Listener whose rule always targets the idle color."""
    production_base_url: pulumi.Input[str]
    """Scheme and host of the production listener, for the service's URL output."""
    test_base_url: pulumi.Input[str]
    """Scheme, host and port of the test listener, for the service's test URL output."""
    live_color: str
    """The color that serves production: blue or green. Must be known at preview."""
    blue: ColorArgs
    """The blue color."""
    green: ColorArgs
    """The green color."""
    container_port: NotRequired[pulumi.Input[int]]
    """Port the container listens on (default 8080)."""
    cpu: NotRequired[pulumi.Input[int]]
    """Fargate CPU units per task (default 256)."""
    memory: NotRequired[pulumi.Input[int]]
    """Fargate memory MiB per task (default 512)."""
    environment: NotRequired[pulumi.Input[dict[str, str]]]
    """Plain environment variables. Never secrets: use `secrets`."""
    secrets: NotRequired[pulumi.Input[dict[str, str]]]
    """Environment variable -> Secrets Manager or SSM parameter ARN, injected by ECS."""
    assign_public_ip: NotRequired[pulumi.Input[bool]]
    """Give tasks public IPs (only for subnets without NAT) (default false)."""
    health_check: NotRequired[HealthCheckArgs]
    """Target group health check."""
    deregistration_delay_seconds: NotRequired[pulumi.Input[int]]
    """Seconds a draining target keeps in-flight requests, 0-3600 (default 30)."""
    health_check_grace_period_seconds: NotRequired[pulumi.Input[int]]
    """Seconds ECS ignores failing ALB checks after a task starts (default 60)."""
    log_retention_days: NotRequired[pulumi.Input[int]]
    """CloudWatch Logs retention of the containers' logs (default 30)."""
    routing: NotRequired[RoutingArgs]
    """Host/path conditions and priority; omitted means the catch-all rule."""
    stickiness: NotRequired[StickinessArgs]
    """Stickiness of the weighted forward (default off)."""
    mode: NotRequired[pulumi.Input[str]]
    """`paired` (two ECS services, weights in config) or `native` (ECS strategies) (default paired)."""
    native: NotRequired[NativeDeploymentArgs]
    """Strategy settings for native mode."""
    alarms: NotRequired[AlarmThresholdsArgs]
    """Release alarm thresholds (see ReleaseAlarms)."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra tags, merged with the standard ones."""


def idle_color_of(live_color: str) -> str:
    return "green" if live_color == "blue" else "blue"


def _default_weight(color: str, live: str) -> int:
    return 100 if color == live else 0


def resolved_weights(args: BlueGreenServiceArgs) -> dict[str, Any]:
    live = args["live_color"]
    return {c: args[c].get("weight", _default_weight(c, live)) for c in COLORS}  # type: ignore[literal-required]


def resolved_desired_count(args: BlueGreenServiceArgs, color: str) -> Any:
    color_args: ColorArgs = args[color]  # type: ignore[literal-required]
    if "desired_count" in color_args:
        return color_args["desired_count"]
    weight = resolved_weights(args)[color]
    return 1 if not is_known(weight) or weight > 0 else 0


def validate_blue_green_args(name: str, args: BlueGreenServiceArgs) -> None:
    """Every rule the component relies on, checked before anything is registered."""
    if not SERVICE_NAME.match(name):
        raise ArgError("name", f"must match {SERVICE_NAME.pattern} (used in AWS names), got {name!r}")
    live = args.get("live_color")
    if live not in COLORS:
        raise ArgError("live_color", f"must be blue or green, got {live!r}")
    for color in COLORS:
        color_args = args.get(color)
        if not isinstance(color_args, Mapping):
            raise ArgError(color, "is required: image, and optionally desired_count and weight")
        unknown = set(color_args) - {"image", "desired_count", "weight"}
        if unknown:
            raise ArgError(f"{color}.{sorted(unknown)[0]}", "is not a known color setting")
        image = color_args.get("image")
        if image is None or (is_known(image) and (not isinstance(image, str) or not image.strip())):
            raise ArgError(f"{color}.image", "is required (a container image reference)")
        check_int(color_args.get("weight", 0), f"{color}.weight", minimum=0, maximum=100)
        check_int(color_args.get("desired_count", 0), f"{color}.desired_count", minimum=0, maximum=5000)
    weights = resolved_weights(args)
    if all(is_known(w) for w in weights.values()) and sum(weights.values()) != 100:
        raise ArgError(
            "green.weight",
            f"blue.weight + green.weight must sum to 100, got {weights['blue']} + {weights['green']}",
        )
    for color in COLORS:
        count, weight = resolved_desired_count(args, color), weights[color]
        if is_known(count) and is_known(weight) and weight > 0 and count < 1:
            raise ArgError(
                f"{color}.desired_count",
                f"must be >= 1 while {color} gets {weight}% of traffic: requests would fail",
            )

    check_int(args.get("container_port", 8080), "container_port", minimum=1, maximum=65535)
    cpu = args.get("cpu", 256)
    if is_known(cpu) and cpu not in FARGATE_CPU:
        raise ArgError("cpu", f"must be a Fargate CPU size {FARGATE_CPU}, got {cpu!r}")
    check_int(args.get("memory", 512), "memory", minimum=512, maximum=122880)
    check_int(
        args.get("deregistration_delay_seconds", 30),
        "deregistration_delay_seconds",
        minimum=0,
        maximum=3600,
    )
    check_int(
        args.get("health_check_grace_period_seconds", 60),
        "health_check_grace_period_seconds",
        minimum=0,
        maximum=2147483647,
    )
    check_int(args.get("log_retention_days", 30), "log_retention_days", minimum=1)

    validate_health_check(args.get("health_check") or {})
    if args.get("routing") is not None:
        validate_routing(args["routing"])

    stickiness = args.get("stickiness")
    if stickiness is not None:
        check_int(
            stickiness.get("duration_seconds", 300),
            "stickiness.duration_seconds",
            minimum=1,
            maximum=604800,
        )

    mode = args.get("mode", "paired")
    check_choice(mode, "mode", MODES)
    if mode == "native":
        native = args.get("native")
        if not native:
            raise ArgError("native", "is required when mode is native (strategy BLUE_GREEN, CANARY or LINEAR)")
        check_choice(native.get("strategy"), "native.strategy", NATIVE_STRATEGIES)
        check_int(native.get("bake_time_minutes", 10), "native.bake_time_minutes", minimum=0, maximum=1440)
        check_number(native.get("canary_percent", 5), "native.canary_percent", minimum=0.1)
        check_number(native.get("step_percent", 10), "native.step_percent", minimum=3)
        for key in ("canary_percent", "step_percent"):
            value = native.get(key)
            if value is not None and is_known(value) and value > 100:
                raise ArgError(f"native.{key}", f"must be <= 100, got {value}")
        for key in ("canary_bake_time_minutes", "step_bake_time_minutes"):
            check_int(native.get(key, 0), f"native.{key}", minimum=0, maximum=1440)
    resolve_thresholds(args.get("alarms"), where="alarms")


def _url_path(routing: RoutingArgs | None) -> str:
    patterns = (routing or {}).get("path_patterns") or []
    if patterns and is_known(patterns) and isinstance(patterns[0], str):
        return "/" + patterns[0].strip("/").rstrip("*").rstrip("/") if patterns[0] != "/*" else "/"
    return "/"


def _service_url(base: pulumi.Input[str], routing: RoutingArgs | None) -> pulumi.Output[str]:
    hosts = (routing or {}).get("host_headers") or []
    path = _url_path(routing)

    def build(base_url: str) -> str:
        if hosts and is_known(hosts):
            scheme, _, rest = base_url.partition("://")
            port = rest.partition(":")[2]
            return f"{scheme}://{hosts[0]}{':' + port if port else ''}{path}"
        return f"{base_url}{path}"

    return pulumi.Output.from_input(base).apply(build)


def _weighted_forward(
    target_groups: Mapping[str, aws.lb.TargetGroup],
    weights: Mapping[str, Any],
    stickiness: StickinessArgs | None,
) -> aws.lb.ListenerRuleActionArgsDict:
    forward: dict[str, Any] = {
        "target_groups": [{"arn": target_groups[c].arn, "weight": weights[c]} for c in COLORS],
    }
    if stickiness and stickiness.get("enabled"):
        forward["stickiness"] = {
            "enabled": True,
            "duration": stickiness.get("duration_seconds", 300),
        }
    return {"type": "forward", "forward": forward}


class BlueGreenService(pulumi.ComponentResource):
    """A blue/green pair of Fargate services behind a weighted ALB rule, with release alarms."""

    live_color: pulumi.Output[str]
    """The color serving production."""
    idle_color: pulumi.Output[str]
    """The other color: the test listener targets it and the next release lands on it."""
    weights: pulumi.Output[dict[str, int]]
    """Production weights per color as configured."""
    colors: pulumi.Output[dict[str, dict[str, Any]]]
    """Per color: ECS service name/ARN, target group ARN/suffix, task definition, image, alarms."""
    production_rule_arn: pulumi.Output[str]
    """The production listener rule that splits traffic by weight."""
    test_rule_arn: pulumi.Output[str]
    """The test listener rule that targets the idle color."""
    production_url: pulumi.Output[str]
    """Where users reach the service."""
    test_url: pulumi.Output[str]
    """Where the idle color can be checked before it takes traffic."""
    notification_topic_arn: pulumi.Output[str]
    """SNS topic for release events and alarm notifications."""
    release_outputs: pulumi.Output[dict[str, Any]]
    """Everything the release driver needs, camelCase (docs/DEVELOPING.md, "Output contract")."""

    def __init__(self, name: str, args: BlueGreenServiceArgs, opts: pulumi.ResourceOptions | None = None):
        validate_blue_green_args(name, args)
        super().__init__("zero-downtime:index:BlueGreenService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        live = args["live_color"]
        idle = idle_color_of(live)
        weights = resolved_weights(args)
        mode = args.get("mode", "paired")
        port = args.get("container_port", 8080)
        service_tags = standard_tags(service=name, extra=args.get("tags"))
        color_tags = {c: standard_tags(service=name, color=c, extra=args.get("tags")) for c in COLORS}

        topic = aws.sns.Topic(f"{name}-releases", tags=service_tags, opts=child)
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=args.get("log_retention_days", 30),
            tags=service_tags,
            opts=child,
        )
        execution_role = self._execution_role(name, args, service_tags)
        task_role = aws.iam.Role(
            f"{name}-task-role",
            assume_role_policy=_assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"Role of {name}'s application containers",
            tags=service_tags,
            opts=child,
        )
        tasks_sg = aws.ec2.SecurityGroup(
            f"{name}-tasks-sg",
            description=f"{name} tasks: the ALB only",
            vpc_id=args["vpc_id"],
            ingress=[
                {
                    "description": "from the ALB",
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "security_groups": [args["load_balancer_security_group_id"]],
                }
            ],
            egress=[
                {
                    "description": "image pulls, logs, dependencies",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_blocks": ["0.0.0.0/0"],
                }
            ],
            tags=service_tags,
            opts=child,
        )

        hc = args.get("health_check") or {}
        target_groups = {
            c: aws.lb.TargetGroup(
                f"{name}-{c}-tg",
                target_type="ip",
                protocol="HTTP",
                port=port,
                vpc_id=args["vpc_id"],
                deregistration_delay=args.get("deregistration_delay_seconds", 30),
                health_check=target_group_health_check(hc),
                tags=color_tags[c],
                opts=child,
            )
            for c in COLORS
        }
        alarms = {
            c: ReleaseAlarms(
                f"{name}-{c}-alarms",
                {
                    "load_balancer_arn_suffix": args["load_balancer_arn_suffix"],
                    "target_group_arn_suffix": target_groups[c].arn_suffix,
                    "service": name,
                    "color": c,
                    "thresholds": args.get("alarms") or {},
                    "notification_topic_arn": topic.arn,
                    "tags": args.get("tags") or {},
                },
                opts=child,
            )
            for c in COLORS
        }

        # ECS swaps the rules' target groups itself in native mode; owning them too would fight it.
        rule_opts = pulumi.ResourceOptions(parent=self, ignore_changes=["actions"] if mode == "native" else None)
        production_weights = weights if mode == "paired" else {c: _default_weight(c, live) for c in COLORS}
        stickiness = args.get("stickiness")
        conditions = rule_conditions(args.get("routing"))
        priority = (args.get("routing") or {}).get("priority", CATCH_ALL_PRIORITY)
        production_rule = aws.lb.ListenerRule(
            f"{name}-prod-rule",
            listener_arn=args["production_listener_arn"],
            priority=priority,
            conditions=conditions,
            actions=[_weighted_forward(target_groups, production_weights, stickiness)],
            tags=service_tags,
            opts=rule_opts,
        )
        test_rule = aws.lb.ListenerRule(
            f"{name}-test-rule",
            listener_arn=args["test_listener_arn"],
            priority=priority,
            conditions=conditions,
            actions=[_weighted_forward(target_groups, {live: 0, idle: 100}, None)],
            tags=service_tags,
            opts=rule_opts,
        )

        common_service = {
            "execution_role_arn": execution_role.arn,
            "task_role_arn": task_role.arn,
            "log_group_name": logs.name,
        }
        # Zero-downtime settings every ECS service here shares: rolling controller, circuit breaker
        # with rollback, never below 100% healthy while a deployment runs.
        rolling_service = {
            "cluster": args["cluster_arn"],
            "launch_type": "FARGATE",
            "deployment_controller": {"type": "ECS"},
            "deployment_circuit_breaker": {"enable": True, "rollback": True},
            "deployment_minimum_healthy_percent": 100,
            "deployment_maximum_percent": 200,
            "health_check_grace_period_seconds": args.get("health_check_grace_period_seconds", 60),
            "network_configuration": {
                "subnets": args["subnet_ids"],
                "security_groups": [tasks_sg.id],
                "assign_public_ip": args.get("assign_public_ip", False),
            },
            "enable_ecs_managed_tags": True,
            "propagate_tags": "SERVICE",
            # A target group must be attached to a listener before a service can use it.
            "opts": pulumi.ResourceOptions(parent=self, depends_on=[production_rule, test_rule]),
        }
        colors: dict[str, dict[str, Any]] = {}
        if mode == "paired":
            for c in COLORS:
                task = self._task_definition(f"{name}-{c}", name, c, args, common_service, color_tags[c])
                service = aws.ecs.Service(
                    f"{name}-{c}-svc",
                    task_definition=task.arn,
                    desired_count=resolved_desired_count(args, c),
                    load_balancers=[
                        {"target_group_arn": target_groups[c].arn, "container_name": name, "container_port": port}
                    ],
                    tags=color_tags[c],
                    **rolling_service,
                )
                colors[c] = self._color_outputs(c, service, task, target_groups[c], alarms[c], args, weights)
        else:
            native = args["native"]
            task = self._task_definition(name, name, live, args, common_service, service_tags)
            infra_role = aws.iam.Role(
                f"{name}-ecs-infra-role",
                assume_role_policy=_assume_role_policy("ecs.amazonaws.com"),
                description="Lets ECS shift the listener rules during native blue/green deployments",
                tags=service_tags,
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-ecs-infra-policy",
                role=infra_role.name,
                policy_arn=ECS_INFRA_POLICY,
                opts=child,
            )
            service = aws.ecs.Service(
                f"{name}-svc",
                task_definition=task.arn,
                desired_count=resolved_desired_count(args, live),
                deployment_configuration=_native_deployment_configuration(native),
                alarms={
                    # ECS watches metric alarms; the composite stays the driver's single signal.
                    "alarm_names": pulumi.Output.all(*[alarms[c].alarm_names for c in COLORS]).apply(
                        lambda per_color: [n for names in per_color for n in names]
                    ),
                    "enable": True,
                    "rollback": True,
                },
                load_balancers=[
                    {
                        "target_group_arn": target_groups[live].arn,
                        "container_name": name,
                        "container_port": port,
                        "advanced_configuration": {
                            "alternate_target_group_arn": target_groups[idle].arn,
                            "production_listener_rule": production_rule.arn,
                            "test_listener_rule": test_rule.arn,
                            "role_arn": infra_role.arn,
                        },
                    }
                ],
                tags=service_tags,
                **rolling_service,
            )
            for c in COLORS:
                colors[c] = self._color_outputs(c, service, task, target_groups[c], alarms[c], args, weights)

        self.live_color = pulumi.Output.from_input(live)
        self.idle_color = pulumi.Output.from_input(idle)
        self.weights = pulumi.Output.from_input(production_weights)
        self.colors = pulumi.Output.from_input(colors)
        self.production_rule_arn = production_rule.arn
        self.test_rule_arn = test_rule.arn
        self.production_url = _service_url(args["production_base_url"], args.get("routing"))
        self.test_url = _service_url(args["test_base_url"], args.get("routing"))
        self.notification_topic_arn = topic.arn
        self.release_outputs = pulumi.Output.from_input(
            {
                "configPath": f"services.{name}",
                "mode": mode,
                "liveColor": live,
                "idleColor": idle,
                "weights": production_weights,
                "clusterArn": args["cluster_arn"],
                "clusterName": pulumi.Output.from_input(args["cluster_arn"]).apply(lambda a: a.rsplit("/", 1)[-1]),
                "loadBalancerArnSuffix": args["load_balancer_arn_suffix"],
                "productionListenerArn": args["production_listener_arn"],
                "productionRuleArn": production_rule.arn,
                "testListenerArn": args["test_listener_arn"],
                "testRuleArn": test_rule.arn,
                "productionUrl": self.production_url,
                "testUrl": self.test_url,
                "notificationTopicArn": topic.arn,
                **colors,
            }
        )
        self.register_outputs(
            {
                "live_color": self.live_color,
                "idle_color": self.idle_color,
                "weights": self.weights,
                "colors": self.colors,
                "production_rule_arn": self.production_rule_arn,
                "test_rule_arn": self.test_rule_arn,
                "production_url": self.production_url,
                "test_url": self.test_url,
                "notification_topic_arn": self.notification_topic_arn,
                "release_outputs": self.release_outputs,
            }
        )

    def _execution_role(self, name: str, args: BlueGreenServiceArgs, tags: dict[str, str]) -> aws.iam.Role:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-execution-role",
            assume_role_policy=_assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"Lets ECS pull {name}'s images, write its logs and inject its secrets",
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-execution-policy", role=role.name, policy_arn=TASK_EXECUTION_POLICY, opts=child
        )
        secrets = args.get("secrets") or {}
        if secrets:
            aws.iam.RolePolicy(
                f"{name}-read-secrets",
                role=role.id,
                policy=pulumi.Output.json_dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["secretsmanager:GetSecretValue", "ssm:GetParameters"],
                                "Resource": list(secrets.values()),
                            }
                        ],
                    }
                ),
                opts=child,
            )
        return role

    def _task_definition(
        self,
        resource_name: str,
        container_name: str,
        color: str,
        args: BlueGreenServiceArgs,
        common: Mapping[str, Any],
        tags: dict[str, str],
    ) -> aws.ecs.TaskDefinition:
        color_args: ColorArgs = args[color]  # type: ignore[literal-required]
        port = args.get("container_port", 8080)
        environment = {**(args.get("environment") or {}), "APP_COLOR": color}
        container = {
            "name": container_name,
            "image": color_args["image"],
            "essential": True,
            "portMappings": [{"containerPort": port, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": [{"name": k, "valueFrom": v} for k, v in sorted((args.get("secrets") or {}).items())],
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
            # Outlast the ALB's deregistration delay so draining finishes before SIGKILL.
            "stopTimeout": min(120, args.get("deregistration_delay_seconds", 30) + 5)
            if is_known(args.get("deregistration_delay_seconds", 30))
            else 120,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": common["log_group_name"],
                    "awslogs-region": aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region,
                    "awslogs-stream-prefix": color,
                },
            },
        }
        return aws.ecs.TaskDefinition(
            f"{resource_name}-task",
            family=f"{pulumi.get_stack()}-{resource_name}",
            cpu=str(args.get("cpu", 256)),
            memory=str(args.get("memory", 512)),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=common["execution_role_arn"],
            task_role_arn=common["task_role_arn"],
            volumes=[{"name": "tmp"}],
            container_definitions=pulumi.Output.json_dumps([container]),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    @staticmethod
    def _color_outputs(
        color: str,
        service: aws.ecs.Service,
        task: aws.ecs.TaskDefinition,
        target_group: aws.lb.TargetGroup,
        alarms: ReleaseAlarms,
        args: BlueGreenServiceArgs,
        weights: Mapping[str, Any],
    ) -> dict[str, Any]:
        color_args: ColorArgs = args[color]  # type: ignore[literal-required]
        return {
            "serviceName": service.name,
            "serviceArn": service.arn,
            "targetGroupArn": target_group.arn,
            "targetGroupArnSuffix": target_group.arn_suffix,
            "taskDefinitionArn": task.arn,
            "image": color_args["image"],
            "desiredCount": resolved_desired_count(args, color),
            "weight": weights[color],
            "compositeAlarmName": alarms.composite_alarm_name,
            "alarmNames": alarms.alarm_names,
        }


def _assume_role_policy(service_principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service_principal},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _native_deployment_configuration(native: NativeDeploymentArgs) -> dict[str, Any]:
    strategy = native["strategy"]
    config: dict[str, Any] = {
        "strategy": strategy,
        "bake_time_in_minutes": str(native.get("bake_time_minutes", 10)),
    }
    if strategy == "CANARY":
        config["canary_configuration"] = {
            "canary_percent": native.get("canary_percent", 5),
            "canary_bake_time_in_minutes": str(native.get("canary_bake_time_minutes", 10)),
        }
    if strategy == "LINEAR":
        config["linear_configuration"] = {
            "step_percent": native.get("step_percent", 10),
            "step_bake_time_in_minutes": str(native.get("step_bake_time_minutes", 6)),
        }
    return config
