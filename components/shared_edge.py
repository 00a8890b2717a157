"""SharedEdge: what every service in a stack shares - ECS cluster, ALB, production and test listeners.

Listeners answer 404 by default. Each service adds its own rules (see BlueGreenService), so a
service never owns the listener and several services can share one ALB.
"""

import ipaddress
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.tags import standard_tags
from components.validation import ArgError, check_int, is_known

WORLD = {"0.0.0.0/0", "::/0"}
MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


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


def _check_cidrs(cidrs: object, key: str, *, allow_world: bool) -> None:
    if not is_known(cidrs):
        return
    if not isinstance(cidrs, list | tuple) or not cidrs:
        raise ArgError(key, "must be a non-empty list of CIDR blocks")
    for cidr in cidrs:
        if not is_known(cidr):
            continue
        try:
            ipaddress.ip_network(cidr)
        except (ValueError, TypeError) as err:
            raise ArgError(key, f"{cidr!r} is not a CIDR block") from err
        if not allow_world and cidr in WORLD:
            raise ArgError(key, f"must not contain {cidr}: the test listener is never open to the world")


def validate_shared_edge_args(args: SharedEdgeArgs) -> None:
    _check_cidrs(args.get("test_listener_cidrs"), "test_listener_cidrs", allow_world=False)
    _check_cidrs(args.get("production_cidrs", ["0.0.0.0/0"]), "production_cidrs", allow_world=True)
    port = args.get("test_listener_port", 9000)
    check_int(port, "test_listener_port", minimum=1, maximum=65535)
    if is_known(port) and port in (80, 443):
        raise ArgError("test_listener_port", f"must differ from the production ports 80 and 443, got {port}")
    check_int(args.get("idle_timeout_seconds", 60), "idle_timeout_seconds", minimum=1, maximum=4000)


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
    """ECS cluster, internet-facing ALB, its security group, production and test listeners."""

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
        validate_shared_edge_args(args)
        super().__init__("zero-downtime:index:SharedEdge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(extra=args.get("tags"))
        https = bool(args.get("certificate_arn"))
        test_port = args.get("test_listener_port", 9000)
        production_cidrs = args.get("production_cidrs", ["0.0.0.0/0"])
        ssl_policy = args.get("ssl_policy", MODERN_TLS_POLICY)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[
                {
                    "name": "containerInsights",
                    "value": "enabled" if args.get("container_insights", True) else "disabled",
                }
            ],
            tags=tags,
            opts=child,
        )

        production_ports = [80, 443] if https else [80]
        ingress = [
            {
                "description": f"production traffic on {port}",
                "protocol": "tcp",
                "from_port": port,
                "to_port": port,
                "cidr_blocks": production_cidrs,
            }
            for port in production_ports
        ]
        ingress.append(
            {
                "description": "test listener: idle color, trusted CIDRs only",
                "protocol": "tcp",
                "from_port": test_port,
                "to_port": test_port,
                "cidr_blocks": args["test_listener_cidrs"],
            }
        )
        security_group = aws.ec2.SecurityGroup(
            f"{name}-alb-sg",
            description="ALB: production ports and the test listener",
            vpc_id=args["vpc_id"],
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
            opts=child,
        )
        access_logs = (
            {"bucket": args["access_logs_bucket"], "enabled": True, "prefix": pulumi.get_stack()}
            if args.get("access_logs_bucket")
            else None
        )
        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            load_balancer_type="application",
            internal=False,
            security_groups=[security_group.id],
            subnets=args["public_subnet_ids"],
            idle_timeout=args.get("idle_timeout_seconds", 60),
            drop_invalid_header_fields=True,
            access_logs=access_logs,
            tags=tags,
            opts=child,
        )

        if https:
            production = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=alb.arn,
                port=443,
                protocol="HTTPS",
                certificate_arn=args["certificate_arn"],
                ssl_policy=ssl_policy,
                default_actions=[_not_found()],
                tags=tags,
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http-redirect",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {
                        "type": "redirect",
                        "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"},
                    }
                ],
                tags=tags,
                opts=child,
            )
        else:
            production = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[_not_found()],
                tags=tags,
                opts=child,
            )
        test = aws.lb.Listener(
            f"{name}-test",
            load_balancer_arn=alb.arn,
            port=test_port,
            protocol="HTTPS" if https else "HTTP",
            certificate_arn=args.get("certificate_arn") if https else None,
            ssl_policy=ssl_policy if https else None,
            default_actions=[_not_found()],
            tags=tags,
            opts=child,
        )

        scheme = "https" if https else "http"
        self.cluster_arn = cluster.arn
        self.cluster_name = cluster.name
        self.load_balancer_arn = alb.arn
        self.load_balancer_arn_suffix = alb.arn_suffix
        self.load_balancer_dns_name = alb.dns_name
        self.load_balancer_security_group_id = security_group.id
        self.production_listener_arn = production.arn
        self.test_listener_arn = test.arn
        self.production_base_url = pulumi.Output.concat(f"{scheme}://", alb.dns_name)
        self.test_base_url = pulumi.Output.concat(f"{scheme}://", alb.dns_name, f":{test_port}")
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
