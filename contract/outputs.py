"""The stack outputs `services` and `fleets`: what the components export and the release driver reads.

One typed record per entry, with a build function for the component side and a parse function for
the driver side. Wire keys are the record's field names in camelCase (`target_group_arn_suffix` ->
`targetGroupArnSuffix`), so a field is named once. `build_*` takes plain values or Pulumi Outputs and
returns the dict a component exports; `parse_*` checks a resolved dict and returns the record, or
raises `ContractError` naming the key (`services.web.blue.targetGroupArn`). Keys the parser does not
know are ignored, so a driver keeps working against a stack exported by a newer component.

    pulumi stack output services   ->  {name: ServiceOutputs}
    pulumi stack output fleets     ->  {name: FleetOutputs}
    pulumi stack output featureFlags -> {name: FeatureFlagsOutputs}
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

from .colors import Color, Weights, parse_color
from .errors import ContractError

Mode = Literal["paired", "native"]
"""`paired`: two ECS services whose traffic the driver moves; `native`: ECS shifts traffic itself."""


def _map_key() -> Any:
    """A field filled from the entry's key in the output map; it is not part of the exported dict."""
    return field(default="", metadata={"wire": False})


def wire_key(name: str) -> str:
    """`target_group_arn_suffix` -> `targetGroupArnSuffix`."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class ColorOutputs:
    """One color of a blue/green service."""

    service_name: str
    """ECS service of this color (native mode: the one service, for both colors)."""
    service_arn: str
    target_group_arn: str
    target_group_arn_suffix: str
    """For CloudWatch's TargetGroup dimension."""
    task_definition_arn: str
    image: str
    """The image the stack gives this color."""
    desired_count: int
    weight: int
    """This color's production weight as the stack sets it."""
    composite_alarm_name: str | None
    alarm_names: tuple[str, ...]
    """The color's metric alarms, read when the composite does not exist (e.g. moto)."""


@dataclass(frozen=True)
class MigrationOutputs:
    """The schema migrations a service declares (stack config `services.<name>.migrations`)."""

    expand_command: str | None
    """Run before the new color starts (None: no expand)."""
    compat_command: str | None
    """The compatibility gate: the expand on a scratch copy, the old version smoke-tested on it."""
    contract_command: str | None
    """Run once the old color serves nothing (None: no contract)."""
    contract_delay_seconds: int = field(metadata={"min": 0})
    """Contract no sooner than this after promotion."""
    keep_warm_seconds: int = field(metadata={"min": 0})
    """The keep-warm the driver uses for this service when `--keep-warm` is not given."""


@dataclass(frozen=True)
class MigrationTaskOutputs:
    """What the driver needs to run a migration command as a one-off ECS task of the new image."""

    cluster_arn: str
    task_definition_arn: str
    """The definition the one-off task copies (roles, logs, size), with the new image and the command."""
    container_name: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    """The service's own network: the task reaches the database as the service does."""
    assign_public_ip: str
    """`ENABLED` or `DISABLED`, as the service's tasks."""
    log_group_name: str
    log_stream_prefix: str
    """awslogs stream prefix: a task's stream is `<prefix>/<container>/<task id>`."""


@dataclass(frozen=True)
class ServiceOutputs:
    """One entry of the stack output `services` (one BlueGreenService)."""

    config_path: str
    """The config key of the service, e.g. `services.web`."""
    mode: Mode
    live_color: Color
    idle_color: Color
    weights: Weights
    cluster_arn: str
    cluster_name: str
    load_balancer_arn_suffix: str
    production_listener_arn: str
    production_rule_arn: str
    """The listener rule whose weighted forward splits production traffic."""
    test_listener_arn: str
    test_rule_arn: str
    production_url: str
    test_url: str
    """Reaches the idle color before it takes production traffic."""
    notification_topic_arn: str | None
    blue: ColorOutputs
    green: ColorOutputs
    test_host_name: str | None = None
    """Host header and TLS server name of pre-traffic checks (the name the certificate covers);
    None: the test URL's own host."""
    probe_function_arn: str | None = None
    """Lambda inside the VPC that runs pre-traffic checks (`contract/probe.py`); None: the driver
    checks from where it runs."""
    migrations: MigrationOutputs | None = None
    """The schema migrations the service declares (None: none)."""
    migration_task: MigrationTaskOutputs | None = None
    """How to run them as one-off ECS tasks (None: the driver runs them where it runs)."""
    name: str = _map_key()

    def color(self, color: Color) -> ColorOutputs:
        return self.blue if color == "blue" else self.green


