"""Build the argument bags CrossGuard passes to validators, and collect what they report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy
from zero_downtime.policies.pack import all_policies
from zero_downtime.policies.rules import GuardPolicy, GuardResourcePolicy

OURS = {"stack": "dev", "managed-by": "pulumi-zero-downtime"}


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:dev::zero-downtime::{resource_type}::{name}"


def policy(name: str) -> GuardPolicy:
    return next(p for p in all_policies() if p.name == name)


def resource(
    resource_type: str, name: str, props: Mapping[str, Any], *, preview: bool = False, **deps: list
) -> PolicyResource:
    """A stack resource; `preview=True` wraps props as CrossGuard does, so unknown values raise."""
    bag = unknown_checking_proxy(dict(props)) if preview else props
    return PolicyResource(resource_type, bag, urn(resource_type, name), name, options(), None, None, [], dict(deps))


@dataclass
class Case:
    """One policy run: a resource (or a stack of resources), a config, and what must be reported."""

    id: str
    policy: str
    props: Mapping[str, Any] | None = None
    resource_type: str | None = None
    resources: list[PolicyResource] = field(default_factory=list)
    config: Mapping[str, Any] | None = None
    expect: list[str] = field(default_factory=list)
    """One substring per expected violation message, in order; empty means compliant."""
    name: str = "res"
    at: list[str] = field(default_factory=list)
    """Stack policies: logical name of the resource each violation is reported on."""

    def __str__(self) -> str:
        return self.id


def run(case: Case, config: Mapping[str, Any] | None = None) -> list[tuple[str | None, str]]:
    """(urn, message) for every violation the policy reports for this case."""
    the_policy = policy(case.policy)
    reported: list[tuple[str | None, str]] = []
    config = case.config if config is None else config
    if isinstance(the_policy, GuardResourcePolicy):
        resource_type = case.resource_type or next(iter(the_policy.resource_types))
        args = ResourceValidationArgs(
            resource_type,
            case.props or {},
            urn(resource_type, case.name),
            case.name,
            options(),
            None,
            config,
        )
    else:
        args = StackValidationArgs(case.resources, config)
    the_policy.validate(args, lambda message, u=None: reported.append((u, message)))
    return reported


def assert_case(case: Case) -> None:
    reported = run(case)
    messages = [m for _, m in reported]
    assert len(messages) == len(case.expect), messages
    for message, expected in zip(messages, case.expect, strict=True):
        assert expected in message, (expected, message)
    if case.at:
        assert [u.rsplit("::", 1)[-1] if u else None for u, _ in reported] == case.at


def containers_json(*containers: Mapping[str, Any]) -> str:
    return json.dumps(list(containers))
