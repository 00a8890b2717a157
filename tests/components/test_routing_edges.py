"""Rule routing and target health checks (`components/routing.py`) at their edges: the key named, the
problem said, the range edges, and the provider blocks built from the settings.

Written to kill the surviving mutants of `routing.py` (docs/DEVELOPING.md#mutation-testing): the
component tests use these through each component, but are not in mutmut's test selection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from zero_downtime.components.routing import (
    CATCH_ALL_PRIORITY,
    HealthCheckSettings,
    RoutingSettings,
    check_matcher,
    resolve_health_check,
    resolve_routing,
    rule_conditions,
    rule_priority,
    target_group_health_check,
)
from zero_downtime.components.validation import ArgError


def refused(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(ArgError) as err:
        call()
    return err.value.key, err.value.problem


def output(value: Any) -> pulumi.Output[Any]:
    return pulumi.Output.from_input(value)


# -- routing -----------------------------------------------------------------------------------------------
def test_routing_is_a_priority_and_conditions() -> None:
    r = resolve_routing({"priority": 10, "path_patterns": ["/api/*"], "host_headers": ["api.example.com"]})
    assert r == RoutingSettings(priority=10, path_patterns=["/api/*"], host_headers=["api.example.com"])
    assert refused(lambda: resolve_routing("/api", "services.web.routing")) == (
        "services.web.routing",
        "must be a priority and host_headers and/or path_patterns",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "paths": ["/"]}, "services.web.routing")) == (
        "services.web.routing.paths",
        "is not a routing setting",
    )


def test_routing_priority_range() -> None:
    assert resolve_routing({"priority": 1, "path_patterns": ["/"]}).priority == 1
    assert resolve_routing({"priority": CATCH_ALL_PRIORITY - 1, "path_patterns": ["/"]}).priority == 49999
    assert refused(lambda: resolve_routing({"path_patterns": ["/"]})) == (
        "routing.priority",
        "is required: an explicit, unique rule priority",
    )
    assert refused(lambda: resolve_routing({"priority": 0, "path_patterns": ["/"]})) == (
        "routing.priority",
        "must be >= 1, got 0",
    )
    assert refused(lambda: resolve_routing({"priority": 50000, "path_patterns": ["/"]})) == (
        "routing.priority",
        "must be <= 49999, got 50000",
    )


def test_routing_condition_lists() -> None:
    assert refused(lambda: resolve_routing({"priority": 1, "path_patterns": "/api/*"})) == (
        "routing.path_patterns",
        "must be a non-empty list of strings, got '/api/*'",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "host_headers": []})) == (
        "routing.host_headers",
        "must be a non-empty list of strings, got []",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "host_headers": 5})) == (
        "routing.host_headers",
        "must be a non-empty list of strings, got 5",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "path_patterns": ["/a", ""]})) == (
        "routing.path_patterns",
        "must contain only non-empty strings, got ['/a', '']",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "path_patterns": ["/a", 5]})) == (
        "routing.path_patterns",
        "must contain only non-empty strings, got ['/a', 5]",
    )
    assert refused(lambda: resolve_routing({"priority": 1})) == ("routing", "needs path_patterns and/or host_headers")
    # A list known only at deployment is not counted, and is not refused as missing.
    later = resolve_routing({"priority": 1, "path_patterns": output(["/a"])})
    assert later.priority == 1 and later.host_headers is None
    assert resolve_routing({"priority": 1, "host_headers": output(["a.example.com"])}).path_patterns is None


def test_a_rule_takes_at_most_five_values() -> None:
    five = {"priority": 1, "path_patterns": ["/a", "/b", "/c"], "host_headers": ["a.example.com", "b.example.com"]}
    assert resolve_routing(five).path_patterns == ["/a", "/b", "/c"]
    six = {**five, "path_patterns": ["/a", "/b", "/c", "/d"]}
    assert refused(lambda: resolve_routing(six)) == (
        "routing.path_patterns",
        "a listener rule takes at most 5 host and path values, got 6",
    )
    hosts = {"priority": 1, "host_headers": [f"h{i}.example.com" for i in range(6)]}
    assert refused(lambda: resolve_routing(hosts))[0] == "routing.host_headers"


def test_condition_values() -> None:
    resolve_routing({"priority": 1, "path_patterns": ["*.png", "/" + "a" * 127], "host_headers": ["*.example.com"]})
    assert refused(lambda: resolve_routing({"priority": 1, "path_patterns": ["/" + "a" * 128]})) == (
        "routing.path_patterns",
        f"'/{'a' * 128}' is not a valid ALB condition value (at most 128 of letters, digits and "
        "_ - . $ / ~ \" ' @ : + & * ?)",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "host_headers": ["a_b.example.com"]})) == (
        "routing.host_headers",
        "'a_b.example.com' is not a valid ALB condition value (at most 128 of letters, digits and - . * ?)",
    )
    assert refused(lambda: resolve_routing({"priority": 1, "path_patterns": ["api/*"]})) == (
        "routing.path_patterns",
        "'api/*' must start with '/' (paths always do)",
    )
    # A host value need not start with '/'.
    assert resolve_routing({"priority": 1, "host_headers": ["api.example.com"]}).host_headers == ["api.example.com"]


def test_rule_priority_and_conditions() -> None:
    assert rule_priority(None) == CATCH_ALL_PRIORITY == 50000
    assert rule_priority(RoutingSettings(priority=7)) == 7
    assert rule_conditions(None) == [{"path_pattern": {"values": ["/*"]}}]
    both = RoutingSettings(priority=7, path_patterns=["/a"], host_headers=["a.example.com"])
    assert rule_conditions(both) == [
        {"path_pattern": {"values": ["/a"]}},
        {"host_header": {"values": ["a.example.com"]}},
    ]
    assert rule_conditions(RoutingSettings(priority=7, host_headers=["a.example.com"])) == [
        {"host_header": {"values": ["a.example.com"]}}
    ]
    assert rule_conditions(RoutingSettings(priority=7, path_patterns=["/a"])) == [{"path_pattern": {"values": ["/a"]}}]


# -- health checks -----------------------------------------------------------------------------------------
def test_health_check_defaults_and_provider_block() -> None:
    check = resolve_health_check(None)
    assert check == HealthCheckSettings("/health", 10, 5, 2, 2, "200")
    assert resolve_health_check({}, default_matcher="200-399").matcher == "200-399"
    assert target_group_health_check(HealthCheckSettings("/ready", 30, 6, 3, 4, "200,302")) == {
        "enabled": True,
        "protocol": "HTTP",
        "path": "/ready",
        "interval": 30,
        "timeout": 6,
        "healthy_threshold": 3,
        "unhealthy_threshold": 4,
        "matcher": "200,302",
    }


def test_health_check_keys() -> None:
    assert refused(lambda: resolve_health_check(["/health"], "services.web.health_check")) == (
        "services.web.health_check",
        "must be a mapping of health check settings, got ['/health']",
    )
    assert refused(lambda: resolve_health_check({"grace": 5}, "hc")) == ("hc.grace", "is not a health check setting")
    assert resolve_health_check({"grace": 5}, extra_keys=frozenset({"grace"})).path == "/health"


def test_health_check_path() -> None:
    assert resolve_health_check({"path": "/" + "a" * 1023}).path == "/" + "a" * 1023
    for bad in ("health", "/he alth", "/" + "a" * 1024, 5):
        assert refused(lambda bad=bad: resolve_health_check({"path": bad}, "hc")) == (
            "hc.path",
            f"must be a path starting with '/', without spaces, got {bad!r}",
        )
    later = output("x")
    assert resolve_health_check({"path": later}).path is later


@pytest.mark.parametrize(
    ("key", "low", "high", "base"),
    [
        ("interval_seconds", 5, 300, {"timeout_seconds": 2}),
        ("timeout_seconds", 2, 120, {"interval_seconds": 300}),
        ("healthy_threshold", 2, 10, {}),
        ("unhealthy_threshold", 2, 10, {}),
    ],
)
def test_health_check_ranges(key: str, low: int, high: int, base: dict[str, int]) -> None:
    for value in (low, high):
        assert getattr(resolve_health_check({**base, key: value}, "hc"), key) == value
    assert refused(lambda: resolve_health_check({**base, key: low - 1}, "hc")) == (
        f"hc.{key}",
        f"must be >= {low}, got {low - 1}",
    )
    assert refused(lambda: resolve_health_check({**base, key: high + 1}, "hc")) == (
        f"hc.{key}",
        f"must be <= {high}, got {high + 1}",
    )


def test_health_check_timeout_below_interval() -> None:
    assert resolve_health_check({"interval_seconds": 6, "timeout_seconds": 5}).timeout_seconds == 5
    assert refused(lambda: resolve_health_check({"interval_seconds": 6, "timeout_seconds": 6}, "hc")) == (
        "hc.timeout_seconds",
        "must be below interval_seconds (6), got 6",
    )
    resolve_health_check({"interval_seconds": output(5), "timeout_seconds": 10})  # known only at deployment
    resolve_health_check({"interval_seconds": 6, "timeout_seconds": output(10)})


MATCHER_PROBLEM = 'must be HTTP codes 200-499 as "200", "200,302" or "200-299", got {!r}'


def test_matchers() -> None:
    for ok in ("200", "200,302", "200-299", "200-200", "499"):
        check_matcher(ok, "m")
    for bad in (200, "199", "500", "200,500", "299-200", "200-500", "2xx", "200 "):
        assert refused(lambda bad=bad: check_matcher(bad, "m")) == ("m", MATCHER_PROBLEM.format(bad))
    check_matcher(output("2xx"), "m")
    assert refused(lambda: resolve_health_check({"matcher": "2xx"}, "hc")) == (
        "hc.matcher",
        MATCHER_PROBLEM.format("2xx"),
    )
