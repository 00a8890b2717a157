"""RollingAutoScalingGroup: an EC2 fleet behind the shared ALB, updated by instance refresh.

A change to the launch template (AMI, user data, instance type) creates a new template
version; the group pins that explicit version number, so the change starts a rolling instance
refresh that keeps the configured share of capacity in service and, with auto rollback, returns
to the previous version when the refresh fails or one of the fleet's release alarms goes to
ALARM. `$Latest`/`$Default` are never used: AWS refuses auto rollback with them, and an
unpinned version would not start a refresh at all.
"""

import base64
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.release_alarms import AlarmThresholdsArgs, ReleaseAlarms, resolve_thresholds
from components.rolling_update_policy import (
    InstanceRefreshArgs,
    RefreshPreferences,
    RollingUpdatePolicyArgs,
    resolve_refresh_preferences,
)
from components.routing import (
    RoutingArgs,
    rule_conditions,
    target_group_health_check,
    validate_health_check,
    validate_routing,
)
from components.tags import standard_tags
from components.validation import ArgError, check_choice, check_int, is_known, require

TERMINATION_POLICIES = ["OldestLaunchTemplate", "OldestInstance", "Default"]
"""Scale-in removes instances of the oldest launch template first, so a refresh never loses
new instances to a scale-in while old ones remain."""
WARM_POOL_STATES = ("Stopped", "Running", "Hibernated")


class WarmPoolArgs(TypedDict):
    """Pre-initialised instances that scale-out and refreshes draw from."""

    min_size: NotRequired[int]
    """Instances kept in the pool (default 0)."""
    max_group_prepared_capacity: NotRequired[int]
    """Cap on group + pool instances; omitted means the group's max size."""
    pool_state: NotRequired[str]
    """Stopped (default, cheapest), Running or Hibernated."""
    reuse_on_scale_in: NotRequired[bool]
    """Return instances to the pool on scale-in instead of terminating them (default false)."""


class FleetHealthCheckArgs(TypedDict):
    """Target group health check; with ELB health checks it also decides instance replacement."""

    path: NotRequired[str]
    """HTTP path that proves an instance can serve (default /health)."""
    interval_seconds: NotRequired[int]
    """Seconds between checks, 5-300 (default 10)."""
    timeout_seconds: NotRequired[int]
    """Seconds before a check fails, 2-120 and below the interval (default 5)."""
    healthy_threshold: NotRequired[int]
    """Consecutive successes before an instance is healthy, 2-10 (default 2)."""
    unhealthy_threshold: NotRequired[int]
    """Consecutive failures before an instance is unhealthy, 2-10 (default 2)."""
    grace_period_seconds: NotRequired[int]
    """Seconds before the group acts on a new instance's failed check (default 300)."""


