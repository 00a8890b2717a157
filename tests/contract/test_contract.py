"""contract/: build -> parse round trips on plain values, and every key the parser refuses, named in full."""

from __future__ import annotations

import copy
import json
import typing
from dataclasses import dataclass, fields
from typing import Any, Literal

import pytest
from zero_downtime.contract import (
    COLORS,
    ColorOutputs,
    ContractError,
    FleetOutputs,
    ServiceOutputs,
    Weights,
    build_color,
    build_fleet,
    build_service,
    fleet_names,
    other_color,
    parse_color,
    parse_fleet,
    parse_service,
    service_names,
)
from zero_downtime.contract.outputs import wire_key

ACCOUNT = "123456789012"
ELB = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}"


def color_values(color: str) -> dict[str, Any]:
    """Every ColorOutputs field (snake_case), as a component hands them to build_color."""
    live = color == "blue"
    return {
        "service_name": f"web-{color}-svc",
        "service_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/edge/web-{color}-svc",
        "target_group_arn": f"{ELB}:targetgroup/web-{color}-tg/0123",
        "target_group_arn_suffix": f"targetgroup/web-{color}-tg/0123",
        "task_definition_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/dev-web-{color}:7",
        "image": f"registry.example.com/web:{'1.4.2' if live else '1.5.0'}",
        "desired_count": 3 if live else 1,
        "weight": 90 if live else 10,
        "composite_alarm_name": f"zdd-dev-web-{color}-alarms-health",
        "alarm_names": [
            f"zdd-dev-web-{color}-alarms-{kind}" for kind in ("5xx-rate", "p99-latency", "unhealthy-hosts")
        ],
    }


def service_values() -> dict[str, Any]:
    """Every ServiceOutputs wire field (snake_case), colors built with build_color."""
    return {
        "config_path": "services.web",
        "mode": "paired",
        "live_color": "blue",
        "idle_color": "green",
        "weights": {"blue": 90, "green": 10},
        "cluster_arn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/edge",
        "cluster_name": "edge",
        "load_balancer_arn_suffix": "app/edge/0123",
        "production_listener_arn": f"{ELB}:listener/app/edge/0123/80",
        "production_rule_arn": f"{ELB}:listener-rule/app/edge/0123/80/1",
        "test_listener_arn": f"{ELB}:listener/app/edge/0123/9000",
        "test_rule_arn": f"{ELB}:listener-rule/app/edge/0123/9000/1",
        "production_url": "http://edge.example.com/",
        "test_url": "http://edge.example.com:9000/",
        "notification_topic_arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:web-releases",
        "test_host_name": "web.example.test",
        "probe_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:probe-fn-0a1b2c3",
        **{c: build_color(**color_values(c)) for c in COLORS},
    }


def fleet_values() -> dict[str, Any]:
    """Every FleetOutputs wire field (snake_case), as RollingAutoScalingGroup hands them to build_fleet."""
    return {
        "config_path": "fleets.reports",
        "auto_scaling_group_name": "reports-asg-0123",
        "auto_scaling_group_arn": (
            f"arn:aws:autoscaling:us-east-1:{ACCOUNT}:autoScalingGroup:0123:autoScalingGroupName/reports-asg-0123"
        ),
        "launch_template_id": "lt-0123456789abcdef0",
        "launch_template_version": "3",  # the component exports the pinned version as a string
        "launch_template_latest_version": "4",
        "target_group_arn": f"{ELB}:targetgroup/reports-tg/0123",
        "target_group_arn_suffix": "targetgroup/reports-tg/0123",
        "load_balancer_arn_suffix": "app/edge/0123",
        "listener_rule_arn": f"{ELB}:listener-rule/app/edge/0123/80/2",
        "desired_capacity": 4,
        "min_size": 4,
        "max_size": 8,
        "alarm_names": ["reports-5xx-rate", "reports-p99-latency", "reports-unhealthy-hosts"],
        "composite_alarm_name": "reports-health",
        "refresh_preferences": {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 125},
        "refresh_notes": ["WaitOnResourceSignals: ..."],
        "ami_id": "ami-0123456789abcdef0",
        "ami_ssm_parameter": None,
    }


