"""The pack's config schema: per-policy thresholds, exemptions and enforcement-level overrides.

A pack config file has the shape `pulumi preview --policy-pack-config` reads, so one file serves
CrossGuard and the offline check:

    {
      "all": "advisory",                                   # optional: level for every policy
      "ecs-service-min-healthy-100": "disabled",           # a level alone
      "elb-target-group-deregistration-delay": {
        "enforcementLevel": "mandatory",
        "maxSeconds": 180,                                 # a threshold (see each policy's schema)
        "exemptions": [{"resource": "legacy-tg", "reason": "drains long uploads, JIRA-123"}]
      }
    }

An exemption names the rule (the key it sits under), a resource (logical name, URN or a
shell-style pattern of either) and a reason, which is mandatory.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyConfigSchema

EXEMPTIONS = "exemptions"
LEVEL_KEY = "enforcementLevel"
ALL_POLICIES_KEY = "all"

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "string": (str,),
    "array": (list, tuple),
}

EXEMPTION_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "Resources this rule skips. Each names a resource and gives a reason.",
    "items": {
        "type": "object",
        "properties": {
            "resource": {
                "type": "string",
                "minLength": 1,
                "description": "Logical name or URN of the resource; shell-style wildcards allowed.",
            },
            "reason": {
                "type": "string",
                "minLength": 1,
                "description": "Why the rule does not apply (a ticket, an owner). Mandatory.",
            },
        },
        "required": ["resource", "reason"],
        "additionalProperties": False,
    },
}


class PolicyConfigError(ValueError):
    """Pack config is invalid. `key` is the dotted path of the offending entry."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class Setting:
    """One configurable threshold of a policy, with its default."""

    type: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    item_type: str | None = None
    regex: bool = False
    """A string setting that must compile as a Python regular expression."""

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": self.type,
            "default": self.default,
            "description": self.description,
        }
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.item_type is not None:
            schema["items"] = {"type": self.item_type}
        return schema


@dataclass(frozen=True)
class Exemption:
    rule: str
    resource: str
    reason: str

    def matches(self, name: str, urn: str) -> bool:
        return any(fnmatch.fnmatchcase(candidate, self.resource) for candidate in (name, urn))


def config_schema(settings: Mapping[str, Setting]) -> PolicyConfigSchema:
    """JSON schema the Pulumi CLI validates the policy's config against."""
    properties = {key: s.json_schema() for key, s in settings.items()}
    properties[EXEMPTIONS] = EXEMPTION_SCHEMA
    return PolicyConfigSchema(properties=properties)


def _is_type(value: Any, json_type: str) -> bool:
    if json_type in ("integer", "number") and isinstance(value, bool):
        return False
    if json_type == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[json_type])


def _check_setting(policy: str, key: str, setting: Setting, value: Any) -> Any:
    where = f"{policy}.{key}"
    if not _is_type(value, setting.type):
        raise PolicyConfigError(where, f"must be of type {setting.type}, got {value!r}")
    if setting.minimum is not None and value < setting.minimum:
        raise PolicyConfigError(where, f"must be >= {setting.minimum}, got {value}")
    if setting.maximum is not None and value > setting.maximum:
        raise PolicyConfigError(where, f"must be <= {setting.maximum}, got {value}")
    if setting.type in ("integer", "number") and not math.isfinite(value):
        raise PolicyConfigError(where, f"must be a finite number, got {value}")
    if setting.regex:
        try:
            re.compile(value)
        except re.error as err:
            raise PolicyConfigError(where, f"is not a regular expression: {err}") from None
    if setting.item_type is not None:
        for i, item in enumerate(value):
            if not _is_type(item, setting.item_type):
                raise PolicyConfigError(f"{where}[{i}]", f"must be of type {setting.item_type}")
        return [_integral(item, setting.item_type) for item in value]
    return _integral(value, setting.type)


def _integral(value: Any, json_type: str) -> Any:
    """CrossGuard hands config over as protobuf Struct values, where every number is a float."""
    return int(value) if json_type == "integer" else value


