"""RollingAutoScalingGroup: an EC2 fleet behind the shared ALB, updated by instance refresh.

A change to the launch template (AMI, user data, instance type) creates a new template
version; the group pins that explicit version number, so the change starts a rolling instance
refresh that keeps the configured share of capacity in service and, with auto rollback, returns
to the previous version when the refresh fails or one of the fleet's release alarms goes to
ALARM. `$Latest`/`$Default` are never used: AWS refuses auto rollback with them, and an
unpinned version would not start a refresh at all.

`resolve_rolling_asg` is the one pure step that reads what the user configures and fills in the
defaults; the constructor reads the wired inputs (VPC, subnets, listener, ALB) directly.
"""

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract import build_fleet
from ..contract.types import ResourceType
from .naming import check_child_names, check_explicit_name
from .release_alarms import (
    AlarmThresholds,
    AlarmThresholdsArgs,
    ReleaseAlarms,
    longest_alarm_name,
    resolve_thresholds,
)
from .rolling_update_policy import (
    InstanceRefreshArgs,
    RefreshPreferences,
    RollingUpdatePolicyArgs,
    resolve_refresh_preferences,
)
from .routing import (
    DEFAULT_DEREGISTRATION_DELAY_SECONDS,
    MAX_DEREGISTRATION_DELAY_SECONDS,
    HealthCheckSettings,
    RoutingArgs,
    RoutingSettings,
    resolve_health_check,
    resolve_routing,
    rule_conditions,
    target_group_health_check,
)
from .tags import check_tags, standard_tags
from .validation import (
    ArgError,
    check_bool,
    check_choice,
    check_int,
    check_unknown_keys,
    int_setting,
    is_known,
    require,
    require_inputs,
)

TERMINATION_POLICIES = ["OldestLaunchTemplate", "OldestInstance", "Default"]
"""Scale-in removes instances of the oldest launch template first, so a refresh never loses
new instances to a scale-in while old ones remain."""
WARM_POOL_STATES = ("Stopped", "Running", "Hibernated")

DEFAULT_INSTANCE_PORT = 80
DEFAULT_FLEET_MATCHER = "200-299"
DEFAULT_GRACE_PERIOD_SECONDS = 300
DEFAULT_INSTANCE_WARMUP_SECONDS = 120
DEFAULT_ROOT_VOLUME_SIZE_GIB = 20
MAX_ROOT_VOLUME_SIZE_GIB = 16_384
DEFAULT_ROOT_DEVICE_NAME = "/dev/xvda"
DEFAULT_METADATA_HOP_LIMIT = 1
DEFAULT_WARM_POOL_MIN_SIZE = 0
DEFAULT_WARM_POOL_STATE = "Stopped"
CAPACITY_KEYS = ("desired_capacity", "min_size", "max_size")
FLEET_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
AMI_ID = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
MAX_USER_DATA_BYTES = 16 * 1024
"""EC2 takes at most 16 KB of user data before base64 encoding."""

WIRED_INPUTS = (
    "vpc_id",
    "subnet_ids",
    "listener_arn",
    "load_balancer_arn_suffix",
    "load_balancer_security_group_id",
)
"""Inputs wired from the shared edge and network (usually Outputs); the constructor reads them directly."""


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
    released_ami_id: NotRequired[pulumi.Input[str]]
    """The AMI the last release rolled out (from the release store). It wins over ami_id and
    ami_ssm_parameter, so a newly published parameter value changes nothing until the next release."""
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


@dataclass(frozen=True)
class WarmPoolSettings:
    min_size: int = DEFAULT_WARM_POOL_MIN_SIZE
    max_group_prepared_capacity: int | None = None
    pool_state: str = DEFAULT_WARM_POOL_STATE
    reuse_on_scale_in: bool = False


