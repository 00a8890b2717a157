"""BlueGreenService: two Fargate services (blue, green) behind one ALB rule that splits traffic by weight.

Paired mode (default): each color is its own ECS service with the rolling controller, circuit
breaker and 100/200 percentages, so a task definition change never fights a deployment
controller. Traffic moves only through the weights of the production rule, which live in stack
config; the release driver rewrites them. The test-listener rule always sends 100% to the idle
color so it can be checked before it takes production traffic.

Native mode hands traffic shifting to ECS's own BLUE_GREEN / CANARY / LINEAR strategies: one ECS
service, both target groups, and the rules' actions ignored for changes because ECS swaps them
on every deployment. Everything else (target groups, rules, alarms, roles, logs, outputs) is the
same in both modes, which is why they share one component: the modes differ only in
`_paired_services` versus `_infra_role` + `_native_service`, and in the rules' ignore_changes.

`resolve_blue_green` is the one pure step that reads what the user configures and fills in the
defaults; the constructor reads the wired inputs (cluster, VPC, subnets, listeners) directly.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract import COLORS, Color, Weights, build_color, build_service, other_color
from ..contract.outputs import build_migration_task, build_migrations
from ..contract.types import ResourceType
from .defaults import DEFAULT_CONTAINER_PORT
from .migrations import MigrationsArgs, MigrationSettings, resolve_migrations
from .naming import check_child_names, check_explicit_name
from .release_alarms import (
    AlarmThresholds,
    AlarmThresholdsArgs,
    ReleaseAlarms,
    longest_alarm_name,
    resolve_thresholds,
)
from .routing import (
    DEFAULT_DEREGISTRATION_DELAY_SECONDS,
    MAX_DEREGISTRATION_DELAY_SECONDS,
    HealthCheckArgs,
    HealthCheckSettings,
    RoutingArgs,
    RoutingSettings,
    resolve_health_check,
    resolve_routing,
    rule_conditions,
    rule_priority,
    target_group_health_check,
)
from .rule_matching import WILDCARDS, pattern_covers
from .tags import check_tags, standard_tags
from .validation import (
    ArgError,
    check_bool,
    check_choice,
    check_host_name,
    check_image,
    check_log_retention,
    check_number,
    check_string_map,
    check_unknown_keys,
    int_setting,
    is_known,
    require_inputs,
)

PAIRED, NATIVE = "paired", "native"
MODES = (PAIRED, NATIVE)
NATIVE_STRATEGIES = ("BLUE_GREEN", "CANARY", "LINEAR")
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}
"""Fargate's task CPU units -> the memory sizes (MiB) it accepts with them (ECS "Task CPU and memory")."""
FARGATE_CPU = tuple(FARGATE_MEMORY)
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# Environment variable ECS sets itself in every container of the service.
COLOR_VARIABLE = "APP_COLOR"
# A secret's valueFrom: a Secrets Manager secret or an SSM parameter ARN (the execution role is granted these).
SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|ssm:[a-z0-9-]+:\d{12}:parameter/.+)$"
)
ECS_INFRA_POLICY = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
TASK_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"

DEFAULT_CPU = 256
DEFAULT_MEMORY = 512
DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS = 60
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_STICKINESS_SECONDS = 300
DEFAULT_BAKE_TIME_MINUTES = 10
DEFAULT_CANARY_PERCENT = 5
DEFAULT_CANARY_BAKE_TIME_MINUTES = 10
DEFAULT_STEP_PERCENT = 10
DEFAULT_STEP_BAKE_TIME_MINUTES = 6
MAX_DESIRED_COUNT = 5000
MAX_BAKE_TIME_MINUTES = 1440
MAX_STOP_TIMEOUT_SECONDS = 120
"""Fargate's largest stopTimeout."""
STOP_TIMEOUT_MARGIN_SECONDS = 5
"""stopTimeout is the deregistration delay plus this margin (see `BlueGreenSettings.stop_timeout_seconds`)."""

WIRED_INPUTS = (
    "cluster_arn",
    "vpc_id",
    "subnet_ids",
    "load_balancer_arn_suffix",
    "load_balancer_security_group_id",
    "production_listener_arn",
    "test_listener_arn",
    "production_base_url",
    "test_base_url",
)
"""Inputs wired from the shared edge and network (usually Outputs); the constructor reads them directly."""
OPTIONAL_WIRED_INPUTS = ("probe_function_arn", "flag_agent")
"""Wired by the program when it creates them (a PreTrafficProbe, a FeatureFlags set the service reads),
never set from config as such."""

FLAG_AGENT_IMAGE = "public.ecr.aws/aws-appconfig/aws-appconfig-agent:2.x"
"""AWS's AppConfig agent image, pinned to its major version (AWS publishes `2.x` for ECS)."""
FLAG_AGENT_CONTAINER = "appconfig-agent"
FLAG_AGENT_PORT = 2772
"""The agent's default HTTP port on localhost (AWS AppConfig docs)."""
DEFAULT_FLAG_POLL_SECONDS = 15
"""How often the agent asks AppConfig for a new version (the agent's own default is 45 s): a flag
release step reaches every task within one poll plus the app's 5 s cache."""
MAX_FLAG_POLL_SECONDS = 3600
FLAG_AGENT_URL_VARIABLE = "APP_FLAGS_AGENT_URL"
"""Where the app reads its flags (app/settings.py)."""
FLAG_SET_VARIABLE = "APP_FLAG_SET"
"""The FlagSet dimension of the app's per-variant flag metrics (app/settings.py)."""
FLAG_READ_ACTIONS = ("appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration")
"""What the agent calls with the task role: AppConfig's data plane, nothing else."""
AGENT_PATH = re.compile(r"^/applications/([^/,]+)/environments/([^/,]+)/configurations/([^/,]+)$")
CONFIGURATION_ARN = re.compile(
    r"^arn:aws[a-z-]*:appconfig:[a-z0-9-]+:\d{12}:application/[a-z0-9]+/environment/[a-z0-9]+/configuration/[a-z0-9]+$"
)
"""The IAM resource of one configuration: `StartConfigurationSession` and `GetLatestConfiguration` take it."""


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


