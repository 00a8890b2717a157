"""AWS AppConfig feature flags: flag changes that roll back on an alarm, and bake before they finish."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..contract.types import ResourceType
from .config import Setting
from .props import as_int, get, items, mapping, tags
from .rules import ADVISORY, MANDATORY, GuardResourcePolicy

ENVIRONMENT = (ResourceType.APPCONFIG_ENVIRONMENT,)
STRATEGY = (ResourceType.APPCONFIG_STRATEGY,)
_PROD = {
    "prodStacks": Setting("array", ["prod"], "Values of the `stack` tag that mark production.", item_type="string"),
    "prod": Setting("boolean", False, "Treat the whole stack as production."),
}


def _is_prod(props: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    return bool(config["prod"]) or tags(props).get("stack") in set(config["prodStacks"])


def check_alarm_monitors(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if not _is_prod(props, config):
        return
    monitors = [mapping(m) for m in items(get(props, "monitors"))]
    if not any(m.get("alarmArn") for m in monitors):
        yield (
            "this production AppConfig environment monitors no CloudWatch alarm: a bad flag change is not "
            "rolled back by AppConfig. Give the flag set alarms (featureFlags.<name>.monitorServices or "
            "alarmArns) so AppConfig rolls a change back on ALARM."
        )
    elif any(not m.get("alarmRoleArn") for m in monitors if m.get("alarmArn")):
        yield (
            "an alarm monitor has no alarmRoleArn: AppConfig cannot read the alarm. Give every monitor the "
            "role AppConfig assumes (FeatureFlags creates it)."
        )


def check_final_bake(props: Mapping[str, Any], config: Mapping[str, Any]) -> Iterator[str]:
    if tags(props).get("purpose") == "kill-switch":
        return  # FeatureFlags' kill switch: no bake on purpose, so a firing alarm cannot undo it
    floor = config["minFinalBakeMinutes"]
    bake = as_int(get(props, "finalBakeTimeInMinutes"))
    if bake is None or bake < floor:
        shown = "not set (0)" if bake is None else f"{bake} minutes"
        yield (
            f"finalBakeTimeInMinutes is {shown}: AppConfig stops watching the alarms as soon as a flag change "
            f"reaches every host. Set it to {floor} or more (FeatureFlags strategy.finalBakeTimeMinutes)."
        )


POLICIES = [
    GuardResourcePolicy(
        "appconfig-environment-alarm-monitors",
        "Production flag environments roll a flag change back when a CloudWatch alarm fires.",
        MANDATORY,
        ENVIRONMENT,
        check_alarm_monitors,
        _PROD,
    ),
    GuardResourcePolicy(
        "appconfig-deployment-strategy-final-bake",
        "Flag changes bake under the alarms after they reach every host.",
        ADVISORY,
        STRATEGY,
        check_final_bake,
        {"minFinalBakeMinutes": Setting("integer", 5, "Shortest final bake allowed, in minutes.", 0, 1440)},
    ),
]
