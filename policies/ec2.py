"""EC2 networking and launch templates: who can reach what, and instance metadata.

"Open to the internet" is judged on the addresses a rule's CIDR blocks cover together, not on their
text: `0.0.0.0/1` + `128.0.0.0/1` is the whole internet, and so is anything covering more public
addresses than `widestPublicIpv4Prefix` / `widestPublicIpv6Prefix` allow (a /8 and a /32 by default).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..components.addresses import WIDEST_PUBLIC_IPV4_PREFIX, WIDEST_PUBLIC_IPV6_PREFIX, exposure, parse_cidrs
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
class IngressRule:
    """One ingress rule as declared: its port range and CIDR blocks (IPv4 and IPv6)."""

    from_port: int
    to_port: int
    cidrs: tuple[Any, ...]
    security_group_id: Any = None

    def covers(self, port: int) -> bool:
        return self.from_port <= port <= self.to_port


@dataclass(frozen=True)
class WorldIngress:
    """An ingress rule open to the internet (or too much of it), and the ports it opens."""

    cidr: str
    """The CIDR block(s) at fault, and why when it is not literally 0.0.0.0/0 or ::/0."""
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


def ingress_rules(resource_type: str, props: Mapping[str, Any]) -> list[IngressRule]:
    """The ingress rules declared by a security group, ingress rule or legacy SG rule."""
    if resource_type == ResourceType.SECURITY_GROUP:
        rules = []
        for rule in items(get(props, "ingress")):
            rule = mapping(rule)
            low, high = _ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
            rules.append(IngressRule(low, high, (*items(rule.get("cidrBlocks")), *items(rule.get("ipv6CidrBlocks")))))
        return rules
    if resource_type == ResourceType.SECURITY_GROUP_INGRESS:
        low, high = _ports(get(props, "ipProtocol"), get(props, "fromPort"), get(props, "toPort"))
        cidrs = tuple(c for key in ("cidrIpv4", "cidrIpv6") if (c := get(props, key)) is not None)
        return [IngressRule(low, high, cidrs, get_known(props, "securityGroupId"))]
    if resource_type == ResourceType.SECURITY_GROUP_RULE and get(props, "type") == "ingress":
        low, high = _ports(get(props, "protocol"), get(props, "fromPort"), get(props, "toPort"))
        cidrs = (*items(get(props, "cidrBlocks")), *items(get(props, "ipv6CidrBlocks")))
        return [IngressRule(low, high, cidrs, get_known(props, "securityGroupId"))]
    return []


def too_wide(cidrs: Any, config: Mapping[str, Any] | None = None) -> str | None:
    """How the CIDR blocks open too much of the internet (`0.0.0.0/0`, or the blocks and why), or None.

    Blocks that are not CIDR text (unknown during preview, or malformed: the provider rejects those)
    are left out.
    """
    config = config or {}
    blocks = [c for c in cidrs if isinstance(c, str) and _is_cidr(c)]
    literal = next((c for c in blocks if c in WORLD_CIDRS), None)
    if literal:
        return literal
    if not blocks:
        return None
    why = exposure(blocks).too_wide(
        config.get("widestPublicIpv4Prefix", WIDEST_PUBLIC_IPV4_PREFIX),
        config.get("widestPublicIpv6Prefix", WIDEST_PUBLIC_IPV6_PREFIX),
    )
    return f"{', '.join(blocks)} ({why})" if why else None


def _is_cidr(text: str) -> bool:
    try:
        parse_cidrs([text])
    except ValueError:
        return False
    return True


def world_ingress(
    resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any] | None = None
) -> list[WorldIngress]:
    """Ingress open to the internet: per port range, the union of every rule of the resource that
    covers the range is judged, so splitting the world over several rules changes nothing."""
    rules = ingress_rules(resource_type, props)
    found: list[WorldIngress] = []
    for low, high in dict.fromkeys((r.from_port, r.to_port) for r in rules):
        covering = [r for r in rules if r.from_port <= low and high <= r.to_port]
        wide = too_wide([c for r in covering for c in r.cidrs], config)
        if wide:
            found.append(WorldIngress(wide, low, high, covering[0].security_group_id))
    return found


def _check_public_ingress_for(resource_type: str) -> ResourceCheck:
    def check(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
        allowed = set(config["allowedPublicPorts"])
        for rule in world_ingress(resource_type, props, config):
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


REACH_SETTINGS = {
    "widestPublicIpv4Prefix": Setting(
        "integer",
        WIDEST_PUBLIC_IPV4_PREFIX,
        "Rules covering more public IPv4 addresses than a prefix of this length count as open to the internet.",
        0,
        32,
    ),
    "widestPublicIpv6Prefix": Setting(
        "integer",
        WIDEST_PUBLIC_IPV6_PREFIX,
        "Rules covering more public IPv6 addresses than a prefix of this length count as open to the internet.",
        0,
        128,
    ),
}
_PUBLIC_PORTS = {
    "allowedPublicPorts": Setting(
        "array",
        [80, 443],
        "Ports the load balancer may open to 0.0.0.0/0 and ::/0.",
        item_type="integer",
    ),
    **REACH_SETTINGS,
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