class FlagAgentArgs(TypedDict):
    """The AWS AppConfig agent sidecar that serves one flag set to the app on localhost."""

    agent_path: str
    """`/applications/<application>/environments/<environment>/configurations/<profile>` (names or ids;
    a FeatureFlags' `release_outputs` `agentPath`): what the agent prefetches and the app reads
    (`APP_FLAGS_AGENT_URL`). Must be known at preview."""
    configuration_arn: pulumi.Input[str]
    """The one configuration the task role may read:
    `arn:aws:appconfig:<region>:<account>:application/<id>/environment/<id>/configuration/<id>`
    (FeatureFlags' `configuration_arn`)."""
    flag_set: NotRequired[str]
    """The app's `APP_FLAG_SET`, the FlagSet dimension of its flag metrics (default: the application in
    `agent_path`)."""
    image: NotRequired[str]
    """The agent's image (default `public.ecr.aws/aws-appconfig/aws-appconfig-agent:2.x`)."""
    poll_interval_seconds: NotRequired[int]
    """How often the agent polls AppConfig for a new version, 1-3600 (default 15)."""


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
    test_host_name: NotRequired[pulumi.Input[str]]
    """Host header and TLS server name of the driver's pre-traffic checks (default: the test URL's host)."""
    probe_function_arn: NotRequired[pulumi.Input[str]]
    """PreTrafficProbe function the driver invokes to run pre-traffic checks inside the VPC."""
    migrations: NotRequired[MigrationsArgs]
    """Schema migrations the driver runs around each release (expand, compatibility gate, contract)."""
    flag_agent: NotRequired[FlagAgentArgs]
    """The flag set the service reads: an AppConfig agent sidecar in both colors' tasks, the app's
    `APP_FLAGS_AGENT_URL`, and a task role that may read exactly that configuration."""


@dataclass(frozen=True)
class ColorSettings:
    """One color as configured, defaults filled in (a value may be an Output)."""

    image: Any
    desired_count: Any
    weight: Any


@dataclass(frozen=True)
class StickinessSettings:
    enabled: Any
    duration_seconds: Any = DEFAULT_STICKINESS_SECONDS


@dataclass(frozen=True)
class NativeSettings:
    """ECS's own deployment strategy (native mode)."""

    strategy: Any
    bake_time_minutes: Any = DEFAULT_BAKE_TIME_MINUTES
    canary_percent: Any = DEFAULT_CANARY_PERCENT
    canary_bake_time_minutes: Any = DEFAULT_CANARY_BAKE_TIME_MINUTES
    step_percent: Any = DEFAULT_STEP_PERCENT
    step_bake_time_minutes: Any = DEFAULT_STEP_BAKE_TIME_MINUTES


@dataclass(frozen=True)
class FlagAgentSettings:
    """The AppConfig agent sidecar, defaults filled in. `configuration_arn` is None until wired."""

    agent_path: str
    flag_set: str
    configuration_arn: Any = None
    image: Any = FLAG_AGENT_IMAGE
    poll_interval_seconds: Any = DEFAULT_FLAG_POLL_SECONDS

    @property
    def agent_url(self) -> str:
        return f"http://localhost:{FLAG_AGENT_PORT}{self.agent_path}"


@dataclass(frozen=True)
class BlueGreenSettings:
    """Everything a BlueGreenService is configured with, defaults filled in. The wired inputs
    (cluster, VPC, subnets, listeners, base URLs) are not settings."""

    name: str
    live_color: Color
    blue: ColorSettings
    green: ColorSettings
    alarms: AlarmThresholds
    health_check: HealthCheckSettings
    mode: str = PAIRED
    container_port: Any = DEFAULT_CONTAINER_PORT
    cpu: Any = DEFAULT_CPU
    memory: Any = DEFAULT_MEMORY
    environment: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    assign_public_ip: Any = False
    deregistration_delay_seconds: Any = DEFAULT_DEREGISTRATION_DELAY_SECONDS
    health_check_grace_period_seconds: Any = DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS
    log_retention_days: Any = DEFAULT_LOG_RETENTION_DAYS
    routing: RoutingSettings | None = None
    """None: the catch-all rule."""
    stickiness: StickinessSettings | None = None
    native: NativeSettings | None = None
    """Set exactly when mode is native."""
    tags: dict[str, str] = field(default_factory=dict)
    migrations: MigrationSettings | None = None
    """None: the service declares no schema migrations."""
    flag_agent: FlagAgentSettings | None = None
    """None: the service reads no flag set (no sidecar, no AppConfig permission)."""

    @property
    def idle_color(self) -> Color:
        return other_color(self.live_color)

    @property
    def is_native(self) -> bool:
        return self.mode == NATIVE

    def color(self, color: str) -> ColorSettings:
        return self.blue if color == "blue" else self.green

    @property
    def weights(self) -> dict[str, Any]:
        """Weights per color as configured."""
        return {c: self.color(c).weight for c in COLORS}

    @property
    def production_weights(self) -> dict[str, Any]:
        """What the production rule is created with: the configured weights, or in native mode all
        traffic on the live color (ECS moves it from there)."""
        return Weights.all_to(self.live_color).as_dict() if self.is_native else self.weights

    @property
    def stop_timeout_seconds(self) -> int:
        """Seconds between SIGTERM and SIGKILL: the app's own shutdown window.

        When ECS stops a task behind a load balancer it first deregisters the target and waits until
        the target group has drained it (at most the deregistration delay, less when no request is in
        flight), and only then sends SIGTERM. So in-flight ALB requests are already finished when the
        stop timeout starts; it does not need to cover them. It covers what the app does after SIGTERM:
        closing idle keep-alive connections, finishing work started by the last requests, flushing logs.
        We give that the same budget as a request (the deregistration delay, sized to the slowest
        request) plus a margin, capped at Fargate's maximum of 120 s. An app that exits promptly on
        SIGTERM never waits for it; one that ignores SIGTERM delays each task stop by this much.
        """
        delay = self.deregistration_delay_seconds
        if not is_known(delay):
            return MAX_STOP_TIMEOUT_SECONDS
        return min(MAX_STOP_TIMEOUT_SECONDS, delay + STOP_TIMEOUT_MARGIN_SECONDS)


