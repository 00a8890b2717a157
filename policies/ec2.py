"""EC2 networking and launch templates: who can reach what, and instance metadata."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..contract.types import ResourceType
from .config import Setting
from .props import WORLD_CIDRS, as_int, get, get_known, items, mapping
from .rules import MANDATORY, GuardResourcePolicy, ResourceCheck

INGRESS_TYPES = (
    ResourceType.SECURITY_GROUP,
    ResourceType.SECURITY_GROUP_INGRESS,
    ResourceType.SECURITY_GROUP_RULE,
)
ALL_PROTOCOLS = frozenset({"-1", "all"})


@dataclass(frozen=True)
class WorldIngress:
    """An ingress rule open to the whole internet, and the ports it opens."""

    cidr: str
    from_port: int
    to_port: int
    security_group_id: Any = None

    def covers(self, port: int) -> bool:
        return self.from_port <= port <= self.to_port

    def describe(self) -> str:
        if (self.from_port, self.to_port) == (0, 65535):
            return f"all ports from {self.cidr}"
        ports = str(self.from_port) if self.from_port == self.to_port else (f"{self.from_port}-{self.to_port}")
        return f"port {ports} from {self.cidr}"


def _ports(protocol: Any, from_port: Any, to_port: Any) -> tuple[int, int]:
    if str(protocol).lower() in ALL_PROTOCOLS:
        return 0, 65535
    low, high = as_int(from_port), as_int(to_port)
    low = 0 if low is None else low
    return low, (low if high is None else high)


def world_ingress(resource_type: str, props: Mapping[str, Any]) -> list[WorldIngress]:
    """World-open ingress declared by a security group, ingress rule or legacy SG rule."""
    found: list[WorldIngress] = []
    if resource_type == ResourceType.SECURITY_GROUP:
        for rule in items(get(props, "ingress")):
            rule = mapping(rule)
            low, high = _ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
            cidrs = [*items(rule.get("cidrBlocks")), *items(rule.get("ipv6CidrBlocks"))]
            found += [WorldIngress(c, low, high) for c in cidrs if c in WORLD_CIDRS]
    elif resource_type == ResourceType.SECURITY_GROUP_INGRESS:
        low, high = _ports(get(props, "ipProtocol"), get(props, "fromPort"), get(props, "toPort"))
        sg = get_known(props, "securityGroupId")
        for key in ("cidrIpv4", "cidrIpv6"):
            if get(props, key) in WORLD_CIDRS:
                found.append(WorldIngress(get(props, key), low, high, sg))
    elif resource_type == ResourceType.SECURITY_GROUP_RULE and get(props, "type") == "ingress":
        low, high = _ports(get(props, "protocol"), get(props, "fromPort"), get(props, "toPort"))
        sg = get_known(props, "securityGroupId")
        cidrs = [*items(get(props, "cidrBlocks")), *items(get(props, "ipv6CidrBlocks"))]
        found += [WorldIngress(c, low, high, sg) for c in cidrs if c in WORLD_CIDRS]
    return found


def _check_public_ingress_for(resource_type: str) -> ResourceCheck:
    def check(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
        allowed = set(config["allowedPublicPorts"])
        for rule in world_ingress(resource_type, props):
            opened = {rule.from_port, rule.to_port}
            if rule.from_port != rule.to_port or not opened <= allowed:
                yield (
                    f"ingress allows {rule.describe()}: only ports {sorted(allowed)} of the load "
                    "balancer may face the internet. Restrict cidrBlocks to known ranges or "
                    "reference the load balancer's security group."
                )

    return check


def check_public_ingress(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    """Security group with inline ingress rules."""
    yield from _check_public_ingress_for(ResourceType.SECURITY_GROUP)(props, config)


def check_public_ingress_rule(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    """Standalone rule (`aws.vpc.SecurityGroupIngressRule` or `aws.ec2.SecurityGroupRule`)."""
    kind = ResourceType.SECURITY_GROUP_RULE if get(props, "type") is not None else ResourceType.SECURITY_GROUP_INGRESS
    yield from _check_public_ingress_for(kind)(props, config)


def check_imdsv2(props: Mapping[str, Any], _config: Mapping[str, Any]) -> Iterator[str]:
    tokens = get(props, "metadataOptions.httpTokens")
    if tokens != "required":
        yield (
            f"metadataOptions.httpTokens is {tokens or 'not set'}: IMDSv1 lets an SSRF bug read "
            "instance credentials. Set metadataOptions={httpTokens: required, "
            "httpPutResponseHopLimit: 1}."
        )


_PUBLIC_PORTS = {
    "allowedPublicPorts": Setting(
        "array",
        [80, 443],
        "Ports the load balancer may open to 0.0.0.0/0 and ::/0.",
        item_type="integer",
    )
}
_PUBLIC_DESCRIPTION = "Nothing but the load balancer's web ports is open to the internet."

POLICIES = [
    GuardResourcePolicy(
        "ec2-security-group-public-ingress",
        _PUBLIC_DESCRIPTION,
        MANDATORY,
        (ResourceType.SECURITY_GROUP,),
        check_public_ingress,
        _PUBLIC_PORTS,
    ),
    GuardResourcePolicy(
        "ec2-security-group-rule-public-ingress",
        _PUBLIC_DESCRIPTION,
        MANDATORY,
        (ResourceType.SECURITY_GROUP_INGRESS, ResourceType.SECURITY_GROUP_RULE),
        check_public_ingress_rule,
        _PUBLIC_PORTS,
    ),
    GuardResourcePolicy(
        "ec2-launch-template-imdsv2",
        "Launch templates require IMDSv2 session tokens.",
        MANDATORY,
        (ResourceType.LAUNCH_TEMPLATE,),
        check_imdsv2,
    ),
]