class RollingAutoScalingGroupArgs(TypedDict):
    """Where the fleet runs, what it runs, and how it is replaced."""

    vpc_id: pulumi.Input[str]
    """VPC of the shared ALB and the instance subnets."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets the group spans (one per availability zone)."""
    listener_arn: pulumi.Input[str]
    """Production listener of the shared ALB; the fleet adds one rule to it."""
    routing: RoutingArgs
    """Priority and host/path condition of the fleet's listener rule."""
    load_balancer_arn_suffix: pulumi.Input[str]
    """ALB ARN suffix, the LoadBalancer dimension of the fleet's alarms."""
    load_balancer_security_group_id: pulumi.Input[str]
    """ALB security group: the only source allowed to reach the instances."""
    instance_type: pulumi.Input[str]
    """EC2 instance type, e.g. t3.small."""
    ami_id: NotRequired[pulumi.Input[str]]
    """AMI id; exactly one of ami_id and ami_ssm_parameter."""
    ami_ssm_parameter: NotRequired[str]
    """SSM (public) parameter holding the AMI id, resolved at deployment into a plain id."""
    user_data: NotRequired[pulumi.Input[str]]
    """User data as plain text; the component base64-encodes it."""
    instance_port: NotRequired[int]
    """Port the instances serve HTTP on (default 80)."""
    health_check: NotRequired[FleetHealthCheckArgs]
    """Target group health check and the group's grace period."""
    default_instance_warmup_seconds: NotRequired[int]
    """Seconds a new instance warms up before it counts for scaling and refreshes (default 120)."""
    deregistration_delay_seconds: NotRequired[int]
    """Connection draining time when an instance leaves the target group (default 30)."""
    desired_capacity: int
    """Instances in service."""
    min_size: int
    """Lower bound of the group."""
    max_size: int
    """Upper bound of the group."""
    root_volume_size_gib: NotRequired[int]
    """Root EBS volume size in GiB (default 20); always encrypted, gp3."""
    root_device_name: NotRequired[str]
    """Root device of the AMI (default /dev/xvda, Amazon Linux)."""
    kms_key_id: NotRequired[pulumi.Input[str]]
    """KMS key for the root volume; omitted means the account's default EBS key."""
    instance_profile_name: NotRequired[pulumi.Input[str]]
    """IAM instance profile for the instances."""
    metadata_hop_limit: NotRequired[int]
    """IMDSv2 response hop limit, 1-64 (default 1; 2 when containers on the host need IMDS)."""
    warm_pool: NotRequired[WarmPoolArgs]
    """Optional warm pool."""
    released_version: NotRequired[int]
    """Pin the group to this template version instead of the latest. The release driver sets it
    after a refresh it started (with the newer version as desired configuration) succeeded, so
    an alarm rolls back to the released version (see docs: provider refreshes cannot)."""
    rolling_update: NotRequired[RollingUpdatePolicyArgs]
    """CloudFormation AutoScalingRollingUpdate policy, translated to refresh preferences."""
    instance_refresh: NotRequired[InstanceRefreshArgs]
    """Refresh preferences given directly; they override the translated policy."""
    alarms: NotRequired[AlarmThresholdsArgs]
    """Overrides of the release alarm thresholds."""
    notification_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic notified when the fleet's composite alarm changes state."""
    tags: NotRequired[dict[str, str]]
    """Extra tags, merged with the standard ones."""


