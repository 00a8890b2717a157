"""The fleet release's pure decisions: follow a refresh, roll it back, which version is released,
which refresh is ours; and the spec's limits, each exactly at its bound and one step beyond."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from zero_downtime.driver.adapters.pulumi_stack import StackOps
from zero_downtime.driver.core.analysis import AnalysisConfig, Judgement, Verdict
from zero_downtime.driver.core.errors import InputError, PortError
from zero_downtime.driver.core.fleet import (
    _START_SKEW_SECONDS,
    FleetRelease,
    follow_decision,
    released_version,
    rollback_decision,
)
from zero_downtime.driver.core.ports import RefreshStatus, TemplateVersions
from zero_downtime.driver.core.status import Status

from tests.driver.clock import FakeClock
from tests.driver.fake_stack import FakeStack
from tests.driver.fleet_world import fleet_outputs, fleet_spec

CFG = AnalysisConfig(threshold=2)
PASS = Verdict(Judgement.PASS)
FAIL = Verdict(Judgement.FAIL, ("error rate 50% > 5%",))
ALARM = Verdict(Judgement.ALARM, ("alarm in ALARM: batch-5xx",))
NO_DATA = Verdict(Judgement.INCONCLUSIVE, ("0 of 50 required requests",))


def status(name: str, reason: str = "") -> RefreshStatus:
    return RefreshStatus("ir-1", name, 50, reason, desired_version="4")


@dataclass(frozen=True)
class FollowCase:
    name: str
    status: str
    verdict: Verdict
    failed_checks: int = 0
    elapsed: float = 60.0
    action: str = "wait"
    reason_has: str = ""
    failed_check: bool = False


FOLLOW_CASES = [
    FollowCase("running-healthy", "InProgress", PASS),
    FollowCase("running-no-data", "InProgress", NO_DATA),
    FollowCase("baking", "Baking", PASS),
    FollowCase("alarm", "InProgress", ALARM, action="rollback", reason_has="batch-5xx"),
    FollowCase("first-failed-check", "InProgress", FAIL, failed_check=True),
    FollowCase("threshold", "InProgress", FAIL, 1, action="rollback", reason_has="2 failed checks", failed_check=True),
    FollowCase("aws-rolls-back", "RollbackInProgress", PASS, action="rollback", reason_has="AWS is rolling"),
    FollowCase("aws-rolled-back", "RollbackSuccessful", PASS, action="rollback", reason_has="RollbackSuccessful"),
    FollowCase("successful", "Successful", PASS, action="promote", reason_has="successful"),
    FollowCase("successful-no-data", "Successful", NO_DATA, action="promote", reason_has="inconclusive"),
    FollowCase("successful-alarm", "Successful", ALARM, action="rollback", reason_has="batch-5xx"),
    FollowCase("aws-failed", "Failed", PASS, action="rollback", reason_has="instance refresh Failed"),
    FollowCase("cancelled", "Cancelled", PASS, action="rollback", reason_has="Cancelled"),
    FollowCase("at-the-timeout", "InProgress", PASS, elapsed=600),  # not past it yet: keep following
    FollowCase("timeout", "InProgress", PASS, elapsed=601, action="rollback", reason_has="not done within 600s"),
]


@pytest.mark.parametrize("case", FOLLOW_CASES, ids=[c.name for c in FOLLOW_CASES])
def test_follow_decision(case: FollowCase) -> None:
    got = follow_decision(status(case.status, "why"), case.verdict, case.failed_checks, CFG, case.elapsed, 600)
    assert got.action == case.action
    assert case.reason_has in got.reason
    assert got.failed_check is case.failed_check


@pytest.mark.parametrize(
    ("name", "requested", "elapsed", "action"),
    [
        ("InProgress", False, 0, "request"),
        ("Pending", False, 0, "request"),
        ("InProgress", True, 0, "wait"),  # asked already; AWS has not switched yet
        ("RollbackInProgress", False, 0, "wait"),  # AWS's own rollback
        ("RollbackInProgress", True, 600, "wait"),  # exactly at the timeout: not stuck yet
        ("RollbackInProgress", True, 601, "stuck"),
        ("RollbackSuccessful", True, 0, "rolled_back"),
        ("RollbackFailed", True, 0, "failed"),
        ("Successful", False, 0, "failed"),  # finished: AWS cannot roll it back
        ("Failed", False, 0, "failed"),
        ("Cancelled", True, 0, "failed"),
    ],
)
def test_rollback_decision(name: str, requested: bool, elapsed: float, action: str) -> None:
    assert rollback_decision(status(name), requested, elapsed, 600) == action


VERSIONS = TemplateVersions("lt-1", pinned=3, latest=3)
KEY = "fleets.batch.releasedVersion"


@pytest.mark.parametrize(("config", "expected"), [(None, 3), ("", 3), ("3", 3)], ids=["unset", "empty", "same"])
def test_released_version_is_the_groups_version(config: str | None, expected: int) -> None:
    assert released_version(config, VERSIONS, KEY) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [("2", "is 2 in config but the stack's group is on version 3"), ("$Latest", "version number")],
    ids=["stale-pin", "floating"],
)
def test_released_version_refuses_a_pin_the_stack_does_not_hold(config: str, message: str) -> None:
    with pytest.raises(InputError, match=KEY) as err:
        released_version(config, VERSIONS, KEY)
    assert message in str(err.value)


def _versions(outputs: dict[str, Any]) -> TemplateVersions:
    return StackOps(FakeStack(outputs), FakeClock()).template_versions("batch")


def test_template_versions_from_outputs() -> None:
    outputs = {"fleets": {"batch": fleet_outputs(launch_template_version="3", launch_template_latest_version="4")}}
    assert _versions(outputs) == TemplateVersions("lt-0abc123", 3, 4)


@pytest.mark.parametrize(
    ("outputs", "key"),
    [
        ({"fleets": {"batch": fleet_outputs(launch_template_id="")}}, "fleets.batch.launchTemplateId"),
        ({"fleets": {"batch": fleet_outputs(launch_template_version="$Latest")}}, "fleets.batch.launchTemplateVersion"),
        (
            {"fleets": {"batch": fleet_outputs(launch_template_latest_version=None)}},
            "fleets.batch.launchTemplateLatestVersion",
        ),
        ({"fleets": {"batch": fleet_outputs(launch_template_version="0")}}, "fleets.batch.launchTemplateVersion"),
        ({"fleets": {}}, "fleets.batch"),
    ],
    ids=["no-id", "floating", "missing-latest", "zero", "unknown-fleet"],
)
def test_template_versions_name_the_bad_key(outputs: dict[str, Any], key: str) -> None:
    with pytest.raises(PortError, match=f"stack output {key}: "):
        _versions(outputs)


# -- which refresh is ours, and the spec's limits, at their bounds ---------------------------------------
STARTING_AT = 1_700_000_000.0


@pytest.mark.parametrize(
    ("start_time", "ours"),
    [
        (STARTING_AT - _START_SKEW_SECONDS, True),  # exactly the clock skew allowed before our start
        (math.nextafter(STARTING_AT - _START_SKEW_SECONDS, -math.inf), False),
        (STARTING_AT + 5, True),
    ],
    ids=["at-the-skew", "before-the-skew", "after-start"],
)
def test_a_refresh_is_ours_if_it_began_no_earlier_than_the_skew_before_we_started_one(
    start_time: float, ours: bool
) -> None:
    starting = Status("f-1", "fleet", "dev", "batch", {}, state="REFRESHING", facts={"starting_at": STARTING_AT})
    refresh = RefreshStatus("ir-1", "InProgress", 10, "", desired_version="4", start_time=start_time)
    assert FleetRelease._ours(starting, refresh) is ours


@pytest.mark.parametrize(
    ("field", "edge", "beyond", "key"),
    [
        ("ami_id", "ami-1234", "ami-123", "ami_id"),  # the shortest AMI id taken: 8 characters
        ("released_version", 1, 0, "fleets.batch.releasedVersion"),
        ("timeout_seconds", math.nextafter(0.0, math.inf), 0.0, "timeout_seconds"),
    ],
    ids=["ami-length", "released-version", "timeout"],
)
def test_each_spec_limit_is_accepted_at_its_edge_and_refused_one_step_beyond(
    field: str, edge: Any, beyond: Any, key: str
) -> None:
    assert getattr(fleet_spec(**{field: edge}), field) == edge
    with pytest.raises(InputError) as err:
        fleet_spec(**{field: beyond})
    assert err.value.key == key
