"""What BlueGreenService and RollingAutoScalingGroup share at the ALB: rule routing and target health checks."""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.validation import ArgError, check_int, is_known

CATCH_ALL_PRIORITY = 50000
# An ALB rule takes at most five condition values across its host and path conditions.
MAX_RULE_CONDITION_VALUES = 5


class RoutingArgs(TypedDict):
    """Which production requests a rule claims: an explicit priority and host and/or path conditions."""

    priority: pulumi.Input[int]
    """Rule priority, 1-49999 (lower wins), unique on the listener; 50000 is the catch-all's."""
    path_patterns: NotRequired[pulumi.Input[list[str]]]
    """Path patterns, e.g. `/api/*`."""
    host_headers: NotRequired[pulumi.Input[list[str]]]
    """Host names, e.g. `api.example.com`."""


class HealthCheckArgs(TypedDict):
    """Target group health check."""

    path: NotRequired[pulumi.Input[str]]
    """HTTP path of the readiness check (default /health)."""
    interval_seconds: NotRequired[pulumi.Input[int]]
    """Seconds between checks, 5-300 (default 10)."""
    timeout_seconds: NotRequired[pulumi.Input[int]]
    """Seconds before a check fails, 2-120 and below the interval (default 5)."""
    healthy_threshold: NotRequired[pulumi.Input[int]]
    """Consecutive successes before a target is healthy, 2-10 (default 2)."""
    unhealthy_threshold: NotRequired[pulumi.Input[int]]
    """Consecutive failures before a target is unhealthy, 2-10 (default 2)."""
    matcher: NotRequired[pulumi.Input[str]]
    """HTTP codes that count as healthy (default 200)."""


def validate_routing(routing: Any, where: str = "routing") -> None:
    """A rule needs an explicit priority and at least one condition value (the catch-all is separate)."""
    if not isinstance(routing, Mapping):
        raise ArgError(where, "must be a priority and host_headers and/or path_patterns")
    unknown = sorted(set(routing) - set(RoutingArgs.__annotations__))
    if unknown:
        raise ArgError(f"{where}.{unknown[0]}", "is not a routing setting")
    if routing.get("priority") is None:
        raise ArgError(f"{where}.priority", "is required: an explicit, unique rule priority")
    check_int(routing["priority"], f"{where}.priority", minimum=1, maximum=CATCH_ALL_PRIORITY - 1)
    values = 0
    for key in ("host_headers", "path_patterns"):
        given = routing.get(key)
        if given is None or not is_known(given):
            continue
        if isinstance(given, str) or not isinstance(given, Sequence) or not given:
            raise ArgError(f"{where}.{key}", f"must be a non-empty list of strings, got {given!r}")
        if not all(isinstance(v, str) and v for v in given):
            raise ArgError(f"{where}.{key}", f"must contain only non-empty strings, got {given!r}")
        values += len(given)
    if values == 0 and all(is_known(routing.get(k)) for k in ("host_headers", "path_patterns")):
        raise ArgError(where, "needs path_patterns and/or host_headers")
    if values > MAX_RULE_CONDITION_VALUES:
        raise ArgError(
            f"{where}.path_patterns" if routing.get("path_patterns") else f"{where}.host_headers",
            f"a listener rule takes at most {MAX_RULE_CONDITION_VALUES} host and path values, got {values}",
        )


def rule_conditions(routing: RoutingArgs | None) -> list[aws.lb.ListenerRuleConditionArgsDict]:
    """The rule's conditions; no routing means the catch-all `/*`."""
    if routing is None:
        return [{"path_pattern": {"values": ["/*"]}}]
    conditions: list[aws.lb.ListenerRuleConditionArgsDict] = []
    if routing.get("path_patterns"):
        conditions.append({"path_pattern": {"values": routing["path_patterns"]}})
    if routing.get("host_headers"):
        conditions.append({"host_header": {"values": routing["host_headers"]}})
    return conditions


def validate_health_check(
    check: Mapping[str, Any], where: str = "health_check", extra_keys: frozenset[str] = frozenset()
) -> None:
    unknown = sorted(set(check) - set(HealthCheckArgs.__annotations__) - extra_keys)
    if unknown:
        raise ArgError(f"{where}.{unknown[0]}", "is not a health check setting")
    path = check.get("path", "/health")
    if is_known(path) and not (isinstance(path, str) and path.startswith("/")):
        raise ArgError(f"{where}.path", f"must start with '/', got {path!r}")
    interval, timeout = check.get("interval_seconds", 10), check.get("timeout_seconds", 5)
    check_int(interval, f"{where}.interval_seconds", minimum=5, maximum=300)
    check_int(timeout, f"{where}.timeout_seconds", minimum=2, maximum=120)
    if is_known(interval) and is_known(timeout) and timeout >= interval:
        raise ArgError(f"{where}.timeout_seconds", f"must be below interval_seconds ({interval}), got {timeout}")
    for key in ("healthy_threshold", "unhealthy_threshold"):
        check_int(check.get(key, 2), f"{where}.{key}", minimum=2, maximum=10)


def target_group_health_check(
    check: Mapping[str, Any], default_matcher: str = "200"
) -> aws.lb.TargetGroupHealthCheckArgsDict:
    """The provider's health_check block, defaults filled in."""
    return {
        "enabled": True,
        "protocol": "HTTP",
        "path": check.get("path", "/health"),
        "interval": check.get("interval_seconds", 10),
        "timeout": check.get("timeout_seconds", 5),
        "healthy_threshold": check.get("healthy_threshold", 2),
        "unhealthy_threshold": check.get("unhealthy_threshold", 2),
        "matcher": check.get("matcher", default_matcher),
    }
