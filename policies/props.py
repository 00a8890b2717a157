"""Reading resource property bags the same way under CrossGuard and offline.

CrossGuard hands validators read-only proxies (`Mapping`/`Sequence`, not `dict`/`list`) that
raise `UnknownValueError` on values unknown during preview; offline they are plain dicts. These
helpers accept both, and coerce the floats the engine turns every number into.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from ..contract.types import MANAGED_BY, MANAGED_BY_TAG

WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def get(props: Any, path: str, default: Any = None) -> Any:
    """`get(props, "a.b.c")`: the nested value, or `default` when any step is missing."""
    current = props
    for key in path.split("."):
        if not is_mapping(current) or key not in current:
            return default
        current = current[key]
        if current is None:
            return default
    return current


def get_known(props: Any, path: str, default: Any = None) -> Any:
    """Like `get`, but a value unknown during preview reads as `default`.

    For values that only relate resources (ARNs, ids), where property dependencies can stand in.
    A rule's own subject must use `get`, so that an unknown is reported, never taken as unset.
    """
    try:
        return get(props, path, default)
    except UnknownValueError:
        return default


def known_items(value: Any) -> list[Any]:
    """The elements of a list that are known (during preview some may not be)."""
    if not is_list(value):
        return []
    found = []
    for i in range(len(value)):
        try:
            found.append(value[i])
        except UnknownValueError:
            continue
    return found


def mapping(value: Any) -> Mapping[str, Any]:
    return value if is_mapping(value) else {}


def items(value: Any) -> list[Any]:
    return list(value) if is_list(value) else []


def as_int(value: Any) -> int | None:
    """Numbers arrive as floats (engine) or strings (some provider fields); None if neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def duration_seconds(value: Any) -> float | None:
    """Kubernetes/Flagger style durations ("30s", "1m", "500ms") or plain seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def tags(props: Any) -> Mapping[str, Any]:
    """AWS tags, falling back to Kubernetes metadata labels."""
    found = get(props, "tags")
    if is_mapping(found):
        return found
    return mapping(get(props, "metadata.labels"))


def is_ours(props: Any) -> bool:
    """Created by this project's components (they tag managed-by on every resource)."""
    return tags(props).get(MANAGED_BY_TAG) == MANAGED_BY


def urn_name(urn: str) -> str:
    """Logical name at the end of a URN (`urn:pulumi:stack::project::type::name`)."""
    return urn.rsplit("::", 1)[-1]