def validate_rolling_asg_args(args: RollingAutoScalingGroupArgs) -> RefreshPreferences:
    """Check every argument before anything is created; return the resolved refresh preferences."""
    for key in (
        "vpc_id",
        "subnet_ids",
        "listener_arn",
        "load_balancer_arn_suffix",
        "load_balancer_security_group_id",
        "instance_type",
    ):
        require(args, key)
    for key in ("desired_capacity", "min_size", "max_size"):
        if args.get(key) is None:
            raise ArgError(key, "is required")
        if not is_known(args[key]):
            # The refresh percentages and the capacity checks need the number now.
            raise ArgError(key, "must be a plain integer, not an Output")
    _validate_routing(args.get("routing"))
    _validate_health_check(args.get("health_check") or {})

    has_ami, has_parameter = (
        args.get("ami_id") is not None,
        args.get("ami_ssm_parameter") is not None,
    )
    if has_ami == has_parameter:
        raise ArgError("ami_id", "give exactly one of ami_id and ami_ssm_parameter")
    ami = args.get("ami_id")
    if has_ami and is_known(ami) and not (isinstance(ami, str) and ami.startswith("ami-")):
        raise ArgError("ami_id", f"must be an AMI id like ami-0123456789abcdef0, got {ami!r}")
    parameter = args.get("ami_ssm_parameter")
    if has_parameter and not (isinstance(parameter, str) and parameter.startswith("/")):
        raise ArgError("ami_ssm_parameter", f"must be a parameter path starting with /, got {parameter!r}")

    desired, low, high = args["desired_capacity"], args["min_size"], args["max_size"]
    check_int(desired, "desired_capacity", minimum=1)
    check_int(low, "min_size", minimum=0)
    check_int(high, "max_size", minimum=1)
    if low > high:
        raise ArgError("min_size", f"must be <= max_size ({high}), got {low}")
    if not low <= desired <= high:
        raise ArgError("desired_capacity", f"must be within min_size..max_size ({low}..{high}), got {desired}")

    check_int(args.get("instance_port", 80), "instance_port", minimum=1, maximum=65_535)
    check_int(
        args.get("default_instance_warmup_seconds", 120),
        "default_instance_warmup_seconds",
        minimum=0,
    )
    check_int(
        args.get("deregistration_delay_seconds", 30),
        "deregistration_delay_seconds",
        minimum=0,
        maximum=3600,
    )
    check_int(args.get("root_volume_size_gib", 20), "root_volume_size_gib", minimum=1, maximum=16_384)
    check_int(args.get("metadata_hop_limit", 1), "metadata_hop_limit", minimum=1, maximum=64)
    if args.get("released_version") is not None:
        check_int(args["released_version"], "released_version", minimum=1)
    pool = args.get("warm_pool")
    if pool is not None:
        if not isinstance(pool, Mapping):
            raise ArgError("warm_pool", f"must be a mapping of warm pool settings, got {pool!r}")
        unknown = sorted(set(pool) - set(WarmPoolArgs.__annotations__))
        if unknown:
            raise ArgError(f"warm_pool.{unknown[0]}", "is not a warm pool setting")
        check_int(pool.get("min_size", 0), "warm_pool.min_size", minimum=0)
        if pool.get("max_group_prepared_capacity") is not None:
            check_int(
                pool["max_group_prepared_capacity"],
                "warm_pool.max_group_prepared_capacity",
                minimum=desired,
            )
        check_choice(pool.get("pool_state", "Stopped"), "warm_pool.pool_state", WARM_POOL_STATES)
        reuse = pool.get("reuse_on_scale_in", False)
        if not isinstance(reuse, bool):
            raise ArgError("warm_pool.reuse_on_scale_in", f"must be true or false, got {reuse!r}")

    resolve_thresholds(args.get("alarms"), "alarms")
    return resolve_refresh_preferences(
        desired_capacity=desired,
        rolling_update=args.get("rolling_update"),
        instance_refresh=args.get("instance_refresh"),
    )


def _validate_routing(routing: Any) -> None:
    # The catch-all belongs to the stack's default service; a fleet always claims its own requests.
    if routing is None:
        raise ArgError("routing", "is required: a priority and host_headers and/or path_patterns")
    validate_routing(routing)


