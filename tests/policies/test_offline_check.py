"""The offline check: deliberate mistakes, our own stacks, config, output and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from zero_downtime.offline.evaluate import Evaluation, evaluate_program, stack_names
from zero_downtime.policies.config import parse_pack_config
from zero_downtime.policies.offline_check import (
    EXIT_ERROR,
    EXIT_MANDATORY,
    EXIT_OK,
    PolicyRunError,
    _ordered,
    check_resources,
    check_stack,
    main,
)
from zero_downtime.policies.pack import all_policies

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = {p.name: p.settings for p in all_policies()}
EXPECTED = {
    ("ecs-service-min-healthy-100", "svc"),
    ("elb-target-group-health-check", "green-tg"),
    ("elb-listener-forward-weights", "rule"),
    ("elb-listener-weights-sum-100", "rule"),
    ("kubernetes-deployment-readiness-probe", "web"),
    ("ecs-task-definition-no-privileged", "task"),
    ("ecs-task-definition-no-plaintext-secrets", "task"),
    ("ec2-security-group-public-ingress", "ssh-sg"),
    ("flagger-canary-analysis", "web-canary"),
}
FIX_VERB = re.compile(r"\b(Set|Add|Use|Remove|Move|Restrict|Allow|Pin|Give|Raise|Rescale|Serve)\b")


@pytest.fixture(scope="module")
def mistakes() -> Evaluation:
    return evaluate_program("mistakes", project_dir=FIXTURES)


def check(evaluation: Evaluation, raw_config: dict | None = None):
    config = parse_pack_config(raw_config, SETTINGS)
    return check_resources("mistakes", "policy-mistakes", evaluation.resources, config)


def test_fixture_fails_with_exactly_the_expected_violations(capsys: pytest.CaptureFixture) -> None:
    code = main(["--project-dir", str(FIXTURES), "mistakes", "--json"])
    report = json.loads(capsys.readouterr().out)
    violations = report["stacks"][0]["violations"]
    assert code == EXIT_MANDATORY
    assert {(v["policy"], v["resource"]) for v in violations} == EXPECTED
    assert len(violations) == len(EXPECTED)
    assert all(v["level"] == "mandatory" for v in violations)
    assert all(FIX_VERB.search(v["message"]) for v in violations), "every message says the fix"
    assert "provider-computed defaults are absent" in report["note"]


def test_grouped_by_resource_with_mandatory_first(mistakes: Evaluation) -> None:
    demoted = {"ecs-task-definition-no-privileged": "advisory", "ecs-task-definition-no-plaintext-secrets": "advisory"}
    report = check(mistakes, demoted)
    groups = _ordered(report.violations)
    resources = [urn.rsplit("::", 1)[-1] for urn, _ in groups]
    assert resources[-1] == "task", "the advisory-only resource comes last"
    assert len(resources) == len(set(resources)), "one group per resource"
    assert groups[-1][1] and all(v.level == "advisory" for v in groups[-1][1])
    assert report.exit_code == EXIT_MANDATORY


def test_level_override_and_disable(mistakes: Evaluation) -> None:
    report = check(mistakes, {"all": "advisory", "ecs-service-min-healthy-100": "disabled"})
    found = {(v.policy, v.resource) for v in report.violations}
    assert found == EXPECTED - {("ecs-service-min-healthy-100", "svc")}
    assert not report.mandatory
    assert report.exit_code == EXIT_OK


def test_threshold_override_reaches_the_policy(mistakes: Evaluation) -> None:
    report = check(mistakes, {"ecs-service-min-healthy-100": {"minHealthyPercent": 50}})
    assert ("ecs-service-min-healthy-100", "svc") not in {(v.policy, v.resource) for v in report.violations}


def test_exemption_is_applied_and_listed(mistakes: Evaluation) -> None:
    reason = "SSH bastion until SSM rollout, OPS-7"
    report = check(
        mistakes, {"ec2-security-group-public-ingress": {"exemptions": [{"resource": "ssh-sg", "reason": reason}]}}
    )
    found = {(v.policy, v.resource) for v in report.violations}
    assert found == EXPECTED - {("ec2-security-group-public-ingress", "ssh-sg")}
    assert [(e.policy, e.urn.rsplit("::", 1)[-1], e.reason) for e in report.exemptions] == [
        ("ec2-security-group-public-ingress", "ssh-sg", reason)
    ]


def test_human_output_states_limits_and_verdict(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    config = tmp_path / "policy-config.yaml"
    config.write_text(
        "ecs-task-definition-no-privileged:\n"
        "  exemptions:\n"
        "    - resource: task\n"
        "      reason: needs docker-in-docker, OPS-9\n"
    )
    code = main(["--project-dir", str(FIXTURES), "--config", str(config), "mistakes"])
    out = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert code == EXIT_MANDATORY
    assert "provider-computed defaults are absent" in out
    assert "exempted ecs-task-definition-no-privileged on task: needs docker-in-docker" in out
    assert "FAIL" in out and "8 mandatory" in out


def test_program_error_exits_2_with_a_clear_message(capsys: pytest.CaptureFixture) -> None:
    code = main(["--project-dir", str(FIXTURES), "--all", "--json"])
    stacks = {s["stack"]: s for s in json.loads(capsys.readouterr().out)["stacks"]}
    assert code == EXIT_ERROR
    assert set(stacks) == {"broken", "mistakes"}
    assert "the stack program failed" in stacks["broken"]["error"]
    assert "minHealthyPercent" in stacks["broken"]["error"]
    assert stacks["mistakes"]["exitCode"] == EXIT_MANDATORY


def test_missing_stack_file_exits_2() -> None:
    report = check_stack("nope", parse_pack_config(None, SETTINGS), FIXTURES)
    assert report.exit_code == EXIT_ERROR
    assert "Pulumi.nope.yaml not found" in (report.error or "")


@pytest.mark.parametrize(
    ("content", "key"),
    [
        (
            '{"ecs-service-min-healthy-100": {"exemptions": [{"resource": "svc"}]}}',
            "ecs-service-min-healthy-100.exemptions[0].reason",
        ),
        ('{"no-such-policy": "advisory"}', "no-such-policy"),
        ("{unclosed", "--config"),
    ],
    ids=["exemption-without-reason", "unknown-policy", "not-json-or-yaml"],
)
def test_bad_config_exits_2_naming_the_key(
    content: str, key: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "policy-config.json"
    config.write_text(content)
    code = main(["--project-dir", str(FIXTURES), "--config", str(config), "mistakes"])
    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert key in re.sub(r"\s+", "", captured.err)
    assert captured.out == "", "nothing is checked with a bad config"


def test_needs_stacks_or_all() -> None:
    with pytest.raises(SystemExit) as err:
        main([])
    assert err.value.code == 2


@pytest.mark.parametrize("stack", stack_names())
def test_our_stacks_obey_our_pack(stack: str) -> None:
    report = check_stack(stack, parse_pack_config(None, SETTINGS))
    assert report.error is None, report.error
    assert [f"{v.policy} on {v.resource}: {v.message}" for v in report.mandatory] == []


def test_every_resource_policy_meets_its_resources_in_some_shipped_stack() -> None:
    """`make policy-check` over the shipped stacks exercises every resource policy: before staging got
    a `featureFlags` section, no shipped stack had an AppConfig resource, so the two AppConfig policies
    never ran in CI's offline check (nor did the stack fuzz test ever mutate that section)."""
    from zero_downtime.policies.rules import GuardResourcePolicy

    types = {r.type for stack in stack_names() for r in evaluate_program(stack).resources}
    unexercised = {
        p.name: sorted(p.resource_types)
        for p in all_policies()
        if isinstance(p, GuardResourcePolicy) and not p.resource_types & types
    }
    assert unexercised == {}


def test_a_crashing_policy_is_named(mistakes: Evaluation, monkeypatch: pytest.MonkeyPatch) -> None:
    the_policy = next(p for p in all_policies() if p.name == "elb-target-group-health-check")

    def explode(props: object, config: object) -> list[str]:
        raise KeyError("healthCheck")

    monkeypatch.setattr(the_policy, "check", explode)
    with pytest.raises(PolicyRunError, match="policy elb-target-group-health-check failed: KeyError"):
        check_resources(
            "mistakes", "policy-mistakes", mistakes.resources, parse_pack_config(None, SETTINGS), [the_policy]
        )
