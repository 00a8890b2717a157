"""Tags every taggable resource carries, so cost, ownership and the driver's lookups line up."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from ..contract.types import MANAGED_BY, MANAGED_BY_TAG


def standard_tags(
    *,
    service: str | None = None,
    color: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """User tags merged with ours. Ours win: policies and operators rely on them being true."""
    ours = {"stack": pulumi.get_stack(), MANAGED_BY_TAG: MANAGED_BY}
    if service:
        ours["service"] = service
    if color:
        ours["color"] = color
    return {**dict(extra or {}), **ours}
