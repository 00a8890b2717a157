"""The mocks name resources as the providers do, and refuse what the providers (or AWS) would refuse."""

from __future__ import annotations

from typing import Any

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from zero_downtime.components.naming import AUTO_NAME_SUFFIX, NAME_LIMITS
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import run_under_mocks
from zero_downtime.offline.mocks import AUTO_NAME_RANDOM_CHARS, NAME_RULES, ProviderRefusal, RecordingMocks


def test_the_components_check_the_limits_the_mocks_apply() -> None:
    assert {t: NAME_LIMITS[t] for t in NAME_RULES} == {t: rule.limit for t, rule in NAME_RULES.items()}
    assert set(NAME_LIMITS) == set(NAME_RULES)
    assert AUTO_NAME_SUFFIX == AUTO_NAME_RANDOM_CHARS + 1


def _register(build: Any) -> RecordingMocks:
    mocks = RecordingMocks()
    run_under_mocks(build, mocks=mocks)
    return mocks


def test_an_auto_name_takes_the_logical_name_and_seven_random_characters() -> None:
    mocks = _register(lambda: aws.lb.TargetGroup("web-green-tg", port=80, protocol="HTTP"))
    [group] = mocks.of_type(T.TARGET_GROUP)
    name = group.outputs["name"]
    assert name.startswith("web-green-tg-") and len(name) == len("web-green-tg-") + 7


@pytest.mark.parametrize(
    ("resource_type", "build"),
    [
        (T.TARGET_GROUP, lambda n: aws.lb.TargetGroup(n, port=80, protocol="HTTP")),
        (T.LOAD_BALANCER, lambda n: aws.lb.LoadBalancer(n, subnets=["subnet-a"])),
        (T.IAM_ROLE, lambda n: aws.iam.Role(n, assume_role_policy="{}")),
        (T.LAMBDA_FUNCTION, lambda n: aws.lambda_.Function(n, role="arn:aws:iam::1:role/r", runtime="python3.12")),
        (T.LAUNCH_TEMPLATE, lambda n: aws.ec2.LaunchTemplate(n)),
        (T.SNS_TOPIC, lambda n: aws.sns.Topic(n)),
    ],
)
def test_a_logical_name_one_character_too_long_is_refused_like_the_provider_does(
    resource_type: str, build: Any
) -> None:
    longest = NAME_LIMITS[resource_type] - AUTO_NAME_SUFFIX
    _register(lambda: build("n" * longest))
    with pytest.raises(
        ProviderRefusal, match=rf"plus 7 random chars is longer than maximum length {NAME_LIMITS[resource_type]}"
    ):
        _register(lambda: build("n" * (longest + 1)))


def test_explicit_names_are_held_to_the_aws_limit() -> None:
    _register(
        lambda: aws.cloudwatch.MetricAlarm(
            "a", name="x" * 255, comparison_operator="GreaterThanThreshold", evaluation_periods=1
        )
    )
    with pytest.raises(ProviderRefusal, match=r"is longer than 255 characters"):
        _register(
            lambda: aws.cloudwatch.MetricAlarm(
                "a", name="x" * 256, comparison_operator="GreaterThanThreshold", evaluation_periods=1
            )
        )
    with pytest.raises(ProviderRefusal, match=r"family"):
        _register(lambda: aws.ecs.TaskDefinition("t", family="dev.eu-web", container_definitions="[]"))


def test_elb_names_hold_only_letters_digits_and_inner_hyphens() -> None:
    with pytest.raises(ProviderRefusal, match=r"characters AWS refuses"):
        _register(lambda: aws.lb.TargetGroup("web_green", port=80, protocol="HTTP"))
    with pytest.raises(ProviderRefusal, match=r"namePrefix"):
        _register(lambda: aws.lb.TargetGroup("tg", name_prefix="toolong", port=80, protocol="HTTP"))


def test_kubernetes_names_are_dns_names() -> None:
    def service(name: str) -> None:
        k8s.core.v1.Service("svc", metadata={"name": name}, spec={"ports": [{"port": 80}]})

    _register(lambda: service("a" * 63))
    with pytest.raises(ProviderRefusal, match=r"DNS label of at most 63"):
        _register(lambda: service("a" * 64))
    with pytest.raises(ProviderRefusal, match=r"DNS"):
        _register(lambda: service("Web"))


def test_a_refusal_stops_the_program_like_an_up_failure() -> None:
    mocks = RecordingMocks()

    def program() -> None:
        aws.sns.Topic("fine")
        aws.lb.TargetGroup("a" * 30, port=80, protocol="HTTP")

    with pytest.raises(ProviderRefusal, match=r"name 'a{30}-' plus 7 random chars"):
        run_under_mocks(program, mocks=mocks)
    assert [r.type for r in mocks.resources] == [T.SNS_TOPIC]
