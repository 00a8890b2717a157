"""Auto Scaling group policies, through ResourceValidationArgs."""

from __future__ import annotations

import pytest

from tests.policies.support import Case, assert_case

ELB = "autoscaling-group-elb-health-check"
REFRESH = "autoscaling-group-instance-refresh-min-healthy"
PINNED = "autoscaling-group-rollback-pinned-version"

GOOD = {
    "minSize": 2.0,
    "maxSize": 4.0,
    "healthCheckType": "ELB",
    "targetGroupArns": ["arn:tg"],
    "launchTemplate": {"id": "lt-1", "version": "3"},
    "instanceRefresh": {
        "strategy": "Rolling",
        "preferences": {"minHealthyPercentage": 100.0, "autoRollback": True},
    },
}


def asg(**changes: object) -> dict:
    return {**GOOD, **changes}


def refresh(**preferences: object) -> dict:
    return asg(instanceRefresh={"strategy": "Rolling", "preferences": preferences})


CASES = [
    Case("elb-compliant", ELB, asg()),
    Case("elb-ec2-check", ELB, asg(healthCheckType="EC2"), expect=["healthCheckType is EC2"]),
    Case("elb-missing-type", ELB, asg(healthCheckType=None), expect=["not set"]),
    Case(
        "elb-classic-lb-attached",
        ELB,
        asg(targetGroupArns=None, loadBalancers=["clb"], healthCheckType=None),
        expect=["not set"],
    ),
    Case("elb-not-attached", ELB, asg(targetGroupArns=[], healthCheckType="EC2")),
    Case("refresh-compliant", REFRESH, asg()),
    Case("refresh-75", REFRESH, refresh(minHealthyPercentage=75.0), expect=["is 75%"]),
    Case("refresh-preferences-missing", REFRESH, refresh(), expect=["not set"]),
    Case("refresh-none", REFRESH, asg(instanceRefresh=None)),
    Case("refresh-override-floor-70", REFRESH, refresh(minHealthyPercentage=75.0), config={"minHealthyPercentage": 70}),
    Case("pinned-compliant", PINNED, asg()),
    Case("pinned-latest", PINNED, asg(launchTemplate={"id": "lt-1", "version": "$Latest"}), expect=["$Latest"]),
    Case("pinned-missing-version", PINNED, asg(launchTemplate={"id": "lt-1"}), expect=["not set"]),
    Case(
        "pinned-mixed-instances-default",
        PINNED,
        asg(
            launchTemplate=None,
            mixedInstancesPolicy={
                "launchTemplate": {"launchTemplateSpecification": {"launchTemplateId": "lt-1", "version": "$Default"}}
            },
        ),
        expect=["$Default"],
    ),
    Case(
        "pinned-no-auto-rollback",
        PINNED,
        asg(
            launchTemplate={"id": "lt-1", "version": "$Latest"},
            instanceRefresh={"preferences": {"minHealthyPercentage": 90.0}},
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_autoscaling_policy(case: Case) -> None:
    assert_case(case)
