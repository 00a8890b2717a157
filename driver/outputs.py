"""The stack output `services` (see docs/DEVELOPING.md, "Output contract"), parsed and checked.

The driver never guesses a name or ARN: everything comes from here, and a missing key is an error
naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driver.ports import COLORS, Color, Weights


class OutputsError(ValueError):
    """The stack outputs lack what the driver needs. `key` names the missing/bad one."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class ColorOutputs:
    target_group_arn: str
    target_group_arn_suffix: str
    service_name: str
    image: str
    desired_count: int
    weight: int
    composite_alarm_name: str | None
    alarm_names: tuple[str, ...]


@dataclass(frozen=True)
class ServiceOutputs:
    name: str
    config_path: str
    mode: str
    live_color: Color
    weights: Weights
    load_balancer_arn_suffix: str
    production_rule_arn: str
    test_url: str | None
    notification_topic_arn: str | None
    colors: dict[Color, ColorOutputs]


def _get(data: dict[str, Any], key: str, where: str, kind: type = str) -> Any:
    if key not in data or data[key] is None or data[key] == "":
        raise OutputsError(f"{where}.{key}", "missing from the stack output `services`")
    value = data[key]
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise OutputsError(f"{where}.{key}", f"expected an integer, got {value!r}") from None
    if not isinstance(value, kind):
        raise OutputsError(f"{where}.{key}", f"expected {kind.__name__}, got {value!r}")
    return value


def service_names(outputs: dict[str, Any]) -> list[str]:
    services = outputs.get("services")
    return sorted(services) if isinstance(services, dict) else []


def parse_service(outputs: dict[str, Any], service: str) -> ServiceOutputs:
    services = outputs.get("services")
    if not isinstance(services, dict):
        raise OutputsError("services", "the stack has no `services` output; was it deployed?")
    if service not in services:
        known = ", ".join(sorted(services)) or "none"
        raise OutputsError("--service", f"unknown service {service!r} (this stack has: {known})")
    data = services[service]
    where = f"services.{service}"
    if not isinstance(data, dict):
        raise OutputsError(where, "expected an object")
    live = _get(data, "liveColor", where)
    if live not in COLORS:
        raise OutputsError(f"{where}.liveColor", f"must be blue or green, got {live!r}")
    weights_raw = _get(data, "weights", where, dict)
    try:
        weights = Weights(blue=int(weights_raw["blue"]), green=int(weights_raw["green"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise OutputsError(f"{where}.weights", str(exc)) from None
    colors: dict[Color, ColorOutputs] = {}
    for color in COLORS:
        c = _get(data, color, where, dict)
        cw = f"{where}.{color}"
        alarm_names = c.get("alarmNames") or []
        if not isinstance(alarm_names, list):
            raise OutputsError(f"{cw}.alarmNames", "expected a list of alarm names")
        colors[color] = ColorOutputs(
            target_group_arn=_get(c, "targetGroupArn", cw),
            target_group_arn_suffix=_get(c, "targetGroupArnSuffix", cw),
            service_name=str(c.get("serviceName") or ""),
            image=str(c.get("image") or ""),
            desired_count=int(c.get("desiredCount") or 0),
            weight=int(c.get("weight") or 0),
            composite_alarm_name=c.get("compositeAlarmName") or None,
            alarm_names=tuple(str(n) for n in alarm_names),
        )
    return ServiceOutputs(
        name=service,
        config_path=str(data.get("configPath") or where),
        mode=str(data.get("mode") or "paired"),
        live_color=live,
        weights=weights,
        load_balancer_arn_suffix=_get(data, "loadBalancerArnSuffix", where),
        production_rule_arn=_get(data, "productionRuleArn", where),
        test_url=data.get("testUrl") or None,
        notification_topic_arn=data.get("notificationTopicArn") or None,
        colors=colors,
    )


@dataclass(frozen=True)
class FleetOutputs:
    name: str
    config_path: str
    group_name: str
    target_group_arn_suffix: str
    load_balancer_arn_suffix: str | None
    composite_alarm_name: str | None
    alarm_names: tuple[str, ...]
    refresh_preferences: dict[str, Any]


def fleet_names(outputs: dict[str, Any]) -> list[str]:
    fleets = outputs.get("fleets")
    return sorted(fleets) if isinstance(fleets, dict) else []


def parse_fleet(outputs: dict[str, Any], fleet: str) -> FleetOutputs:
    """One entry of the stack output `fleets` (components/rolling_asg.py `release_outputs`)."""
    fleets = outputs.get("fleets")
    if not isinstance(fleets, dict) or fleet not in fleets:
        known = ", ".join(fleet_names(outputs)) or "none"
        raise OutputsError("--service", f"unknown fleet {fleet!r} (this stack has: {known})")
    data = fleets[fleet]
    where = f"fleets.{fleet}"
    if not isinstance(data, dict):
        raise OutputsError(where, "expected an object")
    prefs = data.get("refreshPreferences") or {}
    if not isinstance(prefs, dict):
        raise OutputsError(f"{where}.refreshPreferences", "expected an object")
    names = data.get("alarmNames") or []
    if not isinstance(names, list):
        raise OutputsError(f"{where}.alarmNames", "expected a list of alarm names")
    return FleetOutputs(
        name=fleet,
        config_path=str(data.get("configPath") or where),
        group_name=_get(data, "autoScalingGroupName", where),
        target_group_arn_suffix=_get(data, "targetGroupArnSuffix", where),
        load_balancer_arn_suffix=data.get("loadBalancerArnSuffix") or None,
        composite_alarm_name=data.get("compositeAlarmName") or None,
        alarm_names=tuple(str(n) for n in names),
        refresh_preferences=dict(prefs),
    )