def stack_outputs(services: dict[str, Any] | None = None, fleets: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `pulumi stack output --json` prints: the exported dicts, through JSON."""
    exported = {
        "services": {"web": build_service(**service_values())} if services is None else services,
        "fleets": {"reports": build_fleet(**fleet_values())} if fleets is None else fleets,
    }
    return json.loads(json.dumps(exported))


def expected_color(color: str) -> ColorOutputs:
    values = color_values(color)
    return ColorOutputs(**{**values, "alarm_names": tuple(values["alarm_names"])})


# -- round trips ----------------------------------------------------------------------------------------
def test_service_round_trip_gives_back_every_value() -> None:
    values = service_values()
    expected = ServiceOutputs(
        **{k: v for k, v in values.items() if k not in ("weights", "blue", "green")},
        weights=Weights(blue=90, green=10),
        blue=expected_color("blue"),
        green=expected_color("green"),
        name="web",
    )
    parsed = parse_service(stack_outputs(), "web")
    assert parsed == expected
    assert parsed.color("green") is parsed.green
    assert parsed.weights.of(parsed.live_color) == 90


def test_fleet_round_trip_gives_back_every_value() -> None:
    values = fleet_values()
    expected = FleetOutputs(
        **{
            **values,
            "launch_template_version": 3,
            "launch_template_latest_version": 4,
            "alarm_names": tuple(values["alarm_names"]),
            "refresh_notes": tuple(values["refresh_notes"]),
        },
        name="reports",
    )
    assert parse_fleet(stack_outputs(), "reports") == expected


def test_native_service_without_topic_or_composite_round_trips() -> None:
    values = service_values()
    values.update(mode="native", notification_topic_arn=None)
    values["green"] = build_color(**{**color_values("green"), "composite_alarm_name": None, "alarm_names": []})
    parsed = parse_service(stack_outputs(services={"web": build_service(**values)}), "web")
    assert (parsed.mode, parsed.notification_topic_arn) == ("native", None)
    assert (parsed.green.composite_alarm_name, parsed.green.alarm_names) == (None, ())


def test_build_writes_every_wire_key_in_camel_case_and_nothing_else() -> None:
    exported = build_service(**service_values())
    wire = {wire_key(f.name) for f in fields(ServiceOutputs) if f.name != "name"}
    assert set(exported) == wire
    assert "targetGroupArnSuffix" in exported["blue"]
    assert set(build_fleet(**fleet_values())) == {wire_key(f.name) for f in fields(FleetOutputs) if f.name != "name"}


def test_names_list_each_section_sorted_and_absent_sections_are_empty() -> None:
    outputs = stack_outputs(services={"web": {}, "api": {}}, fleets={})
    assert service_names(outputs) == ["api", "web"]
    assert fleet_names(outputs) == []
    assert service_names({}) == [] and fleet_names({}) == []


def test_numbers_stored_as_strings_are_accepted() -> None:
    # `pulumi config set --path services.web.green.weight 0` stores "0" (pulumi/pulumi#4393).
    services = stack_outputs()["services"]
    services["web"]["weights"] = {"blue": "100", "green": "0"}
    services["web"]["green"].update(weight="0", desiredCount="0")
    fleets = stack_outputs()["fleets"]
    fleets["reports"].update(desiredCapacity="4", minSize="0", launchTemplateVersion="12")
    svc = parse_service({"services": services}, "web")
    fleet = parse_fleet({"fleets": fleets}, "reports")
    assert svc.weights == Weights(blue=100, green=0)
    assert (svc.green.weight, svc.green.desired_count) == (0, 0)
    assert (fleet.desired_capacity, fleet.min_size, fleet.launch_template_version) == (4, 0, 12)


def test_unknown_extra_keys_are_ignored() -> None:
    plain = stack_outputs()
    extra = copy.deepcopy(plain)
    extra["services"]["web"]["futureKey"] = {"anything": 1}
    extra["services"]["web"]["blue"]["futureColorKey"] = "x"
    extra["fleets"]["reports"]["futureFleetKey"] = [1, 2]
    extra["somethingElse"] = "ignored"
    assert parse_service(extra, "web") == parse_service(plain, "web")
    assert parse_fleet(extra, "reports") == parse_fleet(plain, "reports")


# -- build refuses a missing or unknown field ---------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "values"),
    [(build_service, service_values), (build_fleet, fleet_values), (build_color, lambda: color_values("blue"))],
    ids=["service", "fleet", "color"],
)
def test_build_refuses_a_missing_field(build: Any, values: Any) -> None:
    given = values()
    dropped = sorted(given)[0]
    del given[dropped]
    with pytest.raises(TypeError, match=rf"missing \['{dropped}'\]"):
        build(**given)


@pytest.mark.parametrize(
    ("build", "values"),
    [(build_service, service_values), (build_fleet, fleet_values), (build_color, lambda: color_values("blue"))],
    ids=["service", "fleet", "color"],
)
def test_build_refuses_an_unknown_field(build: Any, values: Any) -> None:
    with pytest.raises(TypeError, match=r"unknown \['target_group_arn_sufix'\]"):
        build(**values(), target_group_arn_sufix="typo")


def test_build_refuses_the_map_key_as_a_field() -> None:
    # `name` is the entry's key in the output map, never part of the exported dict.
    with pytest.raises(TypeError, match=r"unknown \['name'\]"):
        build_service(**service_values(), name="web")


# -- parse refuses every missing or malformed key, naming it in full ------------------------------------
@dataclass(frozen=True)
class Key:
    """One wire key of a record, where it sits in the stack outputs, and how to break it."""

    section: str  # "services" or "fleets"
    path: tuple[str, ...]  # wire keys from the entry down, e.g. ("blue", "targetGroupArn")
    kind: Any

    @property
    def full(self) -> str:
        entry = "web" if self.section == "services" else "reports"
        return ".".join((self.section, entry, *self.path))

    @property
    def optional(self) -> bool:
        origin = typing.get_origin(self.kind)
        return origin in (tuple, dict) or (origin is not None and type(None) in typing.get_args(self.kind))


def _keys(record: type, section: str, prefix: tuple[str, ...] = ()) -> list[Key]:
    hints = typing.get_type_hints(record)
    found = []
    for f in fields(record):
        if f.name == "name":
            continue
        found.append(Key(section, (*prefix, wire_key(f.name)), hints[f.name]))
    return found


SERVICE_KEYS = _keys(ServiceOutputs, "services") + [k for c in COLORS for k in _keys(ColorOutputs, "services", (c,))]
FLEET_KEYS = _keys(FleetOutputs, "fleets")
ALL_KEYS = SERVICE_KEYS + FLEET_KEYS


def _malformed(kind: Any) -> Any:
    """A value of the wrong shape for `kind`."""
    origin = typing.get_origin(kind)
    if kind is int:
        return "many"
    if origin is tuple:
        return "one-alarm-not-a-list"
    if origin is dict:
        return ["not", "an", "object"]
    if origin is Literal:  # Color and Mode
        return "purple"
    return 42  # strings (required or optional), Weights and nested records all refuse a number


def _parse(key: Key, outputs: dict[str, Any]) -> Any:
    return parse_service(outputs, "web") if key.section == "services" else parse_fleet(outputs, "reports")


def _entry(outputs: dict[str, Any], key: Key) -> dict[str, Any]:
    entry = outputs[key.section]["web" if key.section == "services" else "reports"]
    for part in key.path[:-1]:
        entry = entry[part]
    return entry


def test_the_cases_cover_every_wire_key() -> None:
    assert len({k.full for k in ALL_KEYS}) == len(ALL_KEYS)
    assert "services.web.blue.targetGroupArn" in {k.full for k in ALL_KEYS}
    assert {k.path[-1] for k in FLEET_KEYS} == {wire_key(f.name) for f in fields(FleetOutputs)} - {"name"}
    assert any(k.optional for k in ALL_KEYS) and any(not k.optional for k in ALL_KEYS)


@pytest.mark.parametrize("key", [k for k in ALL_KEYS if not k.optional], ids=lambda k: k.full)
def test_a_missing_required_key_is_refused_naming_it(key: Key) -> None:
    outputs = stack_outputs()
    del _entry(outputs, key)[key.path[-1]]
    with pytest.raises(ContractError) as raised:
        _parse(key, outputs)
    assert raised.value.key == key.full
    assert str(raised.value).startswith(f"{key.full}: ")


@pytest.mark.parametrize("key", [k for k in ALL_KEYS if k.optional], ids=lambda k: k.full)
def test_a_missing_optional_key_parses_as_empty(key: Key) -> None:
    outputs = stack_outputs()
    del _entry(outputs, key)[key.path[-1]]
    parsed = _parse(key, outputs)
    for part in key.path:
        parsed = getattr(parsed, next(f.name for f in fields(parsed) if wire_key(f.name) == part))
    assert parsed in (None, (), {})


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.full)
def test_a_malformed_key_is_refused_naming_it(key: Key) -> None:
    outputs = stack_outputs()
    _entry(outputs, key)[key.path[-1]] = _malformed(key.kind)
    with pytest.raises(ContractError) as raised:
        _parse(key, outputs)
    assert raised.value.key == key.full, str(raised.value)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("", "services.web.blue.image"),
        (None, "services.web.blue.desiredCount"),
        (True, "services.web.blue.weight"),
        (1.5, "services.web.green.desiredCount"),
    ],
    ids=["empty-string", "null-int", "bool-for-int", "float-for-int"],
)
def test_empty_null_bool_and_fractional_values_are_refused(value: Any, key: str) -> None:
    outputs = stack_outputs()
    *_, color, leaf = key.split(".")
    outputs["services"]["web"][color][leaf] = value
    with pytest.raises(ContractError) as raised:
        parse_service(outputs, "web")
    assert raised.value.key == key


@pytest.mark.parametrize(
    ("weights", "key", "problem"),
    [
        ({"blue": 60, "green": 60}, "services.web.weights", "must sum to 100"),
        ({"blue": 150, "green": 0}, "services.web.weights.blue", "0-100"),
        ({"blue": 100, "green": -1}, "services.web.weights.green", ">= 0"),
        ({"blue": 100}, "services.web.weights.green", "missing"),
        ({"blue": "half", "green": 50}, "services.web.weights.blue", "integer"),
    ],
    ids=["sum-120", "blue-150", "green-negative", "green-missing", "blue-text"],
)
def test_weights_in_the_outputs_are_refused_naming_the_weight(weights: dict[str, Any], key: str, problem: str) -> None:
    outputs = stack_outputs()
    outputs["services"]["web"]["weights"] = weights
    with pytest.raises(ContractError, match=problem) as raised:
        parse_service(outputs, "web")
    assert raised.value.key == key


@pytest.mark.parametrize(
    ("outputs", "key"),
    [
        ({"services": ["web"]}, "services"),
        ({"services": {"api": {}}}, "services.web"),
        ({"services": {"web": "not-an-object"}}, "services.web"),
    ],
    ids=["section-not-a-map", "unknown-service", "entry-not-an-object"],
)
def test_a_bad_section_or_entry_is_refused_naming_it(outputs: dict[str, Any], key: str) -> None:
    with pytest.raises(ContractError) as raised:
        parse_service(outputs, "web")
    assert raised.value.key == key


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ContractError, match=r"^fleets\.batch: .*it has: reports"):
        parse_fleet(stack_outputs(), "batch")


def test_a_fleet_pinned_to_version_zero_is_refused() -> None:
    outputs = stack_outputs()
    outputs["fleets"]["reports"]["launchTemplateVersion"] = 0
    with pytest.raises(ContractError, match=">= 1") as raised:
        parse_fleet(outputs, "reports")
    assert raised.value.key == "fleets.reports.launchTemplateVersion"


# -- colors and weights -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("blue", "green", "key"),
    [(60, 60, "weights"), (50, 49, "weights"), (101, -1, "weights.blue"), (0, 101, "weights.green")],
    ids=["sum-120", "sum-99", "blue-over-100", "green-over-100"],
)
def test_weights_refuse_bad_sums_and_ranges(blue: int, green: int, key: str) -> None:
    with pytest.raises(ContractError) as raised:
        Weights(blue=blue, green=green)
    assert raised.value.key == key


@pytest.mark.parametrize("value", [True, 50.0, "50"], ids=["bool", "float", "string"])
def test_weights_refuse_what_is_not_an_integer(value: Any) -> None:
    with pytest.raises(ContractError, match="integer 0-100"):
        Weights(blue=value, green=50)


def test_weights_shift_between_colors() -> None:
    assert Weights.shifted("blue", 10) == Weights(blue=90, green=10)
    assert Weights.shifted("green", 25) == Weights(blue=25, green=75)
    assert Weights.all_to("green") == Weights(blue=0, green=100)
    assert Weights(blue=30, green=70).of("green") == 70
    assert Weights(blue=30, green=70).as_dict() == {"blue": 30, "green": 70}


def test_colors() -> None:
    assert COLORS == ("blue", "green")
    assert [other_color(c) for c in COLORS] == ["green", "blue"]
    assert parse_color("green", "liveColor") == "green"
    with pytest.raises(ContractError) as raised:
        parse_color("Blue", "services.web.liveColor")
    assert raised.value.key == "services.web.liveColor"


def test_a_service_exported_before_probe_functions_parses_without_them() -> None:
    outputs = stack_outputs()
    for key in ("testHostName", "probeFunctionArn"):
        del outputs["services"]["web"][key]
    parsed = parse_service(outputs, "web")
    assert (parsed.test_host_name, parsed.probe_function_arn) == (None, None)