def _validate_health_check(check: Mapping[str, Any]) -> None:
    unknown = sorted(set(check) - set(FleetHealthCheckArgs.__annotations__))
    if unknown:
        raise ArgError(f"health_check.{unknown[0]}", "is not a health check setting")
    validate_health_check(check, extra_keys=frozenset({"grace_period_seconds"}))
    check_int(check.get("grace_period_seconds", 300), "health_check.grace_period_seconds", minimum=0)


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class RollingAutoScalingGroup(pulumi.ComponentResource):
    """Launch template, security group, target group, listener rule, ASG with instance refresh,
    and the fleet's release alarms (which also drive the refresh's auto rollback)."""

    auto_scaling_group_name: pulumi.Output[str]
    """Name of the group, for boto3 start_instance_refresh / describe_instance_refreshes."""
    auto_scaling_group_arn: pulumi.Output[str]
    """ARN of the group."""
    launch_template_id: pulumi.Output[str]
    """Launch template id."""
    launch_template_version: pulumi.Output[str]
    """The explicit template version the group is pinned to (never $Latest/$Default)."""
    launch_template_latest_version: pulumi.Output[str]
    """The template's newest version: what a refresh started by the driver rolls out."""
    target_group_arn: pulumi.Output[str]
    """Target group the group registers its instances in."""
    target_group_arn_suffix: pulumi.Output[str]
    """TargetGroup dimension of the fleet's metrics."""
    listener_rule_arn: pulumi.Output[str]
    """The fleet's rule on the production listener."""
    security_group_id: pulumi.Output[str]
    """Instance security group (ALB only, on the instance port)."""
    alarm_names: pulumi.Output[list[str]]
    """Metric alarms named in the refresh's alarm specification."""
    composite_alarm_name: pulumi.Output[str]
    """The fleet's single health signal for the release driver."""
    refresh_preferences: pulumi.Output[dict[str, Any]]
    """Refresh preferences in boto3 `Preferences` shape, alarms included."""
    refresh_notes: pulumi.Output[list[str]]
    """Where the CloudFormation translation could not be faithful."""
    release_outputs: pulumi.Output[dict[str, Any]]
    """Everything the release driver needs to start and watch a refresh, camelCase."""

    def __init__(
        self,
        name: str,
        args: RollingAutoScalingGroupArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        preferences = validate_rolling_asg_args(args)
        super().__init__("zero-downtime:index:RollingAutoScalingGroup", name, None, opts)
        for note in preferences.notes:
            pulumi.log.warn(f"rolling update translation: {note}", resource=self)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(service=name, extra=args.get("tags"))
        port = args.get("instance_port", 80)
        routing = args["routing"]
        check = args.get("health_check") or {}

        target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            vpc_id=args["vpc_id"],
            port=port,
            protocol="HTTP",
            target_type="instance",
            deregistration_delay=args.get("deregistration_delay_seconds", 30),
            health_check=target_group_health_check(check, default_matcher="200-299"),
            tags=tags,
            opts=child,
        )
        rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=args["listener_arn"],
            priority=routing["priority"],
            conditions=rule_conditions(routing),
            actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags,
            opts=child,
        )

        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{name} instances: the ALB only, on port {port}",
            vpc_id=args["vpc_id"],
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-alb",
            security_group_id=security_group.id,
            referenced_security_group_id=args["load_balancer_security_group_id"],
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description="HTTP from the shared ALB",
            tags=tags,
            opts=child,
        )
        # Instances pull packages and talk to AWS APIs through the NAT gateway.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress",
            security_group_id=security_group.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="outbound through NAT",
            tags=tags,
            opts=child,
        )

        if args.get("ami_ssm_parameter"):
            # Resolved into a plain AMI id: a `resolve:ssm:` image id would rule out auto rollback.
            image_id: pulumi.Input[str] = aws.ssm.get_parameter_output(
                name=args["ami_ssm_parameter"], opts=pulumi.InvokeOutputOptions(parent=self)
            ).value
        else:
            image_id = args["ami_id"]
        user_data = args.get("user_data")
        encoded_user_data = pulumi.Output.from_input(user_data).apply(_base64) if user_data else None
        launch_template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"{name} fleet; the group pins an explicit version",
            image_id=image_id,
            instance_type=args["instance_type"],
            user_data=encoded_user_data,
            vpc_security_group_ids=[security_group.id],
            iam_instance_profile=(
                {"name": args["instance_profile_name"]} if args.get("instance_profile_name") else None
            ),
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": args.get("metadata_hop_limit", 1),
            },
            block_device_mappings=[
                {
                    "device_name": args.get("root_device_name", "/dev/xvda"),
                    "ebs": {
                        "encrypted": "true",
                        "kms_key_id": args.get("kms_key_id"),
                        "volume_size": args.get("root_volume_size_gib", 20),
                        "volume_type": "gp3",
                        "delete_on_termination": "true",
                    },
                }
            ],
            monitoring={"enabled": True},
            tag_specifications=[
                {"resource_type": "instance", "tags": {**tags, "Name": name}},
                {"resource_type": "volume", "tags": tags},
            ],
            update_default_version=True,
            tags=tags,
            opts=child,
        )

        alarms = ReleaseAlarms(
            f"{name}-alarms",
            {
                "load_balancer_arn_suffix": args["load_balancer_arn_suffix"],
                "target_group_arn_suffix": target_group.arn_suffix,
                "service": name,
                "thresholds": args.get("alarms") or {},
                **(
                    {"notification_topic_arn": args["notification_topic_arn"]}
                    if args.get("notification_topic_arn")
                    else {}
                ),
                "tags": args.get("tags") or {},
            },
            opts=child,
        )

        latest_version = launch_template.latest_version.apply(str)
        released = args.get("released_version")
        # An explicit number either way: AWS refuses auto rollback with $Latest/$Default.
        pinned_version = pulumi.Output.from_input(str(released)) if released is not None else latest_version
        pool = args.get("warm_pool")
        warm_pool: aws.autoscaling.GroupWarmPoolArgsDict | None = None
        if pool is not None:
            warm_pool = {
                "min_size": pool.get("min_size", 0),
                "pool_state": pool.get("pool_state", "Stopped"),
                "instance_reuse_policy": {"reuse_on_scale_in": pool.get("reuse_on_scale_in", False)},
            }
            if pool.get("max_group_prepared_capacity") is not None:
                warm_pool["max_group_prepared_capacity"] = pool["max_group_prepared_capacity"]

        group = aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=args["subnet_ids"],
            target_group_arns=[target_group.arn],
            desired_capacity=args["desired_capacity"],
            min_size=args["min_size"],
            max_size=args["max_size"],
            health_check_type="ELB",
            health_check_grace_period=check.get("grace_period_seconds", 300),
            default_instance_warmup=args.get("default_instance_warmup_seconds", 120),
            termination_policies=TERMINATION_POLICIES,
            launch_template={"id": launch_template.id, "version": pinned_version},
            instance_refresh={
                "strategy": "Rolling",
                "preferences": preferences.to_provider_args(alarms.alarm_names),
            },
            warm_pool=warm_pool,
            enabled_metrics=[
                "GroupInServiceInstances",
                "GroupDesiredCapacity",
                "GroupPendingInstances",
            ],
            # Tags reach instances and volumes through the launch template.
            tags=[{"key": k, "value": v, "propagate_at_launch": False} for k, v in tags.items()],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[rule]),
        )

        self.auto_scaling_group_name = group.name
        self.auto_scaling_group_arn = group.arn
        self.launch_template_id = launch_template.id
        self.launch_template_version = pinned_version
        self.launch_template_latest_version = latest_version
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.listener_rule_arn = rule.arn
        self.security_group_id = security_group.id
        self.alarm_names = alarms.alarm_names
        self.composite_alarm_name = alarms.composite_alarm_name
        self.refresh_preferences = alarms.alarm_names.apply(preferences.to_boto3)
        self.refresh_notes = pulumi.Output.from_input(list(preferences.notes))
        self.release_outputs = pulumi.Output.from_input(
            {
                "configPath": f"fleets.{name}",
                "autoScalingGroupName": group.name,
                "autoScalingGroupArn": group.arn,
                "launchTemplateId": launch_template.id,
                "launchTemplateVersion": pinned_version,
                "launchTemplateLatestVersion": latest_version,
                "targetGroupArn": target_group.arn,
                "targetGroupArnSuffix": target_group.arn_suffix,
                "loadBalancerArnSuffix": args["load_balancer_arn_suffix"],
                "listenerRuleArn": rule.arn,
                "desiredCapacity": args["desired_capacity"],
                "minSize": args["min_size"],
                "maxSize": args["max_size"],
                "alarmNames": alarms.alarm_names,
                "compositeAlarmName": alarms.composite_alarm_name,
                "refreshPreferences": self.refresh_preferences,
                "refreshNotes": list(preferences.notes),
            }
        )
        self.register_outputs(
            {
                "auto_scaling_group_name": self.auto_scaling_group_name,
                "auto_scaling_group_arn": self.auto_scaling_group_arn,
                "launch_template_id": self.launch_template_id,
                "launch_template_version": self.launch_template_version,
                "launch_template_latest_version": self.launch_template_latest_version,
                "target_group_arn": self.target_group_arn,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "listener_rule_arn": self.listener_rule_arn,
                "security_group_id": self.security_group_id,
                "alarm_names": self.alarm_names,
                "composite_alarm_name": self.composite_alarm_name,
                "refresh_preferences": self.refresh_preferences,
                "refresh_notes": self.refresh_notes,
                "release_outputs": self.release_outputs,
            }
        )