def _resolve_color(color: str, given: Any, default_weight: int) -> ColorSettings:
    if not isinstance(given, Mapping):
        raise ArgError(color, "is required: image, and optionally desired_count and weight")
    unknown = set(given) - set(ColorArgs.__annotations__)
    if unknown:
        raise ArgError(f"{color}.{sorted(unknown)[0]}", "is not a known color setting")
    image = given.get("image")
    if image is None:
        raise ArgError(f"{color}.image", "is required (a container image reference)")
    check_image(image, f"{color}.image")
    weight = int_setting(given, "weight", default_weight, where=f"{color}.", minimum=0, maximum=100)
    # A color with traffic runs a task unless told otherwise; an unknown weight may have traffic.
    default_count = 1 if not is_known(weight) or weight > 0 else 0
    count = int_setting(given, "desired_count", default_count, where=f"{color}.", minimum=0, maximum=MAX_DESIRED_COUNT)
    return ColorSettings(image=image, desired_count=count, weight=weight)


def _resolve_stickiness(given: Any) -> StickinessSettings | None:
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise ArgError("stickiness", f"must be a mapping of stickiness settings, got {given!r}")
    check_unknown_keys(given, StickinessArgs.__annotations__, "stickiness", "is not a stickiness setting")
    if "enabled" not in given:
        raise ArgError("stickiness.enabled", "is required (true or false)")
    check_bool(given["enabled"], "stickiness.enabled")
    duration = int_setting(
        given, "duration_seconds", DEFAULT_STICKINESS_SECONDS, where="stickiness.", minimum=1, maximum=604800
    )
    return StickinessSettings(enabled=given.get("enabled"), duration_seconds=duration)


def _resolve_native(given: Any) -> NativeSettings:
    if not given:
        raise ArgError("native", "is required when mode is native (strategy BLUE_GREEN, CANARY or LINEAR)")
    if not isinstance(given, Mapping):
        raise ArgError("native", f"must be a mapping of native deployment settings, got {given!r}")
    strategy = given.get("strategy")
    if not is_known(strategy):  # it decides which block of the deployment configuration is built
        raise ArgError("native.strategy", "must be known at preview (BLUE_GREEN, CANARY or LINEAR), not an Output")
    check_choice(strategy, "native.strategy", NATIVE_STRATEGIES)
    bake = int_setting(
        given, "bake_time_minutes", DEFAULT_BAKE_TIME_MINUTES, where="native.", minimum=0, maximum=MAX_BAKE_TIME_MINUTES
    )
    canary_percent = given.get("canary_percent", DEFAULT_CANARY_PERCENT)
    check_number(canary_percent, "native.canary_percent", minimum=0.1)
    step_percent = given.get("step_percent", DEFAULT_STEP_PERCENT)
    check_number(step_percent, "native.step_percent", minimum=3)
    for key, value in (("canary_percent", canary_percent), ("step_percent", step_percent)):
        if is_known(value) and value > 100:
            raise ArgError(f"native.{key}", f"must be <= 100, got {value}")
    return NativeSettings(
        strategy=strategy,
        bake_time_minutes=bake,
        canary_percent=canary_percent,
        canary_bake_time_minutes=int_setting(
            given,
            "canary_bake_time_minutes",
            DEFAULT_CANARY_BAKE_TIME_MINUTES,
            where="native.",
            minimum=0,
            maximum=MAX_BAKE_TIME_MINUTES,
        ),
        step_percent=step_percent,
        step_bake_time_minutes=int_setting(
            given,
            "step_bake_time_minutes",
            DEFAULT_STEP_BAKE_TIME_MINUTES,
            where="native.",
            minimum=0,
            maximum=MAX_BAKE_TIME_MINUTES,
        ),
    )


def resolve_flag_agent(given: Any) -> FlagAgentSettings | None:
    """The agent sidecar's settings, checked. `configuration_arn` may be absent (the program wires it
    once the flag set exists); the constructor requires it. Raises ArgError naming the key."""
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise ArgError("flag_agent", f"must be a mapping of flag agent settings, got {given!r}")
    check_unknown_keys(given, FlagAgentArgs.__annotations__, "flag_agent", "is not a flag agent setting")
    path = given.get("agent_path")
    if not is_known(path):
        raise ArgError("flag_agent.agent_path", "must be known at preview, not an Output")
    match = AGENT_PATH.match(path) if isinstance(path, str) else None
    if match is None:
        raise ArgError(
            "flag_agent.agent_path",
            f"must be /applications/<application>/environments/<environment>/configurations/<profile>, got {path!r}",
        )
    flag_set = given.get("flag_set", match.group(1))
    if not isinstance(flag_set, str) or not flag_set.strip() or len(flag_set) > 255:
        raise ArgError("flag_agent.flag_set", f"must be a name of 1-255 characters, got {flag_set!r}")
    arn = given.get("configuration_arn")
    if arn is not None and is_known(arn) and (not isinstance(arn, str) or not CONFIGURATION_ARN.match(arn)):
        raise ArgError(
            "flag_agent.configuration_arn",
            "must be one AppConfig configuration's ARN, arn:aws:appconfig:<region>:<account>:application/<id>"
            f"/environment/<id>/configuration/<id> (no wildcard), got {arn!r}",
        )
    image = given.get("image", FLAG_AGENT_IMAGE)
    check_image(image, "flag_agent.image")
    poll = int_setting(
        given,
        "poll_interval_seconds",
        DEFAULT_FLAG_POLL_SECONDS,
        where="flag_agent.",
        minimum=1,
        maximum=MAX_FLAG_POLL_SECONDS,
    )
    return FlagAgentSettings(
        agent_path=path, flag_set=flag_set, configuration_arn=arn, image=image, poll_interval_seconds=poll
    )


