"""Network: a VPC over two availability zones, public subnets for the ALB, private subnets for tasks."""

import ipaddress
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .tags import check_tags, standard_tags
from .validation import ArgError, int_setting, is_known

DEFAULT_CIDR_BLOCK = "10.0.0.0/16"
DEFAULT_AVAILABILITY_ZONE_COUNT = 2
DEFAULT_NAT_GATEWAY_COUNT = 1
MAX_AVAILABILITY_ZONE_COUNT = 3
LARGEST_PREFIX_LENGTH = 20
"""A /20 is the smallest VPC whose eight subnet slots (3 bits) are still /23s."""
SMALLEST_PREFIX_LENGTH = 16
"""AWS allows VPC CIDR blocks from /16 to /28."""
SUBNET_PREFIX_DIFF = 3
"""Eight equal slots: public subnets first, then private ones."""


class NetworkArgs(TypedDict):
    """Address space and egress of the network."""

    cidr_block: NotRequired[pulumi.Input[str]]
    """VPC CIDR, at least a /20 so four /24-or-larger subnets fit (default 10.0.0.0/16)."""
    availability_zone_count: NotRequired[pulumi.Input[int]]
    """Availability zones to span, 2 or 3 (default 2)."""
    nat_gateway_count: NotRequired[pulumi.Input[int]]
    """NAT gateways for private-subnet egress: 1 (cheaper) or one per AZ (zone-independent) (default 1)."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra tags, merged with the standard ones."""


@dataclass(frozen=True)
class NetworkSettings:
    """The network as configured, defaults filled in."""

    cidr_block: Any
    availability_zone_count: Any
    nat_gateway_count: Any
    tags: dict[str, str] = field(default_factory=dict)


def resolve_network(args: NetworkArgs) -> NetworkSettings:
    """Defaults applied and every field checked. Raises ArgError naming the key."""
    cidr = args.get("cidr_block", DEFAULT_CIDR_BLOCK)
    azs = int_setting(
        args, "availability_zone_count", DEFAULT_AVAILABILITY_ZONE_COUNT, minimum=2, maximum=MAX_AVAILABILITY_ZONE_COUNT
    )
    nats = int_setting(args, "nat_gateway_count", DEFAULT_NAT_GATEWAY_COUNT, minimum=1)
    if is_known(nats) and is_known(azs) and nats > azs:
        raise ArgError(
            "nat_gateway_count", f"must be <= availability_zone_count ({azs}): one per zone at most, got {nats}"
        )
    if is_known(cidr):
        try:
            network = ipaddress.ip_network(cidr) if isinstance(cidr, str) else None
        except ValueError:
            network = None
        if network is None or network.version != 4:
            raise ArgError("cidr_block", f"is not an IPv4 CIDR block: {cidr!r}")
        if network.prefixlen > LARGEST_PREFIX_LENGTH:
            raise ArgError("cidr_block", f"must be /{LARGEST_PREFIX_LENGTH} or larger, got /{network.prefixlen}")
        if network.prefixlen < SMALLEST_PREFIX_LENGTH:
            raise ArgError(
                "cidr_block",
                f"must be /{SMALLEST_PREFIX_LENGTH} or smaller (AWS's largest VPC), got /{network.prefixlen}",
            )
    return NetworkSettings(cidr, azs, nats, check_tags(args.get("tags")))


def subnet_cidrs(cidr: str, count: int) -> list[str]:
    """Carve `count` equal subnets, 3 bits smaller than the VPC (8 slots: public then private)."""
    network = ipaddress.ip_network(cidr)
    return [str(s) for s in list(network.subnets(prefixlen_diff=SUBNET_PREFIX_DIFF))[:count]]


class Network(pulumi.ComponentResource):
    """VPC, internet gateway, NAT gateway(s), public and private subnets with their routes.

    Children, for callers who need them: `vpc` (aws.ec2.Vpc), `internet_gateway`,
    `public_subnets` and `private_subnets` (lists of aws.ec2.Subnet, one per AZ) and
    `nat_gateways` (list of aws.ec2.NatGateway) with `nat_addresses` (their aws.ec2.Eip).
    """

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets for the load balancer, one per AZ."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Subnets for tasks and instances, one per AZ, egress through NAT."""
    nat_public_ips: pulumi.Output[list[str]]
    """Public addresses of the NAT gateways: where the private subnets' requests to the internet (and
    to the internet-facing load balancer) come from."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_network(args)
        super().__init__("zero-downtime:index:Network", name, None, opts)
        tags = standard_tags(extra=settings.tags)
        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=self))
        cidrs = subnet_cidrs(settings.cidr_block, 2 * settings.availability_zone_count)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=settings.cidr_block,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.internet_gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=pulumi.ResourceOptions(parent=self)
        )
        self.public_subnets = self._public_subnets(name, settings, cidrs, zones, tags)
        self.nat_gateways = self._nat_gateways(name, settings, tags)
        self.private_subnets = self._private_subnets(name, settings, cidrs, zones, tags)

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in self.public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in self.private_subnets])
        self.nat_public_ips = pulumi.Output.all(*[eip.public_ip for eip in self.nat_addresses])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "nat_public_ips": self.nat_public_ips,
            }
        )

    def _public_subnets(
        self, name: str, settings: NetworkSettings, cidrs: list[str], zones: Any, tags: dict[str, str]
    ) -> list[aws.ec2.Subnet]:
        child = pulumi.ResourceOptions(parent=self)
        route_table = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": self.internet_gateway.id}],
            tags=tags,
            opts=child,
        )
        subnets = []
        for i in range(settings.availability_zone_count):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidrs[i],
                availability_zone=zones.names[i],
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-public-{i}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
            )
            subnets.append(subnet)
        return subnets

    def _nat_gateways(self, name: str, settings: NetworkSettings, tags: dict[str, str]) -> list[aws.ec2.NatGateway]:
        gateways = []
        self.nat_addresses: list[aws.ec2.Eip] = []
        for i in range(settings.nat_gateway_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", tags=tags, opts=pulumi.ResourceOptions(parent=self))
            self.nat_addresses.append(eip)
            gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=self.public_subnets[i].id,
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[self.internet_gateway]),
                )
            )
        return gateways

    def _private_subnets(
        self, name: str, settings: NetworkSettings, cidrs: list[str], zones: Any, tags: dict[str, str]
    ) -> list[aws.ec2.Subnet]:
        child = pulumi.ResourceOptions(parent=self)
        count = settings.availability_zone_count
        subnets = []
        for i in range(count):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=self.vpc.id,
                cidr_block=cidrs[count + i],
                availability_zone=zones.names[i],
                tags={**tags, "Name": f"{name}-private-{i}", "tier": "private"},
                opts=child,
            )
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=self.vpc.id,
                routes=[
                    {"cidr_block": "0.0.0.0/0", "nat_gateway_id": self.nat_gateways[i % len(self.nat_gateways)].id}
                ],
                tags=tags,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
            )
            subnets.append(subnet)
        return subnets
