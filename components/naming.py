"""How long the physical names of what the components create get, checked before anything is created.

Pulumi's AWS provider auto-names a resource from its logical name: `<logical name>-<7 random hex
characters>` (pulumi-terraform-bridge `AutoName`: separator `-`, Randlen 7), and refuses at
`preview`/`up` a name longer than the resource's maximum ("name 'web-green-tg-' plus 7 random
chars is longer than maximum length 32"). AWS refuses longer explicit names itself. The limits
below are the smaller of the two, per resource type; `offline/mocks.py` applies the same table
(tests/offline/test_naming.py keeps both equal), so an offline preview fails where `up` would.
"""

from collections.abc import Iterable

from ..contract.types import ResourceType as T
from .validation import ArgError

AUTO_NAME_SUFFIX = 8
"""Characters auto-naming appends: the `-` separator and 7 random hex characters."""

NAME_LIMITS: dict[str, int] = {
    T.TARGET_GROUP: 32,
    T.LOAD_BALANCER: 32,
    T.IAM_ROLE: 64,
    T.IAM_ROLE_POLICY: 128,
    T.LAMBDA_FUNCTION: 64,
    T.SNS_TOPIC: 255,
    T.LOG_GROUP: 255,
    T.SECURITY_GROUP: 255,
    T.ECS_SERVICE: 255,
    T.ECS_CLUSTER: 255,
    T.ECS_TASK_DEFINITION: 255,
    T.LAUNCH_TEMPLATE: 128,
    T.AUTOSCALING_GROUP: 255,
    T.METRIC_ALARM: 255,
    T.COMPOSITE_ALARM: 255,
}
"""Longest physical name per resource type (the provider's auto-naming maximum or AWS's, whichever is
smaller). Explicit names (alarm names, task definition families) are held to the same limit."""

TYPE_NAMES: dict[str, str] = {
    T.TARGET_GROUP: "target group",
    T.LOAD_BALANCER: "load balancer",
    T.IAM_ROLE: "IAM role",
    T.IAM_ROLE_POLICY: "IAM role policy",
    T.LAMBDA_FUNCTION: "Lambda function",
    T.SNS_TOPIC: "SNS topic",
    T.LOG_GROUP: "log group",
    T.SECURITY_GROUP: "security group",
    T.ECS_SERVICE: "ECS service",
    T.ECS_CLUSTER: "ECS cluster",
    T.ECS_TASK_DEFINITION: "task definition family",
    T.LAUNCH_TEMPLATE: "launch template",
    T.AUTOSCALING_GROUP: "Auto Scaling group",
    T.METRIC_ALARM: "alarm",
    T.COMPOSITE_ALARM: "alarm",
}


def auto_name_length(logical_name: str) -> int:
    """Length of the physical name auto-naming derives from `logical_name`."""
    return len(logical_name) + AUTO_NAME_SUFFIX


def longest_name(name: str, children: Iterable[tuple[str, str]]) -> int:
    """The longest `name` for which every auto-named child `(type, logical name)` still fits."""
    return min(NAME_LIMITS[t] - AUTO_NAME_SUFFIX - (len(logical) - len(name)) for t, logical in children)


def check_child_names(name: str, children: Iterable[tuple[str, str]], key: str = "name") -> None:
    """ArgError naming `key` when an auto-named child of a component named `name` would be too long.

    `children` are `(resource type, logical name)` of the children the component creates, each
    logical name built from `name`.
    """
    children = list(children)
    for resource_type, logical in children:
        limit = NAME_LIMITS[resource_type]
        if auto_name_length(logical) > limit:
            raise ArgError(
                key,
                f"{name!r} is too long: the {TYPE_NAMES[resource_type]} {logical!r} gets Pulumi's "
                f"{AUTO_NAME_SUFFIX}-character auto-name suffix and AWS allows {limit} characters, so "
                f"`up` would fail; use a name of at most {longest_name(name, children)} characters",
            )


def check_explicit_name(physical: str, resource_type: str, key: str) -> None:
    """ArgError naming `key` when an explicit physical name is over the type's limit."""
    limit = NAME_LIMITS[resource_type]
    if len(physical) > limit:
        raise ArgError(
            key,
            f"makes the {TYPE_NAMES[resource_type]} name {physical[:40]!r}... {len(physical)} characters "
            f"long; AWS allows {limit}",
        )
