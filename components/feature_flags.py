"""FeatureFlags: one flag set on AWS AppConfig, released by percentage and rolled back on an alarm.

AppConfig keeps the flags (an `AWS.AppConfig.FeatureFlags` profile, hosted), deploys every change
with the set's own strategy (linear or exponential growth, then a bake), and watches CloudWatch
alarms while it does: an alarm in ALARM rolls the change back. The service reads the flags through
the AppConfig agent on localhost:2772 and evaluates them per request (`app/flags.py`).

    application -> environment (alarm monitors, read with `monitor_role`)
                -> configuration profile (AWS.AppConfig.FeatureFlags, hosted) -> hosted version 1
    deployment strategy (LINEAR | EXPONENTIAL, bake)  ->  deployment of version 1

The hosted version holds the flags as the program gives them: the config, with each flag a release
moved at its released percentage (`stack_config/release_state.py`, from the release store). The
release driver (`zdd-release flag`) writes later versions itself and deploys them; an `up` deploys
again only when that document changes (see docs/stack-config.md#featureflags).
"""

import json
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract import ContractError, build_feature_flags
from ..contract import flags as flag_doc
from ..contract.types import ResourceType
from .naming import check_child_names
from .tags import check_tags, standard_tags
from .validation import ArgError, check_bool, check_choice, check_int, is_known

GROWTH_TYPES = ("LINEAR", "EXPONENTIAL")
MAX_NAME = 64
"""AppConfig's limit on application, environment and deployment strategy names."""
MAX_MONITORS = 5
"""AppConfig's limit of alarm monitors per environment."""
MAX_MINUTES = 1440
PURPOSE_TAG = "purpose"
KILL_SWITCH = "kill-switch"
"""Tag value of the kill switch's strategy (all at once, no bake), which the bake policy leaves alone."""
DEFAULT_STRATEGY = {
    "growth_type": "LINEAR",
    "growth_factor": 20.0,
    "deployment_duration_minutes": 10,
    "final_bake_time_minutes": 10,
}


class FlagArgs(TypedDict):
    """One flag: its first value, written to the first hosted version."""

    description: NotRequired[pulumi.Input[str]]
    """What the flag turns on."""
    enabled: NotRequired[pulumi.Input[bool]]
    """Off for everyone when false (default true)."""
    percentage: NotRequired[pulumi.Input[int]]
    """Share of users (0-100, by stable bucket of the user id) who get the flag (default 0)."""
    allow: NotRequired[pulumi.Input[list[str]]]
    """User ids that always get the flag (while it is enabled)."""
    deny: NotRequired[pulumi.Input[list[str]]]
    """User ids that never get the flag."""
    segments: NotRequired[pulumi.Input[list[str]]]
    """Values of the request attribute `segment` that always get the flag (while it is enabled)."""


class DeploymentStrategyArgs(TypedDict):
    """How AppConfig rolls one change of the flags out to the service's hosts."""

    growth_type: NotRequired[pulumi.Input[str]]
    """LINEAR or EXPONENTIAL (default LINEAR)."""
    growth_factor: NotRequired[pulumi.Input[float]]
    """Percent of hosts per interval, 1-100 (default 20)."""
    deployment_duration_minutes: NotRequired[pulumi.Input[int]]
    """Minutes the rollout takes, 0-1440 (default 10)."""
    final_bake_time_minutes: NotRequired[pulumi.Input[int]]
    """Minutes AppConfig keeps watching the alarms after the rollout, 0-1440 (default 10)."""


class FeatureFlagsArgs(TypedDict):
    """A flag set: its flags, how changes roll out, and the alarms that roll them back."""

    environment: pulumi.Input[str]
    """AppConfig environment name (e.g. the stack name), at most 64 characters."""
    flags: pulumi.Input[dict[str, FlagArgs]]
    """Flag key -> its first value. Keys: a letter, then letters, digits, `_` or `-` (at most 64)."""
    application_name: NotRequired[pulumi.Input[str]]
    """AppConfig application name, at most 64 characters (default: the component's name)."""
    strategy: NotRequired[DeploymentStrategyArgs]
    """The deployment strategy of flag changes."""
    alarm_arns: NotRequired[pulumi.Input[list[str]]]
    """CloudWatch alarms AppConfig monitors during a change (at most 5); ALARM rolls the change back."""
    alarm_names: NotRequired[pulumi.Input[list[str]]]
    """The same alarms' names, exported for the release driver's analysis."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra tags, merged with the standard ones."""


