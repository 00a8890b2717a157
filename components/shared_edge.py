"""SharedEdge: what every service in a stack shares - ECS cluster, ALB, production and test listeners.

Listeners answer 404 by default. Each service adds its own rules (see BlueGreenService), so a
service never owns the listener and several services can share one ALB.
"""

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract.load_balancer import DEFAULT_IDLE_TIMEOUT_SECONDS
from .addresses import exposure
from .tags import check_tags, standard_tags
from .validation import ArgError, check_bool, check_int, int_setting, is_known, require_inputs

WORLD = {"0.0.0.0/0", "::/0"}
CERTIFICATE_ARN = re.compile(
    r"^arn:aws[a-z-]*:(acm:[a-z0-9-]+:\d{12}:certificate/.+|iam::\d{12}:server-certificate/.+)$"
)
# S3 bucket names: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
SSL_POLICY = re.compile(r"^[A-Za-z0-9-]{1,128}$")
MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
DEFAULT_TEST_LISTENER_PORT = 9000
DEFAULT_PRODUCTION_CIDRS = ("0.0.0.0/0",)
DEFAULT_CONTAINER_INSIGHTS = True
HTTP_PORT, HTTPS_PORT = 80, 443
WIRED_INPUTS = ("vpc_id", "public_subnet_ids")
"""Placement: Outputs of the network (or an existing VPC), not settings."""


class SharedEdgeArgs(TypedDict):
    """Placement, listeners and who may reach them."""

    vpc_id: pulumi.Input[str]
    """VPC of the load balancer and services."""
    public_subnet_ids: pulumi.Input[list[str]]
    """Subnets of the internet-facing ALB (two AZs or more)."""
    test_listener_cidrs: pulumi.Input[list[str]]
    """CIDRs allowed to reach the test listener. Never the whole internet."""
    test_listener_port: NotRequired[pulumi.Input[int]]
    """Port of the test listener, which always routes to the idle color (default 9000)."""
    probe_source_ips: NotRequired[pulumi.Input[list[str]]]
    """Public addresses the pre-traffic probe's requests come from (the NAT gateways' addresses: a
    function inside the VPC reaches the internet-facing ALB through them). Each is admitted to the test
    listener alone, as a /32."""
    production_cidrs: NotRequired[pulumi.Input[list[str]]]
    """CIDRs allowed to reach the production listener (default 0.0.0.0/0)."""
    certificate_arn: NotRequired[pulumi.Input[str]]
    """ACM certificate: production becomes HTTPS on 443 and HTTP on 80 redirects to it."""
    ssl_policy: NotRequired[pulumi.Input[str]]
    """TLS policy of HTTPS listeners (default ELBSecurityPolicy-TLS13-1-2-2021-06)."""
    access_logs_bucket: NotRequired[pulumi.Input[str]]
    """S3 bucket for ALB access logs; logs are off when empty."""
    idle_timeout_seconds: NotRequired[pulumi.Input[int]]
    """ALB idle timeout (default 60)."""
    container_insights: NotRequired[pulumi.Input[bool]]
    """CloudWatch Container Insights on the cluster (default true)."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra tags, merged with the standard ones."""


@dataclass(frozen=True)
class SharedEdgeSettings:
    """The edge as configured, defaults filled in; the VPC and subnets are wired inputs."""

    test_listener_cidrs: Any
    test_listener_port: Any = DEFAULT_TEST_LISTENER_PORT
    probe_source_ips: Any = ()
    production_cidrs: Any = DEFAULT_PRODUCTION_CIDRS
    certificate_arn: Any = None
    """With a certificate, production is HTTPS on 443 and HTTP on 80 redirects to it."""
    ssl_policy: Any = MODERN_TLS_POLICY
    access_logs_bucket: Any = None
    idle_timeout_seconds: Any = DEFAULT_IDLE_TIMEOUT_SECONDS
    container_insights: Any = DEFAULT_CONTAINER_INSIGHTS
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn)

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def production_ports(self) -> list[int]:
        return [HTTP_PORT, HTTPS_PORT] if self.https else [HTTP_PORT]


