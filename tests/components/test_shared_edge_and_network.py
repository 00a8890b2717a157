"""SharedEdge and Network: listeners, who may reach them, and the subnets they sit in."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordingMocks


def edge(**overrides: Any) -> Evaluation:
    from zero_downtime.components.shared_edge import SharedEdge

    args = {
        "vpc_id": "vpc-1",
        "public_subnet_ids": ["subnet-a", "subnet-b"],
        "test_listener_cidrs": ["10.0.0.0/8"],
        **overrides,
    }
    return run_under_mocks(lambda: SharedEdge("edge", args), stack="unit")


def test_http_edge_has_production_and_test_listeners_answering_404_by_default() -> None:
    ev = edge()
    listeners = {int(r.inputs["port"]): r.inputs for r in ev.of_type(T.LISTENER)}
    assert set(listeners) == {80, 9000}
    for listener in listeners.values():
        assert listener["protocol"] == "HTTP"
        assert listener["defaultActions"][0]["fixedResponse"]["statusCode"] == "404"
    [alb] = ev.of_type(T.LOAD_BALANCER)
    assert alb.inputs["internal"] is False
    assert alb.inputs["dropInvalidHeaderFields"] is True


def test_security_group_opens_the_test_port_to_the_configured_cidrs_only() -> None:
    [sg] = edge(test_listener_cidrs=["10.1.0.0/16"], test_listener_port=8443).of_type(T.SECURITY_GROUP)
    by_port = {rule["fromPort"]: rule["cidrBlocks"] for rule in sg.inputs["ingress"]}
    assert by_port == {80: ["0.0.0.0/0"], 8443: ["10.1.0.0/16"]}


def test_probe_addresses_are_admitted_to_the_test_port_alone_one_host_each() -> None:
    [sg] = edge(probe_source_ips=["3.1.2.3", "3.4.5.6"]).of_type(T.SECURITY_GROUP)
    test_rules = [rule for rule in sg.inputs["ingress"] if rule["fromPort"] == 9000]
    assert [rule["cidrBlocks"] for rule in test_rules] == [["10.0.0.0/8"], ["3.1.2.3/32", "3.4.5.6/32"]]
    assert all(rule["toPort"] == 9000 for rule in test_rules)


def test_network_exports_the_nat_gateways_public_addresses() -> None:
    from zero_downtime.components.network import Network

    def program() -> Any:
        net = Network("net", {"availability_zone_count": 3, "nat_gateway_count": 3})
        pulumi.export("natPublicIps", net.nat_public_ips)

    ev = run_under_mocks(program, stack="unit")
    eips = ev.of_type(T.EIP)
    assert len(eips) == 3
    assert sorted(ev.outputs["natPublicIps"]) == sorted(e.outputs["publicIp"] for e in eips)
    assert all(ipaddress.IPv4Address(ip).is_global for ip in ev.outputs["natPublicIps"])


def test_certificate_turns_production_into_https_with_a_redirect() -> None:
    ev = edge(certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x")
    listeners = {int(r.inputs["port"]): r.inputs for r in ev.of_type(T.LISTENER)}
    assert listeners[443]["protocol"] == "HTTPS"
    assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
    assert listeners[9000]["protocol"] == "HTTPS"
    [sg] = ev.of_type(T.SECURITY_GROUP)
    assert {rule["fromPort"] for rule in sg.inputs["ingress"]} == {80, 443, 9000}


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"test_listener_cidrs": ["0.0.0.0/0"]}, "test_listener_cidrs"),
        ({"test_listener_cidrs": []}, "test_listener_cidrs"),
        ({"test_listener_cidrs": ["10.0.0.0/33"]}, "test_listener_cidrs"),
        ({"test_listener_port": 443}, "test_listener_port"),
        ({"test_listener_port": 70000}, "test_listener_port"),
        ({"production_cidrs": ["not-a-cidr"]}, "production_cidrs"),
        ({"probe_source_ips": ["0.0.0.0/0"]}, "probe_source_ips"),
        ({"probe_source_ips": "3.1.2.3"}, "probe_source_ips"),
    ],
    ids=["world", "empty", "bad-cidr", "production-port", "port-range", "production-cidr", "probe-cidr", "probe-str"],
)
def test_bad_edge_args_register_nothing(overrides: dict[str, Any], key: str) -> None:
    from zero_downtime.components.shared_edge import SharedEdge

    mocks = RecordingMocks()
    args = {"vpc_id": "v", "public_subnet_ids": ["a", "b"], "test_listener_cidrs": ["10.0.0.0/8"], **overrides}
    with pytest.raises(ArgError, match=key):
        run_under_mocks(lambda: SharedEdge("edge", args), mocks=mocks)
    assert mocks.resources == []


def network(**args: Any) -> Evaluation:
    from zero_downtime.components.network import Network

    return run_under_mocks(lambda: Network("net", args), stack="unit")


def test_network_carves_public_and_private_subnets_across_azs() -> None:
    ev = network(cidr_block="10.8.0.0/16")
    subnets = {s.name: s.inputs for s in ev.of_type(T.SUBNET)}
    assert subnets["net-public-0"]["cidrBlock"] == "10.8.0.0/19"
    assert subnets["net-private-1"]["cidrBlock"] == "10.8.96.0/19"
    assert subnets["net-public-0"]["availabilityZone"] != subnets["net-public-1"]["availabilityZone"]
    assert len(ev.of_type(T.NAT_GATEWAY)) == 1
    private_routes = [rt for rt in ev.of_type(T.ROUTE_TABLE) if "private" in rt.name]
    assert private_routes and all("natGatewayId" in rt.inputs["routes"][0] for rt in private_routes)


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ({"cidr_block": "10.0.0.0/24"}, "cidr_block"),
        ({"cidr_block": "banana"}, "cidr_block"),
        ({"availability_zone_count": 1}, "availability_zone_count"),
        ({"nat_gateway_count": 3}, "nat_gateway_count"),
    ],
    ids=["too-small", "not-a-cidr", "one-az", "more-nat-than-azs"],
)
def test_bad_network_args_register_nothing(args: dict[str, Any], key: str) -> None:
    from zero_downtime.components.network import Network

    mocks = RecordingMocks()
    with pytest.raises(ArgError, match=key):
        run_under_mocks(lambda: Network("net", args), mocks=mocks)
    assert mocks.resources == []


def test_edge_resolve_needs_no_wired_input_and_writes_every_default() -> None:
    from zero_downtime.components.shared_edge import (
        DEFAULT_IDLE_TIMEOUT_SECONDS,
        DEFAULT_TEST_LISTENER_PORT,
        MODERN_TLS_POLICY,
        resolve_shared_edge,
    )

    settings = resolve_shared_edge({"test_listener_cidrs": ["10.0.0.0/8"]})  # type: ignore[typeddict-item]
    assert settings.test_listener_port == DEFAULT_TEST_LISTENER_PORT == 9000
    assert settings.production_cidrs == ["0.0.0.0/0"]
    assert (settings.ssl_policy, settings.idle_timeout_seconds) == (MODERN_TLS_POLICY, DEFAULT_IDLE_TIMEOUT_SECONDS)
    assert (settings.https, settings.scheme, settings.production_ports) == (False, "http", [80])
    assert settings.container_insights is True
    https = resolve_shared_edge(
        {"test_listener_cidrs": ["10.0.0.0/8"], "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}
    )  # type: ignore[typeddict-item]
    assert (https.https, https.scheme, https.production_ports) == (True, "https", [80, 443])


@pytest.mark.parametrize("missing", ["vpc_id", "public_subnet_ids"])
def test_edge_without_a_wired_input_registers_nothing(missing: str) -> None:
    from zero_downtime.components.shared_edge import SharedEdge

    mocks = RecordingMocks()
    args = {"vpc_id": "v", "public_subnet_ids": ["a", "b"], "test_listener_cidrs": ["10.0.0.0/8"]}
    del args[missing]
    with pytest.raises(ArgError) as raised:
        run_under_mocks(lambda: SharedEdge("edge", args), mocks=mocks)  # type: ignore[arg-type]
    assert raised.value.key == missing
    assert mocks.resources == []


@pytest.mark.parametrize(
    ("overrides", "production", "redirect"),
    [
        ({}, "edge-http", None),
        ({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/x"}, "edge-https", "edge-http-redirect"),
    ],
    ids=["http", "https"],
)
def test_edge_children_are_the_registered_resources(
    overrides: dict[str, Any], production: str, redirect: str | None
) -> None:
    from zero_downtime.components.shared_edge import SharedEdge

    from tests.components.children import export_urns, registered_children

    built: list[SharedEdge] = []

    def program() -> None:
        edge = SharedEdge(
            "edge",
            {"vpc_id": "vpc-1", "public_subnet_ids": ["a", "b"], "test_listener_cidrs": ["10.0.0.0/8"], **overrides},
        )
        built.append(edge)
        children = {
            "cluster": edge.cluster,
            "security_group": edge.security_group,
            "load_balancer": edge.load_balancer,
            "production_listener": edge.production_listener,
            "test_listener": edge.test_listener,
        }
        if edge.redirect_listener is not None:
            children["redirect_listener"] = edge.redirect_listener
        export_urns(children)

    ev = run_under_mocks(program, stack="unit")
    expected = {
        "cluster": (T.ECS_CLUSTER, "edge-cluster"),
        "security_group": (T.SECURITY_GROUP, "edge-alb-sg"),
        "load_balancer": (T.LOAD_BALANCER, "edge-alb"),
        "production_listener": (T.LISTENER, production),
        "test_listener": (T.LISTENER, "edge-test"),
    }
    if redirect is not None:
        expected["redirect_listener"] = (T.LISTENER, redirect)
    assert registered_children(ev) == expected
    assert (built[0].redirect_listener is None) == (redirect is None)


def test_network_resolve_writes_every_default() -> None:
    from zero_downtime.components.network import (
        DEFAULT_AVAILABILITY_ZONE_COUNT,
        DEFAULT_CIDR_BLOCK,
        DEFAULT_NAT_GATEWAY_COUNT,
        NetworkSettings,
        resolve_network,
    )

    assert resolve_network({}) == NetworkSettings(
        DEFAULT_CIDR_BLOCK, DEFAULT_AVAILABILITY_ZONE_COUNT, DEFAULT_NAT_GATEWAY_COUNT, {}
    )
    assert resolve_network({"availability_zone_count": 3, "nat_gateway_count": 3}).nat_gateway_count == 3


def test_network_children_are_the_registered_resources() -> None:
    from zero_downtime.components.network import Network

    from tests.components.children import export_urns, registered_children

    def program() -> None:
        net = Network("net", {"availability_zone_count": 3, "nat_gateway_count": 2})
        export_urns(
            {
                "vpc": net.vpc,
                "internet_gateway": net.internet_gateway,
                **{f"public_subnets.{i}": s for i, s in enumerate(net.public_subnets)},
                **{f"private_subnets.{i}": s for i, s in enumerate(net.private_subnets)},
                **{f"nat_gateways.{i}": g for i, g in enumerate(net.nat_gateways)},
            }
        )

    ev = run_under_mocks(program, stack="unit")
    assert registered_children(ev) == {
        "vpc": (T.VPC, "net-vpc"),
        "internet_gateway": (T.INTERNET_GATEWAY, "net-igw"),
        **{f"public_subnets.{i}": (T.SUBNET, f"net-public-{i}") for i in range(3)},
        **{f"private_subnets.{i}": (T.SUBNET, f"net-private-{i}") for i in range(3)},
        **{f"nat_gateways.{i}": (T.NAT_GATEWAY, f"net-nat-{i}") for i in range(2)},
    }
