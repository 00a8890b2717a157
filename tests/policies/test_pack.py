"""The pack as a whole: naming, coverage by the per-service cases, exemptions for every policy."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from zero_downtime.policies.config import PolicyConfigError
from zero_downtime.policies.pack import all_policies
from zero_downtime.policies.props import urn_name
from zero_downtime.policies.rules import ADVISORY, MANDATORY

from tests.policies import test_appconfig, test_autoscaling, test_ec2, test_ecs, test_elb, test_kubernetes, test_stack
from tests.policies.support import Case, run

ALL_CASES: list[Case] = [
    *test_ecs.CASES,
    *test_elb.CASES,
    *test_ec2.CASES,
    *test_autoscaling.CASES,
    *test_appconfig.CASES,
    *test_kubernetes.CASES,
    *test_stack.CASES,
]
SERVICES = ("ecs", "elb", "ec2", "autoscaling", "kubernetes", "flagger", "appconfig")
NAME = re.compile(rf"^({'|'.join(SERVICES)})-[a-z0-9]+(-[a-z0-9]+)+$")
POLICY_NAMES = [p.name for p in all_policies()]


def first_violating(policy: str) -> Case:
    return next(c for c in ALL_CASES if c.policy == policy and c.expect and not c.config)


def test_names_follow_service_resource_what() -> None:
    bad = [n for n in POLICY_NAMES if not NAME.match(n)]
    assert not bad
    assert len(set(POLICY_NAMES)) == len(POLICY_NAMES)


def test_levels_are_mandatory_or_advisory_and_both_are_used() -> None:
    levels = {p.enforcement_level for p in all_policies()}
    assert levels == {MANDATORY, ADVISORY}


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_every_policy_has_compliant_violating_and_override_cases(name: str) -> None:
    cases = [c for c in ALL_CASES if c.policy == name]
    assert any(not c.expect for c in cases), "no compliant case"
    assert any(c.expect and not c.config for c in cases), "no violating case"
    assert any("missing" in c.id for c in cases), "no property-missing case"
    settings = next(p for p in all_policies() if p.name == name).settings
    if settings:
        assert any(c.config for c in cases), "no config override case"


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_exemption_silences_only_the_named_resource(name: str) -> None:
    case = first_violating(name)
    reported = run(case)
    assert reported
    names = sorted({urn_name(u) if u else case.name for u, _ in reported})
    exempt_all = {"exemptions": [{"resource": n, "reason": "accepted risk, OPS-1"} for n in names]}
    assert run(case, exempt_all) == []
    exempt_other = {"exemptions": [{"resource": "someone-else", "reason": "not this one"}]}
    assert run(case, exempt_other) == reported


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_exemption_without_reason_is_rejected(name: str) -> None:
    case = first_violating(name)
    with pytest.raises(PolicyConfigError, match=rf"{name}\.exemptions\[0\]\.reason"):
        run(case, {"exemptions": [{"resource": "res"}]})


def test_exemption_matches_urn_patterns() -> None:
    case = replace(first_violating("ecs-service-min-healthy-100"), name="web-blue-svc")
    assert run(case, {"exemptions": [{"resource": "*::web-*-svc", "reason": "migration"}]}) == []
    assert run(case, {"exemptions": [{"resource": "api-*", "reason": "other service"}]})


def test_unknown_setting_is_rejected_naming_the_key() -> None:
    case = first_violating("ecs-service-min-healthy-100")
    with pytest.raises(PolicyConfigError, match=r"ecs-service-min-healthy-100\.minHealthy\b"):
        run(case, {"minHealthy": 50})
