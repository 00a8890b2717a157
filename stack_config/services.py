"""The `services` config section: one BlueGreenService per entry, validated as a whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..components.blue_green_service import (
    OPTIONAL_WIRED_INPUTS,
    WIRED_INPUTS,
    BlueGreenServiceArgs,
    exact_host,
    resolve_blue_green,
)
from ..components.release_alarms import AlarmThresholdsArgs
from ..components.routing import CATCH_ALL_PATH, CATCH_ALL_PRIORITY, resolve_routing
from ..components.rule_matching import RuleMatch, pattern_covers, shadows
from ..components.validation import ArgError, check_image
from .convert import ConfigError, from_config, reraise_as_config_error

# Wired by the program from the shared edge and network, never from config.
WIRED_KEYS = frozenset(WIRED_INPUTS) | frozenset(OPTIONAL_WIRED_INPUTS)
NEXT_IMAGE_KEY = "image"
"""`services.<name>.image`: what the next release deploys; `zdd-release deploy` applies it, `up` never does."""
FLAG_KEYS = ("flagSet", "flagAgent")
"""`services.<name>.flagSet` and `.flagAgent`: the flag set the service reads, a cross-reference to
`featureFlags` checked and turned into the component's `flag_agent` by `parse_flag_readers`."""


def parse_services(
    raw: Any, stack_alarms: AlarmThresholdsArgs | None = None, stack_tags: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Config `services` -> {name: BlueGreenServiceArgs without the wired keys}.

    Raises ConfigError naming the config key, before anything is created.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError("services: must be a map of service name -> settings")
    parsed: dict[str, dict[str, Any]] = {}
    for name, settings in raw.items():
        prefix = f"services.{name}"
        settings = _without_next_image(settings, prefix)
        if isinstance(settings, Mapping):
            settings = {k: v for k, v in settings.items() if k not in FLAG_KEYS}
        args = from_config(settings, BlueGreenServiceArgs, prefix, exclude=WIRED_KEYS)
        args["alarms"] = {**(stack_alarms or {}), **(args.get("alarms") or {})}
        args["tags"] = {**(stack_tags or {}), **(args.get("tags") or {})}
        try:
            resolve_blue_green(str(name), args)  # type: ignore[arg-type]
        except ArgError as err:
            reraise_as_config_error(err, prefix)
        parsed[str(name)] = args
    _check_routing_is_unambiguous(parsed)
    return parsed


def _without_next_image(settings: Any, prefix: str) -> Any:
    """`services.<name>.image` is the image the next release deploys (spec, for the driver): the
    program never applies it. Checked here, then left out of the component's args."""
    if not isinstance(settings, Mapping) or NEXT_IMAGE_KEY not in settings:
        return settings
    try:
        check_image(settings[NEXT_IMAGE_KEY], NEXT_IMAGE_KEY)
    except ArgError as err:
        reraise_as_config_error(err, prefix)
    return {k: v for k, v in settings.items() if k != NEXT_IMAGE_KEY}


def _check_routing_is_unambiguous(services: Mapping[str, Mapping[str, Any]]) -> None:
    """Each production request must belong to exactly one service."""
    catch_all: str | None = None
    priorities: dict[int, str] = {}
    for name, args in services.items():
        routing = args.get("routing")
        if routing is None:
            if catch_all is not None:
                raise ConfigError(
                    f"services.{name}.routing: is required: services.{catch_all} already takes the "
                    "catch-all route, give this service pathPatterns or hostHeaders and a priority"
                )
            catch_all = name
            continue
        priority = routing["priority"]
        if priority in priorities:
            raise ConfigError(
                f"services.{name}.routing.priority: {priority} is already used by services.{priorities[priority]}"
            )
        priorities[priority] = name
    check_rules_reachable(service_rules(services))


def service_rules(services: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, int, RuleMatch]]:
    """(config key, priority, conditions) of each service's production rule; none means the catch-all."""
    rules = []
    for name, args in services.items():
        routing = args.get("routing")
        if routing is None:
            rules.append((f"services.{name}", CATCH_ALL_PRIORITY, RuleMatch.of([CATCH_ALL_PATH])))
        else:
            rules.append((f"services.{name}.routing", routing["priority"], routing_match(routing)))
    return rules


def routing_match(routing: Mapping[str, Any]) -> RuleMatch:
    return RuleMatch.of(routing.get("path_patterns"), routing.get("host_headers"))


def check_rules_reachable(rules: list[tuple[str, int, RuleMatch]]) -> None:
    """Refuse a rule that takes every request of a rule checked after it (higher priority number):
    that service or fleet would never get traffic (e.g. `/*` at priority 100 over the catch-all)."""
    ordered = sorted(rules, key=lambda rule: rule[1])
    for i, (where, priority, match) in enumerate(ordered):
        for later_where, later_priority, later in ordered[i + 1 :]:
            if shadows(match, later):
                owner = later_where.removesuffix(".routing")
                key = where if where.endswith(".routing") else f"{where}.routing"
                condition = "pathPatterns" if match.path_patterns is not None else "hostHeaders"
                raise ConfigError(
                    f"{key}.{condition}: matches every request of {owner} (priority {priority} is checked "
                    f"before {later_priority}), so {owner} would never get traffic; narrow the patterns or "
                    "add a host condition"
                )


def assign_test_hosts(services: dict[str, dict[str, Any]], host_name: str | None, https: bool) -> None:
    """Give every service without its own test host name (`testHostName`, or an exact routing host) the
    stack's `hostName`, the name pre-traffic checks send as Host header and TLS server name.

    With HTTPS a service left without one is refused: the checks would go to the load balancer's own
    DNS name, which no ACM certificate can cover, and every release would roll back at
    PRE_TRAFFIC_CHECKS. Raises ConfigError naming the key; changes nothing then.
    """
    unnamed = [name for name, args in services.items() if not args.get("test_host_name") and not _exact_host(args)]
    if not unnamed:
        return
    if host_name is None:
        if https:
            raise ConfigError(
                f"hostName: required with certificateArn: services.{unnamed[0]} has no testHostName or exact "
                "routing.hostHeaders, so its pre-traffic checks would go to the load balancer's own DNS name, "
                "which the certificate cannot cover, and fail TLS verification"
            )
        return
    for name in unnamed:
        patterns = (services[name].get("routing") or {}).get("host_headers")
        if patterns and not any(pattern_covers(p, host_name, host=True) for p in patterns):
            raise ConfigError(
                f"services.{name}.testHostName: required: hostName {host_name!r} matches none of "
                f"routing.hostHeaders {list(patterns)}"
            )
    for name in unnamed:
        services[name]["test_host_name"] = host_name


def _exact_host(args: Mapping[str, Any]) -> str | None:
    routing = args.get("routing")
    return exact_host(resolve_routing(routing)) if routing is not None else None