@dataclass(frozen=True)
class FleetSettings:
    """Everything a RollingAutoScalingGroup is configured with, defaults filled in. The wired inputs
    (VPC, subnets, listener, ALB suffix and security group) are not settings."""

    routing: RoutingSettings
    instance_type: Any
    desired_capacity: int
    min_size: int
    max_size: int
    health_check: HealthCheckSettings
    refresh: RefreshPreferences
    """Instance refresh preferences: translated policy, then explicit overrides."""
    alarms: AlarmThresholds
    ami_id: Any = None
    ami_ssm_parameter: str | None = None
    """Exactly one of ami_id and ami_ssm_parameter is set."""
    released_ami_id: Any = None
    """When set, the launch template's AMI (what the last release rolled out)."""
    user_data: Any = None
    instance_port: Any = DEFAULT_INSTANCE_PORT
    grace_period_seconds: Any = DEFAULT_GRACE_PERIOD_SECONDS
    default_instance_warmup_seconds: Any = DEFAULT_INSTANCE_WARMUP_SECONDS
    deregistration_delay_seconds: Any = DEFAULT_DEREGISTRATION_DELAY_SECONDS
    root_volume_size_gib: Any = DEFAULT_ROOT_VOLUME_SIZE_GIB
    root_device_name: Any = DEFAULT_ROOT_DEVICE_NAME
    kms_key_id: Any = None
    instance_profile_name: Any = None
    metadata_hop_limit: Any = DEFAULT_METADATA_HOP_LIMIT
    warm_pool: WarmPoolSettings | None = None
    released_version: Any = None
    """The template version to pin instead of the latest one (set by the release driver)."""
    notification_topic_arn: Any = None
    tags: dict[str, str] = field(default_factory=dict)


def _resolve_routing(routing: Any) -> RoutingSettings:
    # The catch-all belongs to the stack's default service; a fleet always claims its own requests.
    if routing is None:
        raise ArgError("routing", "is required: a priority and host_headers and/or path_patterns")
    return resolve_routing(routing)


def _resolve_health_check(check: Any) -> tuple[HealthCheckSettings, Any]:
    """(target group health check, the group's grace period)."""
    check = {} if check is None else check
    if not isinstance(check, Mapping):
        raise ArgError("health_check", f"must be a mapping of health check settings, got {check!r}")
    check_unknown_keys(check, FleetHealthCheckArgs.__annotations__, "health_check", "is not a health check setting")
    settings = resolve_health_check(
        check, extra_keys=frozenset({"grace_period_seconds"}), default_matcher=DEFAULT_FLEET_MATCHER
    )
    grace = int_setting(check, "grace_period_seconds", DEFAULT_GRACE_PERIOD_SECONDS, where="health_check.", minimum=0)
    return settings, grace


def _resolve_warm_pool(pool: Any, desired: int) -> WarmPoolSettings | None:
    if pool is None:
        return None
    if not isinstance(pool, Mapping):
        raise ArgError("warm_pool", f"must be a mapping of warm pool settings, got {pool!r}")
    check_unknown_keys(pool, WarmPoolArgs.__annotations__, "warm_pool", "is not a warm pool setting")
    min_size = int_setting(pool, "min_size", DEFAULT_WARM_POOL_MIN_SIZE, where="warm_pool.", minimum=0)
    prepared = pool.get("max_group_prepared_capacity")
    if prepared is not None:
        check_int(prepared, "warm_pool.max_group_prepared_capacity", minimum=desired)
    state = pool.get("pool_state", DEFAULT_WARM_POOL_STATE)
    check_choice(state, "warm_pool.pool_state", WARM_POOL_STATES)
    reuse = pool.get("reuse_on_scale_in", False)
    check_bool(reuse, "warm_pool.reuse_on_scale_in")
    return WarmPoolSettings(
        min_size=min_size, max_group_prepared_capacity=prepared, pool_state=state, reuse_on_scale_in=reuse
    )


def child_names(name: str) -> list[tuple[str, str]]:
    """(type, logical name) of every auto-named child a RollingAutoScalingGroup named `name` creates."""
    return [
        (ResourceType.TARGET_GROUP, f"{name}-tg"),
        (ResourceType.SECURITY_GROUP, f"{name}-sg"),
        (ResourceType.LAUNCH_TEMPLATE, f"{name}-lt"),
        (ResourceType.AUTOSCALING_GROUP, f"{name}-asg"),
    ]


def check_fleet_name(name: object) -> None:
    """ArgError naming `name` when a fleet's name cannot name its AWS resources."""
    if not isinstance(name, str) or not FLEET_NAME.match(name):
        raise ArgError(
            "name",
            f"must be lowercase letters, digits and '-', starting with a letter (used in AWS names), got {name!r}",
        )
    check_child_names(name, child_names(name))
    check_explicit_name(longest_alarm_name(f"{name}-alarms"), ResourceType.METRIC_ALARM, "name")


