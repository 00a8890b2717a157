"""EC2 Auto Scaling groups: health checks and instance refreshes that keep capacity."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..contract.types import ResourceType
from .config import Setting
from .props import as_bool, as_int, get, items
from .rules import MANDATORY, GuardResourcePolicy

GROUP = (ResourceType.AUTOSCALING_GROUP,)
FLOATING_VERSIONS = frozenset({"$Latest", "$Default"})


def _attached(props: Mapping[str, Any]) -> bool:
    return bool(items(get(props, "targetGroupArns")) or items(get(props, "loadBalancers")))


def check_elb_health_check(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    if not _attached(props):
        return
    kind = get(props, "healthCheckType")
    if kind != "ELB":
        yield (
            f"healthCheckType is {kind or 'not set (EC2)'} on a group behind a load balancer: "
            "instances failing the ELB check stay in service. Set healthCheckType: ELB and a "
            "healthCheckGracePeriod."
        )


def check_refresh_min_healthy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    refresh = get(props, "instanceRefresh")
    if not refresh:
        return
    floor = config["minHealthyPercentage"]
    value = as_int(get(refresh, "preferences.minHealthyPercentage"))
    if value is None or value < floor:
        shown = "not set" if value is None else f"{value}%"
        yield (
            f"instanceRefresh.preferences.minHealthyPercentage is {shown}: a refresh may take "
            f"away capacity that serves traffic. Set it to {floor} or more."
        )


def check_rollback_pinned(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    if as_bool(get(props, "instanceRefresh.preferences.autoRollback")) is not True:
        return
    template = get(props, "launchTemplate") or get(
        props, "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification"
    )
    version = get(template, "version") if template else None
    if version is None or str(version) in FLOATING_VERSIONS:
        yield (
            f"autoRollback with launch template version {version or 'not set'}: AWS cannot roll "
            "back to a floating version. Pin launchTemplate.version to the template's "
            "latestVersion."
        )


POLICIES = [
    GuardResourcePolicy(
        "autoscaling-group-elb-health-check",
        "Auto Scaling groups behind a load balancer replace instances the load balancer finds unhealthy.",
        MANDATORY,
        GROUP,
        check_elb_health_check,
    ),
    GuardResourcePolicy(
        "autoscaling-group-instance-refresh-min-healthy",
        "Instance refreshes keep enough healthy instances to serve traffic.",
        MANDATORY,
        GROUP,
        check_refresh_min_healthy,
        {"minHealthyPercentage": Setting("integer", 90, "Lowest minHealthyPercentage allowed.", 0, 100)},
    ),
    GuardResourcePolicy(
        "autoscaling-group-rollback-pinned-version",
        "Instance refresh auto rollback uses an explicit launch template version.",
        MANDATORY,
        GROUP,
        check_rollback_pinned,
    ),
]
