"""Pre-traffic checks that work in prod, through the real program: every service is told which host
name to check with (the certificate's, never the load balancer's own DNS name), and the stack
creates a probe inside the VPC whose NAT addresses, and only those, the test listener admits."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import PROJECT_ROOT, Evaluation, evaluate_program
from zero_downtime.offline.mocks import RecordingMocks
from zero_downtime.stack_config.convert import ConfigError

NS = "zero-downtime"


def stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def service_outputs(ev: Evaluation) -> dict[str, dict[str, Any]]:
    return ev.outputs["services"]


def probe_function(ev: Evaluation) -> Any:
    [function] = ev.of_type(T.LAMBDA_FUNCTION)
    return function


def test_every_service_invokes_the_probe_the_stack_created() -> None:
    ev = evaluate_program("dev")
    function = probe_function(ev)
    arns = {name: out["probeFunctionArn"] for name, out in service_outputs(ev).items()}
    assert arns and set(arns.values()) == {function.outputs["arn"]}
    assert function.inputs["vpcConfig"]["subnetIds"] == ev.outputs["privateSubnetIds"]


def test_the_probe_may_connect_only_to_the_test_listener_port() -> None:
    ev = evaluate_program("prod")
    [sg] = [r for r in ev.of_type(T.SECURITY_GROUP) if r.name == "probe-sg"]
    [egress] = sg.inputs["egress"]
    port = stack_config("prod")[f"{NS}:testListenerPort"]
    assert (egress["protocol"], egress["fromPort"], egress["toPort"]) == ("tcp", port, port)
    assert "ingress" not in sg.inputs or not sg.inputs["ingress"]


def test_prod_checks_send_the_certificates_host_name_not_the_load_balancers() -> None:
    ev = evaluate_program("prod")
    host = stack_config("prod")[f"{NS}:hostName"]
    for name, out in service_outputs(ev).items():
        assert out["testHostName"] == host, name
        assert ".elb.amazonaws.com" in out["testUrl"], "the probe connects to the load balancer itself"


def test_https_without_a_host_name_is_refused_naming_the_key_and_nothing_is_created() -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=r"^hostName: required with certificateArn: services\.web has no"):
        evaluate_program("prod", overrides={"hostName": ""}, mocks=mocks)
    assert mocks.resources == []


def test_a_service_with_an_exact_routing_host_checks_with_that_host() -> None:
    services = stack_config("prod")[f"{NS}:services"]
    services["api"]["routing"]["hostHeaders"] = ["*.shop.example.com", "api.shop.example.com"]
    ev = evaluate_program("prod", overrides={"services": services})
    api = service_outputs(ev)["api"]
    assert api["testHostName"] == "api.shop.example.com"
    assert api["testUrl"].startswith("https://api.shop.example.com:"), "a URL never has a wildcard host"
    assert service_outputs(ev)["web"]["testHostName"] == "shop.example.com"


def test_an_explicit_test_host_name_wins() -> None:
    services = stack_config("prod")[f"{NS}:services"]
    services["web"]["testHostName"] = "www.shop.example.com"
    ev = evaluate_program("prod", overrides={"services": services})
    assert service_outputs(ev)["web"]["testHostName"] == "www.shop.example.com"
    assert service_outputs(ev)["api"]["testHostName"] == "shop.example.com"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hostName": "*.shop.example.com"}, "hostName: must be a host name"),
        ({"hostName": "shop example.com"}, "hostName: must be a host name"),
        ({"hostName": "x" * 254}, "hostName: must be a host name"),
    ],
    ids=["wildcard", "space", "too-long"],
)
def test_a_bad_host_name_is_refused_naming_the_key(overrides: dict[str, Any], message: str) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=f"^{message}"):
        evaluate_program("prod", overrides=overrides, mocks=mocks)
    assert mocks.resources == []


def test_a_host_name_the_rule_would_not_route_is_refused() -> None:
    services = stack_config("prod")[f"{NS}:services"]
    services["api"]["routing"]["hostHeaders"] = ["*.internal.example.com"]
    with pytest.raises(ConfigError, match=r"^services\.api\.testHostName: required: hostName 'shop\.example\.com'"):
        evaluate_program("prod", overrides={"services": services})
    services["api"]["testHostName"] = "other.example.com"
    with pytest.raises(ConfigError, match=r"^services\.api\.testHostName: 'other\.example\.com' matches none"):
        evaluate_program("prod", overrides={"services": services})


def test_without_the_probe_the_driver_checks_from_where_it_runs() -> None:
    ev = evaluate_program("dev", overrides={"preTrafficProbe": False})
    assert ev.of_type(T.LAMBDA_FUNCTION) == []
    outputs = service_outputs(ev)
    assert outputs and all(out["probeFunctionArn"] is None for out in outputs.values())
    [alb_sg] = [r for r in ev.of_type(T.SECURITY_GROUP) if r.name == "edge-alb-sg"]
    assert not any("probe" in rule["description"] for rule in alb_sg.inputs["ingress"])


def test_an_existing_vpc_gets_the_probe_but_no_guessed_addresses(caplog: pytest.LogCaptureFixture) -> None:
    mocks = RecordingMocks()
    ev = evaluate_program(
        "dev",
        overrides={
            "vpcId": "vpc-0123456789abcdef0",
            "publicSubnetIds": ["subnet-0a", "subnet-0b"],
            "privateSubnetIds": ["subnet-0c", "subnet-0d"],
        },
        mocks=mocks,
    )
    assert probe_function(ev).inputs["vpcConfig"]["subnetIds"] == ["subnet-0c", "subnet-0d"]
    [alb_sg] = [r for r in ev.of_type(T.SECURITY_GROUP) if r.name == "edge-alb-sg"]
    assert not any("probe" in rule["description"] for rule in alb_sg.inputs["ingress"])
    assert "add your NAT gateways' public addresses to testListenerCidrs" in caplog.text


def test_a_fleet_only_stack_has_no_probe() -> None:
    # Without services, staging's flag set has no service to monitor (or to read it): left out too.
    ev = evaluate_program("staging", overrides={"services": None, "featureFlags": None})
    assert ev.of_type(T.AUTOSCALING_GROUP), "staging declares fleets"
    assert ev.of_type(T.LAMBDA_FUNCTION) == []
