"""AppConfig flag-set policies, through ResourceValidationArgs."""

from __future__ import annotations

import pytest

from tests.policies.support import Case, assert_case

MONITORS = "appconfig-environment-alarm-monitors"
BAKE = "appconfig-deployment-strategy-final-bake"
ALARM = {"alarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:a", "alarmRoleArn": "arn:aws:iam::1:role/r"}


def env(stack: str = "prod", **changes: object) -> dict:
    return {"applicationId": "abc1234", "name": "prod", "tags": {"stack": stack}, "monitors": [ALARM], **changes}


CASES = [
    Case("monitors-compliant", MONITORS, env()),
    Case("monitors-none-in-prod", MONITORS, env(monitors=[]), expect=["monitors no CloudWatch alarm"]),
    Case("monitors-missing-in-prod", MONITORS, env(monitors=None), expect=["monitors no CloudWatch alarm"]),
    Case("monitors-no-role", MONITORS, env(monitors=[{"alarmArn": "a"}]), expect=["no alarmRoleArn"]),
    Case("monitors-none-in-dev", MONITORS, env("dev", monitors=[])),
    Case("monitors-dev-marked-prod", MONITORS, env("dev", monitors=[]), config={"prod": True}, expect=["monitors"]),
    Case(
        "monitors-custom-prod-stacks",
        MONITORS,
        env("live", monitors=[]),
        config={"prodStacks": ["live"]},
        expect=["monitors no CloudWatch alarm"],
    ),
    Case("bake-compliant", BAKE, {"finalBakeTimeInMinutes": 10}),
    Case("bake-zero", BAKE, {"finalBakeTimeInMinutes": 0}, expect=["is 0 minutes"]),
    Case("bake-missing", BAKE, {}, expect=["not set"]),
    Case("bake-kill-switch", BAKE, {"finalBakeTimeInMinutes": 0, "tags": {"purpose": "kill-switch"}}),
    Case("bake-override-0", BAKE, {"finalBakeTimeInMinutes": 0}, config={"minFinalBakeMinutes": 0}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_appconfig_policy(case: Case) -> None:
    assert_case(case)
