"""Target group and listener policies, through ResourceValidationArgs."""

from __future__ import annotations

import pytest
from zero_downtime.contract.types import ResourceType

from tests.policies.support import OURS, Case, assert_case

HEALTH = "elb-target-group-health-check"
TIMING = "elb-target-group-health-check-timing"
DRAIN = "elb-target-group-deregistration-delay"
WEIGHTS = "elb-listener-forward-weights"
SUM = "elb-listener-weights-sum-100"
SUM_FOREIGN = "elb-listener-weights-sum-100-foreign"
TLS = "elb-listener-tls-policy"
RULE = ResourceType.LISTENER_RULE
LISTENER = ResourceType.LISTENER

GOOD_HEALTH = {
    "enabled": True,
    "path": "/ready",
    "interval": 10.0,
    "healthyThreshold": 2.0,
    "unhealthyThreshold": 2.0,
}
GOOD_TG = {"protocol": "HTTP", "port": 80.0, "healthCheck": GOOD_HEALTH, "deregistrationDelay": 30.0}


def tg(**changes: object) -> dict:
    return {**GOOD_TG, **changes}


def health(**changes: object) -> dict:
    return tg(healthCheck={**GOOD_HEALTH, **changes})


def forward(*weights: float, tags: dict | None = None, key: str = "actions") -> dict:
    groups = [{"arn": f"arn:tg/{i}", "weight": w} for i, w in enumerate(weights)]
    props: dict = {key: [{"type": "forward", "forward": {"targetGroups": groups}}]}
    if tags is not None:
        props["tags"] = tags
    return props


CASES = [
    # health check enabled with a path
    Case("health-compliant", HEALTH, tg()),
    Case("health-disabled", HEALTH, health(enabled=False), expect=["enabled is false"]),
    Case("health-no-path", HEALTH, health(path=None), expect=["path is not set"]),
    Case("health-missing", HEALTH, {"protocol": "HTTP"}, expect=["healthCheck is not set"]),
    Case("health-tcp-needs-no-path", HEALTH, tg(protocol="TCP", healthCheck={"enabled": True})),
    Case("health-lambda-not-applicable", HEALTH, {"targetType": "lambda"}),
    # timing
    Case("timing-compliant", TIMING, tg()),
    Case(
        "timing-slow",
        TIMING,
        health(interval=120.0, healthyThreshold=10.0, unhealthyThreshold=10.0),
        expect=["interval is 120", "healthyThreshold is 10", "unhealthyThreshold is 10"],
    ),
    Case(
        "timing-missing",
        TIMING,
        tg(healthCheck={"enabled": True, "path": "/"}),
        expect=["interval is not set", "healthyThreshold is not set", "unhealthyThreshold is not set"],
    ),
    Case("timing-disabled-reported-elsewhere", TIMING, health(enabled=False, interval=300.0)),
    Case(
        "timing-override-interval",
        TIMING,
        health(interval=10.0),
        config={"maxIntervalSeconds": 5},
        expect=["5s or less"],
    ),
    # deregistration delay
    Case("drain-compliant", DRAIN, tg()),
    Case("drain-zero", DRAIN, tg(deregistrationDelay=0.0), expect=["is 0"]),
    Case("drain-missing-means-300", DRAIN, {"protocol": "HTTP"}, expect=["300s default"]),
    Case("drain-string-300", DRAIN, tg(deregistrationDelay="300"), expect=["is 300s"]),
    Case("drain-override-max", DRAIN, tg(deregistrationDelay=300.0), config={"maxSeconds": 600}),
    # weights 0-999, never all 0
    Case("weights-compliant", WEIGHTS, forward(90.0, 10.0), resource_type=RULE),
    Case("weights-1000", WEIGHTS, forward(1000.0, 0.0), resource_type=RULE, expect=["1000"]),
    Case(
        "weights-negative-on-listener",
        WEIGHTS,
        forward(-1.0, 100.0, key="defaultActions"),
        resource_type=LISTENER,
        expect=["-1"],
    ),
    Case("weights-all-zero", WEIGHTS, forward(0.0, 0.0), resource_type=RULE, expect=["every forward"]),
    Case(
        "weights-missing-weight",
        WEIGHTS,
        {"actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": "a"}]}}]},
        resource_type=RULE,
        expect=["weight None"],
    ),
    Case("weights-no-forward", WEIGHTS, {"defaultActions": [{"type": "fixed-response"}]}, resource_type=LISTENER),
    # sum to 100, ours (mandatory) and foreign (advisory)
    Case("sum-ours-compliant", SUM, forward(90.0, 10.0, tags=OURS), resource_type=RULE),
    Case("sum-ours-110", SUM, forward(100.0, 10.0, tags=OURS), resource_type=RULE, expect=["sum to 110"]),
    Case("sum-ours-ignores-foreign", SUM, forward(1.0, 1.0), resource_type=RULE),
    Case("sum-ours-single-group", SUM, forward(5.0, tags=OURS), resource_type=RULE),
    Case("sum-ours-override-total", SUM, forward(500.0, 500.0, tags=OURS), resource_type=RULE, config={"total": 1000}),
    Case(
        "sum-ours-missing-weight-left-to-forward-weights",
        SUM,
        {
            "actions": [{"type": "forward", "forward": {"targetGroups": [{"arn": "a", "weight": 1.0}, {"arn": "b"}]}}],
            "tags": OURS,
        },
        resource_type=RULE,
    ),
    Case("sum-foreign-missing-actions", SUM_FOREIGN, {}, resource_type=RULE),
    Case("sum-foreign-compliant", SUM_FOREIGN, forward(50.0, 50.0), resource_type=RULE),
    Case("sum-foreign-2", SUM_FOREIGN, forward(1.0, 1.0, tags={"team": "x"}), resource_type=RULE, expect=["sum to 2"]),
    Case("sum-foreign-ignores-ours", SUM_FOREIGN, forward(1.0, 1.0, tags=OURS), resource_type=RULE),
    Case("sum-foreign-override-total", SUM_FOREIGN, forward(1.0, 1.0), resource_type=RULE, config={"total": 2}),
    # TLS policy
    Case("tls-compliant", TLS, {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}),
    Case(
        "tls-2016",
        TLS,
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"},
        expect=["ELBSecurityPolicy-2016-08"],
    ),
    Case("tls-missing", TLS, {"protocol": "HTTPS"}, expect=["not set"]),
    Case("tls-http-not-applicable", TLS, {"protocol": "HTTP"}),
    Case(
        "tls-override-allows-2016",
        TLS,
        {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"},
        config={"allowedSslPolicies": ["ELBSecurityPolicy-2016-08"]},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_elb_policy(case: Case) -> None:
    assert_case(case)