def _check_cidrs(cidrs: object, key: str, *, allow_world: bool) -> None:
    if not is_known(cidrs):
        return
    if not isinstance(cidrs, list | tuple) or not cidrs:
        raise ArgError(key, "must be a non-empty list of CIDR blocks")
    for cidr in cidrs:
        if not is_known(cidr):
            continue
        if not isinstance(cidr, str):
            raise ArgError(key, f"{cidr!r} is not a CIDR block")
        try:
            ipaddress.ip_network(cidr)
        except ValueError as err:
            raise ArgError(key, f"{cidr!r} is not a CIDR block") from err
        if not allow_world and cidr in WORLD:
            raise ArgError(key, f"must not contain {cidr}: the test listener is never open to the world")
    if allow_world or not all(is_known(c) for c in cidrs):
        return
    # Judged on the addresses covered: 0.0.0.0/1 + 128.0.0.0/1 is the world too.
    wide = exposure(cidrs).too_wide()
    if wide:
        raise ArgError(
            key,
            f"opens the test listener (the idle color) to too much of the internet: {wide}; allow only "
            "your office, VPN or CI ranges",
        )


def _check_addresses(addresses: object, key: str) -> None:
    """Single IPv4 addresses (Outputs pass unchecked until known)."""
    if not is_known(addresses):
        return
    if not isinstance(addresses, list | tuple):
        raise ArgError(key, f"must be a list of IPv4 addresses, got {addresses!r}")
    for address in addresses:
        if not is_known(address):
            continue
        try:
            ipaddress.IPv4Address(address)
        except ValueError as err:
            raise ArgError(key, f"{address!r} is not an IPv4 address") from err


def _host_cidrs(addresses: Any) -> pulumi.Output[list[str]]:
    return pulumi.Output.from_input(addresses).apply(lambda ips: [f"{ip}/32" for ip in ips])


def resolve_shared_edge(args: SharedEdgeArgs) -> SharedEdgeSettings:
    """Defaults applied and every setting checked. Raises ArgError naming the key."""
    test_cidrs = args.get("test_listener_cidrs")
    _check_cidrs(test_cidrs, "test_listener_cidrs", allow_world=False)
    production_cidrs = args.get("production_cidrs", list(DEFAULT_PRODUCTION_CIDRS))
    _check_cidrs(production_cidrs, "production_cidrs", allow_world=True)
    port = args.get("test_listener_port", DEFAULT_TEST_LISTENER_PORT)
    check_int(port, "test_listener_port", minimum=1, maximum=65535)
    probe_ips = args.get("probe_source_ips") or ()
    _check_addresses(probe_ips, "probe_source_ips")
    if is_known(port) and port in (HTTP_PORT, HTTPS_PORT):
        raise ArgError(
            "test_listener_port", f"must differ from the production ports {HTTP_PORT} and {HTTPS_PORT}, got {port}"
        )
    certificate = args.get("certificate_arn") or None
    if (
        is_known(certificate)
        and certificate is not None
        and not (isinstance(certificate, str) and CERTIFICATE_ARN.match(certificate))
    ):
        raise ArgError("certificate_arn", f"must be an ACM certificate ARN, got {certificate!r}")
    ssl_policy = args.get("ssl_policy", MODERN_TLS_POLICY)
    if is_known(ssl_policy) and not (isinstance(ssl_policy, str) and SSL_POLICY.match(ssl_policy)):
        raise ArgError("ssl_policy", f"must be an ELB security policy name, got {ssl_policy!r}")
    bucket = args.get("access_logs_bucket") or None
    if is_known(bucket) and bucket is not None and not (isinstance(bucket, str) and BUCKET_NAME.match(bucket)):
        raise ArgError("access_logs_bucket", f"must be an S3 bucket name, got {bucket!r}")
    insights = args.get("container_insights", DEFAULT_CONTAINER_INSIGHTS)
    check_bool(insights, "container_insights")
    return SharedEdgeSettings(
        test_listener_cidrs=test_cidrs,
        test_listener_port=port,
        probe_source_ips=probe_ips,
        production_cidrs=production_cidrs,
        certificate_arn=certificate,
        ssl_policy=ssl_policy,
        access_logs_bucket=bucket,
        idle_timeout_seconds=int_setting(
            args, "idle_timeout_seconds", DEFAULT_IDLE_TIMEOUT_SECONDS, minimum=1, maximum=4000
        ),
        container_insights=insights,
        tags=check_tags(args.get("tags")),
    )


