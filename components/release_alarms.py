"""ReleaseAlarms: the health signal the release driver reads for one color (or one fleet).

Three metric alarms on the color's target group and the ALB, and one composite alarm over them.
Missing data is NOT breaching: a color at 0% traffic has no requests and no healthy hosts to
report, and must not look broken. The driver enforces a minimum request count separately, so
"no data" never lets a step pass either.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .tags import standard_tags
from .validation import ArgError, check_int, check_number, check_unknown_keys, is_known, require, require_inputs

ALB_NAMESPACE = "AWS/ApplicationELB"


class AlarmThresholdsArgs(TypedDict):
    """Thresholds and timing of the release alarms. Every field has a default."""

    error_rate_percent: NotRequired[pulumi.Input[float]]
    """Target 5xx responses as % of requests above which the color is unhealthy (default 5)."""
    p99_latency_seconds: NotRequired[pulumi.Input[float]]
    """p99 TargetResponseTime in seconds above which the color is unhealthy (default 2)."""
    period_seconds: NotRequired[pulumi.Input[int]]
    """Metric period in seconds: 10, 30 or a multiple of 60 (default 60)."""
    evaluation_periods: NotRequired[pulumi.Input[int]]
    """Periods evaluated per alarm (default 3)."""
    datapoints_to_alarm: NotRequired[pulumi.Input[int]]
    """Breaching datapoints within the evaluation periods that raise the alarm (default 2)."""


class ReleaseAlarmsArgs(TypedDict):
    """Where the alarms look, and how strict they are."""

    load_balancer_arn_suffix: pulumi.Input[str]
    """ALB ARN suffix (`app/<name>/<id>`), the LoadBalancer dimension."""
    target_group_arn_suffix: pulumi.Input[str]
    """Target group ARN suffix (`targetgroup/<name>/<id>`), the TargetGroup dimension."""
    service: pulumi.Input[str]
    """Service (or fleet) name, used in alarm names and tags."""
    color: NotRequired[pulumi.Input[str]]
    """Color the alarms watch; omitted for fleets that have no colors."""
    thresholds: NotRequired[AlarmThresholdsArgs]
    """Overrides of DEFAULT_THRESHOLDS."""
    notification_topic_arn: NotRequired[pulumi.Input[str]]
    """SNS topic notified when the composite alarm changes state."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra tags, merged with the standard ones."""


@dataclass(frozen=True)
class AlarmThresholds:
    """Resolved thresholds and timing of the release alarms (plain values or Outputs)."""

    error_rate_percent: Any
    p99_latency_seconds: Any
    period_seconds: Any
    evaluation_periods: Any
    datapoints_to_alarm: Any

    def as_args(self) -> AlarmThresholdsArgs:
        """The thresholds as `AlarmThresholdsArgs`, e.g. for a child ReleaseAlarms."""
        return AlarmThresholdsArgs(**asdict(self))  # type: ignore[typeddict-item]


DEFAULT_THRESHOLDS = AlarmThresholds(
    error_rate_percent=5.0,
    p99_latency_seconds=2.0,
    period_seconds=60,
    evaluation_periods=3,
    datapoints_to_alarm=2,
)
"""The article's thresholds: every field of AlarmThresholdsArgs defaults to these."""


@dataclass(frozen=True)
class ReleaseAlarmsSettings:
    """What a ReleaseAlarms is configured with; the ARN suffixes and topic are wired inputs."""

    service: Any
    color: Any
    thresholds: AlarmThresholds
    tags: dict[str, str] = field(default_factory=dict)


WIRED_INPUTS = ("load_balancer_arn_suffix", "target_group_arn_suffix")
"""Dimensions of the alarms: Outputs of the load balancer and target group."""