@dataclass(frozen=True)
class FleetOutputs:
    """One entry of the stack output `fleets` (one RollingAutoScalingGroup)."""

    config_path: str
    auto_scaling_group_name: str
    auto_scaling_group_arn: str
    launch_template_id: str
    launch_template_version: int = field(metadata={"min": 1})
    """The version the group is pinned to (the released one)."""
    launch_template_latest_version: int = field(metadata={"min": 1})
    """The template's newest version."""
    target_group_arn: str
    target_group_arn_suffix: str
    load_balancer_arn_suffix: str | None
    listener_rule_arn: str
    desired_capacity: int
    min_size: int
    max_size: int
    alarm_names: tuple[str, ...]
    composite_alarm_name: str | None
    refresh_preferences: dict[str, Any]
    """`Preferences` of StartInstanceRefresh, translated from the fleet's rolling-update settings."""
    refresh_notes: tuple[str, ...]
    ami_id: str
    """The AMI of the launch template's newest version (resolved, also for an SSM parameter)."""
    ami_ssm_parameter: str | None
    """The SSM parameter the fleet takes its AMI from, when it is configured with one."""
    name: str = _map_key()


@dataclass(frozen=True)
class FeatureFlagsOutputs:
    """One entry of the stack output `featureFlags` (one FeatureFlags flag set on AWS AppConfig)."""

    config_path: str
    """The config key of the flag set, e.g. `featureFlags.checkout`."""
    application_id: str
    application_name: str
    environment_id: str
    environment_name: str
    configuration_profile_id: str
    configuration_profile_name: str
    deployment_strategy_id: str
    """The flag set's own strategy (linear or exponential, with bake time), watched by its alarms."""
    kill_switch_strategy_id: str
    """All at once, no bake: the kill switch's deployment is over before a firing alarm can roll it back."""
    flags: tuple[str, ...]
    """The flag keys of the document."""
    alarm_names: tuple[str, ...]
    """The CloudWatch alarms AppConfig monitors (and the driver reads) during a flag change."""
    agent_path: str
    """Path of the flag set on the AppConfig agent:
    `/applications/<app>/environments/<env>/configurations/<profile>`."""
    name: str = _map_key()


# -- build (component side) ----------------------------------------------------------------------------
def _build(record: type, values: Mapping[str, Any]) -> dict[str, Any]:
    wired = [f.name for f in fields(record) if f.metadata.get("wire", True)]
    missing = sorted(set(wired) - set(values))
    unknown = sorted(set(values) - set(wired))
    if missing or unknown:
        raise TypeError(f"{record.__name__}: missing {missing}, unknown {unknown}")
    return {wire_key(name): values[name] for name in wired}


def build_color(**values: Any) -> dict[str, Any]:
    """The exported dict of one color; every ColorOutputs field, plain or Output."""
    return _build(ColorOutputs, values)


def build_service(**values: Any) -> dict[str, Any]:
    """The exported dict of one service; `blue`/`green` come from `build_color`, `weights` is a dict,
    `migrations`/`migration_task` from `build_migrations`/`build_migration_task` (optional: None)."""
    values = {"migrations": None, "migration_task": None, **values}
    return _build(ServiceOutputs, values)


def build_migrations(**values: Any) -> dict[str, Any]:
    """The exported dict of a service's migrations; every MigrationOutputs field."""
    return _build(MigrationOutputs, values)


def build_migration_task(**values: Any) -> dict[str, Any]:
    """The exported dict of the one-off migration task; every MigrationTaskOutputs field."""
    return _build(MigrationTaskOutputs, values)


def build_fleet(**values: Any) -> dict[str, Any]:
    """The exported dict of one fleet; every FleetOutputs field, plain or Output."""
    return _build(FleetOutputs, values)


def build_feature_flags(**values: Any) -> dict[str, Any]:
    """The exported dict of one flag set; every FeatureFlagsOutputs field, plain or Output."""
    return _build(FeatureFlagsOutputs, values)


# -- parse (driver side) -------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or value == ""


