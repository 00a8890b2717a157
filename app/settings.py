"""The service's settings, read once from the environment and validated before it serves."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .flags import FlagRule, parse_flags


class SettingsError(ValueError):
    """A setting is invalid; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    version: str = "dev"
    instance: str = "local"
    error_rate: float = 0.0
    added_latency_ms: float = 0.0
    warmup_seconds: float = 0.0
    lb_fall: int = 2
    drain_quiet_seconds: float = 0.3
    drain_timeout_seconds: float = 10.0
    downstream_url: str | None = None
    downstream_required: bool = False
    breaker_fail_max: int = 3
    breaker_reset_seconds: float = 5.0
    flags: dict[str, FlagRule] = field(default_factory=dict)


def _number(env: Mapping[str, str], key: str, default: float, lo: float, hi: float, cast: type = float) -> Any:
    """`cast(env[key])` within [lo, hi], or `default` when unset; errors name the variable."""
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "an integer" if cast is int else "a number"
        raise SettingsError(f"{key} must be {kind}, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{key} must be between {lo:g} and {hi:g}, got {raw!r}")
    return value


def _float(env: Mapping[str, str], key: str, default: float, lo: float, hi: float) -> float:
    return _number(env, key, default, lo, hi, float)


def _int(env: Mapping[str, str], key: str, default: int, lo: int, hi: int) -> int:
    return _number(env, key, default, lo, hi, int)


def _bool(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise SettingsError(f"{key} must be true or false, got {raw!r}")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read `APP_*` variables; raise SettingsError naming the first bad one."""
    env = os.environ if env is None else env
    downstream = env.get("APP_DOWNSTREAM_URL") or None
    if downstream is not None and not downstream.startswith(("http://", "https://")):
        raise SettingsError(f"APP_DOWNSTREAM_URL must be an http(s) URL, got {downstream!r}")
    raw_flags = env.get("APP_FLAGS", "")
    try:
        flags = parse_flags(json.loads(raw_flags)) if raw_flags else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(f"APP_FLAGS is not valid JSON: {exc.msg}") from None
    except ValueError as exc:
        raise SettingsError(f"APP_FLAGS: {exc}") from None
    return Settings(
        version=env.get("APP_VERSION", "dev") or "dev",
        instance=env.get("APP_INSTANCE", "local") or "local",
        error_rate=_float(env, "APP_ERROR_RATE", 0.0, 0.0, 1.0),
        added_latency_ms=_float(env, "APP_ADDED_LATENCY_MS", 0.0, 0.0, 60_000.0),
        warmup_seconds=_float(env, "APP_WARMUP_SECONDS", 0.0, 0.0, 600.0),
        lb_fall=_int(env, "APP_LB_FALL", 2, 1, 100),
        drain_quiet_seconds=_float(env, "APP_DRAIN_QUIET_SECONDS", 0.3, 0.0, 60.0),
        drain_timeout_seconds=_float(env, "APP_DRAIN_TIMEOUT_SECONDS", 10.0, 0.0, 600.0),
        downstream_url=downstream,
        downstream_required=_bool(env, "APP_DOWNSTREAM_REQUIRED", False),
        breaker_fail_max=_int(env, "APP_BREAKER_FAIL_MAX", 3, 1, 1000),
        breaker_reset_seconds=_float(env, "APP_BREAKER_RESET_SECONDS", 5.0, 0.1, 3600.0),
        flags=flags,
    )
