"""Pack config parsing: levels, thresholds and exemptions, and agreement with the JSON schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from pulumi_policy import EnforcementLevel
from zero_downtime.policies.config import PolicyConfigError, parse_pack_config
from zero_downtime.policies.pack import all_policies

SETTINGS = {p.name: p.settings for p in all_policies()}
SCHEMAS = {p.name: p.config_schema for p in all_policies()}


def test_levels_and_properties_are_parsed() -> None:
    config = parse_pack_config(
        {
            "all": "advisory",
            "ecs-service-min-healthy-100": "disabled",
            "elb-target-group-deregistration-delay": {
                "enforcementLevel": "mandatory",
                "maxSeconds": 180,
                "exemptions": [{"resource": "legacy-tg", "reason": "long uploads, OPS-12"}],
            },
        },
        SETTINGS,
    )
    assert config.level_for("ecs-service-min-healthy-100", EnforcementLevel.MANDATORY) == (EnforcementLevel.DISABLED)
    assert config.level_for("elb-target-group-deregistration-delay", EnforcementLevel.ADVISORY) == (
        EnforcementLevel.MANDATORY
    )
    assert config.level_for("ec2-launch-template-imdsv2", EnforcementLevel.MANDATORY) == (EnforcementLevel.ADVISORY)
    assert config.properties_for("elb-target-group-deregistration-delay")["maxSeconds"] == 180


@dataclass
class Bad:
    id: str
    raw: Any
    key: str

    def __str__(self) -> str:
        return self.id


BAD = [
    Bad("not-a-mapping", ["x"], "<config>"),
    Bad("unknown-policy", {"ecs-service-min-healthy-50": "advisory"}, "ecs-service-min-healthy-50"),
    Bad("bad-level", {"ecs-service-min-healthy-100": "strict"}, "ecs-service-min-healthy-100"),
    Bad("bad-all-level", {"all": {"enforcementLevel": "loud"}}, "all.enforcementLevel"),
    Bad(
        "wrong-type",
        {"elb-target-group-deregistration-delay": {"maxSeconds": "long"}},
        "elb-target-group-deregistration-delay.maxSeconds",
    ),
    Bad(
        "below-minimum",
        {"ecs-service-min-healthy-100": {"minHealthyPercent": -1}},
        "ecs-service-min-healthy-100.minHealthyPercent",
    ),
    Bad(
        "list-item-type",
        {"elb-listener-tls-policy": {"allowedSslPolicies": [1]}},
        "elb-listener-tls-policy.allowedSslPolicies[0]",
    ),
    Bad(
        "unknown-setting",
        {"kubernetes-deployment-replicas": {"replicas": 3}},
        "kubernetes-deployment-replicas.replicas",
    ),
    Bad(
        "exemptions-not-list",
        {"ec2-launch-template-imdsv2": {"exemptions": "legacy-lt"}},
        "ec2-launch-template-imdsv2.exemptions",
    ),
    Bad(
        "exemption-blank-reason",
        {"ec2-launch-template-imdsv2": {"exemptions": [{"resource": "lt", "reason": " "}]}},
        "ec2-launch-template-imdsv2.exemptions[0].reason",
    ),
    Bad(
        "exemption-no-resource",
        {"ec2-launch-template-imdsv2": {"exemptions": [{"reason": "why"}]}},
        "ec2-launch-template-imdsv2.exemptions[0].resource",
    ),
    Bad(
        "min-above-max",
        {"elb-target-group-deregistration-delay": {"minSeconds": 200, "maxSeconds": 100}},
        "elb-target-group-deregistration-delay.minSeconds",
    ),
    Bad(
        "min-above-default-max",
        {"elb-target-group-health-check-timing": {"minUnhealthyThreshold": 6}},
        "elb-target-group-health-check-timing.minUnhealthyThreshold",
    ),
    Bad(
        "pattern-not-a-regex",
        {"ecs-task-definition-no-plaintext-secrets": {"secretNamePattern": "[a-z"}},
        "ecs-task-definition-no-plaintext-secrets.secretNamePattern",
    ),
    Bad(
        "not-finite",
        {"ec2-security-group-public-ingress": {"widestPublicIpv4Prefix": float("nan")}},
        "ec2-security-group-public-ingress.widestPublicIpv4Prefix",
    ),
    Bad(
        "exemption-unknown-key",
        {"ec2-launch-template-imdsv2": {"exemptions": [{"resource": "a", "reason": "b", "until": 1}]}},
        "ec2-launch-template-imdsv2.exemptions[0].until",
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=str)
def test_bad_config_names_the_key(bad: Bad) -> None:
    with pytest.raises(PolicyConfigError) as err:
        parse_pack_config(bad.raw, SETTINGS)
    assert err.value.key == bad.key


def _schema(policy: str) -> dict:
    schema = SCHEMAS[policy]
    return {"type": "object", "properties": schema.properties, "additionalProperties": False}


@pytest.mark.parametrize(
    ("policy", "properties"),
    [
        ("elb-target-group-deregistration-delay", {"maxSeconds": 180}),
        ("ec2-launch-template-imdsv2", {"exemptions": [{"resource": "lt", "reason": "OPS-1"}]}),
        ("ec2-launch-template-imdsv2", {"exemptions": [{"resource": "lt"}]}),
        ("ecs-service-min-healthy-100", {"minHealthyPercent": 101}),
        ("elb-listener-tls-policy", {"allowedSslPolicies": ["ELBSecurityPolicy-TLS13-1-3-2021-06"]}),
        ("kubernetes-deployment-replicas", {"replicas": 3}),
    ],
    ids=["threshold", "exemption", "exemption-no-reason", "above-maximum", "list", "unknown-key"],
)
def test_cli_schema_and_offline_parser_agree(policy: str, properties: dict) -> None:
    """What the Pulumi CLI accepts (JSON schema) is what the offline check accepts."""
    schema_ok = jsonschema.Draft7Validator(_schema(policy)).is_valid(properties)
    try:
        parse_pack_config({policy: properties}, SETTINGS)
        parser_ok = True
    except PolicyConfigError:
        parser_ok = False
    assert schema_ok == parser_ok


def test_min_equal_to_max_is_a_valid_window() -> None:
    config = parse_pack_config(
        {"elb-target-group-deregistration-delay": {"minSeconds": 60, "maxSeconds": 60}}, SETTINGS
    )
    assert config.properties_for("elb-target-group-deregistration-delay") == {"minSeconds": 60, "maxSeconds": 60}


def test_min_above_max_message_names_both_bounds() -> None:
    with pytest.raises(PolicyConfigError, match=r"minSeconds: must be <= maxSeconds \(100\), got 200"):
        parse_pack_config({"elb-target-group-deregistration-delay": {"minSeconds": 200, "maxSeconds": 100}}, SETTINGS)
