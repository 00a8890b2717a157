"""SharedEdge and Network: listeners, who may reach them, and the subnets they sit in."""

from __future__ import annotations

from typing import Any

import pytest

from components.resource_types import ResourceType as T
from components.validation import ArgError
from offline.evaluate import Evaluation, run_under_mocks
from offline.mocks import RecordingMocks


def edge(**overrides: Any) -> Evaluation:
    from components.shared_edge import SharedEdge

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
    ],
    ids=["world", "empty", "bad-cidr", "production-port", "port-range", "production-cidr"],
)
def test_bad_edge_args_register_nothing(overrides: dict[str, Any], key: str) -> None:
    from components.shared_edge import SharedEdge

    mocks = RecordingMocks()
    args = {"vpc_id": "v", "public_subnet_ids": ["a", "b"], "test_listener_cidrs": ["10.0.0.0/8"], **overrides}
    with pytest.raises(ArgError, match=key):
        run_under_mocks(lambda: SharedEdge("edge", args), mocks=mocks)
    assert mocks.resources == []


def network(**args: Any) -> Evaluation:
    from components.network import Network

    return run_under_mocks(lambda: Network("net", args), stack="unit")


def test_network_carves_public_and_private_subnets_across_azs() -> None:
    ev = network(cidr_block="10.8.0.0/16")
    subnets = {s.name: s.inputs for s in ev.of_type(T.SUBNET)}
    assert subnets["net-public-0"]["cidrBlock"] == "10.8.0.0/19"
    assert subnets["net-private-1"]["cidrBlock"] == "10.8.96.0/19"
    assert subnets["net-public-0"]["availabilityZone"] != subnets["net-public-1"]["availabilityZone"]
    assert len(ev.of_type(T.NAT_GATEWAY)) == 1
    private_routes = [rt for rt in ev.of_type(T.ROUTE_TABLE) if "private" in rt.name]
    assert all("natGatewayId" in rt.inputs["routes"][0] for rt in private_routes)


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
    from components.network import Network

    mocks = RecordingMocks()
    with pytest.raises(ArgError, match=key):
        run_under_mocks(lambda: Network("net", args), mocks=mocks)
    assert mocks.resources == []
