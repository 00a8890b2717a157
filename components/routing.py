"""What BlueGreenService and RollingAutoScalingGroup share at the ALB: rule routing and target health checks."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract.load_balancer import (
    DEFAULT_DEREGISTRATION_DELAY_SECONDS as DEFAULT_DEREGISTRATION_DELAY_SECONDS,  # re-exported: services and fleets
)
from ..contract.load_balancer import (
    DEFAULT_HEALTHY_THRESHOLD,
    DEFAULT_INTERVAL_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
    DEFAULT_UNHEALTHY_THRESHOLD,
)
from .defaults import DEFAULT_HEALTH_CHECK_PATH
from .validation import ArgError, check_int, check_unknown_keys, int_setting, is_known

CATCH_ALL_PRIORITY = 50000
# An ALB rule takes at most five condition values across its host and path conditions.
MAX_RULE_CONDITION_VALUES = 5
CATCH_ALL_PATH = "/*"

# The health check and deregistration defaults live in the contract: the rehearsal's HAProxy uses them too.
DEFAULT_MATCHER = "200"
MAX_DEREGISTRATION_DELAY_SECONDS = 3600
# ALB health check matcher for HTTP: codes 200-499, as "200", "200,302" or "200-299".
MATCHER_CODES = (200, 499)
_MATCHER_LIST = re.compile(r"^\d{3}(,\d{3})*$")
_MATCHER_RANGE = re.compile(r"^(\d{3})-(\d{3})$")
# ALB rule conditions: each value at most 128 characters, from these sets (`*` and `?` are wildcards).
MAX_CONDITION_VALUE_LENGTH = 128
_PATH_PATTERN = re.compile(r"^[A-Za-z0-9_\-.$/~\"'@:+&*?]+$")
_HOST_HEADER = re.compile(r"^[A-Za-z0-9\-.*?]+$")


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


@dataclass(frozen=True)
class RoutingSettings:
    """A listener rule's priority and conditions; a condition list may be an Output."""

    priority: Any
    path_patterns: Any = None
    host_headers: Any = None


@dataclass(frozen=True)
class HealthCheckSettings:
    """A target group health check with every default filled in."""

    path: Any = DEFAULT_HEALTH_CHECK_PATH
    interval_seconds: Any = DEFAULT_INTERVAL_SECONDS
    timeout_seconds: Any = DEFAULT_TIMEOUT_SECONDS
    healthy_threshold: Any = DEFAULT_HEALTHY_THRESHOLD
    unhealthy_threshold: Any = DEFAULT_UNHEALTHY_THRESHOLD
    matcher: Any = DEFAULT_MATCHER


def resolve_routing(routing: Any, where: str = "routing") -> RoutingSettings:
    """A rule needs an explicit priority and at least one condition value (the catch-all is separate)."""
    if not isinstance(routing, Mapping):
        raise ArgError(where, "must be a priority and host_headers and/or path_patterns")
    check_unknown_keys(routing, RoutingArgs.__annotations__, where, "is not a routing setting")
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
        for value in given:
            _check_condition_value(value, f"{where}.{key}", host=key == "host_headers")
        values += len(given)
    if values == 0 and all(is_known(routing.get(k)) for k in ("host_headers", "path_patterns")):
        raise ArgError(where, "needs path_patterns and/or host_headers")
    if values > MAX_RULE_CONDITION_VALUES:
        raise ArgError(
            f"{where}.path_patterns" if routing.get("path_patterns") else f"{where}.host_headers",
            f"a listener rule takes at most {MAX_RULE_CONDITION_VALUES} host and path values, got {values}",
        )
    return RoutingSettings(
        priority=routing["priority"],
        path_patterns=routing.get("path_patterns"),
        host_headers=routing.get("host_headers"),
    )


def _check_condition_value(value: str, key: str, *, host: bool) -> None:
    pattern, what = (
        (_HOST_HEADER, "letters, digits and - . * ?")
        if host
        else (
            _PATH_PATTERN,
            "letters, digits and _ - . $ / ~ \" ' @ : + & * ?",
        )
    )
    if len(value) > MAX_CONDITION_VALUE_LENGTH or not pattern.match(value):
        raise ArgError(key, f"{value!r} is not a valid ALB condition value (at most 128 of {what})")
    if not host and not value.startswith(("/", "*")):
        raise ArgError(key, f"{value!r} must start with '/' (paths always do)")


