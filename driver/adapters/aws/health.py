"""Target health: wait until a color's target group has enough healthy targets."""

from __future__ import annotations

from typing import Any

from ...core.ports import Clock
from .clients import AWS_ERRORS, port_error


def healthy_count(elbv2: Any, target_group_arn: str) -> tuple[int, int]:
    """(healthy, total) targets registered in the target group."""
    try:
        descs = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    except AWS_ERRORS as exc:
        raise port_error(f"describe_target_health {target_group_arn}", exc) from exc
    states = [d["TargetHealth"]["State"] for d in descs.get("TargetHealthDescriptions", [])]
    return sum(1 for s in states if s == "healthy"), len(states)


def wait_healthy(
    elbv2: Any,
    target_group_arn: str,
    *,
    minimum: int,
    timeout_seconds: float,
    clock: Clock,
    poll_seconds: float = 5.0,
) -> bool:
    """True once >= `minimum` targets are healthy and none is unhealthy/draining, else False."""
    deadline = clock.now() + timeout_seconds
    while True:
        healthy, total = healthy_count(elbv2, target_group_arn)
        if healthy >= max(1, minimum) and healthy == total:
            return True
        if clock.now() >= deadline:
            return False
        clock.sleep(min(poll_seconds, deadline - clock.now()))