def resolve_blue_green(name: str, args: BlueGreenServiceArgs) -> BlueGreenSettings:
    """Every rule the component relies on, checked, and every default filled in, before anything is
    registered. Reads only what the user configures: the wired inputs may be absent."""
    if not isinstance(name, str) or not SERVICE_NAME.match(name):
        raise ArgError(
            "name",
            f"must be lowercase letters, digits and '-', starting with a letter (used in AWS names), got {name!r}",
        )
    check_child_names(name, child_names(name))
    check_explicit_name(task_family(f"{name}-green"), ResourceType.ECS_TASK_DEFINITION, "name")
    check_explicit_name(longest_alarm_name(f"{name}-green-alarms"), ResourceType.METRIC_ALARM, "name")
    live = args.get("live_color")
    if live not in COLORS:
        raise ArgError("live_color", f"must be blue or green, got {live!r}")
    defaults = Weights.all_to(live)
    colors = {c: _resolve_color(c, args.get(c), defaults.of(c)) for c in COLORS}
    weights = {c: colors[c].weight for c in COLORS}
    if all(is_known(w) for w in weights.values()) and sum(weights.values()) != 100:
        raise ArgError(
            "green.weight",
            f"blue.weight + green.weight must sum to 100, got {weights['blue']} + {weights['green']}",
        )
    for c in COLORS:
        count, weight = colors[c].desired_count, colors[c].weight
        if is_known(count) and is_known(weight) and weight > 0 and count < 1:
            raise ArgError(
                f"{c}.desired_count",
                f"must be >= 1 while {c} gets {weight}% of traffic: requests would fail",
            )

    container_port = int_setting(args, "container_port", DEFAULT_CONTAINER_PORT, minimum=1, maximum=65535)
    cpu = int_setting(args, "cpu", DEFAULT_CPU)
    if is_known(cpu) and cpu not in FARGATE_CPU:
        raise ArgError("cpu", f"must be a Fargate CPU size {', '.join(map(str, FARGATE_CPU))}, got {cpu!r}")
    memory = int_setting(args, "memory", DEFAULT_MEMORY, minimum=512, maximum=122880)
    if is_known(cpu) and is_known(memory) and memory not in FARGATE_MEMORY[cpu]:
        raise ArgError("memory", f"must be {_memory_choices(cpu)} MiB with cpu {cpu} on Fargate, got {memory}")
    deregistration = int_setting(
        args,
        "deregistration_delay_seconds",
        DEFAULT_DEREGISTRATION_DELAY_SECONDS,
        minimum=0,
        maximum=MAX_DEREGISTRATION_DELAY_SECONDS,
    )
    grace = int_setting(
        args,
        "health_check_grace_period_seconds",
        DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS,
        minimum=0,
        maximum=2147483647,
    )
    retention = args.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS)
    check_log_retention(retention, "log_retention_days")
    environment = check_string_map(args.get("environment") or {}, "environment")
    if is_known(environment) and COLOR_VARIABLE in environment:
        raise ArgError(f"environment.{COLOR_VARIABLE}", "is set by the component to the task's color")
    flag_agent = resolve_flag_agent(args.get("flag_agent"))
    if flag_agent is not None and is_known(environment):
        for variable in (FLAG_AGENT_URL_VARIABLE, FLAG_SET_VARIABLE):
            if variable in environment:
                raise ArgError(f"environment.{variable}", "is set by the component from the flag set it reads")
    secrets = _resolve_secrets(args.get("secrets"))
    if flag_agent is not None and is_known(secrets):
        for variable in (FLAG_AGENT_URL_VARIABLE, FLAG_SET_VARIABLE):
            if variable in secrets:
                raise ArgError(f"secrets.{variable}", "is set by the component from the flag set it reads")
    if is_known(environment) and is_known(secrets) and set(environment) & set(secrets):
        both = sorted(set(environment) & set(secrets))[0]
        raise ArgError(f"secrets.{both}", "is also set in environment: ECS refuses a variable defined twice")
    assign_public_ip = args.get("assign_public_ip", False)
    check_bool(assign_public_ip, "assign_public_ip")
    test_host = args.get("test_host_name")
    if test_host is not None:
        check_host_name(test_host, "test_host_name")
    tags = check_tags(args.get("tags"))
    health_check = resolve_health_check(args.get("health_check"))
    routing = resolve_routing(args["routing"]) if args.get("routing") is not None else None
    _check_test_host_is_routed(test_host, routing)
    stickiness = _resolve_stickiness(args.get("stickiness"))

    mode = args.get("mode", PAIRED)
    if not is_known(mode):
        # Paired and native register different resources: the choice must be made at preview.
        raise ArgError("mode", "must be known at preview (paired or native), not an Output")
    check_choice(mode, "mode", MODES)
    native = _resolve_native(args.get("native")) if mode == NATIVE else None
    migrations = resolve_migrations(args.get("migrations"))
    if migrations is not None and mode == NATIVE:
        raise ArgError(
            "migrations", "needs mode paired: the release driver runs migrations, ECS's native strategies do not"
        )
    return BlueGreenSettings(
        migrations=migrations,
        flag_agent=flag_agent,
        name=name,
        live_color=live,
        blue=colors["blue"],
        green=colors["green"],
        alarms=resolve_thresholds(args.get("alarms"), where="alarms"),
        health_check=health_check,
        mode=mode,
        container_port=container_port,
        cpu=cpu,
        memory=memory,
        environment=environment,
        secrets=secrets,
        assign_public_ip=assign_public_ip,
        deregistration_delay_seconds=deregistration,
        health_check_grace_period_seconds=grace,
        log_retention_days=retention,
        routing=routing,
        stickiness=stickiness,
        native=native,
        tags=tags,
    )