def check_matcher(matcher: Any, key: str) -> None:
    """An ALB HTTP health check matcher: "200", "200,302" or "200-299", codes 200-499."""
    if not is_known(matcher):
        return
    low, high = MATCHER_CODES
    problem = f'must be HTTP codes {low}-{high} as "200", "200,302" or "200-299", got {matcher!r}'
    if not isinstance(matcher, str):
        raise ArgError(key, problem)
    if _MATCHER_LIST.match(matcher):
        codes = [int(c) for c in matcher.split(",")]
    elif match := _MATCHER_RANGE.match(matcher):
        codes = [int(match.group(1)), int(match.group(2))]
        if codes[0] > codes[1]:
            raise ArgError(key, problem)
    else:
        raise ArgError(key, problem)
    if not all(low <= code <= high for code in codes):
        raise ArgError(key, problem)


def rule_priority(routing: RoutingSettings | None) -> Any:
    """The rule's priority; no routing means the catch-all's."""
    return CATCH_ALL_PRIORITY if routing is None else routing.priority


def rule_conditions(routing: RoutingSettings | None) -> list[aws.lb.ListenerRuleConditionArgsDict]:
    """The rule's conditions; no routing means the catch-all `/*`."""
    if routing is None:
        return [{"path_pattern": {"values": [CATCH_ALL_PATH]}}]
    conditions: list[aws.lb.ListenerRuleConditionArgsDict] = []
    if routing.path_patterns:
        conditions.append({"path_pattern": {"values": routing.path_patterns}})
    if routing.host_headers:
        conditions.append({"host_header": {"values": routing.host_headers}})
    return conditions


def resolve_health_check(
    check: Any,
    where: str = "health_check",
    *,
    extra_keys: frozenset[str] = frozenset(),
    default_matcher: str = DEFAULT_MATCHER,
) -> HealthCheckSettings:
    """The health check with defaults; `extra_keys` are the caller's own keys, checked by the caller."""
    check = {} if check is None else check
    if not isinstance(check, Mapping):
        raise ArgError(where, f"must be a mapping of health check settings, got {check!r}")
    check_unknown_keys(check, set(HealthCheckArgs.__annotations__) | extra_keys, where, "is not a health check setting")
    path = check.get("path", DEFAULT_HEALTH_CHECK_PATH)
    if is_known(path) and not (
        isinstance(path, str) and path.startswith("/") and len(path) <= 1024 and not any(c.isspace() for c in path)
    ):
        raise ArgError(f"{where}.path", f"must be a path starting with '/', without spaces, got {path!r}")
    prefix = f"{where}."
    interval = int_setting(check, "interval_seconds", DEFAULT_INTERVAL_SECONDS, where=prefix, minimum=5, maximum=300)
    timeout = int_setting(check, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS, where=prefix, minimum=2, maximum=120)
    if is_known(interval) and is_known(timeout) and timeout >= interval:
        raise ArgError(f"{where}.timeout_seconds", f"must be below interval_seconds ({interval}), got {timeout}")
    return HealthCheckSettings(
        path=path,
        interval_seconds=interval,
        timeout_seconds=timeout,
        healthy_threshold=int_setting(
            check, "healthy_threshold", DEFAULT_HEALTHY_THRESHOLD, where=prefix, minimum=2, maximum=10
        ),
        unhealthy_threshold=int_setting(
            check, "unhealthy_threshold", DEFAULT_UNHEALTHY_THRESHOLD, where=prefix, minimum=2, maximum=10
        ),
        matcher=_matcher(check, where, default_matcher),
    )


def _matcher(check: Mapping[str, Any], where: str, default: str) -> Any:
    matcher = check.get("matcher", default)
    check_matcher(matcher, f"{where}.matcher")
    return matcher


def target_group_health_check(check: HealthCheckSettings) -> aws.lb.TargetGroupHealthCheckArgsDict:
    """The provider's health_check block."""
    return {
        "enabled": True,
        "protocol": "HTTP",
        "path": check.path,
        "interval": check.interval_seconds,
        "timeout": check.timeout_seconds,
        "healthy_threshold": check.healthy_threshold,
        "unhealthy_threshold": check.unhealthy_threshold,
        "matcher": check.matcher,
    }