@dataclass(frozen=True)
class FeatureFlagsSettings:
    application_name: str
    environment: Any
    document: str
    flag_keys: tuple[str, ...]
    growth_type: Any = "LINEAR"
    growth_factor: Any = 20.0
    deployment_duration_minutes: Any = 10
    final_bake_time_minutes: Any = 10
    tags: dict[str, str] = field(default_factory=dict)


def _check_name(value: Any, key: str) -> None:
    if not is_known(value):
        return
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise ArgError(key, f"must be a name of 1-{MAX_NAME} characters, got {value!r}")


def _string_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ArgError(key, f"must be a list of non-empty strings, got {value!r}")
    if len(value) > flag_doc.MAX_LIST:
        raise ArgError(key, f"at most {flag_doc.MAX_LIST} entries, got {len(value)}")
    return list(value)


def _flag(key: str, raw: Any) -> tuple[dict[str, Any], str]:
    where = f"flags.{key}"
    try:
        flag_doc.check_flag_key(key, where)
    except ContractError as exc:
        raise ArgError(where, exc.problem) from None
    if not isinstance(raw, dict):
        raise ArgError(where, f"must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(FlagArgs.__annotations__))
    if unknown:
        raise ArgError(f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(FlagArgs.__annotations__))})")
    for name in ("description", "enabled", "percentage", "allow", "deny", "segments"):
        if name in raw and not is_known(raw[name]):
            raise ArgError(f"{where}.{name}", "must be a plain value: it is written into the flags document")
    enabled = raw.get("enabled", True)
    check_bool(enabled, f"{where}.enabled")
    percentage = raw.get("percentage", 0)
    check_int(percentage, f"{where}.percentage", minimum=0, maximum=100)
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 1024:
        raise ArgError(f"{where}.description", "must be a string of at most 1024 characters")
    lists = {name: _string_list(raw.get(name), f"{where}.{name}") for name in flag_doc.LISTS}
    overlap = sorted(set(lists["allow"]) & set(lists["deny"]))
    if overlap:
        raise ArgError(f"{where}.allow", f"{overlap} are also in deny")
    value = flag_doc.flag_value(enabled=enabled, percentage=percentage, **lists)
    return value, description


def resolve_feature_flags(name: str, args: FeatureFlagsArgs) -> FeatureFlagsSettings:
    """Defaults applied and every field checked. Raises ArgError naming the key."""
    environment = args.get("environment")
    if environment is None:
        raise ArgError("environment", "is required")
    _check_name(environment, "environment")
    application = args.get("application_name", name)
    _check_name(application, "application_name")
    raw_flags = args.get("flags")
    if not is_known(raw_flags) or not isinstance(raw_flags, dict) or not raw_flags:
        raise ArgError("flags", "must be a non-empty mapping of flag key -> settings, given as plain values")
    if len(raw_flags) > flag_doc.MAX_FLAGS:
        raise ArgError("flags", f"at most {flag_doc.MAX_FLAGS} flags, got {len(raw_flags)}")
    values, descriptions = {}, {}
    for key, raw in raw_flags.items():
        values[key], descriptions[key] = _flag(key, raw)
    strategy = {**DEFAULT_STRATEGY, **(args.get("strategy") or {})}
    unknown = sorted(set(strategy) - set(DEFAULT_STRATEGY))
    if unknown:
        raise ArgError(f"strategy.{unknown[0]}", f"unknown key (known: {', '.join(sorted(DEFAULT_STRATEGY))})")
    check_choice(strategy["growth_type"], "strategy.growth_type", GROWTH_TYPES)
    factor = strategy["growth_factor"]
    if is_known(factor) and (isinstance(factor, bool) or not isinstance(factor, int | float) or not 1 <= factor <= 100):
        raise ArgError("strategy.growth_factor", f"must be a number 1-100, got {factor!r}")
    for key in ("deployment_duration_minutes", "final_bake_time_minutes"):
        check_int(strategy[key], f"strategy.{key}", minimum=0, maximum=MAX_MINUTES)
    arns = args.get("alarm_arns")
    if is_known(arns) and arns is not None:
        if not isinstance(arns, list | tuple):
            raise ArgError("alarm_arns", f"must be a list of alarm ARNs, got {arns!r}")
        if len(arns) > MAX_MONITORS:
            raise ArgError("alarm_arns", f"AppConfig monitors at most {MAX_MONITORS} alarms, got {len(arns)}")
        for i, arn in enumerate(arns):
            if is_known(arn) and (not isinstance(arn, str) or not arn.startswith("arn:aws:cloudwatch:")):
                raise ArgError(f"alarm_arns[{i}]", f"must be a CloudWatch alarm ARN, got {arn!r}")
    return FeatureFlagsSettings(
        application_name=application,
        environment=environment,
        document=flag_doc.build_document(values, descriptions),
        flag_keys=tuple(sorted(values)),
        growth_type=strategy["growth_type"],
        growth_factor=float(factor) if is_known(factor) else factor,
        deployment_duration_minutes=strategy["deployment_duration_minutes"],
        final_bake_time_minutes=strategy["final_bake_time_minutes"],
        tags=check_tags(args.get("tags")),
    )


