"""Argument validation shared by the components: errors that name the offending key.

Each component has one pure `resolve_*` step built from these helpers: it reads the args the user
configures, fills in the defaults and returns a frozen settings record, or raises `ArgError`.
The wired inputs (ARNs, subnet ids: Outputs of other resources) are not settings; constructors
check they are present with `require_inputs` and read them directly.
"""

from __future__ import annotations

import math
import re
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
    if not math.isfinite(value):
        raise ArgError(key, f"must be a finite number, got {value!r}")
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


LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The retention periods CloudWatch Logs accepts (PutRetentionPolicy); 0 (never expire) is not offered."""


def check_log_retention(value: Any, key: str) -> None:
    """ArgError naming `key` unless `value` is one of CloudWatch Logs' retention periods."""
    check_int(value, key, minimum=1)
    if is_known(value) and value not in LOG_RETENTION_DAYS:
        raise ArgError(
            key,
            f"must be one of CloudWatch Logs' retention periods {', '.join(map(str, LOG_RETENTION_DAYS))}, got {value}",
        )


_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$"
)


def check_host_name(value: Any, key: str) -> None:
    """ArgError naming `key` unless `value` is a DNS name without wildcards (an Output passes)."""
    if is_known(value) and not (isinstance(value, str) and _HOST_NAME.match(value)):
        raise ArgError(key, f"must be a host name like web.example.com, got {value!r}")


def check_unknown_keys(given: Mapping[str, Any], known: Iterable[str], where: str, problem: str) -> None:
    """ArgError naming the first key of `given` not in `known` (sorted, so the error is stable)."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ArgError(f"{where}.{unknown[0]}" if where else unknown[0], problem)


def check_bool(value: Any, key: str) -> None:
    if is_known(value) and not isinstance(value, bool):
        raise ArgError(key, f"must be true or false, got {value!r}")


def is_secret_reference(value: Any) -> bool:
    """A `{secure: ...}` value the offline evaluation could not decrypt (the CLI would pass plain text)."""
    return isinstance(value, Mapping) and set(value) == {"secure"}


def check_not_secret(value: Any, key: str) -> None:
    if is_secret_reference(value):
        raise ArgError(
            key,
            "must not be a secret: this value is stored in plain text where it is used; keep secrets in "
            "Secrets Manager or SSM Parameter Store and reference them by ARN (services.<name>.secrets)",
        )


def check_string_map(value: Any, key: str, *, what: str = "values") -> dict[str, str]:
    """A mapping of non-empty string keys to string values (an Output passes unchecked)."""
    if not is_known(value):
        return value
    if not isinstance(value, Mapping):
        raise ArgError(key, f"must be a mapping of names to strings, got {type(value).__name__}")
    for name, item in value.items():
        if not isinstance(name, str) or not name:
            raise ArgError(key, f"names must be non-empty strings, got {name!r}")
        check_not_secret(item, f"{key}.{name}")
        if is_known(item) and not isinstance(item, str):
            raise ArgError(f"{key}.{name}", f"{what} must be strings (quote it), got {item!r}")
    return dict(value)


# ECS: "Up to 255 letters (uppercase and lowercase), numbers, hyphens, underscores, colons, periods,
# forward slashes, and number signs are allowed", plus `@` for a digest (`repo@sha256:...`).
MAX_IMAGE_LENGTH = 255
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@#-]*$")


def check_image(value: Any, key: str) -> None:
    """A container image reference: no whitespace or shell metacharacters, at most 255 characters."""
    if not is_known(value):
        return
    check_not_secret(value, key)
    if not isinstance(value, str) or not value.strip():
        raise ArgError(key, "is required (a container image reference)")
    if len(value) > MAX_IMAGE_LENGTH:
        raise ArgError(key, f"must be at most {MAX_IMAGE_LENGTH} characters, got {len(value)}")
    if not _IMAGE.match(value):
        raise ArgError(
            key,
            "must be an image reference without whitespace or shell characters, like registry/repo:tag or "
            f"repo@sha256:<digest> (letters, digits and '._:/@#-' only), got {value!r}",
        )