def _parse_value(kind: Any, value: Any, key: str, minimum: int | None) -> Any:
    origin = typing.get_origin(kind)
    if kind is str:
        if _missing(value):
            raise ContractError(key, "missing")
        if not isinstance(value, str):
            raise ContractError(key, f"expected a string, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):  # `str | None`, `<record> | None`
        inner = next(a for a in typing.get_args(kind) if a is not type(None))
        return None if _missing(value) else _parse_value(inner, value, key, minimum)
    if kind is int:
        if _missing(value) or isinstance(value, bool):
            raise ContractError(key, "missing" if value is None else f"expected an integer, got {value!r}")
        try:
            number = int(str(value))  # `pulumi config set --path` may have stored "0" as a string
        except ValueError:
            raise ContractError(key, f"expected an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ContractError(key, f"must be >= {minimum}, got {number}")
        return number
    if kind is Color:
        return parse_color(value, key)
    if origin is Literal:
        if value not in typing.get_args(kind):
            raise ContractError(key, f"must be one of {', '.join(typing.get_args(kind))}, got {value!r}")
        return value
    if kind is Weights:
        if not isinstance(value, Mapping):
            raise ContractError(key, "expected {blue: int, green: int}")
        try:
            return Weights(
                blue=_parse_value(int, value.get("blue"), f"{key}.blue", 0),
                green=_parse_value(int, value.get("green"), f"{key}.green", 0),
            )
        except ContractError as exc:
            # Weights names its own keys `weights` / `weights.<color>`: put them under `key`.
            inner = exc.key if exc.key.startswith(key) else key + exc.key.removeprefix("weights")
            raise ContractError(inner, exc.problem) from None
    if origin is tuple:
        if value is None:
            return ()
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ContractError(key, f"expected a list of strings, got {value!r}")
        return tuple(value)
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ContractError(key, f"expected an object, got {value!r}")
        return dict(value)
    if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
        return _parse_record(kind, value, key)
    raise TypeError(f"no parser for {kind!r}")  # pragma: no cover - a field type this module lacks


def _parse_record(record: type, data: Any, where: str, name: str = "") -> Any:
    if not isinstance(data, Mapping):
        raise ContractError(where, "expected an object")
    hints = typing.get_type_hints(record)
    values: dict[str, Any] = {}
    for f in fields(record):
        if not f.metadata.get("wire", True):
            continue
        values[f.name] = _parse_value(
            hints[f.name], data.get(wire_key(f.name)), f"{where}.{wire_key(f.name)}", f.metadata.get("min")
        )
    if name and any(f.name == "name" and f.default is not MISSING for f in fields(record)):
        values["name"] = name
    return record(**values)


def _entries(outputs: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    entries = outputs.get(section)
    if entries is None:
        return {}
    if not isinstance(entries, Mapping):
        raise ContractError(section, "expected a map of name -> outputs")
    return entries


def service_names(outputs: Mapping[str, Any]) -> list[str]:
    """Names in the stack output `services`."""
    return sorted(_entries(outputs, "services"))


def fleet_names(outputs: Mapping[str, Any]) -> list[str]:
    """Names in the stack output `fleets`."""
    return sorted(_entries(outputs, "fleets"))


def _parse_entry(outputs: Mapping[str, Any], section: str, record: type, name: str) -> Any:
    entries = _entries(outputs, section)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise ContractError(f"{section}.{name}", f"not in the stack output `{section}` (it has: {known})")
    return _parse_record(record, entries[name], f"{section}.{name}", name)


def parse_service(outputs: Mapping[str, Any], name: str) -> ServiceOutputs:
    """The entry `name` of the stack output `services`."""
    return _parse_entry(outputs, "services", ServiceOutputs, name)


def parse_fleet(outputs: Mapping[str, Any], name: str) -> FleetOutputs:
    """The entry `name` of the stack output `fleets`."""
    return _parse_entry(outputs, "fleets", FleetOutputs, name)


def feature_flag_names(outputs: Mapping[str, Any]) -> list[str]:
    """Names in the stack output `featureFlags`."""
    return sorted(_entries(outputs, "featureFlags"))


def parse_feature_flags(outputs: Mapping[str, Any], name: str) -> FeatureFlagsOutputs:
    """The entry `name` of the stack output `featureFlags`."""
    return _parse_entry(outputs, "featureFlags", FeatureFlagsOutputs, name)