def resolve_rolling_asg(args: RollingAutoScalingGroupArgs, name: str | None = None) -> FleetSettings:
    """Every setting checked and every default filled in, before anything is created. Reads only
    what the user configures: the wired inputs may be absent. With `name`, also checks that the
    names of the AWS resources it derives fit. Raises ArgError naming the key."""
    if name is not None:
        check_fleet_name(name)
    instance_type = require(args, "instance_type")
    if is_known(instance_type) and not (isinstance(instance_type, str) and INSTANCE_TYPE.match(instance_type)):
        raise ArgError("instance_type", f"must be an EC2 instance type like t3.small, got {instance_type!r}")
    for key in CAPACITY_KEYS:
        if args.get(key) is None:
            raise ArgError(key, "is required")
        if not is_known(args[key]):
            # The refresh percentages and the capacity checks need the number now.
            raise ArgError(key, "must be a plain integer, not an Output")
    routing = _resolve_routing(args.get("routing"))
    health_check, grace = _resolve_health_check(args.get("health_check"))

    ami, parameter = args.get("ami_id"), args.get("ami_ssm_parameter")
    if (ami is None) == (parameter is None):
        raise ArgError("ami_id", "give exactly one of ami_id and ami_ssm_parameter")
    if ami is not None and is_known(ami) and not (isinstance(ami, str) and AMI_ID.match(ami)):
        raise ArgError("ami_id", f"must be an AMI id like ami-0123456789abcdef0, got {ami!r}")
    if parameter is not None and not (
        isinstance(parameter, str) and parameter.startswith("/") and not any(c.isspace() for c in parameter)
    ):
        raise ArgError("ami_ssm_parameter", f"must be a parameter path starting with /, got {parameter!r}")
    released_ami = args.get("released_ami_id")
    if (
        released_ami is not None
        and is_known(released_ami)
        and not (isinstance(released_ami, str) and released_ami.startswith("ami-"))
    ):
        raise ArgError("released_ami_id", f"must be an AMI id like ami-0123456789abcdef0, got {released_ami!r}")

    desired, low, high = args["desired_capacity"], args["min_size"], args["max_size"]
    check_int(desired, "desired_capacity", minimum=1)
    check_int(low, "min_size", minimum=0)
    check_int(high, "max_size", minimum=1)
    if low > high:
        raise ArgError("min_size", f"must be <= max_size ({high}), got {low}")
    if not low <= desired <= high:
        raise ArgError("desired_capacity", f"must be within min_size..max_size ({low}..{high}), got {desired}")

    instance_port = int_setting(args, "instance_port", DEFAULT_INSTANCE_PORT, minimum=1, maximum=65_535)
    warmup = int_setting(args, "default_instance_warmup_seconds", DEFAULT_INSTANCE_WARMUP_SECONDS, minimum=0)
    deregistration = int_setting(
        args,
        "deregistration_delay_seconds",
        DEFAULT_DEREGISTRATION_DELAY_SECONDS,
        minimum=0,
        maximum=MAX_DEREGISTRATION_DELAY_SECONDS,
    )
    volume = int_setting(
        args, "root_volume_size_gib", DEFAULT_ROOT_VOLUME_SIZE_GIB, minimum=1, maximum=MAX_ROOT_VOLUME_SIZE_GIB
    )
    hop_limit = int_setting(args, "metadata_hop_limit", DEFAULT_METADATA_HOP_LIMIT, minimum=1, maximum=64)
    released = args.get("released_version")
    if released is not None:
        check_int(released, "released_version", minimum=1)
    warm_pool = _resolve_warm_pool(args.get("warm_pool"), desired)
    alarms = resolve_thresholds(args.get("alarms"), "alarms")
    refresh = resolve_refresh_preferences(
        desired_capacity=desired,
        rolling_update=args.get("rolling_update"),
        instance_refresh=args.get("instance_refresh"),
    )
    user_data = args.get("user_data")
    if user_data is not None and is_known(user_data):
        if not isinstance(user_data, str):
            raise ArgError("user_data", f"must be text (a script), got {type(user_data).__name__}")
        if len(user_data.encode()) > MAX_USER_DATA_BYTES:
            raise ArgError("user_data", f"must be at most {MAX_USER_DATA_BYTES} bytes (EC2's limit)")
    return FleetSettings(
        routing=routing,
        instance_type=instance_type,
        desired_capacity=desired,
        min_size=low,
        max_size=high,
        health_check=health_check,
        refresh=refresh,
        alarms=alarms,
        ami_id=ami,
        ami_ssm_parameter=parameter,
        released_ami_id=released_ami,
        user_data=user_data,
        instance_port=instance_port,
        grace_period_seconds=grace,
        default_instance_warmup_seconds=warmup,
        deregistration_delay_seconds=deregistration,
        root_volume_size_gib=volume,
        root_device_name=args.get("root_device_name", DEFAULT_ROOT_DEVICE_NAME),
        kms_key_id=args.get("kms_key_id"),
        instance_profile_name=args.get("instance_profile_name"),
        metadata_hop_limit=hop_limit,
        warm_pool=warm_pool,
        released_version=released,
        notification_topic_arn=args.get("notification_topic_arn"),
        tags=check_tags(args.get("tags")),
    )


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def warm_pool_args(pool: WarmPoolSettings) -> aws.autoscaling.GroupWarmPoolArgsDict:
    out: aws.autoscaling.GroupWarmPoolArgsDict = {
        "min_size": pool.min_size,
        "pool_state": pool.pool_state,
        "instance_reuse_policy": {"reuse_on_scale_in": pool.reuse_on_scale_in},
    }
    if pool.max_group_prepared_capacity is not None:
        out["max_group_prepared_capacity"] = pool.max_group_prepared_capacity
    return out


