"""Build the AWS ports for one paired service from its stack outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driver.aws.clients import client
from driver.aws.events import SnsPublisher
from driver.aws.instance_refresh import InstanceRefresher
from driver.aws.metrics import CloudWatchMetrics, ColorAlarms
from driver.aws.router import ElbRuleRouter
from driver.controller import Ports
from driver.outputs import FleetOutputs, ServiceOutputs
from driver.ports import (
    COLORS,
    AlarmStatus,
    Clock,
    EventPublisher,
    NullPublisher,
    PreTrafficCheck,
    WindowMetrics,
)
from driver.stack_deployer import StackDeployer
from driver.stack_ops import StackOps


def aws_ports(
    service: ServiceOutputs,
    ops: StackOps,
    clock: Clock,
    *,
    checks: Sequence[PreTrafficCheck] = (),
    region: str | None = None,
    endpoint_url: str | None = None,
    percentiles: bool = True,
    notify: bool = False,
    health_poll_seconds: float = 5.0,
    clients: dict[str, Any] | None = None,
) -> Ports:
    """Ports over ELBv2, CloudWatch, SNS and the stack. `clients` overrides boto3 clients."""
    made = dict(clients or {})
    for name in ("elbv2", "cloudwatch", "sns"):
        made.setdefault(name, client(name, region=region, endpoint_url=endpoint_url))
    router = ElbRuleRouter(
        made["elbv2"],
        service.production_rule_arn,
        {c: service.colors[c].target_group_arn for c in COLORS},
    )
    metrics = CloudWatchMetrics(
        made["cloudwatch"],
        service.load_balancer_arn_suffix,
        {c: service.colors[c].target_group_arn_suffix for c in COLORS},
        {c: ColorAlarms(service.colors[c].composite_alarm_name, service.colors[c].alarm_names) for c in COLORS},
        percentiles=percentiles,
    )
    publisher: EventPublisher = NullPublisher()
    if notify and service.notification_topic_arn:
        publisher = SnsPublisher(made["sns"], service.notification_topic_arn)
    deployer = StackDeployer(ops, service, made["elbv2"], clock, health_poll_seconds=health_poll_seconds)
    return Ports(
        router=router,
        metrics=metrics,
        deployer=deployer,
        clock=clock,
        checks=list(checks),
        publisher=publisher,
    )


class CloudWatchFleetMetrics:
    """The fleet's one target group and its alarms. Without the load balancer's ARN suffix in
    the outputs, ALB metrics cannot be addressed: the window is empty (inconclusive, never a
    pass) and the alarms plus the refresh's own status decide."""

    def __init__(self, metrics: CloudWatchMetrics, fleet: FleetOutputs) -> None:
        self.metrics = metrics
        self.fleet = fleet
        self.alarm_names = ColorAlarms(fleet.composite_alarm_name, fleet.alarm_names)

    def window(self, start: float, end: float) -> WindowMetrics:
        if not self.fleet.load_balancer_arn_suffix:
            return WindowMetrics(requests=0, errors_5xx=0)
        return self.metrics.target_group_window(self.fleet.target_group_arn_suffix, start, end)

    def alarms(self) -> AlarmStatus:
        return self.metrics.alarm_status(self.alarm_names)


def fleet_parts(
    fleet: FleetOutputs,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    percentiles: bool = True,
    clients: dict[str, Any] | None = None,
) -> tuple[InstanceRefresher, CloudWatchFleetMetrics]:
    made = dict(clients or {})
    for name in ("autoscaling", "cloudwatch"):
        made.setdefault(name, client(name, region=region, endpoint_url=endpoint_url))
    metrics = CloudWatchMetrics(
        made["cloudwatch"],
        fleet.load_balancer_arn_suffix or "",
        {},
        {},
        percentiles=percentiles,
    )
    return (
        InstanceRefresher(made["autoscaling"], fleet.group_name),
        CloudWatchFleetMetrics(metrics, fleet),
    )
