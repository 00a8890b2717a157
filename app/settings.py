"""The service's settings, read once from the environment and validated before it serves."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .flags import FlagRule, parse_flags

# Background noise is noise, not a fault: beyond these it would hide what the rehearsal measures.
MAX_NOISE_ERROR_RATE = 0.5
MAX_NOISE_JITTER_MS = 10_000.0


class SettingsError(ValueError):
    """A setting is invalid; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    version: str = "dev"
    instance: str = "local"
    error_rate: float = 0.0
    added_latency_ms: float = 0.0
    noise_error_rate: float = 0.0
    """Background 5xx share, in every version alike (the rehearsal's `--noise`), on top of faults."""
    noise_jitter_ms: float = 0.0
    """Background latency: each request waits a uniform 0..this many ms (`--noise`)."""
    warmup_seconds: float = 0.0
    lb_fall: int = 2
    lb_interval_seconds: float = 0.0
    """The load balancer's health check interval: SIGTERM keeps serving at least `lb_fall` of them."""
    drain_quiet_seconds: float = 0.3
    drain_timeout_seconds: float = 10.0
    downstream_url: str | None = None
    downstream_required: bool = False
    breaker_fail_max: int = 3
    breaker_reset_seconds: float = 5.0
    flags: dict[str, FlagRule] = field(default_factory=dict)
    flags_file: str | None = None
    """AppConfig feature-flag document the file provider reads, re-read on change (`APP_FLAGS_FILE`)."""
    flags_agent_url: str | None = None
    """The AppConfig agent's URL of the flag profile (`APP_FLAGS_AGENT_URL`); wins over the file."""
    flag_set: str = ""
    """`FlagSet` dimension of the per-variant flag metrics (`APP_FLAG_SET`, the stack's flag set name);
    with `APP_EMF_METRICS` they are written as EMF. Empty: none."""
    flag_faults: dict[str, float] = field(default_factory=dict)
    """Flag -> share of the requests it is on for that fail: the flagged path's fault (`APP_FLAG_FAULTS`)."""
    emf_metrics: bool = False
    """Write one CloudWatch EMF line per second on stdout (app/metrics.py)."""
    emf_namespace: str = "ZeroDowntime/App"
    service: str = "app"
    color: str = "local"
    database_url: str | None = None
    """PostgreSQL URL of the people table (app/people.py); None: no database, no /people."""
    schema_version: int = 1
    """How this version's code uses the table: 1 writes `name`, 2 dual-writes, 3 only first/last."""


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


# CloudWatch namespaces: up to 255 of these characters, and never the reserved `AWS/` prefix.
NAMESPACE = re.compile(r"^[A-Za-z0-9 ._/#:-]{1,255}$")


def _dimension(env: Mapping[str, str], key: str, default: str) -> str:
    """An EMF dimension value: 1-255 printable characters."""
    value = env.get(key) or default
    if len(value) > 255 or not value.strip() or not value.isprintable():
        raise SettingsError(f"{key} must be 1-255 printable characters, got {value!r}")
    return value


def _namespace(env: Mapping[str, str]) -> str:
    value = env.get("APP_EMF_NAMESPACE") or "ZeroDowntime/App"
    if not NAMESPACE.match(value) or value.startswith("AWS/"):
        raise SettingsError(
            f"APP_EMF_NAMESPACE must be 1-255 letters, digits, spaces or . _ / # : - and not start with AWS/, "
            f"got {value!r}"
        )
    return value


def _flag_sources(env: Mapping[str, str]) -> tuple[str | None, str | None, dict[str, float]]:
    """`APP_FLAGS_FILE`, `APP_FLAGS_AGENT_URL` (local http only) and `APP_FLAG_FAULTS` ({flag: rate})."""
    agent_url = env.get("APP_FLAGS_AGENT_URL") or None
    if agent_url is not None and not re.match(r"^http://(localhost|127\.0\.0\.1)(:\d+)?/", agent_url):
        raise SettingsError(
            f"APP_FLAGS_AGENT_URL must be the local agent's http://localhost:<port>/... URL, got {agent_url!r}"
        )
    raw = env.get("APP_FLAG_FAULTS", "")
    try:
        faults = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(f"APP_FLAG_FAULTS is not valid JSON: {exc.msg}") from None
    if not isinstance(faults, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in faults.values()
    ):
        raise SettingsError("APP_FLAG_FAULTS must map flag keys to error rates 0-1")
    return env.get("APP_FLAGS_FILE") or None, agent_url, {str(k): float(v) for k, v in faults.items()}


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
    flags_file, agent_url, flag_faults = _flag_sources(env)
    database_url = env.get("APP_DATABASE_URL") or None
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise SettingsError("APP_DATABASE_URL must be a postgresql:// URL")  # never echo it: it may hold a password
    return Settings(
        database_url=database_url,
        schema_version=_int(env, "APP_SCHEMA_VERSION", 1, 1, 3),
        version=env.get("APP_VERSION", "dev") or "dev",
        instance=env.get("APP_INSTANCE", "local") or "local",
        error_rate=_float(env, "APP_ERROR_RATE", 0.0, 0.0, 1.0),
        added_latency_ms=_float(env, "APP_ADDED_LATENCY_MS", 0.0, 0.0, 60_000.0),
        noise_error_rate=_float(env, "APP_NOISE_ERROR_RATE", 0.0, 0.0, MAX_NOISE_ERROR_RATE),
        noise_jitter_ms=_float(env, "APP_NOISE_JITTER_MS", 0.0, 0.0, MAX_NOISE_JITTER_MS),
        warmup_seconds=_float(env, "APP_WARMUP_SECONDS", 0.0, 0.0, 600.0),
        lb_fall=_int(env, "APP_LB_FALL", 2, 1, 100),
        lb_interval_seconds=_float(env, "APP_LB_INTERVAL_SECONDS", 0.0, 0.0, 300.0),
        drain_quiet_seconds=_float(env, "APP_DRAIN_QUIET_SECONDS", 0.3, 0.0, 60.0),
        drain_timeout_seconds=_float(env, "APP_DRAIN_TIMEOUT_SECONDS", 10.0, 0.0, 600.0),
        downstream_url=downstream,
        downstream_required=_bool(env, "APP_DOWNSTREAM_REQUIRED", False),
        breaker_fail_max=_int(env, "APP_BREAKER_FAIL_MAX", 3, 1, 1000),
        breaker_reset_seconds=_float(env, "APP_BREAKER_RESET_SECONDS", 5.0, 0.1, 3600.0),
        flags=flags,
        flags_file=flags_file,
        flags_agent_url=agent_url,
        flag_faults=flag_faults,
        flag_set=_dimension(env, "APP_FLAG_SET", "-") if env.get("APP_FLAG_SET") else "",
        emf_metrics=_bool(env, "APP_EMF_METRICS", False),
        emf_namespace=_namespace(env),
        service=_dimension(env, "APP_SERVICE", "app"),
        color=_dimension(env, "APP_COLOR", "local"),
    )