class RollingAutoScalingGroup(pulumi.ComponentResource):
    """Launch template, security group, target group, listener rule, ASG with instance refresh,
    and the fleet's release alarms (which also drive the refresh's auto rollback).

    Children, for callers who need them: `group` (aws.autoscaling.Group), `launch_template`
    (aws.ec2.LaunchTemplate), `target_group` (aws.lb.TargetGroup), `rule` (aws.lb.ListenerRule),
    `security_group` (aws.ec2.SecurityGroup of the instances) and `alarms` (ReleaseAlarms).
    """

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
    """Everything the release driver needs to start and watch a refresh, camelCase: the contract's FleetOutputs."""

    def __init__(
        self,
        name: str,
        args: RollingAutoScalingGroupArgs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        settings = resolve_rolling_asg(args, name)
        require_inputs(args, WIRED_INPUTS)
        super().__init__("zero-downtime:index:RollingAutoScalingGroup", name, None, opts)
        for note in settings.refresh.notes:
            pulumi.log.warn(f"rolling update translation: {note}", resource=self)
        tags = standard_tags(service=name, extra=settings.tags)

        self.target_group = self._target_group(name, settings, args["vpc_id"], tags)
        self.rule = aws.lb.ListenerRule(
            f"{name}-rule",
            listener_arn=args["listener_arn"],
            priority=settings.routing.priority,
            conditions=rule_conditions(settings.routing),
            actions=[{"type": "forward", "target_group_arn": self.target_group.arn}],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.security_group = self._security_group(
            name, settings, args["vpc_id"], args["load_balancer_security_group_id"], tags
        )
        self.launch_template = self._launch_template(name, settings, tags)
        self.alarms = ReleaseAlarms(
            f"{name}-alarms",
            {
                "load_balancer_arn_suffix": args["load_balancer_arn_suffix"],
                "target_group_arn_suffix": self.target_group.arn_suffix,
                "service": name,
                "thresholds": settings.alarms.as_args(),
                **(
                    {"notification_topic_arn": settings.notification_topic_arn}
                    if settings.notification_topic_arn
                    else {}
                ),
                "tags": settings.tags,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

        latest_version = self.launch_template.latest_version.apply(str)
        released = settings.released_version
        # An explicit number either way: AWS refuses auto rollback with $Latest/$Default.
        pinned_version = pulumi.Output.from_input(str(released)) if released is not None else latest_version
        self.group = self._group(name, settings, args["subnet_ids"], pinned_version, tags)

        self.auto_scaling_group_name = self.group.name
        self.auto_scaling_group_arn = self.group.arn
        self.launch_template_id = self.launch_template.id
        self.launch_template_version = pinned_version
        self.launch_template_latest_version = latest_version
        self.target_group_arn = self.target_group.arn
        self.target_group_arn_suffix = self.target_group.arn_suffix
        self.listener_rule_arn = self.rule.arn
        self.security_group_id = self.security_group.id
        self.alarm_names = self.alarms.alarm_names
        self.composite_alarm_name = self.alarms.composite_alarm_name
        self.refresh_preferences = self.alarms.alarm_names.apply(settings.refresh.to_boto3)
        self.refresh_notes = pulumi.Output.from_input(list(settings.refresh.notes))
        self.release_outputs = pulumi.Output.from_input(
            build_fleet(
                config_path=f"fleets.{name}",
                auto_scaling_group_name=self.group.name,
                auto_scaling_group_arn=self.group.arn,
                launch_template_id=self.launch_template.id,
                launch_template_version=pinned_version,
                launch_template_latest_version=latest_version,
                target_group_arn=self.target_group.arn,
                target_group_arn_suffix=self.target_group.arn_suffix,
                load_balancer_arn_suffix=args["load_balancer_arn_suffix"],
                listener_rule_arn=self.rule.arn,
                desired_capacity=settings.desired_capacity,
                min_size=settings.min_size,
                max_size=settings.max_size,
                alarm_names=self.alarms.alarm_names,
                composite_alarm_name=self.alarms.composite_alarm_name,
                refresh_preferences=self.refresh_preferences,
                refresh_notes=list(settings.refresh.notes),
                ami_id=self.launch_template.image_id,
                ami_ssm_parameter=settings.ami_ssm_parameter,
            )
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

    def _target_group(
        self, name: str, settings: FleetSettings, vpc_id: pulumi.Input[str], tags: dict[str, str]
    ) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            f"{name}-tg",
            vpc_id=vpc_id,
            port=settings.instance_port,
            protocol="HTTP",
            target_type="instance",
            deregistration_delay=settings.deregistration_delay_seconds,
            health_check=target_group_health_check(settings.health_check),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _security_group(
        self,
        name: str,
        settings: FleetSettings,
        vpc_id: pulumi.Input[str],
        load_balancer_security_group_id: pulumi.Input[str],
        tags: dict[str, str],
    ) -> aws.ec2.SecurityGroup:
        child = pulumi.ResourceOptions(parent=self)
        port = settings.instance_port
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"{name} instances: the ALB only, on port {port}",
            vpc_id=vpc_id,
            tags=tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-alb",
            security_group_id=security_group.id,
            referenced_security_group_id=load_balancer_security_group_id,
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
        return security_group

    def _launch_template(self, name: str, settings: FleetSettings, tags: dict[str, str]) -> aws.ec2.LaunchTemplate:
        if settings.released_ami_id is not None:
            image_id: pulumi.Input[str] = settings.released_ami_id
        elif settings.ami_ssm_parameter:
            # Resolved into a plain AMI id: a `resolve:ssm:` image id would rule out auto rollback.
            image_id = aws.ssm.get_parameter_output(
                name=settings.ami_ssm_parameter, opts=pulumi.InvokeOutputOptions(parent=self)
            ).value
        else:
            image_id = settings.ami_id
        user_data = settings.user_data
        return aws.ec2.LaunchTemplate(
            f"{name}-lt",
            description=f"{name} fleet; the group pins an explicit version",
            image_id=image_id,
            instance_type=settings.instance_type,
            user_data=pulumi.Output.from_input(user_data).apply(_base64) if user_data else None,
            vpc_security_group_ids=[self.security_group.id],
            iam_instance_profile=({"name": settings.instance_profile_name} if settings.instance_profile_name else None),
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": settings.metadata_hop_limit,
            },
            block_device_mappings=[
                {
                    "device_name": settings.root_device_name,
                    "ebs": {
                        "encrypted": "true",
                        "kms_key_id": settings.kms_key_id,
                        "volume_size": settings.root_volume_size_gib,
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
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _group(
        self,
        name: str,
        settings: FleetSettings,
        subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        pinned_version: pulumi.Output[str],
        tags: dict[str, str],
    ) -> aws.autoscaling.Group:
        return aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=subnet_ids,
            target_group_arns=[self.target_group.arn],
            desired_capacity=settings.desired_capacity,
            min_size=settings.min_size,
            max_size=settings.max_size,
            health_check_type="ELB",
            health_check_grace_period=settings.grace_period_seconds,
            default_instance_warmup=settings.default_instance_warmup_seconds,
            termination_policies=TERMINATION_POLICIES,
            launch_template={"id": self.launch_template.id, "version": pinned_version},
            instance_refresh={
                "strategy": "Rolling",
                "preferences": settings.refresh.to_provider_args(self.alarms.alarm_names),
            },
            warm_pool=warm_pool_args(settings.warm_pool) if settings.warm_pool is not None else None,
            enabled_metrics=[
                "GroupInServiceInstances",
                "GroupDesiredCapacity",
                "GroupPendingInstances",
            ],
            # Tags reach instances and volumes through the launch template.
            tags=[{"key": k, "value": v, "propagate_at_launch": False} for k, v in tags.items()],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.rule]),
        )