def _not_found() -> aws.lb.ListenerDefaultActionArgsDict:
    return {
        "type": "fixed-response",
        "fixed_response": {
            "content_type": "text/plain",
            "message_body": "no route",
            "status_code": "404",
        },
    }


class SharedEdge(pulumi.ComponentResource):
    """ECS cluster, internet-facing ALB, its security group, production and test listeners.

    Children, for callers who need them: `cluster` (aws.ecs.Cluster), `security_group`
    (aws.ec2.SecurityGroup of the ALB), `load_balancer` (aws.lb.LoadBalancer), `production_listener`,
    `test_listener` and `redirect_listener` (aws.lb.Listener; the HTTP-to-HTTPS redirect, None
    without a certificate).
    """

    cluster_arn: pulumi.Output[str]
    """ARN of the ECS cluster."""
    cluster_name: pulumi.Output[str]
    """Name of the ECS cluster."""
    load_balancer_arn: pulumi.Output[str]
    """ARN of the ALB."""
    load_balancer_arn_suffix: pulumi.Output[str]
    """ALB ARN suffix, the CloudWatch LoadBalancer dimension."""
    load_balancer_dns_name: pulumi.Output[str]
    """DNS name of the ALB."""
    load_balancer_security_group_id: pulumi.Output[str]
    """Security group of the ALB; services allow ingress from it only."""
    production_listener_arn: pulumi.Output[str]
    """Listener carrying production traffic (HTTPS 443 with a certificate, else HTTP 80)."""
    test_listener_arn: pulumi.Output[str]
    """Listener on the test port; services route it to their idle color."""
    production_base_url: pulumi.Output[str]
    """Scheme and host of production traffic."""
    test_base_url: pulumi.Output[str]
    """Scheme, host and port of the test listener."""

    def __init__(self, name: str, args: SharedEdgeArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_shared_edge(args)
        require_inputs(args, WIRED_INPUTS)
        super().__init__("zero-downtime:index:SharedEdge", name, None, opts)
        tags = standard_tags(extra=settings.tags)

        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled" if settings.container_insights else "disabled"}],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.security_group = self._security_group(name, settings, args["vpc_id"], tags)
        self.load_balancer = self._load_balancer(name, settings, args["public_subnet_ids"], tags)
        self.production_listener, self.redirect_listener = self._production_listeners(name, settings, tags)
        self.test_listener = self._test_listener(name, settings, tags)

        alb = self.load_balancer
        self.cluster_arn = self.cluster.arn
        self.cluster_name = self.cluster.name
        self.load_balancer_arn = alb.arn
        self.load_balancer_arn_suffix = alb.arn_suffix
        self.load_balancer_dns_name = alb.dns_name
        self.load_balancer_security_group_id = self.security_group.id
        self.production_listener_arn = self.production_listener.arn
        self.test_listener_arn = self.test_listener.arn
        self.production_base_url = pulumi.Output.concat(f"{settings.scheme}://", alb.dns_name)
        self.test_base_url = pulumi.Output.concat(
            f"{settings.scheme}://", alb.dns_name, f":{settings.test_listener_port}"
        )
        self.register_outputs(
            {
                "cluster_arn": self.cluster_arn,
                "cluster_name": self.cluster_name,
                "load_balancer_arn": self.load_balancer_arn,
                "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
                "load_balancer_dns_name": self.load_balancer_dns_name,
                "load_balancer_security_group_id": self.load_balancer_security_group_id,
                "production_listener_arn": self.production_listener_arn,
                "test_listener_arn": self.test_listener_arn,
                "production_base_url": self.production_base_url,
                "test_base_url": self.test_base_url,
            }
        )

    def _security_group(
        self, name: str, settings: SharedEdgeSettings, vpc_id: pulumi.Input[str], tags: dict[str, str]
    ) -> aws.ec2.SecurityGroup:
        ingress = [
            {
                "description": f"production traffic on {port}",
                "protocol": "tcp",
                "from_port": port,
                "to_port": port,
                "cidr_blocks": settings.production_cidrs,
            }
            for port in settings.production_ports
        ]
        ingress.append(
            {
                "description": "test listener: idle color, trusted CIDRs only",
                "protocol": "tcp",
                "from_port": settings.test_listener_port,
                "to_port": settings.test_listener_port,
                "cidr_blocks": settings.test_listener_cidrs,
            }
        )
        if settings.probe_source_ips:
            ingress.append(
                {
                    "description": "test listener: the pre-traffic probe, through the NAT gateways",
                    "protocol": "tcp",
                    "from_port": settings.test_listener_port,
                    "to_port": settings.test_listener_port,
                    "cidr_blocks": _host_cidrs(settings.probe_source_ips),
                }
            )
        return aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description="ALB: production ports and the test listener",
            vpc_id=vpc_id,
            ingress=ingress,
            egress=[
                {
                    "description": "to targets",
                    "protocol": "-1",
                    "from_port": 0,
                    "to_port": 0,
                    "cidr_blocks": ["0.0.0.0/0"],
                }
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _load_balancer(
        self, name: str, settings: SharedEdgeSettings, subnet_ids: pulumi.Input[list[str]], tags: dict[str, str]
    ) -> aws.lb.LoadBalancer:
        access_logs = (
            {"bucket": settings.access_logs_bucket, "enabled": True, "prefix": pulumi.get_stack()}
            if settings.access_logs_bucket
            else None
        )
        return aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[self.security_group.id],
            subnets=subnet_ids,
            idle_timeout=settings.idle_timeout_seconds,
            drop_invalid_header_fields=True,
            access_logs=access_logs,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _production_listeners(
        self, name: str, settings: SharedEdgeSettings, tags: dict[str, str]
    ) -> tuple[aws.lb.Listener, aws.lb.Listener | None]:
        """(production listener, HTTP-to-HTTPS redirect or None)."""
        child = pulumi.ResourceOptions(parent=self)
        if not settings.https:
            production = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.load_balancer.arn,
                port=HTTP_PORT,
                protocol="HTTP",
                default_actions=[_not_found()],
                tags=tags,
                opts=child,
            )
            return production, None
        production = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=self.load_balancer.arn,
            port=HTTPS_PORT,
            protocol="HTTPS",
            certificate_arn=settings.certificate_arn,
            ssl_policy=settings.ssl_policy,
            default_actions=[_not_found()],
            tags=tags,
            opts=child,
        )
        redirect = aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=self.load_balancer.arn,
            port=HTTP_PORT,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"port": str(HTTPS_PORT), "protocol": "HTTPS", "status_code": "HTTP_301"},
                }
            ],
            tags=tags,
            opts=child,
        )
        return production, redirect

    def _test_listener(self, name: str, settings: SharedEdgeSettings, tags: dict[str, str]) -> aws.lb.Listener:
        return aws.lb.Listener(
            f"{name}-test",
            load_balancer_arn=self.load_balancer.arn,
            port=settings.test_listener_port,
            protocol="HTTPS" if settings.https else "HTTP",
            certificate_arn=settings.certificate_arn if settings.https else None,
            ssl_policy=settings.ssl_policy if settings.https else None,
            default_actions=[_not_found()],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
