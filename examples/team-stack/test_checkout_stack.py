"""The checkout stack under Pulumi mocks: no cloud, no CLI, only the components package and pytest.

The platform stack is stood in for by the StackReference's mocked `outputs`, so the test proves
the service is wired to the shared edge and creates none of it.
Run: `python -m pytest` in this directory.
"""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

HERE = Path(__file__).resolve().parent
PROJECT = yaml.safe_load((HERE / "Pulumi.yaml").read_text())["name"]
STACK_REFERENCE = "pulumi:pulumi:StackReference"

# What the platform stack exports (shape of `pulumi stack output` of zero-downtime).
PLATFORM_OUTPUTS: dict[str, Any] = {
    "vpcId": "vpc-0platform",
    "privateSubnetIds": ["subnet-private-a", "subnet-private-b"],
    "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/platform-dev",
    "loadBalancerArnSuffix": "app/platform-dev/0123456789abcdef",
    "loadBalancerSecurityGroupId": "sg-0platformalb",
    "productionListenerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/platform-dev/x/prod",
    "testListenerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/platform-dev/x/test",
    "productionBaseUrl": "https://shop.example.com",
    "testBaseUrl": "https://shop.example.com:9000",
}


class TeamMocks(pulumi.runtime.Mocks):
    """Inputs echoed back plus an ARN per resource; a StackReference answers with the platform's outputs."""

    def __init__(self, platform_outputs: dict[str, Any]) -> None:
        self.platform_outputs = platform_outputs
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        if args.typ == STACK_REFERENCE:
            return args.inputs["name"], {**args.inputs, "outputs": self.platform_outputs, "secretOutputNames": []}
        outputs = {
            "name": args.inputs.get("name") or args.name,
            "arn": f"arn:aws:mock:us-east-1:123456789012:{args.name}",
            "arnSuffix": f"targetgroup/{args.name}/0123456789abcdef",
        }
        return f"{args.name}-id", {**args.inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "us-east-1", "region": "us-east-1", "id": "us-east-1"}
        return {}

    def of_type(self, type_token: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.registered if r.typ == type_token]


