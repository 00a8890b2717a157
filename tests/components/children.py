"""Check that a component's child attributes are the resources it registered, by URN."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from zero_downtime.offline.evaluate import Evaluation


def export_urns(children: Mapping[str, pulumi.Resource]) -> None:
    """Export `label -> URN` of each child attribute, inside the program under test."""
    pulumi.export("children", {label: child.urn for label, child in children.items()})


def registered_children(ev: Evaluation) -> dict[str, tuple[str, str]]:
    """`label -> (type, name)` of the recorded resource each exported URN belongs to."""
    by_urn = {r.urn: r for r in ev.resources}
    assert len(by_urn) == len(ev.resources), "every recorded resource has its own URN"
    return {label: (by_urn[urn].type, by_urn[urn].name) for label, urn in ev.outputs["children"].items()}
