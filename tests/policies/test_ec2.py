"""Security group and launch template policies, through ResourceValidationArgs."""

from __future__ import annotations

import pytest
from zero_downtime.contract.types import ResourceType

from tests.policies.support import Case, assert_case

SG = "ec2-security-group-public-ingress"
SG_RULE = "ec2-security-group-rule-public-ingress"
IMDS = "ec2-launch-template-imdsv2"
WORLD = ["0.0.0.0/0"]


def ingress(from_port: float, to_port: float, cidrs: list[str], protocol: str = "tcp") -> dict:
    return {"ingress": [{"protocol": protocol, "fromPort": from_port, "toPort": to_port, "cidrBlocks": cidrs}]}


CASES = [
    Case("sg-https-world-compliant", SG, ingress(443.0, 443.0, WORLD)),
    Case("sg-ssh-world", SG, ingress(22.0, 22.0, WORLD), expect=["port 22 from 0.0.0.0/0"]),
    Case("sg-all-protocols-world", SG, ingress(0.0, 0.0, WORLD, protocol="-1"), expect=["all ports"]),
    Case("sg-range-covering-443", SG, ingress(80.0, 443.0, WORLD), expect=["port 80-443"]),
    Case(
        "sg-ipv6-world",
        SG,
        {"ingress": [{"protocol": "tcp", "fromPort": 5432.0, "toPort": 5432.0, "ipv6CidrBlocks": ["::/0"]}]},
        expect=["from ::/0"],
    ),
    Case("sg-ssh-private-cidr", SG, ingress(22.0, 22.0, ["10.0.0.0/8"])),
    # judged on the addresses covered, not the text: two halves are the whole internet
    Case(
        "sg-ssh-world-split-in-two-rules",
        SG,
        {
            "ingress": [
                {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/1"]},
                {"protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["128.0.0.0/1"]},
            ]
        },
        expect=["0.0.0.0/1, 128.0.0.0/1 (together they cover all of 0.0.0.0/0"],
    ),
    Case("sg-ssh-half-the-internet", SG, ingress(22.0, 22.0, ["0.0.0.0/1"]), expect=["more than a /8's worth"]),
    Case("sg-ssh-public-slash-7", SG, ingress(22.0, 22.0, ["8.0.0.0/7"]), expect=["8.0.0.0/7"]),
    Case("sg-ssh-public-slash-8-compliant", SG, ingress(22.0, 22.0, ["8.0.0.0/8"])),
    Case("sg-ipv6-global-unicast", SG, ingress(22.0, 22.0, ["2000::/3"]), expect=["more public IPv6 addresses"]),
    Case(
        "sg-override-widest-prefix",
        SG,
        ingress(22.0, 22.0, ["8.0.0.0/7"]),
        config={"widestPublicIpv4Prefix": 6},
    ),
    Case("sg-malformed-cidr-is-the-providers", SG, ingress(22.0, 22.0, ["not-a-cidr"])),
    Case("sg-missing-ingress", SG, {}),
    Case("sg-override-allows-8443", SG, ingress(8443.0, 8443.0, WORLD), config={"allowedPublicPorts": [80, 443, 8443]}),
    Case(
        "rule-ssh-world",
        SG_RULE,
        {"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg-1"},
        resource_type=ResourceType.SECURITY_GROUP_INGRESS,
        expect=["port 22"],
    ),
    Case(
        "rule-ssh-half-world",
        SG_RULE,
        {"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrIpv4": "128.0.0.0/1"},
        resource_type=ResourceType.SECURITY_GROUP_INGRESS,
        expect=["128.0.0.0/1"],
    ),
    Case(
        "rule-https-world-compliant",
        SG_RULE,
        {"ipProtocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrIpv4": "0.0.0.0/0"},
        resource_type=ResourceType.SECURITY_GROUP_INGRESS,
    ),
    Case(
        "rule-legacy-all-world",
        SG_RULE,
        {"type": "ingress", "protocol": "all", "fromPort": 0.0, "toPort": 65535.0, "cidrBlocks": WORLD},
        resource_type=ResourceType.SECURITY_GROUP_RULE,
        expect=["all ports"],
    ),
    Case(
        "rule-legacy-egress-not-applicable",
        SG_RULE,
        {"type": "egress", "protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": WORLD},
        resource_type=ResourceType.SECURITY_GROUP_RULE,
    ),
    Case(
        "rule-missing-cidr",
        SG_RULE,
        {"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0},
        resource_type=ResourceType.SECURITY_GROUP_INGRESS,
    ),
    Case(
        "rule-override-allows-22",
        SG_RULE,
        {"ipProtocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrIpv4": "0.0.0.0/0"},
        resource_type=ResourceType.SECURITY_GROUP_INGRESS,
        config={"allowedPublicPorts": [22]},
    ),
    Case("imds-required-compliant", IMDS, {"metadataOptions": {"httpTokens": "required"}}),
    Case("imds-optional", IMDS, {"metadataOptions": {"httpTokens": "optional"}}, expect=["httpTokens is optional"]),
    Case("imds-missing", IMDS, {"imageId": "ami-1"}, expect=["not set"]),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_ec2_policy(case: Case) -> None:
    assert_case(case)
