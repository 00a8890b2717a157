"""Argument validation shared by the components: errors that name the offending key.

Each component has one pure `resolve_*` step built from these helpers: it reads the args the user
configures, fills in the defaults and returns a frozen settings record, or raises `ArgError`.
The wired inputs (ARNs, subnet ids: Outputs of other resources) are not settings; constructors
check they are present with `require_inputs` and read them directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pulumi


class ArgError(ValueError):
    """A component argument is invalid. `key` is the dotted path of the argument."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def is_known(value: Any) -> bool:
    """Plain values can be validated up front; Outputs are only known at deployment."""
    return not isinstance(value, pulumi.Output)


def require(args: Mapping[str, Any], key: str, where: str = "") -> Any:
    value = args.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ArgError(f"{where}{key}", "is required")
    return value


def require_inputs(args: Mapping[str, Any], keys: Iterable[str]) -> None:
    """The wired inputs a constructor reads directly (plain values or Outputs) are all given."""
    for key in keys:
        require(args, key)


def check_int(value: Any, key: str, *, minimum: int | None = None, maximum: int | None = None) -> None:
    if not is_known(value):
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgError(key, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ArgError(key, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ArgError(key, f"must be <= {maximum}, got {value}")


def check_number(value: Any, key: str, *, minimum: float | None = None, exclusive_minimum: float | None = None) -> None:
    if not is_known(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgError(key, f"must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ArgError(key, f"must be >= {minimum}, got {value}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        raise ArgError(key, f"must be > {exclusive_minimum}, got {value}")


def check_choice(value: Any, key: str, choices: tuple[str, ...]) -> None:
    if is_known(value) and value not in choices:
        raise ArgError(key, f"must be one of {', '.join(choices)}, got {value!r}")


def int_setting(
    args: Mapping[str, Any],
    key: str,
    default: int,
    *,
    where: str = "",
    minimum: int | None = None,
    maximum: int | None = None,
) -> Any:
    """`args[key]` or `default`, checked as an integer (an Output passes unchecked)."""
    value = args.get(key, default)
    check_int(value, f"{where}{key}", minimum=minimum, maximum=maximum)
    return value


def check_unknown_keys(given: Mapping[str, Any], known: Iterable[str], where: str, problem: str) -> None:
    """ArgError naming the first key of `given` not in `known` (sorted, so the error is stable)."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ArgError(f"{where}.{unknown[0]}" if where else unknown[0], problem)
