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

The other direction, a service reading a set's flags, is a key of the service:

    services:
      web:
        flagSet: checkout             # an AppConfig agent sidecar serves `checkout` to web's tasks
        flagAgent: {image: public.ecr.aws/aws-appconfig/aws-appconfig-agent:2.x, pollIntervalSeconds: 15}

`parse_flag_readers` checks it and gives the service's args a `flag_agent`; `FlagArns` wires in the
set's configuration ARN, which exists only once the set does (after the services, whose alarms it
monitors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi

from ..components.blue_green_service import resolve_blue_green
from ..components.feature_flags import MAX_MONITORS, FeatureFlagsArgs, resolve_feature_flags
from ..components.validation import ArgError
from ..contract import COLORS
from .convert import ConfigError, from_config, reraise_as_config_error

MONITOR_SERVICES = "monitorServices"
FLAG_SET = "flagSet"
FLAG_AGENT = "flagAgent"
PROFILE_NAME = "flags"
"""The FeatureFlags component's configuration profile name."""
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


class FlagAgentConfig(TypedDict):
    """`services.<name>.flagAgent`: what config may change of the agent sidecar."""

    image: NotRequired[str]
    poll_interval_seconds: NotRequired[int]


def agent_path(flag_set: str, args: Mapping[str, Any]) -> str:
    """The set's path on the agent, by names (as the FeatureFlags output `agentPath`)."""
    application = args.get("application_name", flag_set)
    return f"/applications/{application}/environments/{args['environment']}/configurations/{PROFILE_NAME}"


def parse_flag_readers(
    raw_services: Any,
    feature_flags: Mapping[str, tuple[Mapping[str, Any], tuple[str, ...]]],
    services: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Config `services.<name>.flagSet` (and `.flagAgent`) -> {service: the flag set it reads}, and each
    such service's args in `services` given a `flag_agent` (all but the configuration ARN, which
    `FlagArns` wires in). Raises ConfigError naming the key, before anything is created; `services`
    is then unchanged."""
    if not isinstance(raw_services, Mapping):
        return {}
    readers: dict[str, str] = {}
    agents: dict[str, dict[str, Any]] = {}
    for name, settings in raw_services.items():
        if not isinstance(settings, Mapping):
            continue
        prefix = f"services.{name}"
        flag_set, agent = settings.get(FLAG_SET), settings.get(FLAG_AGENT)
        if flag_set is None:
            if agent is not None:
                raise ConfigError(f"{prefix}.{FLAG_AGENT}: needs {prefix}.{FLAG_SET}, the flag set the agent serves")
            continue
        if not isinstance(flag_set, str) or not flag_set.strip():
            raise ConfigError(
                f"{prefix}.{FLAG_SET}: must be the name of a flag set under featureFlags, got {flag_set!r}"
            )
        if flag_set not in feature_flags:
            known = ", ".join(sorted(feature_flags)) or "none"
            raise ConfigError(f"{prefix}.{FLAG_SET}: no flag set {flag_set!r} (featureFlags: {known})")
        overrides = from_config(agent, FlagAgentConfig, f"{prefix}.{FLAG_AGENT}") if agent is not None else {}
        flag_agent = {"agent_path": agent_path(flag_set, feature_flags[flag_set][0]), "flag_set": flag_set, **overrides}
        try:
            resolve_blue_green(str(name), {**services[str(name)], "flag_agent": flag_agent})  # type: ignore[typeddict-item]
        except ArgError as err:
            if err.key == "flag_agent.agent_path":
                raise ConfigError(
                    f"{prefix}.{FLAG_SET}: flag set {flag_set!r} has an application or environment name the "
                    "agent's path cannot carry ('/' or ',')"
                ) from err
            reraise_as_config_error(err, prefix)
        agents[str(name)], readers[str(name)] = flag_agent, flag_set
    for name, flag_agent in agents.items():
        services[name]["flag_agent"] = flag_agent
    return readers


class FlagArns:
    """Each read flag set's configuration ARN, handed to its readers before the set exists.

    The program creates the services first, because a flag set monitors their composite alarms; a
    service that reads a set gets the set's ARN as a deferred Output, resolved once the FeatureFlags
    exist. Resources form no cycle: the set's environment depends on the alarms, the reader's
    task-role policy on the environment and profile ids.
    """

    def __init__(self, readers: Mapping[str, str]) -> None:
        self.readers = dict(readers)
        self._deferred = {name: pulumi.deferred_output() for name in sorted(set(self.readers.values()))}

    def service_args(self, service: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """`args` with the configuration ARN of the set `service` reads (unchanged if it reads none)."""
        if service not in self.readers:
            return dict(args)
        arn, _ = self._deferred[self.readers[service]]
        return {**args, "flag_agent": {**args["flag_agent"], "configuration_arn": arn}}

    def resolve(self, flag_sets: Mapping[str, Any]) -> None:
        """Resolve each deferred ARN from its FeatureFlags (`configuration_arn`)."""
        for name, (_, resolve) in self._deferred.items():
            resolve(flag_sets[name].configuration_arn)
