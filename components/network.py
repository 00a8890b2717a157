"""Network: a VPC over two availability zones, public subnets for the ALB, private subnets for tasks."""

import ipaddress
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.tags import standard_tags
from components.validation import ArgError, check_int, is_known


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


def validate_network_args(args: NetworkArgs) -> tuple[str, int, int]:
    cidr = args.get("cidr_block", "10.0.0.0/16")
    azs = args.get("availability_zone_count", 2)
    nats = args.get("nat_gateway_count", 1)
    check_int(azs, "availability_zone_count", minimum=2, maximum=3)
    check_int(nats, "nat_gateway_count", minimum=1, maximum=azs)
    if is_known(cidr):
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError as err:
            raise ArgError("cidr_block", f"is not a CIDR block: {cidr!r}") from err
        if network.prefixlen > 20:
            raise ArgError("cidr_block", f"must be /20 or larger, got /{network.prefixlen}")
    return cidr, azs, nats


def _subnet_cidrs(cidr: str, count: int) -> list[str]:
    """Carve `count` equal subnets, 3 bits smaller than the VPC (8 slots: public then private)."""
    network = ipaddress.ip_network(cidr)
    return [str(s) for s in list(network.subnets(prefixlen_diff=3))[:count]]


class Network(pulumi.ComponentResource):
    """VPC, internet gateway, NAT gateway(s), public and private subnets with their routes."""

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets for the load balancer, one per AZ."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Subnets for tasks and instances, one per AZ, egress through NAT."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        cidr, az_count, nat_count = validate_network_args(args)
        super().__init__("zero-downtime:index:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(extra=args.get("tags"))

        zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=self))
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=tags,
            opts=child,
        )
        cidrs = _subnet_cidrs(cidr, 2 * az_count)
        public, private, nats = [], [], []
        for i in range(az_count):
            zone = zones.names[i]
            subnet = aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=cidrs[i],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**tags, "Name": f"{name}-public-{i}", "tier": "public"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i}-rta",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            public.append(subnet)
        for i in range(nat_count):
            eip = aws.ec2.Eip(f"{name}-nat-{i}-eip", domain="vpc", tags=tags, opts=child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        for i in range(az_count):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=cidrs[az_count + i],
                availability_zone=zones.names[i],
                tags={**tags, "Name": f"{name}-private-{i}", "tier": "private"},
                opts=child,
            )
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{i}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nats[i % nat_count].id}],
                tags=tags,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i}-rta",
                subnet_id=subnet.id,
                route_table_id=route_table.id,
                opts=child,
            )
            private.append(subnet)

        self.vpc_id = vpc.id
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )
