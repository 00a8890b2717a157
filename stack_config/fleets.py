"""The `fleets` config section: one RollingAutoScalingGroup per entry, validated as a whole.

Keys are camelCase like the rest of the config, except `rollingUpdate`, whose fields keep
CloudFormation's spelling (`MaxBatchSize`, `PauseTime`, ...) so a policy can be pasted as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..components.release_alarms import AlarmThresholdsArgs
from ..components.rolling_asg import WIRED_INPUTS, RollingAutoScalingGroupArgs, check_fleet_name, resolve_rolling_asg
from ..components.validation import ArgError
from .convert import ConfigError, from_config, reraise_as_config_error, to_snake
from .services import check_rules_reachable, routing_match, service_rules

# Wired by the program from the shared edge and network, never from config.
WIRED_KEYS = frozenset(WIRED_INPUTS)


def parse_fleets(
    raw: Any,
    stack_alarms: AlarmThresholdsArgs | None = None,
    stack_tags: Mapping[str, str] | None = None,
    services: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Config `fleets` -> {name: RollingAutoScalingGroupArgs without the wired keys}.

    `services` (parsed `services` section) is checked for name and rule-priority clashes.
    Raises ConfigError naming the config key, before anything is created.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("fleets: must be a map of fleet name -> settings")
    services = services or {}
    priorities = _service_priorities(services)
    parsed: dict[str, dict[str, Any]] = {}
    for name, settings in raw.items():
        prefix = f"fleets.{name}"
        try:
            check_fleet_name(name)
        except ArgError as err:
            reraise_as_config_error(err, prefix)
        if name in services:
            raise ConfigError(f"{prefix}: name is already used by services.{name}")
        if not isinstance(settings, Mapping):
            raise ConfigError(f"{prefix}: must be a mapping, got {type(settings).__name__}")
        # CloudFormation field names stay as written; the translation validates them.
        settings = dict(settings)
        rolling_update = None
        for key in [k for k in settings if to_snake(str(k)) == "rolling_update"]:
            rolling_update = settings.pop(key)
        args = from_config(settings, RollingAutoScalingGroupArgs, prefix, exclude=WIRED_KEYS)
        if rolling_update is not None:
            args["rolling_update"] = rolling_update
        args["alarms"] = {**(stack_alarms or {}), **(args.get("alarms") or {})}
        args["tags"] = {**(stack_tags or {}), **(args.get("tags") or {})}
        try:
            resolved = resolve_rolling_asg(args)  # type: ignore[arg-type]
        except ArgError as err:
            reraise_as_config_error(err, prefix)
        priority = resolved.routing.priority
        if priority in priorities:
            raise ConfigError(f"{prefix}.routing.priority: {priority} is already used by {priorities[priority]}")
        priorities[priority] = prefix
        parsed[name] = args
    fleet_rules = [
        (f"fleets.{name}.routing", args["routing"]["priority"], routing_match(args["routing"]))
        for name, args in parsed.items()
    ]
    check_rules_reachable(service_rules(services) + fleet_rules)
    return parsed


def _service_priorities(services: Mapping[str, Mapping[str, Any]]) -> dict[int, str]:
    """Rule priorities the blue/green services hold on the production listener."""
    taken: dict[int, str] = {}
    for name, args in services.items():
        routing = args.get("routing")
        if isinstance(routing, Mapping) and isinstance(routing.get("priority"), int):
            taken[routing["priority"]] = f"services.{name}"
    return taken