def child_names(name: str) -> list[tuple[str, str]]:
    """(type, logical name) of every auto-named child a BlueGreenService named `name` creates."""
    return [
        *[(ResourceType.TARGET_GROUP, f"{name}-{c}-tg") for c in COLORS],
        *[(ResourceType.ECS_SERVICE, f"{name}-{c}-svc") for c in COLORS],
        (ResourceType.ECS_SERVICE, f"{name}-svc"),
        (ResourceType.IAM_ROLE, f"{name}-execution-role"),
        (ResourceType.IAM_ROLE, f"{name}-task-role"),
        (ResourceType.IAM_ROLE, f"{name}-ecs-infra-role"),
        (ResourceType.IAM_ROLE_POLICY, f"{name}-read-secrets"),
        (ResourceType.IAM_ROLE_POLICY, f"{name}-read-flags"),
        (ResourceType.SNS_TOPIC, f"{name}-releases"),
        (ResourceType.LOG_GROUP, f"{name}-logs"),
        (ResourceType.SECURITY_GROUP, f"{name}-tasks-sg"),
    ]


def task_family(resource_name: str) -> str:
    """`<stack>-<resource>`; a family holds only letters, digits, '-' and '_', and stack names may hold '.'."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', pulumi.get_stack())}-{resource_name}"


def _memory_choices(cpu: int) -> str:
    sizes = FARGATE_MEMORY[cpu]
    if len(sizes) <= 3:
        return ", ".join(map(str, sizes[:-1])) + f" or {sizes[-1]}"
    return f"{sizes[0]}-{sizes[-1]} in steps of {sizes[1] - sizes[0]}"


def _resolve_secrets(given: Any) -> Any:
    """Variable -> Secrets Manager secret or SSM parameter ARN; a plain value would land in the task
    definition in plain text (and in the execution role's policy), so it is refused."""
    secrets = check_string_map(given or {}, "secrets", what="secret references")
    if not is_known(secrets):
        return secrets
    for variable, reference in secrets.items():
        if is_known(reference) and not SECRET_ARN.match(reference):
            raise ArgError(
                f"secrets.{variable}",
                "must be the ARN of a Secrets Manager secret (arn:aws:secretsmanager:<region>:<account>:secret:<name>) "
                "or an SSM parameter (arn:aws:ssm:<region>:<account>:parameter/<name>), never the secret itself",
            )
    return secrets


def _url_path(routing: RoutingSettings | None) -> str:
    patterns = (routing.path_patterns if routing else None) or []
    if patterns and is_known(patterns) and isinstance(patterns[0], str):
        return "/" + patterns[0].strip("/").rstrip("*").rstrip("/") if patterns[0] != "/*" else "/"
    return "/"


def _check_test_host_is_routed(test_host: Any, routing: RoutingSettings | None) -> None:
    """A Host header no host condition of the rule matches would reach the listener's default 404."""
    hosts = routing.host_headers if routing else None
    if not test_host or not hosts or not is_known(test_host) or not is_known(hosts) or not all(map(is_known, hosts)):
        return
    if not any(pattern_covers(pattern, test_host, host=True) for pattern in hosts):
        raise ArgError(
            "test_host_name",
            f"{test_host!r} matches none of routing.host_headers {list(hosts)}: pre-traffic checks with it would "
            "reach the listener's default 404, not the service",
        )


def exact_host(routing: RoutingSettings | None) -> str | None:
    """The first host condition without a wildcard: a name a client (and a certificate) can use."""
    hosts = (routing.host_headers if routing else None) or []
    if not is_known(hosts):
        return None
    return next((h for h in hosts if is_known(h) and not set(h) & WILDCARDS), None)


def service_url(base: pulumi.Input[str], routing: RoutingSettings | None) -> pulumi.Output[str]:
    """Where the service answers behind `base`: its first exact host and path condition, if any."""
    host = exact_host(routing)
    path = _url_path(routing)

    def build(base_url: str) -> str:
        if host:
            scheme, _, rest = base_url.partition("://")
            port = rest.partition(":")[2]
            return f"{scheme}://{host}{':' + port if port else ''}{path}"
        return f"{base_url}{path}"

    return pulumi.Output.from_input(base).apply(build)


def weighted_forward(
    target_groups: Mapping[str, aws.lb.TargetGroup],
    weights: Mapping[str, Any],
    stickiness: StickinessSettings | None,
) -> aws.lb.ListenerRuleActionArgsDict:
    forward: dict[str, Any] = {
        "target_groups": [{"arn": target_groups[c].arn, "weight": weights[c]} for c in COLORS],
    }
    if stickiness is not None and stickiness.enabled:
        forward["stickiness"] = {"enabled": True, "duration": stickiness.duration_seconds}
    return {"type": "forward", "forward": forward}


def native_deployment_configuration(native: NativeSettings) -> dict[str, Any]:
    """The ECS service's deployment_configuration for a native strategy (the provider takes strings)."""
    config: dict[str, Any] = {
        "strategy": native.strategy,
        "bake_time_in_minutes": str(native.bake_time_minutes),
    }
    if native.strategy == "CANARY":
        config["canary_configuration"] = {
            "canary_percent": native.canary_percent,
            "canary_bake_time_in_minutes": str(native.canary_bake_time_minutes),
        }
    if native.strategy == "LINEAR":
        config["linear_configuration"] = {
            "step_percent": native.step_percent,
            "step_bake_time_in_minutes": str(native.step_bake_time_minutes),
        }
    return config


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


class BlueGreenService(pulumi.ComponentResource):
    """A blue/green pair of Fargate services behind a weighted ALB rule, with release alarms.

    Children, for callers who need them: `target_groups`, `services`, `task_definitions` and `alarms`
    (dicts color -> aws.lb.TargetGroup, aws.ecs.Service, aws.ecs.TaskDefinition, ReleaseAlarms; in
    native mode both colors map to the one service and task definition), `production_rule` and
    `test_rule` (aws.lb.ListenerRule), `topic` (aws.sns.Topic), `log_group`, `execution_role`,
    `task_role`, `security_group` (of the tasks), `infra_role` (native mode only, else None) and
    `flag_read_policy` (the task role's read of its flag set, only with `flag_agent`, else None).
    """

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
    """Everything the release driver needs, camelCase: the contract's ServiceOutputs (`contract/outputs.py`)."""

    def __init__(self, name: str, args: BlueGreenServiceArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_blue_green(name, args)
        require_inputs(args, WIRED_INPUTS)
        if settings.flag_agent is not None and settings.flag_agent.configuration_arn is None:
            raise ArgError("flag_agent.configuration_arn", "is required: the one configuration the task role may read")
        super().__init__("zero-downtime:index:BlueGreenService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service_tags = standard_tags(service=name, extra=settings.tags)
        color_tags = {c: standard_tags(service=name, color=c, extra=settings.tags) for c in COLORS}

        self.topic = aws.sns.Topic(f"{name}-releases", tags=service_tags, opts=child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=settings.log_retention_days, tags=service_tags, opts=child
        )
        self.execution_role = self._execution_role(settings, service_tags)
        self.task_role = aws.iam.Role(
            f"{name}-task-role",
            assume_role_policy=_assume_role_policy("ecs-tasks.amazonaws.com"),
            description=f"Role of {name}'s application containers",
            tags=service_tags,
            opts=child,
        )
        self.flag_read_policy = self._flag_read_policy(settings)
        self.security_group = self._tasks_security_group(
            settings, args["vpc_id"], args["load_balancer_security_group_id"], service_tags
        )
        self.target_groups = {c: self._target_group(settings, c, args["vpc_id"], color_tags[c]) for c in COLORS}
        self.alarms = {c: self._release_alarms(settings, c, args["load_balancer_arn_suffix"]) for c in COLORS}
        self.production_rule, self.test_rule = self._rules(
            settings, args["production_listener_arn"], args["test_listener_arn"], service_tags
        )
        self.infra_role: aws.iam.Role | None = None
        if settings.is_native:
            self.infra_role = self._infra_role(settings, service_tags)
            self.task_definitions, self.services = self._native_service(settings, args, self.infra_role, service_tags)
        else:
            self.task_definitions, self.services = self._paired_services(settings, args, color_tags)

        self.live_color = pulumi.Output.from_input(settings.live_color)
        self.idle_color = pulumi.Output.from_input(settings.idle_color)
        self.weights = pulumi.Output.from_input(settings.production_weights)
        colors = {c: self._color_outputs(settings, c) for c in COLORS}
        self.colors = pulumi.Output.from_input(colors)
        self.production_rule_arn = self.production_rule.arn
        self.test_rule_arn = self.test_rule.arn
        self.production_url = service_url(args["production_base_url"], settings.routing)
        self.test_url = service_url(args["test_base_url"], settings.routing)
        self.notification_topic_arn = self.topic.arn
        self.release_outputs = pulumi.Output.from_input(
            build_service(
                config_path=f"services.{name}",
                mode=settings.mode,
                live_color=settings.live_color,
                idle_color=settings.idle_color,
                weights=settings.production_weights,
                cluster_arn=args["cluster_arn"],
                cluster_name=pulumi.Output.from_input(args["cluster_arn"]).apply(lambda a: a.rsplit("/", 1)[-1]),
                load_balancer_arn_suffix=args["load_balancer_arn_suffix"],
                production_listener_arn=args["production_listener_arn"],
                production_rule_arn=self.production_rule.arn,
                test_listener_arn=args["test_listener_arn"],
                test_rule_arn=self.test_rule.arn,
                production_url=self.production_url,
                test_url=self.test_url,
                notification_topic_arn=self.topic.arn,
                test_host_name=args.get("test_host_name") or exact_host(settings.routing),
                probe_function_arn=args.get("probe_function_arn"),
                blue=colors["blue"],
                green=colors["green"],
                migrations=self._migration_outputs(settings),
                migration_task=self._migration_task(settings, args),
            )
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

    # -- migrations (paired mode only) ----------------------------------------------------------------
    @staticmethod
    def _migration_outputs(settings: BlueGreenSettings) -> dict[str, Any] | None:
        m = settings.migrations
        if m is None:
            return None
        return build_migrations(
            expand_command=m.expand_command,
            compat_command=m.compat_command,
            contract_command=m.contract_command,
            contract_delay_seconds=m.contract_delay_seconds,
            keep_warm_seconds=m.keep_warm_seconds,
        )

    def _migration_task(self, settings: BlueGreenSettings, args: BlueGreenServiceArgs) -> dict[str, Any] | None:
        """A one-off task copies the idle color's definition (the new image replaces its image)."""
        if settings.migrations is None:
            return None
        idle = settings.idle_color
        return build_migration_task(
            cluster_arn=args["cluster_arn"],
            task_definition_arn=self.task_definitions[idle].arn,
            container_name=settings.name,
            subnet_ids=args["subnet_ids"],
            security_group_ids=[self.security_group.id],
            assign_public_ip="ENABLED" if settings.assign_public_ip is True else "DISABLED",
            log_group_name=self.log_group.name,
            log_stream_prefix=idle,
        )

    # -- shared by both modes ------------------------------------------------------------------------
    def _execution_role(self, settings: BlueGreenSettings, tags: dict[str, str]) -> aws.iam.Role:
        name = settings.name
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
        if settings.secrets:
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
                                "Resource": list(settings.secrets.values()),
                            }
                        ],
                    }
                ),
                opts=child,
            )
        return role

    def _tasks_security_group(
        self,
        settings: BlueGreenSettings,
        vpc_id: pulumi.Input[str],
        load_balancer_security_group_id: pulumi.Input[str],
        tags: dict[str, str],
    ) -> aws.ec2.SecurityGroup:
        name, port = settings.name, settings.container_port
        return aws.ec2.SecurityGroup(
            f"{name}-tasks-sg",
            description=f"{name} tasks: the ALB only",
            vpc_id=vpc_id,
            ingress=[
                {
                    "description": "from the ALB",
                    "protocol": "tcp",
                    "from_port": port,
                    "to_port": port,
                    "security_groups": [load_balancer_security_group_id],
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
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _target_group(
        self, settings: BlueGreenSettings, color: str, vpc_id: pulumi.Input[str], tags: dict[str, str]
    ) -> aws.lb.TargetGroup:
        return aws.lb.TargetGroup(
            f"{settings.name}-{color}-tg",
            target_type="ip",
            protocol="HTTP",
            port=settings.container_port,
            vpc_id=vpc_id,
            deregistration_delay=settings.deregistration_delay_seconds,
            health_check=target_group_health_check(settings.health_check),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _release_alarms(
        self, settings: BlueGreenSettings, color: str, load_balancer_arn_suffix: pulumi.Input[str]
    ) -> ReleaseAlarms:
        return ReleaseAlarms(
            f"{settings.name}-{color}-alarms",
            {
                "load_balancer_arn_suffix": load_balancer_arn_suffix,
                "target_group_arn_suffix": self.target_groups[color].arn_suffix,
                "service": settings.name,
                "color": color,
                "thresholds": settings.alarms.as_args(),
                "notification_topic_arn": self.topic.arn,
                "tags": settings.tags,
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _rules(
        self,
        settings: BlueGreenSettings,
        production_listener_arn: pulumi.Input[str],
        test_listener_arn: pulumi.Input[str],
        tags: dict[str, str],
    ) -> tuple[aws.lb.ListenerRule, aws.lb.ListenerRule]:
        """(production rule split by weight, test rule on the idle color)."""
        # ECS swaps the rules' target groups itself in native mode; owning them too would fight it.
        opts = pulumi.ResourceOptions(parent=self, ignore_changes=["actions"] if settings.is_native else None)
        conditions = rule_conditions(settings.routing)
        priority = rule_priority(settings.routing)
        production = aws.lb.ListenerRule(
            f"{settings.name}-prod-rule",
            listener_arn=production_listener_arn,
            priority=priority,
            conditions=conditions,
            actions=[weighted_forward(self.target_groups, settings.production_weights, settings.stickiness)],
            tags=tags,
            opts=opts,
        )
        test = aws.lb.ListenerRule(
            f"{settings.name}-test-rule",
            listener_arn=test_listener_arn,
            priority=priority,
            conditions=conditions,
            actions=[weighted_forward(self.target_groups, Weights.all_to(settings.idle_color).as_dict(), None)],
            tags=tags,
            opts=opts,
        )
        return production, test

    def _service_options(self, settings: BlueGreenSettings, args: BlueGreenServiceArgs) -> dict[str, Any]:
        """Zero-downtime settings every ECS service here shares: rolling controller, circuit breaker
        with rollback, never below 100% healthy while a deployment runs."""
        return {
            "cluster": args["cluster_arn"],
            "launch_type": "FARGATE",
            "deployment_controller": {"type": "ECS"},
            "deployment_circuit_breaker": {"enable": True, "rollback": True},
            "deployment_minimum_healthy_percent": 100,
            "deployment_maximum_percent": 200,
            "health_check_grace_period_seconds": settings.health_check_grace_period_seconds,
            "network_configuration": {
                "subnets": args["subnet_ids"],
                "security_groups": [self.security_group.id],
                "assign_public_ip": settings.assign_public_ip,
            },
            "enable_ecs_managed_tags": True,
            "propagate_tags": "SERVICE",
            # A target group must be attached to a listener before a service can use it.
            "opts": pulumi.ResourceOptions(parent=self, depends_on=[self.production_rule, self.test_rule]),
        }

    def _task_definition(
        self, settings: BlueGreenSettings, resource_name: str, color: str, tags: dict[str, str]
    ) -> aws.ecs.TaskDefinition:
        port = settings.container_port
        environment = {**settings.environment, COLOR_VARIABLE: color}
        agent = settings.flag_agent
        if agent is not None:
            environment[FLAG_AGENT_URL_VARIABLE] = agent.agent_url
            environment[FLAG_SET_VARIABLE] = agent.flag_set
        region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region
        container: dict[str, Any] = {
            "name": settings.name,
            "image": settings.color(color).image,
            "essential": True,
            "portMappings": [{"containerPort": port, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
            "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(settings.secrets.items())],
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}],
            "stopTimeout": settings.stop_timeout_seconds,
            "logConfiguration": self._log_configuration(color, region),
        }
        containers = [container]
        if agent is not None:
            # The app starts once the agent has started, and ECS stops it before the agent (reverse
            # dependency order), so the app never loses its flags while it drains.
            container["dependsOn"] = [{"containerName": FLAG_AGENT_CONTAINER, "condition": "START"}]
            containers.append(self._flag_agent_container(agent, color, region))
        return aws.ecs.TaskDefinition(
            f"{resource_name}-task",
            family=task_family(resource_name),
            cpu=str(settings.cpu),
            memory=str(settings.memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            volumes=[{"name": "tmp"}],
            container_definitions=pulumi.Output.json_dumps(containers),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _log_configuration(self, color: str, region: pulumi.Input[str]) -> dict[str, Any]:
        """awslogs to the service's log group; streams are `<color>/<container>/<task id>`."""
        return {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": self.log_group.name,
                "awslogs-region": region,
                "awslogs-stream-prefix": color,
            },
        }

    def _flag_agent_container(self, agent: FlagAgentSettings, color: str, region: pulumi.Input[str]) -> dict[str, Any]:
        """The AWS AppConfig agent: essential, as AWS's ECS guide sets it, and restarted in place by ECS
        if it exits (a container restart policy), so a crash of the agent does not replace a serving
        task; meanwhile the app keeps its last good flags. It prefetches the one flag set at start.

        No container health check: the agent image's contents (a shell, curl) are not known here, and
        a check that cannot run would mark an essential container unhealthy. The app depends on START.
        """
        return {
            "name": FLAG_AGENT_CONTAINER,
            "image": agent.image,
            "essential": True,
            "portMappings": [{"containerPort": FLAG_AGENT_PORT, "protocol": "tcp"}],
            "environment": [
                {"name": "HTTP_PORT", "value": str(FLAG_AGENT_PORT)},
                {"name": "POLL_INTERVAL", "value": pulumi.Output.from_input(agent.poll_interval_seconds).apply(str)},
                {"name": "PREFETCH_LIST", "value": agent.agent_path},
                {"name": "SERVICE_REGION", "value": region},
            ],
            "readonlyRootFilesystem": True,
            "restartPolicy": {"enabled": True, "restartAttemptPeriod": 60},
            "logConfiguration": self._log_configuration(color, region),
        }

    def _flag_read_policy(self, settings: BlueGreenSettings) -> aws.iam.RolePolicy | None:
        """The task role may read exactly the one configuration of the flag set, nothing wider."""
        agent = settings.flag_agent
        if agent is None:
            return None
        return aws.iam.RolePolicy(
            f"{settings.name}-read-flags",
            role=self.task_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": list(FLAG_READ_ACTIONS),
                            "Resource": agent.configuration_arn,
                        }
                    ],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    # -- paired mode: one ECS service per color ------------------------------------------------------
    def _paired_services(
        self, settings: BlueGreenSettings, args: BlueGreenServiceArgs, color_tags: Mapping[str, dict[str, str]]
    ) -> tuple[dict[str, aws.ecs.TaskDefinition], dict[str, aws.ecs.Service]]:
        """(task definition per color, ECS service per color)."""
        name = settings.name
        tasks: dict[str, aws.ecs.TaskDefinition] = {}
        services: dict[str, aws.ecs.Service] = {}
        for c in COLORS:
            tasks[c] = self._task_definition(settings, f"{name}-{c}", c, color_tags[c])
            services[c] = aws.ecs.Service(
                f"{name}-{c}-svc",
                task_definition=tasks[c].arn,
                desired_count=settings.color(c).desired_count,
                load_balancers=[
                    {
                        "target_group_arn": self.target_groups[c].arn,
                        "container_name": name,
                        "container_port": settings.container_port,
                    }
                ],
                tags={**color_tags[c], **(settings.migrations.tags() if settings.migrations else {})},
                **self._service_options(settings, args),
            )
        return tasks, services

    # -- native mode: one ECS service, ECS shifts the rules ------------------------------------------
    def _infra_role(self, settings: BlueGreenSettings, tags: dict[str, str]) -> aws.iam.Role:
        """The role ECS assumes to rewrite the listener rules during a native deployment."""
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{settings.name}-ecs-infra-role",
            assume_role_policy=_assume_role_policy("ecs.amazonaws.com"),
            description="Lets ECS shift the listener rules during native blue/green deployments",
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{settings.name}-ecs-infra-policy", role=role.name, policy_arn=ECS_INFRA_POLICY, opts=child
        )
        return role

    def _native_service(
        self,
        settings: BlueGreenSettings,
        args: BlueGreenServiceArgs,
        infra_role: aws.iam.Role,
        tags: dict[str, str],
    ) -> tuple[dict[str, aws.ecs.TaskDefinition], dict[str, aws.ecs.Service]]:
        """One task definition and one ECS service, each under both colors."""
        assert settings.native is not None  # resolve sets it exactly in native mode
        name, live, idle = settings.name, settings.live_color, settings.idle_color
        task = self._task_definition(settings, name, live, tags)
        service = aws.ecs.Service(
            f"{name}-svc",
            task_definition=task.arn,
            desired_count=settings.color(live).desired_count,
            deployment_configuration=native_deployment_configuration(settings.native),
            alarms={
                # ECS watches metric alarms; the composite stays the driver's single signal.
                "alarm_names": pulumi.Output.all(*[self.alarms[c].alarm_names for c in COLORS]).apply(
                    lambda per_color: [n for names in per_color for n in names]
                ),
                "enable": True,
                "rollback": True,
            },
            load_balancers=[
                {
                    "target_group_arn": self.target_groups[live].arn,
                    "container_name": name,
                    "container_port": settings.container_port,
                    "advanced_configuration": {
                        "alternate_target_group_arn": self.target_groups[idle].arn,
                        "production_listener_rule": self.production_rule.arn,
                        "test_listener_rule": self.test_rule.arn,
                        "role_arn": infra_role.arn,
                    },
                }
            ],
            tags=tags,
            **self._service_options(settings, args),
        )
        return dict.fromkeys(COLORS, task), dict.fromkeys(COLORS, service)

    def _color_outputs(self, settings: BlueGreenSettings, color: str) -> dict[str, Any]:
        """One color of the contract (`ColorOutputs`); in native mode both colors name the one service."""
        service, task, target_group = self.services[color], self.task_definitions[color], self.target_groups[color]
        return build_color(
            service_name=service.name,
            service_arn=service.arn,
            target_group_arn=target_group.arn,
            target_group_arn_suffix=target_group.arn_suffix,
            task_definition_arn=task.arn,
            image=settings.color(color).image,
            desired_count=settings.color(color).desired_count,
            weight=settings.color(color).weight,
            composite_alarm_name=self.alarms[color].composite_alarm_name,
            alarm_names=self.alarms[color].alarm_names,
        )