def child_names(name: str) -> list[tuple[str, str]]:
    """(type, logical name) of every auto-named child a FeatureFlags named `name` creates."""
    return [(ResourceType.IAM_ROLE, f"{name}-monitor-role"), (ResourceType.IAM_ROLE_POLICY, f"{name}-monitor-read")]


class FeatureFlags(pulumi.ComponentResource):
    """The AppConfig application, environment, flags profile, strategy, first deployment, and the
    role AppConfig assumes to read the alarms.

    Children: `application`, `environment`, `profile`, `version`, `strategy`, `deployment`,
    `kill_switch_strategy`, `monitor_role` (only with alarms).
    """

    application_id: pulumi.Output[str]
    """The AppConfig application id."""
    environment_id: pulumi.Output[str]
    """The AppConfig environment id."""
    configuration_profile_id: pulumi.Output[str]
    """The feature-flag configuration profile id."""
    deployment_strategy_id: pulumi.Output[str]
    """The flag set's deployment strategy id."""
    monitor_role_arn: pulumi.Output[str]
    """The role AppConfig assumes to read the alarms ("" without alarms)."""
    configuration_arn: pulumi.Output[str]
    """The flags' configuration ARN (`...:application/<id>/environment/<id>/configuration/<id>`): the one
    resource a reader needs `appconfig:StartConfigurationSession` and `GetLatestConfiguration` on."""
    release_outputs: pulumi.Output[dict[str, Any]]
    """This flag set's entry of the stack output `featureFlags` (contract/outputs.py `FeatureFlagsOutputs`)."""

    def __init__(self, name: str, args: FeatureFlagsArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_feature_flags(name, args)
        check_child_names(name, child_names(name))
        super().__init__("zero-downtime:index:FeatureFlags", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(extra=settings.tags)

        self.application = aws.appconfig.Application(
            f"{name}-app",
            name=settings.application_name,
            description="zero-downtime feature flags",
            tags=tags,
            opts=child,
        )
        monitors: Any = []
        self.monitor_role = None
        arns = args.get("alarm_arns")
        if arns:
            self.monitor_role = aws.iam.Role(
                f"{name}-monitor-role",
                assume_role_policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "appconfig.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                description="AppConfig reads the flag set's alarms during a flag change, nothing else",
                tags=tags,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-monitor-read",
                role=self.monitor_role.id,
                policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        # DescribeAlarms takes no resource-level permission: AWS accepts only "*".
                        "Statement": [{"Effect": "Allow", "Action": "cloudwatch:DescribeAlarms", "Resource": "*"}],
                    }
                ),
                opts=child,
            )
            monitors = pulumi.Output.all(pulumi.Output.from_input(arns), self.monitor_role.arn).apply(
                lambda v: [{"alarm_arn": a, "alarm_role_arn": v[1]} for a in v[0]]
            )
        self.environment = aws.appconfig.Environment(
            f"{name}-env",
            application_id=self.application.id,
            name=settings.environment,
            description="flag changes roll back when a monitored alarm goes to ALARM",
            monitors=monitors,
            tags=tags,
            opts=child,
        )
        self.profile = aws.appconfig.ConfigurationProfile(
            f"{name}-flags",
            application_id=self.application.id,
            name="flags",
            location_uri="hosted",
            type="AWS.AppConfig.FeatureFlags",
            description="feature flags; the release driver writes new versions by percentage",
            tags=tags,
            opts=child,
        )
        self.version = aws.appconfig.HostedConfigurationVersion(
            f"{name}-flags-v",
            application_id=self.application.id,
            configuration_profile_id=self.profile.configuration_profile_id,
            content=settings.document,
            content_type=flag_doc.CONTENT_TYPE,
            description="flags as configured in the stack",
            opts=child,
        )
        self.strategy = aws.appconfig.DeploymentStrategy(
            f"{name}-strategy",
            name=f"{settings.application_name}-flags"[:MAX_NAME],
            description="zero-downtime flag changes: grow, then bake under the alarms",
            growth_type=settings.growth_type,
            growth_factor=settings.growth_factor,
            deployment_duration_in_minutes=settings.deployment_duration_minutes,
            final_bake_time_in_minutes=settings.final_bake_time_minutes,
            replicate_to="NONE",
            tags=tags,
            opts=child,
        )
        # AppConfig rolls back any deployment that runs while a monitored alarm is in ALARM, so the kill
        # switch (0%) deploys all at once with no bake: it is over before the alarm can undo it.
        self.kill_switch_strategy = aws.appconfig.DeploymentStrategy(
            f"{name}-kill-switch",
            name=f"{settings.application_name}-flags-kill"[:MAX_NAME],
            description="zero-downtime kill switch: a flag off on every host at once",
            growth_type="LINEAR",
            growth_factor=100.0,
            deployment_duration_in_minutes=0,
            final_bake_time_in_minutes=0,
            replicate_to="NONE",
            tags={**tags, PURPOSE_TAG: KILL_SWITCH},
            opts=child,
        )
        self.deployment = aws.appconfig.Deployment(
            f"{name}-deploy",
            application_id=self.application.id,
            environment_id=self.environment.environment_id,
            configuration_profile_id=self.profile.configuration_profile_id,
            configuration_version=self.version.version_number.apply(str),
            deployment_strategy_id=self.strategy.id,
            description="flags as configured in the stack",
            tags=tags,
            opts=child,
        )

        self.application_id = self.application.id
        self.environment_id = self.environment.environment_id
        self.configuration_profile_id = self.profile.configuration_profile_id
        self.deployment_strategy_id = self.strategy.id
        self.monitor_role_arn = self.monitor_role.arn if self.monitor_role else pulumi.Output.from_input("")
        # The application's ARN carries the partition, region and account.
        self.configuration_arn = pulumi.Output.format(
            "{0}/environment/{1}/configuration/{2}",
            self.application.arn,
            self.environment_id,
            self.configuration_profile_id,
        )
        self.release_outputs = pulumi.Output.from_input(
            build_feature_flags(
                config_path=f"featureFlags.{name}",
                application_id=self.application_id,
                application_name=settings.application_name,
                environment_id=self.environment_id,
                environment_name=settings.environment,
                configuration_profile_id=self.configuration_profile_id,
                configuration_profile_name="flags",
                deployment_strategy_id=self.deployment_strategy_id,
                kill_switch_strategy_id=self.kill_switch_strategy.id,
                flags=list(settings.flag_keys),
                alarm_names=args.get("alarm_names") or [],
                agent_path=pulumi.Output.format(
                    "/applications/{0}/environments/{1}/configurations/flags",
                    settings.application_name,
                    settings.environment,
                ),
            )
        )
        self.register_outputs(
            {
                "application_id": self.application_id,
                "environment_id": self.environment_id,
                "configuration_profile_id": self.configuration_profile_id,
                "deployment_strategy_id": self.deployment_strategy_id,
                "monitor_role_arn": self.monitor_role_arn,
                "configuration_arn": self.configuration_arn,
                "release_outputs": self.release_outputs,
            }
        )
