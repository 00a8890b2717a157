"""Network and shared-edge config: scalar keys declared with types and defaults in Pulumi.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from ..components.network import NetworkArgs, resolve_network
from ..components.release_alarms import AlarmThresholdsArgs, resolve_thresholds
from ..components.shared_edge import resolve_shared_edge
from ..components.tags import check_tags
from ..components.validation import ArgError, check_host_name
from .convert import ConfigError, camel_path, from_config, to_camel


@dataclass
class EdgeSettings:
    """Where the services run and how the shared edge is built."""

    existing_vpc_id: str | None
    existing_public_subnet_ids: list[str]
    existing_private_subnet_ids: list[str]
    network: NetworkArgs
    edge: dict[str, Any]
    """SharedEdgeArgs without vpc_id / public_subnet_ids, which come from the network."""
    alarms: AlarmThresholdsArgs
    tags: dict[str, str] = field(default_factory=dict)
    host_name: str | None = None
    """`hostName`: the name production is reached at, which the certificate covers."""
    pre_traffic_probe: bool = True
    """`preTrafficProbe`: create the probe function the driver runs pre-traffic checks from."""

    def validate(self) -> None:
        """Check the network and edge settings; called only when the stack has AWS services."""
        try:
            if not self.existing_vpc_id:
                resolve_network(self.network)
        except ArgError as err:
            raise ConfigError(f"{_network_key(err.key)}: {err.problem}") from err
        try:
            resolve_shared_edge(self.edge)  # type: ignore[arg-type]
        except ArgError as err:
            raise ConfigError(f"{camel_path(err.key)}: {err.problem}") from err


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def load_edge_settings(config: pulumi.Config) -> EdgeSettings:
    """The network and edge keys, typed as Pulumi.yaml declares them (`check_project_config` has
    already refused ill-typed values; a ConfigTypeError still becomes a ConfigError naming the key)."""
    try:
        return _load_edge_settings(config)
    except pulumi.ConfigTypeError as err:
        key = err.key.split(":", 1)[-1]
        raise ConfigError(f"{key}: must be of type {err.expect_type}, got {err.value!r}") from None


def _load_edge_settings(config: pulumi.Config) -> EdgeSettings:
    try:
        tags = check_tags(config.get_object("tags") or {})
    except ArgError as err:
        raise ConfigError(f"{err.key}: {err.problem}") from err
    vpc_id = config.get("vpcId") or None
    public = config.get_object("publicSubnetIds") or []
    private = config.get_object("privateSubnetIds") or []
    if vpc_id and (len(public) < 2 or len(private) < 1):
        key = "publicSubnetIds" if len(public) < 2 else "privateSubnetIds"
        raise ConfigError(f"{key}: required when vpcId is set (two public subnets in different AZs, and task subnets)")
    if not vpc_id and (public or private):
        raise ConfigError("vpcId: required when publicSubnetIds or privateSubnetIds are given")

    network: NetworkArgs = _drop_none(  # type: ignore[assignment]
        {
            "cidr_block": config.get("networkCidr"),
            "availability_zone_count": config.get_int("availabilityZoneCount"),
            "nat_gateway_count": config.get_int("natGatewayCount"),
            "tags": tags,
        }
    )
    edge = _drop_none(
        {
            "test_listener_cidrs": config.get_object("testListenerCidrs") or [],
            "test_listener_port": config.get_int("testListenerPort"),
            "production_cidrs": config.get_object("productionCidrs"),
            "certificate_arn": config.get("certificateArn"),
            "ssl_policy": config.get("sslPolicy"),
            "access_logs_bucket": config.get("accessLogsBucket"),
            "idle_timeout_seconds": config.get_int("idleTimeoutSeconds"),
            "container_insights": config.get_bool("containerInsights"),
            "tags": tags,
        }
    )
    raw_alarms = config.get_object("alarms") or {}
    alarm_overrides = from_config(raw_alarms, AlarmThresholdsArgs, "alarms")
    try:
        resolve_thresholds(alarm_overrides, where="alarms")  # type: ignore[arg-type]
    except ArgError as err:
        raise ConfigError(f"{camel_path(err.key)}: {err.problem}") from err
    host_name = config.get("hostName") or None
    try:
        if host_name is not None:
            check_host_name(host_name, "hostName")
    except ArgError as err:
        raise ConfigError(f"{err.key}: {err.problem}") from err
    probe = config.get_bool("preTrafficProbe")
    return EdgeSettings(
        vpc_id,
        list(public),
        list(private),
        network,
        edge,
        alarm_overrides,  # type: ignore[arg-type]
        tags,
        host_name,
        True if probe is None else probe,
    )


def _network_key(arg_key: str) -> str:
    return {"cidr_block": "networkCidr"}.get(arg_key, to_camel(arg_key))
