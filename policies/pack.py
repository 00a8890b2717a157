"""Every policy of the pack, in one list, for the pack entry point and the offline check."""

from __future__ import annotations

from . import appconfig, autoscaling, ec2, ecs, elb, kubernetes, stack
from .rules import GuardPolicy

PACK_NAME = "zero-downtime-guardrails"


def all_policies() -> list[GuardPolicy]:
    policies: list[GuardPolicy] = [
        *ecs.POLICIES,
        *elb.POLICIES,
        *ec2.POLICIES,
        *autoscaling.POLICIES,
        *appconfig.POLICIES,
        *kubernetes.POLICIES,
        *stack.POLICIES,
    ]
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate policy names: {', '.join(duplicates)}")
    return policies