def parse_exemptions(policy: str, raw: Any) -> tuple[Exemption, ...]:
    where = f"{policy}.{EXEMPTIONS}"
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        raise PolicyConfigError(where, "must be a list of {resource, reason}")
    parsed = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise PolicyConfigError(f"{where}[{i}]", "must be an object with resource and reason")
        unknown = sorted(set(entry) - {"resource", "reason"})
        if unknown:
            raise PolicyConfigError(f"{where}[{i}].{unknown[0]}", "is not a known exemption key")
        for key in ("resource", "reason"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise PolicyConfigError(f"{where}[{i}].{key}", "is required (a non-empty string)")
        parsed.append(Exemption(policy, entry["resource"], entry["reason"]))
    return tuple(parsed)


def resolve(policy: str, settings: Mapping[str, Setting], given: Mapping[str, Any] | None) -> dict:
    """Defaults overlaid with the given config, validated. Unknown keys are errors."""
    given = dict(given or {})
    given.pop(LEVEL_KEY, None)
    resolved: dict[str, Any] = {key: s.default for key, s in settings.items()}
    for key, value in given.items():
        if key == EXEMPTIONS:
            continue
        if key not in settings:
            known = ", ".join(sorted([*settings, EXEMPTIONS])) or EXEMPTIONS
            raise PolicyConfigError(f"{policy}.{key}", f"is not a setting of this policy ({known})")
        resolved[key] = _check_setting(policy, key, settings[key], value)
    _check_bounds(policy, resolved)
    resolved[EXEMPTIONS] = parse_exemptions(policy, given.get(EXEMPTIONS))
    return resolved


def _check_bounds(policy: str, resolved: Mapping[str, Any]) -> None:
    """`min<X>` must not exceed `max<X>`: such a window admits nothing, so every resource would fail."""
    for key, low in resolved.items():
        if not key.startswith("min") or not isinstance(low, int | float):
            continue
        upper = f"max{key[3:]}"
        high = resolved.get(upper)
        if isinstance(high, int | float) and low > high:
            raise PolicyConfigError(f"{policy}.{key}", f"must be <= {upper} ({high}), got {low}")


def exempted(exemptions: Iterable[Exemption], name: str, urn: str) -> Exemption | None:
    return next((e for e in exemptions if e.matches(name, urn)), None)


def parse_level(key: str, value: Any) -> EnforcementLevel:
    try:
        return EnforcementLevel(value)
    except ValueError as err:
        levels = ", ".join(level.value for level in EnforcementLevel)
        raise PolicyConfigError(key, f"must be one of {levels}, got {value!r}") from err


@dataclass
class PackConfig:
    """Parsed pack config: per-policy level overrides and raw properties."""

    levels: dict[str, EnforcementLevel] = field(default_factory=dict)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    all_level: EnforcementLevel | None = None

    def level_for(self, policy: str, default: EnforcementLevel) -> EnforcementLevel:
        return self.levels.get(policy) or self.all_level or default

    def properties_for(self, policy: str) -> dict[str, Any]:
        return dict(self.properties.get(policy, {}))


def parse_pack_config(raw: Any, policy_settings: Mapping[str, Mapping[str, Setting]]) -> PackConfig:
    """Validate a pack config document against the pack's policies (name -> settings)."""
    if raw is None:
        return PackConfig()
    if not isinstance(raw, Mapping):
        raise PolicyConfigError("<config>", "must be a mapping of policy name to level or settings")
    config = PackConfig()
    for name, value in raw.items():
        if name == ALL_POLICIES_KEY:
            level = value.get(LEVEL_KEY) if isinstance(value, Mapping) else value
            config.all_level = parse_level(f"{name}.{LEVEL_KEY}", level)
            continue
        if name not in policy_settings:
            raise PolicyConfigError(str(name), "is not a policy of this pack")
        if isinstance(value, str):
            config.levels[name] = parse_level(name, value)
            continue
        if not isinstance(value, Mapping):
            raise PolicyConfigError(str(name), "must be an enforcement level or an object")
        if LEVEL_KEY in value:
            config.levels[name] = parse_level(f"{name}.{LEVEL_KEY}", value[LEVEL_KEY])
        props = {k: v for k, v in value.items() if k != LEVEL_KEY}
        resolve(name, policy_settings[name], props)  # fail now, naming the key
        config.properties[name] = props
    return config