def stack_config(stack: str) -> dict[str, str]:
    """The real Pulumi.<stack>.yaml, as the CLI hands config to the program."""
    values = yaml.safe_load((HERE / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


@pytest.fixture(autouse=True)
def fresh_event_loop() -> Iterator[None]:
    # Pulumi's runtime keeps state on the event loop; each test gets its own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    loop.close()
    asyncio.set_event_loop(None)


def use_mocks(overrides: dict[str, Any] | None = None, mocks: TeamMocks | None = None) -> TeamMocks:
    config = stack_config("dev")
    for key, value in (overrides or {}).items():
        config[f"{PROJECT}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    pulumi.runtime.set_all_config(config)
    mocks = mocks or TeamMocks(PLATFORM_OUTPUTS)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="dev", preview=False)
    return mocks


def run_update(mocks: TeamMocks, overrides: dict[str, Any] | None = None) -> None:
    """The whole program as one update under `mocks`; raises what the update would fail with."""
    from checkout_stack import build

    @pulumi.runtime.test
    def update() -> pulumi.Output[Any]:
        use_mocks(overrides, mocks)
        return pulumi.Output.all(*[s.release_outputs for s in build(pulumi.Config()).values()])

    update()


@pulumi.runtime.test
def test_service_runs_on_the_platforms_shared_edge() -> pulumi.Output[None]:
    mocks = use_mocks()
    from checkout_stack import build

    service = build(pulumi.Config())["checkout"]

    def check(release: dict[str, Any]) -> None:
        [reference] = mocks.of_type(STACK_REFERENCE)
        assert reference.inputs["name"] == stack_config("dev")[f"{PROJECT}:sharedStack"]
        ecs = mocks.of_type("aws:ecs/service:Service")
        assert {s.name for s in ecs} == {"checkout-blue-svc", "checkout-green-svc"}
        for svc in ecs:
            assert svc.inputs["cluster"] == PLATFORM_OUTPUTS["clusterArn"]
            assert svc.inputs["networkConfiguration"]["subnets"] == PLATFORM_OUTPUTS["privateSubnetIds"]
        for tg in mocks.of_type("aws:lb/targetGroup:TargetGroup"):
            assert tg.inputs["vpcId"] == PLATFORM_OUTPUTS["vpcId"]
        listeners = {r.inputs["listenerArn"] for r in mocks.of_type("aws:lb/listenerRule:ListenerRule")}
        assert listeners == {PLATFORM_OUTPUTS["productionListenerArn"], PLATFORM_OUTPUTS["testListenerArn"]}
        ingress = [r.inputs for r in mocks.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
        ingress += [
            rule for sg in mocks.of_type("aws:ec2/securityGroup:SecurityGroup") for rule in sg.inputs.get("ingress", [])
        ]
        assert any(PLATFORM_OUTPUTS["loadBalancerSecurityGroupId"] in json.dumps(rule) for rule in ingress)
        # The shared edge is the platform's: this stack creates no VPC, load balancer, listener or cluster.
        for shared_type in ("aws:ec2/vpc:Vpc", "aws:lb/loadBalancer:LoadBalancer", "aws:lb/listener:Listener"):
            assert not mocks.of_type(shared_type), shared_type
        assert not mocks.of_type("aws:ecs/cluster:Cluster")
        # The release driver's contract: the service's config path, and the URLs it checks.
        assert release["configPath"] == "services.checkout"
        assert release["liveColor"] == "blue"
        assert release["productionUrl"] == f"{PLATFORM_OUTPUTS['productionBaseUrl']}/checkout"
        assert release["testUrl"] == f"{PLATFORM_OUTPUTS['testBaseUrl']}/checkout"

    return service.release_outputs.apply(check)


@pulumi.runtime.test
def test_rule_takes_its_own_path_and_priority_not_the_catch_all() -> pulumi.Output[None]:
    mocks = use_mocks()
    from checkout_stack import build

    service = build(pulumi.Config())["checkout"]

    def check(_: Any) -> None:
        [prod] = [r for r in mocks.of_type("aws:lb/listenerRule:ListenerRule") if r.name == "checkout-prod-rule"]
        assert prod.inputs["priority"] == 200
        assert {"pathPattern": {"values": ["/checkout/*"]}} in prod.inputs["conditions"]

    return pulumi.Output.all(service.production_rule_arn, service.test_rule_arn).apply(check)


def test_unknown_setting_is_refused_naming_the_key_before_anything_is_created() -> None:
    mocks = TeamMocks(PLATFORM_OUTPUTS)
    services = json.loads(stack_config("dev")[f"{PROJECT}:services"])
    services["checkout"]["blue"]["desiredcount"] = 2
    with pytest.raises(ValueError, match=r"services\.checkout\.blue\.desiredcount: unknown setting"):
        run_update(mocks, {"services": services})
    assert mocks.registered == []


def test_invalid_weights_are_refused_before_anything_is_created() -> None:
    mocks = TeamMocks(PLATFORM_OUTPUTS)
    services = json.loads(stack_config("dev")[f"{PROJECT}:services"])
    services["checkout"]["green"]["weight"] = 10
    with pytest.raises(ValueError, match="must sum to 100"):
        run_update(mocks, {"services": services})
    assert mocks.registered == []


def test_a_missing_platform_output_fails_the_update_naming_it() -> None:
    mocks = TeamMocks({k: v for k, v in PLATFORM_OUTPUTS.items() if k != "clusterArn"})
    with pytest.raises(KeyError, match="clusterArn"):
        run_update(mocks)


@pulumi.runtime.test
def test_release_state_in_the_release_store_wins_over_this_stack_file(tmp_path: Any) -> pulumi.Output[None]:
    """After a release, an `up` of this project applies what the release driver recorded."""
    from zero_downtime.contract import Weights
    from zero_downtime.contract.release_state import ColorState, ServiceState, StoreKeys
    from zero_downtime.store import open_blobs

    url = f"file://{tmp_path}"
    released = ServiceState("green", Weights(0, 100), ColorState("img:1", 0), ColorState("img:2", 2))
    open_blobs(url).create(StoreKeys(PROJECT, "dev").service_state("checkout"), released.to_json())
    use_mocks({"releaseStore": url})
    from checkout_stack import build

    service = build(pulumi.Config())["checkout"]

    def check(release: dict[str, Any]) -> None:
        assert (release["liveColor"], release["weights"]) == ("green", {"blue": 0, "green": 100})
        assert (release["green"]["image"], release["green"]["desiredCount"]) == ("img:2", 2)
        assert release["blue"]["desiredCount"] == 0

    return service.release_outputs.apply(check)