def resolve_thresholds(overrides: AlarmThresholdsArgs | None, where: str = "thresholds") -> AlarmThresholds:
    """Defaults merged with overrides, validated. Raises ArgError naming the key."""
    overrides = overrides or {}
    if not isinstance(overrides, Mapping):
        raise ArgError(where, f"must be a mapping of alarm settings, got {overrides!r}")
    check_unknown_keys(overrides, asdict(DEFAULT_THRESHOLDS), where, "is not a known alarm setting")
    merged = replace(DEFAULT_THRESHOLDS, **overrides)
    check_number(merged.error_rate_percent, f"{where}.error_rate_percent", exclusive_minimum=0)
    check_number(merged.p99_latency_seconds, f"{where}.p99_latency_seconds", exclusive_minimum=0)
    period = merged.period_seconds
    check_int(period, f"{where}.period_seconds", minimum=10)
    if is_known(period) and period not in (10, 30) and period % 60:
        raise ArgError(f"{where}.period_seconds", f"must be 10, 30 or a multiple of 60, got {period}")
    check_int(merged.evaluation_periods, f"{where}.evaluation_periods", minimum=1)
    check_int(merged.datapoints_to_alarm, f"{where}.datapoints_to_alarm", minimum=1)
    datapoints, periods = merged.datapoints_to_alarm, merged.evaluation_periods
    if is_known(datapoints) and is_known(periods) and datapoints > periods:
        raise ArgError(
            f"{where}.datapoints_to_alarm",
            f"must be <= evaluation_periods ({periods}), got {datapoints}",
        )
    return merged


def resolve_release_alarms(args: ReleaseAlarmsArgs) -> ReleaseAlarmsSettings:
    """The service, color, thresholds and tags; raises ArgError naming the key."""
    return ReleaseAlarmsSettings(
        service=require(args, "service"),
        color=args.get("color"),
        thresholds=resolve_thresholds(args.get("thresholds")),
        tags=dict(args.get("tags") or {}),
    )


