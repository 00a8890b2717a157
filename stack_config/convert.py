"""camelCase config objects <-> snake_case component args, driven by the args' TypedDicts.

Unknown keys are errors (a typo must not silently fall back to a default), and an ArgError
raised by a component's validation is re-raised naming the config key the user wrote.
"""

from __future__ import annotations

import re
import sys
import typing
from collections.abc import Mapping
from typing import Any

from ..components.validation import ArgError, is_secret_reference

_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


class ConfigError(ValueError):
    """Stack config is invalid. The message starts with the offending config key."""


def to_snake(key: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", key).lower()


def to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


FREE_FORM_MAPS = frozenset({"environment", "secrets", "tags", "env", "labels", "metadata", "flags"})
"""Args whose keys are the user's own names (variables, tags, labels, flag keys): never renamed in a key path."""


def camel_path(arg_key: str) -> str:
    """`health_check.timeout_seconds` -> `healthCheck.timeoutSeconds`; `secrets.DB_PASSWORD` keeps the
    variable's name as the user wrote it."""
    parts = arg_key.split(".")
    out: list[str] = []
    for i, part in enumerate(parts):
        free = i > 0 and parts[i - 1].split("[")[0] in FREE_FORM_MAPS
        # A user's key may itself contain dots: everything after a free-form map is the user's.
        if free:
            out.append(".".join(parts[i:]))
            break
        out.append(to_camel(part))
    return ".".join(out)


def config_path(prefix: str, arg_key: str) -> str:
    """`services.web` + `health_check.timeout_seconds` -> `services.web.healthCheck.timeoutSeconds`."""
    if arg_key in ("", "name"):
        return prefix
    return f"{prefix}.{camel_path(arg_key)}"


_WRAPPER = re.compile(r"^(?:NotRequired|Required)\[(.*)\]$")


def _nested_typeddict(args_type: type, annotation: Any) -> type | None:
    """The TypedDict an annotation names, if any, through NotRequired/Required wrappers.

    Annotations may be real objects or strings/ForwardRefs (PEP 563); `typing.get_type_hints`
    cannot evaluate `pulumi.Input` outside pulumi, so strings are resolved by name.
    """
    while typing.get_origin(annotation) in (typing.NotRequired, typing.Required):
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        text = annotation.strip()
        while match := _WRAPPER.match(text):
            text = match.group(1).strip()
        annotation = getattr(sys.modules[args_type.__module__], text, None)
    return annotation if isinstance(annotation, type) and typing.is_typeddict(annotation) else None


_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _coerce_number(annotation: Any, value: Any) -> Any:
    """`pulumi config set --path k 0` stores "0" as a string (values starting with 0 stay strings,
    pulumi/pulumi#4393); the driver writes weights and counts that way. Numeric fields accept them."""
    if not isinstance(value, str):
        return value
    text = str(annotation)
    if "str" in text.replace("typing.", ""):
        return value
    if "int" in text and _INTEGER.match(value):
        return int(value)
    if "float" in text and _NUMBER.match(value):
        return float(value)
    return value


def from_config(value: Any, args_type: type, path: str, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Convert one config object to `args_type`, recursing into nested TypedDicts only.

    Free-form maps (environment, secrets, tags) keep their keys as the user wrote them.
    `exclude` names args the program wires itself (ARNs, subnets) and config may not set.
    """
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be a mapping, got {type(value).__name__}")
    hints = {k: v for k, v in args_type.__annotations__.items() if k not in exclude}
    result: dict[str, Any] = {}
    for key, item in value.items():
        snake = to_snake(str(key))
        if snake not in hints:
            known = ", ".join(sorted(to_camel(k) for k in hints))
            raise ConfigError(f"{path}.{key}: unknown key (known: {known})")
        if is_secret_reference(item):
            raise ConfigError(f"{path}.{key}: must not be a secret: it is stored in plain text where it is used")
        nested = _nested_typeddict(args_type, hints[snake])
        result[snake] = from_config(item, nested, f"{path}.{key}") if nested else _coerce_number(hints[snake], item)
    return result


def reraise_as_config_error(err: ArgError, prefix: str) -> typing.NoReturn:
    raise ConfigError(f"{config_path(prefix, err.key)}: {err.problem}") from err
