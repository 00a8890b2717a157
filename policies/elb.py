"""Elastic Load Balancing: target group health and draining, listener weights and TLS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..contract.types import ResourceType
from .config import Setting
from .props import as_bool, as_int, get, is_ours, items, mapping
from .rules import ADVISORY, MANDATORY, GuardResourcePolicy

TARGET_GROUP = (ResourceType.TARGET_GROUP,)
LISTENERS = (ResourceType.LISTENER, ResourceType.LISTENER_RULE)
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTPS"})
MAX_WEIGHT = 999
MODERN_TLS_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10",
]


def _is_lambda(props: Mapping[str, Any]) -> bool:
    return get(props, "targetType") == "lambda"


def check_health_check(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    if _is_lambda(props):
        return
    health = mapping(get(props, "healthCheck"))
    if not health:
        yield (
            "healthCheck is not set: traffic shifts on the provider's defaults. Set healthCheck="
            "{enabled: true, path: <readiness endpoint>, interval, healthyThreshold, "
            "unhealthyThreshold}."
        )
        return
    if as_bool(health.get("enabled")) is False:
        yield (
            "healthCheck.enabled is false: the load balancer sends traffic to targets that are "
            "down. Set healthCheck.enabled: true with a path."
        )
        return
    protocol = str(health.get("protocol") or get(props, "protocol", "HTTP")).upper()
    if protocol in HTTP_PROTOCOLS and not health.get("path"):
        yield (
            "healthCheck.path is not set: '/' may answer before the app is ready. Set "
            "healthCheck.path to the app's readiness endpoint."
        )


def check_health_check_timing(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if _is_lambda(props):
        return
    health = mapping(get(props, "healthCheck"))
    if as_bool(health.get("enabled")) is False:
        return  # elb-target-group-health-check reports that
    interval = as_int(health.get("interval"))
    healthy = as_int(health.get("healthyThreshold"))
    unhealthy = as_int(health.get("unhealthyThreshold"))
    if interval is None or interval > config["maxIntervalSeconds"]:
        yield (
            f"healthCheck.interval is {interval if interval is not None else 'not set'}: failures "
            f"are noticed late. Set it to {config['maxIntervalSeconds']}s or less."
        )
    if healthy is None or healthy > config["maxHealthyThreshold"]:
        yield (
            f"healthCheck.healthyThreshold is {healthy if healthy is not None else 'not set'}: "
            f"new targets wait long for traffic. Set it to {config['maxHealthyThreshold']} or less."
        )
    low, high = config["minUnhealthyThreshold"], config["maxUnhealthyThreshold"]
    if unhealthy is None or not low <= unhealthy <= high:
        yield (
            f"healthCheck.unhealthyThreshold is {unhealthy if unhealthy is not None else 'not set'}:"
            f" set it between {low} (no flapping) and {high} (quick removal)."
        )


def check_deregistration_delay(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if _is_lambda(props):
        return
    low, high = config["minSeconds"], config["maxSeconds"]
    delay = as_int(get(props, "deregistrationDelay"))
    if delay is None:
        yield (
            "deregistrationDelay is not set: the 300s default slows every release and rollback. "
            f"Set it between {low} and {high} seconds (longer than your slowest request)."
        )
    elif delay == 0:
        yield (
            "deregistrationDelay is 0: in-flight requests are cut when a target leaves. "
            f"Set it between {low} and {high} seconds."
        )
    elif not low <= delay <= high:
        yield f"deregistrationDelay is {delay}s: set it between {low} and {high} seconds."


def forward_weights(props: Mapping[str, Any]) -> list[list[tuple[str, int | None]]]:
    """(target group ARN, weight) per weighted forward action of a listener or rule."""
    actions = items(get(props, "defaultActions")) or items(get(props, "actions"))
    found = []
    for action in actions:
        action = mapping(action)
        if action.get("type") != "forward":
            continue
        groups = items(get(action, "forward.targetGroups"))
        if groups:
            found.append([(str(mapping(g).get("arn")), as_int(mapping(g).get("weight"))) for g in groups])
    return found


def check_weights_valid(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    for groups in forward_weights(props):
        for arn, weight in groups:
            if weight is None or not 0 <= weight <= MAX_WEIGHT:
                yield (
                    f"forward weight {weight} for {arn} is outside 0-{MAX_WEIGHT}: the API rejects "
                    "it mid-release. Use weights 0-999 (this project uses percentages, 0-100)."
                )
        weights = [w for _, w in groups]
        if weights and all(w == 0 for w in weights):
            yield (
                "every forward weight is 0: the listener answers 503 to all requests. Give the "
                "live target group a positive weight."
            )


def _sum_not_100(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    total_expected = config["total"]
    for groups in forward_weights(props):
        weights = [w for _, w in groups]
        if len(weights) < 2 or any(w is None for w in weights):
            continue
        total = sum(w for w in weights if w is not None)
        if total != total_expected:
            yield (
                f"forward weights {weights} sum to {total}: they read as percentages only when "
                f"they sum to {total_expected}. Rescale them to sum to {total_expected}."
            )


def check_weights_sum_ours(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if is_ours(props):
        yield from _sum_not_100(props, config)


def check_weights_sum_foreign(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if not is_ours(props):
        yield from _sum_not_100(props, config)


def check_tls_policy(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if str(get(props, "protocol", "")).upper() not in ("HTTPS", "TLS"):
        return
    policy = get(props, "sslPolicy")
    if policy not in config["allowedSslPolicies"]:
        yield (
            f"sslPolicy is {policy or 'not set'}: it may allow TLS 1.0/1.1. Set sslPolicy to "
            f"{config['allowedSslPolicies'][0]} (or another of allowedSslPolicies)."
        )


_TOTAL = {"total": Setting("integer", 100, "What weighted forward pairs must sum to.", 1)}

POLICIES = [
    GuardResourcePolicy(
        "elb-target-group-health-check",
        "Target groups health-check their targets on a readiness path.",
        MANDATORY,
        TARGET_GROUP,
        check_health_check,
    ),
    GuardResourcePolicy(
        "elb-target-group-health-check-timing",
        "Target group health checks notice failures and recoveries quickly, without flapping.",
        ADVISORY,
        TARGET_GROUP,
        check_health_check_timing,
        {
            "maxIntervalSeconds": Setting("integer", 30, "Longest health-check interval.", 5, 300),
            "maxHealthyThreshold": Setting("integer", 5, "Largest healthyThreshold.", 2, 10),
            "minUnhealthyThreshold": Setting("integer", 2, "Smallest unhealthyThreshold.", 2, 10),
            "maxUnhealthyThreshold": Setting("integer", 5, "Largest unhealthyThreshold.", 2, 10),
        },
    ),
    GuardResourcePolicy(
        "elb-target-group-deregistration-delay",
        "Target groups drain in-flight requests, neither cutting them (0) nor waiting 300s.",
        MANDATORY,
        TARGET_GROUP,
        check_deregistration_delay,
        {
            "minSeconds": Setting("integer", 5, "Shortest deregistrationDelay.", 1, 3600),
            "maxSeconds": Setting("integer", 120, "Longest deregistrationDelay.", 1, 3600),
        },
    ),
    GuardResourcePolicy(
        "elb-listener-forward-weights",
        "Weighted forward actions use weights 0-999 and never all 0.",
        MANDATORY,
        LISTENERS,
        check_weights_valid,
    ),
    GuardResourcePolicy(
        "elb-listener-weights-sum-100",
        "Weighted forward pairs of this project's listeners sum to 100 (the driver's convention).",
        MANDATORY,
        LISTENERS,
        check_weights_sum_ours,
        _TOTAL,
    ),
    GuardResourcePolicy(
        "elb-listener-weights-sum-100-foreign",
        "Weighted forward pairs of other stacks' listeners sum to 100, so they read as percentages.",
        ADVISORY,
        LISTENERS,
        check_weights_sum_foreign,
        _TOTAL,
    ),
    GuardResourcePolicy(
        "elb-listener-tls-policy",
        "HTTPS listeners negotiate TLS 1.2 or newer with forward secrecy.",
        ADVISORY,
        (ResourceType.LISTENER,),
        check_tls_policy,
        {"allowedSslPolicies": Setting("array", MODERN_TLS_POLICIES, "TLS policies accepted.", item_type="string")},
    ),
]
