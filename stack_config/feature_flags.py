"""The `featureFlags` config section: one FeatureFlags flag set (AWS AppConfig) per entry.

    featureFlags:
      checkout:
        flags:
          new-checkout: {percentage: 0, allow: [qa-1]}
        strategy: {growthType: LINEAR, growthFactor: 20, deploymentDurationMinutes: 10, finalBakeTimeMinutes: 10}
        monitorServices: [web]        # both colors' composite alarms of these services
        alarmArns: []                 # more alarms, by ARN

`monitorServices` is the config's own key: the program turns it into the component's `alarm_arns`
and `alarm_names`. Errors name the config key, before anything is created.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..components.feature_flags import MAX_MONITORS, FeatureFlagsArgs, resolve_feature_flags
from ..components.validation import ArgError
from ..contract import COLORS
from .convert import ConfigError, from_config, reraise_as_config_error

MONITOR_SERVICES = "monitorServices"
ALARMS_PER_SERVICE = len(COLORS)
"""One composite alarm per color."""


def parse_feature_flags(
    raw: Any,
    services: Mapping[str, Any],
    stack: str,
    stack_tags: Mapping[str, str] | None = None,
) -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Config `featureFlags` -> {name: (FeatureFlagsArgs without alarms, the services they monitor)}."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("featureFlags: must be a map of flag set name -> settings")
    parsed: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {}
    for name, settings in raw.items():
        prefix = f"featureFlags.{name}"
        if not isinstance(settings, Mapping):
            raise ConfigError(f"{prefix}: must be a mapping, got {type(settings).__name__}")
        settings = dict(settings)
        monitored = settings.pop(MONITOR_SERVICES, None) or []
        if not isinstance(monitored, list) or not all(isinstance(s, str) for s in monitored):
            raise ConfigError(f"{prefix}.{MONITOR_SERVICES}: must be a list of service names, got {monitored!r}")
        for i, service in enumerate(monitored):
            if service not in services:
                known = ", ".join(sorted(services)) or "none"
                raise ConfigError(f"{prefix}.{MONITOR_SERVICES}[{i}]: no service {service!r} (services: {known})")
        args = from_config(settings, FeatureFlagsArgs, prefix, exclude=frozenset({"alarm_names"}))
        args.setdefault("environment", stack)
        args["tags"] = {**(stack_tags or {}), **(args.get("tags") or {})}
        alarms = len(args.get("alarm_arns") or []) + ALARMS_PER_SERVICE * len(monitored)
        if alarms > MAX_MONITORS:
            raise ConfigError(
                f"{prefix}.{MONITOR_SERVICES}: AppConfig monitors at most {MAX_MONITORS} alarms; these give "
                f"{alarms} ({ALARMS_PER_SERVICE} per service and {len(args.get('alarm_arns') or [])} alarmArns)"
            )
        try:
            resolve_feature_flags(str(name), args)  # type: ignore[arg-type]
        except ArgError as err:
            reraise_as_config_error(err, prefix)
        parsed[str(name)] = (args, tuple(monitored))
    return parsed


def with_monitors(args: Mapping[str, Any], monitored: tuple[str, ...], blue_green: Mapping[str, Any]) -> dict:
    """`args` with the composite alarms of both colors of every monitored service (Outputs) added."""
    arns = list(args.get("alarm_arns") or [])
    names: list[Any] = []
    for service in monitored:
        for color in COLORS:
            composite = blue_green[service].alarms[color]
            arns.append(composite.composite_alarm.arn)
            names.append(composite.composite_alarm_name)
    return {**args, "alarm_arns": arns, "alarm_names": names}