class ReleaseAlarms(pulumi.ComponentResource):
    """5xx rate, p99 latency and unhealthy hosts for one target group, plus a composite alarm.

    Children, for callers who need them: `error_rate_alarm`, `latency_alarm`, `unhealthy_hosts_alarm`
    (aws.cloudwatch.MetricAlarm), `metric_alarms` (the three, in that order) and `composite_alarm`
    (aws.cloudwatch.CompositeAlarm).
    """

    error_rate_alarm_name: pulumi.Output[str]
    """Alarm on 5xx responses as a percentage of requests (metric math)."""
    latency_alarm_name: pulumi.Output[str]
    """Alarm on p99 TargetResponseTime."""
    unhealthy_hosts_alarm_name: pulumi.Output[str]
    """Alarm on UnHealthyHostCount > 0."""
    composite_alarm_name: pulumi.Output[str]
    """The single health signal the driver reads: ALARM when any member is in ALARM."""
    alarm_names: pulumi.Output[list[str]]
    """The three metric alarm names (the composite's members)."""

    def __init__(self, name: str, args: ReleaseAlarmsArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_release_alarms(args)
        require_inputs(args, WIRED_INPUTS)
        super().__init__("zero-downtime:index:ReleaseAlarms", name, None, opts)

        tags = standard_tags(service=settings.service, color=settings.color, extra=settings.tags)
        dimensions = {
            "LoadBalancer": args["load_balancer_arn_suffix"],
            "TargetGroup": args["target_group_arn_suffix"],
        }
        self.error_rate_alarm, self.latency_alarm, self.unhealthy_hosts_alarm = self._metric_alarms(
            name, settings.thresholds, dimensions, tags
        )
        self.metric_alarms = [self.error_rate_alarm, self.latency_alarm, self.unhealthy_hosts_alarm]
        topic = args.get("notification_topic_arn")
        self.composite_alarm = self._composite_alarm(name, self.metric_alarms, [topic] if topic else [], tags)

        self.error_rate_alarm_name = self.error_rate_alarm.name
        self.latency_alarm_name = self.latency_alarm.name
        self.unhealthy_hosts_alarm_name = self.unhealthy_hosts_alarm.name
        self.composite_alarm_name = self.composite_alarm.alarm_name
        self.alarm_names = pulumi.Output.all(*[m.name for m in self.metric_alarms])
        self.register_outputs(
            {
                "error_rate_alarm_name": self.error_rate_alarm_name,
                "latency_alarm_name": self.latency_alarm_name,
                "unhealthy_hosts_alarm_name": self.unhealthy_hosts_alarm_name,
                "composite_alarm_name": self.composite_alarm_name,
                "alarm_names": self.alarm_names,
            }
        )

    def _metric_alarms(
        self, name: str, thresholds: AlarmThresholds, dimensions: Mapping[str, Any], tags: Mapping[str, str]
    ) -> tuple[aws.cloudwatch.MetricAlarm, aws.cloudwatch.MetricAlarm, aws.cloudwatch.MetricAlarm]:
        child = pulumi.ResourceOptions(parent=self)
        prefix = _alarm_prefix(name)
        common = {
            "evaluation_periods": thresholds.evaluation_periods,
            "datapoints_to_alarm": thresholds.datapoints_to_alarm,
            "treat_missing_data": "notBreaching",
            "tags": tags,
        }

        def plain_metric(metric_name: str, stat: str) -> aws.cloudwatch.MetricAlarmMetricQueryMetricArgsDict:
            return {
                "namespace": ALB_NAMESPACE,
                "metric_name": metric_name,
                "dimensions": dimensions,
                "period": thresholds.period_seconds,
                "stat": stat,
            }

        error_rate = aws.cloudwatch.MetricAlarm(
            f"{name}-5xx-rate",
            name=f"{prefix}-5xx-rate",
            alarm_description="Target 5xx responses as % of requests; missing data = no traffic, not breaching.",
            comparison_operator="GreaterThanThreshold",
            threshold=thresholds.error_rate_percent,
            metric_queries=[
                {"id": "errors", "metric": plain_metric("HTTPCode_Target_5XX_Count", "Sum")},
                {"id": "requests", "metric": plain_metric("RequestCount", "Sum")},
                {
                    "id": "error_rate",
                    "expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                    "label": "5xx error rate (%)",
                    "return_data": True,
                },
            ],
            **common,
            opts=child,
        )
        latency = aws.cloudwatch.MetricAlarm(
            f"{name}-p99-latency",
            name=f"{prefix}-p99-latency",
            alarm_description="p99 target response time in seconds.",
            namespace=ALB_NAMESPACE,
            metric_name="TargetResponseTime",
            dimensions=dimensions,
            extended_statistic="p99",
            period=thresholds.period_seconds,
            comparison_operator="GreaterThanThreshold",
            threshold=thresholds.p99_latency_seconds,
            **common,
            opts=child,
        )
        unhealthy = aws.cloudwatch.MetricAlarm(
            f"{name}-unhealthy-hosts",
            name=f"{prefix}-unhealthy-hosts",
            alarm_description="At least one target failed its health check.",
            namespace=ALB_NAMESPACE,
            metric_name="UnHealthyHostCount",
            dimensions=dimensions,
            statistic="Maximum",
            period=thresholds.period_seconds,
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            **common,
            opts=child,
        )
        return error_rate, latency, unhealthy

    def _composite_alarm(
        self,
        name: str,
        members: list[aws.cloudwatch.MetricAlarm],
        actions: list[Any],
        tags: Mapping[str, str],
    ) -> aws.cloudwatch.CompositeAlarm:
        return aws.cloudwatch.CompositeAlarm(
            f"{name}-health",
            alarm_name=f"{_alarm_prefix(name)}-health",
            alarm_description="Release health: ALARM when any member alarm is in ALARM.",
            alarm_rule=pulumi.Output.all(*[m.name for m in members]).apply(
                lambda names: " OR ".join(f'ALARM("{n}")' for n in names)
            ),
            actions_enabled=True,
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def _alarm_prefix(name: str) -> str:
    """Alarm names are unique per account and region, so they carry the project and stack."""
    return f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}"


ALARM_SUFFIXES = ("5xx-rate", "p99-latency", "unhealthy-hosts", "health")


def longest_alarm_name(name: str) -> str:
    """The longest alarm name a ReleaseAlarms named `name` creates (for the up-front length check)."""
    return max((f"{_alarm_prefix(name)}-{suffix}" for suffix in ALARM_SUFFIXES), key=len)
