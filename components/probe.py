"""PreTrafficProbe: a small Lambda inside the VPC that runs the release driver's pre-traffic checks.

A test listener open only to the VPC cannot be reached from a CI runner, so the driver invokes this
function instead (as CodeDeploy runs its hooks as Lambdas). Its code is `contract/probe.py`, the
same module the driver runs when it checks from where it is; it holds no credentials and calls no
AWS API. It reaches an internet-facing load balancer through the NAT gateways, so the test listener
must admit their public addresses (the stack program wires them; see docs/stack-config.md).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from ..contract import probe as probe_code
from ..contract.types import ResourceType
from .naming import check_child_names
from .tags import check_tags, standard_tags
from .validation import ArgError, check_int, check_log_retention, require_inputs

RUNTIME = "python3.12"
HANDLER = "probe.handler"
"""`contract/probe.py` is packaged as `probe.py`."""
DEFAULT_TIMEOUT_SECONDS = 90
"""Covers the driver's default request: 3 attempts of 5 s to connect and 5 s to answer, 1 s apart."""
MAX_TIMEOUT_SECONDS = 900
"""Lambda's own limit."""
DEFAULT_LOG_RETENTION_DAYS = 30
VPC_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
WIRED_INPUTS = ("vpc_id", "subnet_ids")


class PreTrafficProbeArgs(TypedDict):
    """Where the probe runs and which port it may reach."""

    vpc_id: pulumi.Input[str]
    """The VPC of the load balancer."""
    subnet_ids: pulumi.Input[list[str]]
    """Private subnets with egress through NAT, where the function's network interfaces go."""
    test_listener_port: pulumi.Input[int]
    """The only port the function may connect to (its security group's one egress rule)."""
    timeout_seconds: NotRequired[pulumi.Input[int]]
    """Function timeout, 10-900 (default 90)."""
    log_retention_days: NotRequired[pulumi.Input[int]]
    """Retention of the function's log group (default 30)."""
    tags: NotRequired[pulumi.Input[dict[str, str]]]
    """Extra tags, merged with the standard ones."""


@dataclass(frozen=True)
class PreTrafficProbeSettings:
    test_listener_port: Any
    timeout_seconds: Any = DEFAULT_TIMEOUT_SECONDS
    log_retention_days: Any = DEFAULT_LOG_RETENTION_DAYS
    tags: dict[str, str] = field(default_factory=dict)


def resolve_probe(args: PreTrafficProbeArgs) -> PreTrafficProbeSettings:
    """Defaults applied and every field checked. Raises ArgError naming the key."""
    require_inputs(args, WIRED_INPUTS)
    port = args.get("test_listener_port")
    if port is None:
        raise ArgError("test_listener_port", "is required")
    check_int(port, "test_listener_port", minimum=1, maximum=65535)
    timeout = args.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    check_int(timeout, "timeout_seconds", minimum=10, maximum=MAX_TIMEOUT_SECONDS)
    retention = args.get("log_retention_days", DEFAULT_LOG_RETENTION_DAYS)
    check_log_retention(retention, "log_retention_days")
    return PreTrafficProbeSettings(port, timeout, retention, check_tags(args.get("tags")))


def child_names(name: str) -> list[tuple[str, str]]:
    """(type, logical name) of every auto-named child a PreTrafficProbe named `name` creates."""
    return [
        (ResourceType.LAMBDA_FUNCTION, f"{name}-fn"),
        (ResourceType.IAM_ROLE, f"{name}-role"),
        (ResourceType.SECURITY_GROUP, f"{name}-sg"),
        (ResourceType.LOG_GROUP, f"{name}-logs"),
    ]


def probe_code_path() -> Path:
    """The module the function runs: the installed `zero_downtime.contract.probe`."""
    return Path(probe_code.__file__)


class PreTrafficProbe(pulumi.ComponentResource):
    """The probe function, its role (network interfaces and logs only), security group and logs.

    Children: `function` (aws.lambda_.Function), `role`, `security_group`, `log_group`.
    """

    function_arn: pulumi.Output[str]
    """What the driver invokes (stack output `services.<name>.probeFunctionArn`)."""
    function_name: pulumi.Output[str]
    """The function's name (its logs go to its own log group, child `log_group`)."""
    security_group_id: pulumi.Output[str]
    """The function's security group: egress to the test listener's port only."""

    def __init__(self, name: str, args: PreTrafficProbeArgs, opts: pulumi.ResourceOptions | None = None):
        settings = resolve_probe(args)
        check_child_names(name, child_names(name))
        super().__init__("zero-downtime:index:PreTrafficProbe", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = standard_tags(extra=settings.tags)

        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description="Pre-traffic probe: out to the test listener port only",
            vpc_id=args["vpc_id"],
            egress=[
                {
                    # The load balancer is internet-facing: its addresses are public and change,
                    # so the rule names the port, not the addresses.
                    "description": "to the test listener",
                    "protocol": "tcp",
                    "from_port": settings.test_listener_port,
                    "to_port": settings.test_listener_port,
                    "cidr_blocks": ["0.0.0.0/0"],
                }
            ],
            tags=tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            description="Pre-traffic probe: network interfaces in the VPC and its own logs, nothing else",
            tags=tags,
            opts=child,
        )
        vpc_access = aws.iam.RolePolicyAttachment(
            f"{name}-vpc-access", role=self.role.name, policy_arn=VPC_ACCESS_POLICY, opts=child
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", retention_in_days=settings.log_retention_days, tags=tags, opts=child
        )
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            description="zero-downtime pre-traffic probe: GET the test listener with the service host name",
            runtime=RUNTIME,
            handler=HANDLER,
            code=pulumi.AssetArchive({"probe.py": pulumi.FileAsset(str(probe_code_path()))}),
            role=self.role.arn,
            timeout=settings.timeout_seconds,
            memory_size=128,
            architectures=["arm64"],
            vpc_config={"subnet_ids": args["subnet_ids"], "security_group_ids": [self.security_group.id]},
            logging_config={"log_format": "Text", "log_group": self.log_group.name},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[vpc_access]),
        )

        self.function_arn = self.function.arn
        self.function_name = self.function.name
        self.security_group_id = self.security_group.id
        self.register_outputs(
            {
                "function_arn": self.function_arn,
                "function_name": self.function_name,
                "security_group_id": self.security_group_id,
            }
        )
