"""The checkout team's services on the platform's shared edge, as a team writes it.

Only the services live here. The VPC, load balancer, listeners and ECS cluster belong to the
platform stack and arrive through a StackReference, so this stack can never replace them.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
from zero_downtime.components.blue_green_service import BlueGreenService, BlueGreenServiceArgs, resolve_blue_green
from zero_downtime.stack_config.release_state import apply_release_state

# BlueGreenService arg <- platform stack output that provides it.
SHARED_OUTPUTS: dict[str, str] = {
    "vpc_id": "vpcId",
    "subnet_ids": "privateSubnetIds",
    "cluster_arn": "clusterArn",
    "load_balancer_arn_suffix": "loadBalancerArnSuffix",
    "load_balancer_security_group_id": "loadBalancerSecurityGroupId",
    "production_listener_arn": "productionListenerArn",
    "test_listener_arn": "testListenerArn",
    "production_base_url": "productionBaseUrl",
    "test_base_url": "testBaseUrl",
}

# Config key (camelCase, as in Pulumi.<stack>.yaml) -> component arg, per section.
_SERVICE_KEYS = {
    "liveColor": "live_color",
    "blue": "blue",
    "green": "green",
    "containerPort": "container_port",
    "cpu": "cpu",
    "memory": "memory",
    "environment": "environment",
    "routing": "routing",
    "healthCheck": "health_check",
}
_COLOR_KEYS = {"image": "image", "desiredCount": "desired_count", "weight": "weight"}
_ROUTING_KEYS = {"priority": "priority", "pathPatterns": "path_patterns", "hostHeaders": "host_headers"}
_HEALTH_CHECK_KEYS = {
    "path": "path",
    "intervalSeconds": "interval_seconds",
    "timeoutSeconds": "timeout_seconds",
    "healthyThreshold": "healthy_threshold",
    "unhealthyThreshold": "unhealthy_threshold",
    "matcher": "matcher",
}
_NESTED = {"blue": _COLOR_KEYS, "green": _COLOR_KEYS, "routing": _ROUTING_KEYS, "healthCheck": _HEALTH_CHECK_KEYS}


def _rename(raw: Any, keys: Mapping[str, str], where: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be a map")
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown setting; expected one of {sorted(keys)}")
    return {keys[k]: (_rename(v, _NESTED[k], f"{where}.{k}") if k in _NESTED else v) for k, v in raw.items()}


def parse_service(name: str, raw: Any) -> dict[str, Any]:
    """Config `services.<name>` -> BlueGreenService args without the shared-edge wiring."""
    return _rename(raw, _SERVICE_KEYS, f"services.{name}")


def wire(settings: Mapping[str, Any], shared: pulumi.StackReference) -> BlueGreenServiceArgs:
    """Add the platform stack's outputs; a missing one fails the update naming that output."""
    return {**settings, **{arg: shared.require_output(out) for arg, out in SHARED_OUTPUTS.items()}}  # type: ignore[typeddict-item]


def build(config: pulumi.Config, base_dir: Path | None = None) -> dict[str, BlueGreenService]:
    """Every service in config, each a BlueGreenService on the shared edge. Config is checked first.

    Release state (live color, weights, images, counts) comes from the release store named by
    `releaseStore` once the release driver has written it: this stack file only bootstraps, so an
    `up` of this project never undoes a release.
    """
    services = config.require_object("services")
    if not isinstance(services, Mapping) or not services:
        raise ValueError("services: must map at least one service name to its settings")
    settings = {str(name): parse_service(str(name), raw) for name, raw in services.items()}
    settings, _, released = apply_release_state(
        config.get("releaseStore") or "",
        project=pulumi.get_project(),
        stack=pulumi.get_stack(),
        services=settings,
        fleets={},
        base_dir=base_dir or Path.cwd(),
        region=pulumi.Config("aws").get("region"),
    )
    for note in released.notes:
        pulumi.log.info(note)
    # Check every service before the first one is created; the wiring comes from the platform stack.
    for name, args in settings.items():
        resolve_blue_green(name, args)  # type: ignore[arg-type]
    shared = pulumi.StackReference(config.require("sharedStack"))
    return {name: BlueGreenService(name, wire(args, shared)) for name, args in settings.items()}
