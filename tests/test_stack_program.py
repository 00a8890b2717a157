"""The whole program, evaluated for each real stack file (dev, staging, prod) under mocks."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import PROJECT_ROOT, Evaluation, StackFileError, evaluate_program, load_stack_config
from zero_downtime.offline.mocks import RecordingMocks
from zero_downtime.stack_config.convert import ConfigError

AWS_STACKS = ["dev", "staging", "prod"]
CONTRACT_KEYS = {
    "configPath",
    "mode",
    "liveColor",
    "idleColor",
    "weights",
    "clusterArn",
    "clusterName",
    "loadBalancerArnSuffix",
    "productionListenerArn",
    "productionRuleArn",
    "testListenerArn",
    "testRuleArn",
    "productionUrl",
    "testUrl",
    "notificationTopicArn",
    "blue",
    "green",
}
COLOR_KEYS = {
    "serviceName",
    "serviceArn",
    "targetGroupArn",
    "targetGroupArnSuffix",
    "taskDefinitionArn",
    "image",
    "desiredCount",
    "weight",
    "compositeAlarmName",
    "alarmNames",
}


@pytest.fixture(scope="module")
def stacks() -> dict[str, Evaluation]:
    return {stack: evaluate_program(stack) for stack in AWS_STACKS}


def stack_services(stack: str) -> dict[str, Any]:
    raw = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return raw["zero-downtime:services"]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_service_of_the_stack_file_is_exported_with_the_driver_contract(
    stacks: dict[str, Evaluation], stack: str
) -> None:
    ev = stacks[stack]
    declared = stack_services(stack)
    assert set(ev.outputs["services"]) == set(declared)
    rules = {r.outputs["arn"]: r for r in ev.of_type(T.LISTENER_RULE)}
    target_groups = {r.outputs["arn"]: r for r in ev.of_type(T.TARGET_GROUP)}
    services = {r.outputs["arn"]: r for r in ev.of_type(T.ECS_SERVICE)}
    for name, out in ev.outputs["services"].items():
        assert set(out) >= CONTRACT_KEYS, f"{stack}/{name} misses {CONTRACT_KEYS - set(out)}"
        assert out["liveColor"] == declared[name]["liveColor"]
        assert sum(out["weights"].values()) == 100
        assert out["productionListenerArn"] == ev.outputs["productionListenerArn"]
        assert out["testListenerArn"] == ev.outputs["testListenerArn"]
        production_rule = rules[out["productionRuleArn"]]
        assert production_rule.inputs["listenerArn"] == ev.outputs["productionListenerArn"]
        applied = {g["arn"]: g["weight"] for g in production_rule.inputs["actions"][0]["forward"]["targetGroups"]}
        for color in ("blue", "green"):
            color_out = out[color]
            assert set(color_out) >= COLOR_KEYS
            assert color_out["image"] == declared[name][color]["image"]
            assert color_out["targetGroupArn"] in target_groups
            assert color_out["serviceArn"] in services
            assert applied[color_out["targetGroupArn"]] == out["weights"][color] == declared[name][color]["weight"]
        test_rule = rules[out["testRuleArn"]]
        idle_tg = out[out["idleColor"]]["targetGroupArn"]
        assert {g["arn"]: g["weight"] for g in test_rule.inputs["actions"][0]["forward"]["targetGroups"]}[
            idle_tg
        ] == 100


def listeners_by_port(ev: Evaluation) -> dict[int, dict[str, Any]]:
    return {int(r.inputs["port"]): r.inputs for r in ev.of_type(T.LISTENER)}


def test_dev_is_plain_http_with_one_task_per_color(stacks: dict[str, Evaluation]) -> None:
    listeners = listeners_by_port(stacks["dev"])
    assert set(listeners) == {80, 9000}
    assert listeners[80]["protocol"] == "HTTP"
    for out in stacks["dev"].outputs["services"].values():
        assert out[out["liveColor"]]["desiredCount"] == 1


def test_prod_is_https_with_http_redirected_and_three_tasks_or_more(stacks: dict[str, Evaluation]) -> None:
    listeners = listeners_by_port(stacks["prod"])
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"].startswith("arn:aws:acm:")
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    redirect = listeners[80]["defaultActions"][0]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"port": "443", "protocol": "HTTPS", "statusCode": "HTTP_301"}
    assert listeners[9443]["protocol"] == "HTTPS"
    for out in stacks["prod"].outputs["services"].values():
        assert out[out["liveColor"]]["desiredCount"] >= 3
        assert out["productionUrl"].startswith("https://")


def alarm_thresholds(ev: Evaluation, suffix: str) -> set[float]:
    return {a.inputs["threshold"] for a in ev.of_type(T.METRIC_ALARM) if a.name.endswith(suffix)}


def test_prod_alarms_are_stricter_than_dev(stacks: dict[str, Evaluation]) -> None:
    for suffix in ("5xx-rate", "p99-latency"):
        assert max(alarm_thresholds(stacks["prod"], suffix)) < min(alarm_thresholds(stacks["dev"], suffix))
    prod_alarms = stacks["prod"].of_type(T.METRIC_ALARM)
    assert prod_alarms and all(a.inputs["treatMissingData"] == "notBreaching" for a in prod_alarms)


def test_test_listener_is_open_only_to_the_configured_cidrs(stacks: dict[str, Evaluation]) -> None:
    for stack, ev in stacks.items():
        configured = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"][
            "zero-downtime:testListenerCidrs"
        ]
        [alb_sg] = [r for r in ev.of_type(T.SECURITY_GROUP) if r.name == "edge-alb-sg"]
        test_port = max(listeners_by_port(ev))
        operators, probe = [i for i in alb_sg.inputs["ingress"] if i["fromPort"] == test_port]
        assert operators["cidrBlocks"] == configured
        # The pre-traffic probe comes through the NAT gateways: exactly their addresses, one /32 each.
        nat_ips = [r.outputs["publicIp"] for r in ev.resources if r.type == T.EIP]
        assert len(nat_ips) == len(ev.of_type(T.NAT_GATEWAY)) >= 1
        assert sorted(probe["cidrBlocks"]) == sorted(f"{ip}/32" for ip in nat_ips)
        assert "NAT" in probe["description"]
        assert "0.0.0.0/0" not in operators["cidrBlocks"] + probe["cidrBlocks"]


def test_created_network_spans_two_azs_with_public_and_private_subnets(stacks: dict[str, Evaluation]) -> None:
    subnets = stacks["dev"].of_type(T.SUBNET)
    tiers = sorted(s.inputs["tags"]["tier"] for s in subnets)
    assert tiers == ["private", "private", "public", "public"]
    assert len({s.inputs["availabilityZone"] for s in subnets}) == 2
    assert len(stacks["prod"].of_type(T.NAT_GATEWAY)) == 3


def test_cluster_has_container_insights(stacks: dict[str, Evaluation]) -> None:
    [cluster] = stacks["staging"].of_type(T.ECS_CLUSTER)
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_access_logs_only_where_a_bucket_is_configured(stacks: dict[str, Evaluation]) -> None:
    [prod_alb] = stacks["prod"].of_type(T.LOAD_BALANCER)
    assert prod_alb.inputs["accessLogs"]["enabled"] is True
    [dev_alb] = stacks["dev"].of_type(T.LOAD_BALANCER)
    assert "accessLogs" not in dev_alb.inputs


def test_existing_vpc_is_used_instead_of_creating_a_network() -> None:
    ev = evaluate_program(
        "dev",
        overrides={
            "vpcId": "vpc-existing",
            "publicSubnetIds": ["subnet-p1", "subnet-p2"],
            "privateSubnetIds": ["subnet-q1", "subnet-q2"],
        },
    )
    assert ev.of_type(T.VPC) == []
    assert ev.outputs["vpcId"] == "vpc-existing"
    [svc, _] = ev.of_type(T.ECS_SERVICE)
    assert svc.inputs["networkConfiguration"]["subnets"] == ["subnet-q1", "subnet-q2"]


def test_user_tags_from_config_reach_the_resources(stacks: dict[str, Evaluation]) -> None:
    for svc in stacks["prod"].of_type(T.ECS_SERVICE):
        assert svc.inputs["tags"]["environment"] == "prod"
        assert svc.inputs["tags"]["stack"] == "prod"


@dataclass
class BadConfig:
    id: str
    overrides: dict[str, Any]
    key: str


def dev_services(**changes: Any) -> dict[str, Any]:
    services = stack_services("dev")
    web = services["web"]
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = web
        for part in parents:
            target = target[part]
        if value is None:
            target.pop(leaf)
        else:
            target[leaf] = value
    return services


BAD_CONFIG = [
    BadConfig("weight-out-of-range", {"services": dev_services(blue__weight=101)}, "services.web.blue.weight"),
    BadConfig("weights-not-summing", {"services": dev_services(green__weight=10)}, "services.web.green.weight"),
    BadConfig("unknown-color", {"services": dev_services(liveColor="purple")}, "services.web.liveColor"),
    BadConfig("missing-image", {"services": dev_services(green__image=None)}, "services.web.green.image"),
    BadConfig("typo-key", {"services": dev_services(desiredcount=2)}, "services.web.desiredcount"),
    BadConfig("nested-typo", {"services": dev_services(healthCheck={"pth": "/x"})}, "services.web.healthCheck.pth"),
    BadConfig("services-not-a-map", {"services": ["web"]}, "services"),
    BadConfig("test-listener-world", {"testListenerCidrs": ["0.0.0.0/0"]}, "testListenerCidrs"),
    BadConfig("test-listener-missing", {"testListenerCidrs": []}, "testListenerCidrs"),
    BadConfig("test-port-80", {"testListenerPort": 80}, "testListenerPort"),
    BadConfig("alarm-setting", {"alarms": {"errorRatePercent": -1}}, "alarms.errorRatePercent"),
    BadConfig("vpc-without-subnets", {"vpcId": "vpc-1"}, "publicSubnetIds"),
    BadConfig("network-cidr", {"networkCidr": "10.0.0.0/28"}, "networkCidr"),
    BadConfig(
        "two-catch-all-services",
        {"services": {**dev_services(), "admin": dev_services()["web"]}},
        "services.admin.routing",
    ),
]


@pytest.mark.parametrize("case", BAD_CONFIG, ids=lambda c: c.id)
def test_bad_config_fails_clearly_and_registers_nothing(case: BadConfig) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=rf"^{case.key}\b"):
        evaluate_program("dev", overrides=case.overrides, mocks=mocks)
    assert mocks.of_type(T.ECS_SERVICE) == []
    assert mocks.resources == []


def test_duplicate_routing_priority_names_the_second_service() -> None:
    services = stack_services("staging")
    services["web"]["routing"] = {"priority": 100, "pathPatterns": ["/shop/*"]}
    with pytest.raises(ConfigError, match=r"^services\.(web|api)\.routing\.priority: 100 is already used"):
        evaluate_program("staging", overrides={"services": services})


def test_duplicate_service_name_in_a_stack_file_is_refused(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    text = (PROJECT_ROOT / "Pulumi.dev.yaml").read_text()
    web_block = text[text.index("    web:") :]
    (tmp_path / "Pulumi.dup.yaml").write_text(text + web_block)
    with pytest.raises(StackFileError, match=r"duplicate key 'web'"):
        load_stack_config("dup", tmp_path)


def test_project_defaults_reach_the_program_like_the_cli_applies_them() -> None:
    config = load_stack_config("dev")
    assert config.values["zero-downtime:testListenerPort"] == "9000"
    assert config.values["zero-downtime:containerInsights"] == "true"
    assert config.values["aws:region"] == "us-east-1"


class RecordingConfig:
    """Stands in for `pulumi.Config`: records every key the loader reads, and by which getter."""

    def __init__(self) -> None:
        self.read: dict[str, str] = {}

    def __getattr__(self, getter: str) -> Any:
        if not getter.startswith(("get", "require")):
            raise AttributeError(getter)

        def read(key: str, *args: Any, **kwargs: Any) -> None:
            self.read[key] = getter
            return None

        return read


# Sections Pulumi.yaml cannot type (project config types are string, integer, boolean and array):
# objects, validated by their own loaders instead.
OBJECT_SECTIONS = {"tags", "alarms"}


def test_every_key_the_edge_loader_reads_is_declared_in_pulumi_yaml() -> None:
    from zero_downtime.stack_config.edge import load_edge_settings

    config = RecordingConfig()
    load_edge_settings(config)  # type: ignore[arg-type]  # every key unset: the loader reads them all
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]
    read = config.read
    assert len(read) >= 10 and "idleTimeoutSeconds" in read, read  # the recording saw the loader's reads
    assert set(read) >= OBJECT_SECTIONS, "an object section is no longer read: drop it from OBJECT_SECTIONS"
    for key, getter in read.items():
        if key in OBJECT_SECTIONS:
            assert getter == "get_object" and key not in project, key
            continue
        assert key in project, f"stack_config/edge.py reads {key!r} ({getter}), which Pulumi.yaml does not declare"
        if getter == "get_object":
            assert project[key]["type"] == "array", key
    for key, decl in project.items():
        assert {"type", "description", "default"} <= set(decl), key


def test_numbers_written_as_strings_by_config_set_path_are_accepted() -> None:
    # `pulumi config set --path services.web.green.weight 0` stores "0" (pulumi/pulumi#4393).
    services = dev_services(green__weight="0", blue__weight="100", blue__desiredCount="2")
    ev = evaluate_program("dev", overrides={"services": services})
    out = ev.outputs["services"]["web"]
    assert out["weights"] == {"blue": 100, "green": 0}
    assert out["blue"]["desiredCount"] == 2
