"""Feature flags: percentage rollout on a stable hash, allow-list, targeting rules and kill switch.

The bucket comes from SHA-256 of "flag:user", so every process and every instance puts a user in
the same bucket. Python's `hash()` is salted per process (PYTHONHASHSEED) and would give one user
different answers on different instances behind the load balancer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

BUCKETS = 10_000  # 0.01% resolution


@dataclass(frozen=True)
class FlagRule:
    """One flag: `percent` of users (0-100), users in `allow` always, nobody when `killed`."""

    percent: float = 0.0
    allow: frozenset[str] = frozenset()
    killed: bool = False


def bucket(flag: str, user: str) -> int:
    """The user's bucket for `flag`, 0..BUCKETS-1, identical in every process."""
    digest = hashlib.sha256(f"{flag}:{user}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def is_enabled(rule: FlagRule | None, flag: str, user: str) -> bool:
    """Kill switch first, then the allow-list, then the percentage rollout."""
    if rule is None or rule.killed:
        return False
    if user in rule.allow:
        return True
    return bucket(flag, user) < rule.percent * BUCKETS / 100


def parse_flags(raw: object) -> dict[str, FlagRule]:
    """Parse `{"name": {"percent": 25, "allow": ["u1"], "killed": false}}`.

    Raises ValueError naming the offending flag and key.
    """
    if not isinstance(raw, Mapping):
        raise ValueError("expected an object mapping flag names to rules")
    rules: dict[str, FlagRule] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"{name}: expected an object")
        unknown = set(spec) - {"percent", "allow", "killed"}
        if unknown:
            raise ValueError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}")
        percent = spec.get("percent", 0)
        if isinstance(percent, bool) or not isinstance(percent, int | float):
            raise ValueError(f"{name}.percent must be a number")
        if not 0 <= percent <= 100:
            raise ValueError(f"{name}.percent must be between 0 and 100, got {percent}")
        allow = spec.get("allow", [])
        if not isinstance(allow, list) or not all(isinstance(u, str) for u in allow):
            raise ValueError(f"{name}.allow must be a list of user ids")
        killed = spec.get("killed", False)
        if not isinstance(killed, bool):
            raise ValueError(f"{name}.killed must be true or false")
        rules[str(name)] = FlagRule(percent=float(percent), allow=frozenset(allow), killed=killed)
    return rules


# -- AppConfig feature-flag values (the OpenFeature providers in flag_providers.py) -------------------
SEGMENT = "segment"
"""The evaluation-context attribute that `segments` matches."""


@dataclass(frozen=True)
class FlagValue:
    """One flag as AppConfig serves it: `enabled`, `percentage`, `allow`, `deny`, `segments`."""

    enabled: bool = False
    percentage: float = 0.0
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()


def evaluate(value: FlagValue, flag: str, user: str, attributes: Mapping[str, object]) -> tuple[bool, str]:
    """(on?, OpenFeature reason): disabled, then deny, allow and segment rules, then the bucket."""
    if not value.enabled:
        return False, "DISABLED"
    if user in value.deny:
        return False, "TARGETING_MATCH"
    if user in value.allow:
        return True, "TARGETING_MATCH"
    if str(attributes.get(SEGMENT, "")) in value.segments:
        return True, "TARGETING_MATCH"
    return bucket(flag, user) < value.percentage * BUCKETS / 100, "SPLIT"


def _strings(raw: object, where: str) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(u, str) for u in raw):
        raise ValueError(f"{where} must be a list of strings")
    return frozenset(raw)


def parse_values(raw: object) -> dict[str, FlagValue]:
    """AppConfig's feature-flag document (`{"version": "1", "flags": ..., "values": ...}`) or only its
    values (`{"flag": {"enabled": true, ...}}`, what the AppConfig agent answers). Raises ValueError
    naming the flag and key."""
    if isinstance(raw, Mapping) and raw.get("version") == "1" and isinstance(raw.get("values"), Mapping):
        raw = raw["values"]
    if not isinstance(raw, Mapping):
        raise ValueError("expected an object mapping flag keys to values")
    values: dict[str, FlagValue] = {}
    for key, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"{key}: expected an object")
        enabled = spec.get("enabled", False)
        if not isinstance(enabled, bool):
            raise ValueError(f"{key}.enabled must be true or false")
        percentage = spec.get("percentage", 100 if enabled else 0)
        if isinstance(percentage, bool) or not isinstance(percentage, int | float) or not 0 <= percentage <= 100:
            raise ValueError(f"{key}.percentage must be a number 0-100, got {percentage!r}")
        values[str(key)] = FlagValue(
            enabled=enabled,
            percentage=float(percentage),
            allow=_strings(spec.get("allow"), f"{key}.allow"),
            deny=_strings(spec.get("deny"), f"{key}.deny"),
            segments=_strings(spec.get("segments"), f"{key}.segments"),
        )
    return values
