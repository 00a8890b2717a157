"""The `services` config section: one BlueGreenService per entry, validated as a whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..components.blue_green_service import WIRED_INPUTS, BlueGreenServiceArgs, resolve_blue_green
from ..components.release_alarms import AlarmThresholdsArgs
from ..components.validation import ArgError
from .convert import ConfigError, from_config, reraise_as_config_error

# Wired by the program from the shared edge and network, never from config.
WIRED_KEYS = frozenset(WIRED_INPUTS)
NEXT_IMAGE_KEY = "image"
"""`services.<name>.image`: what the next release deploys; `zdd-release deploy` applies it, `up` never does."""


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
    image = settings[NEXT_IMAGE_KEY]
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise ConfigError(f"{prefix}.{NEXT_IMAGE_KEY}: must be an image reference without whitespace, got {image!r}")
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
