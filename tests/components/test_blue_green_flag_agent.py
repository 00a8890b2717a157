"""BlueGreenService with `flag_agent`: the AppConfig agent sidecar and the task role's read of exactly one
flag set, under Pulumi's mocks (no ECS, no AppConfig, no agent image here)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordedResource, RecordingMocks

from tests.components.test_blue_green_service import base_args, build, one

ARN = "arn:aws:appconfig:us-east-1:123456789012:application/abc1234/environment/def5678/configuration/ghi9012"
PATH = "/applications/checkout/environments/prod/configurations/flags"
AGENT: dict[str, Any] = {"agent_path": PATH, "configuration_arn": ARN, "flag_set": "checkout"}
READ_ACTIONS = ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]


def containers(task: RecordedResource) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(task.inputs["containerDefinitions"])}


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


@pytest.fixture(scope="module")
def with_agent() -> Evaluation:
    return build(base_args(flag_agent=AGENT))


def test_both_colors_run_the_agent_sidecar_on_its_port_prefetching_the_flag_set(with_agent: Evaluation) -> None:
    log_group = one(with_agent, T.LOG_GROUP, "web-logs")
    for color in ("blue", "green"):
        task = containers(one(with_agent, T.ECS_TASK_DEFINITION, f"web-{color}-task"))
        assert set(task) == {"web", "appconfig-agent"}
        agent = task["appconfig-agent"]
        assert agent["image"] == "public.ecr.aws/aws-appconfig/aws-appconfig-agent:2.x"
        assert agent["essential"] is True  # as AWS's ECS guide sets it; restarted in place by ECS
        assert agent["restartPolicy"]["enabled"] is True
        assert agent["portMappings"] == [{"containerPort": 2772, "protocol": "tcp"}]
        assert env(agent) == {
            "HTTP_PORT": "2772",
            "POLL_INTERVAL": "15",
            "PREFETCH_LIST": PATH,
            "SERVICE_REGION": "us-east-1",
        }
        assert agent["readonlyRootFilesystem"] is True
        assert agent.get("privileged") is None
        logs = agent["logConfiguration"]
        assert logs["logDriver"] == "awslogs"
        assert logs["options"]["awslogs-group"] == log_group.outputs["name"]
        assert logs["options"]["awslogs-stream-prefix"] == color


def test_the_app_finds_its_flags_on_the_agent_and_starts_after_it(with_agent: Evaluation) -> None:
    for color in ("blue", "green"):
        app = containers(one(with_agent, T.ECS_TASK_DEFINITION, f"web-{color}-task"))["web"]
        assert env(app)["APP_FLAGS_AGENT_URL"] == f"http://localhost:2772{PATH}"
        assert env(app)["APP_FLAG_SET"] == "checkout"
        assert app["dependsOn"] == [{"containerName": "appconfig-agent", "condition": "START"}]
        assert app["essential"] is True


def test_blue_and_green_differ_only_in_image_and_color(with_agent: Evaluation) -> None:
    def normalized(color: str) -> dict[str, Any]:
        task = copy.deepcopy(containers(one(with_agent, T.ECS_TASK_DEFINITION, f"web-{color}-task")))
        for container in task.values():
            container["logConfiguration"]["options"].pop("awslogs-stream-prefix")
            container["environment"] = [e for e in container["environment"] if e["name"] != "APP_COLOR"]
        task["web"].pop("image")
        return task

    assert normalized("blue") == normalized("green")


def test_the_task_role_may_read_exactly_that_configuration_and_nothing_else(with_agent: Evaluation) -> None:
    policy = one(with_agent, T.IAM_ROLE_POLICY, "web-read-flags")
    assert policy.inputs["role"] == one(with_agent, T.IAM_ROLE, "web-task-role").id
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": READ_ACTIONS, "Resource": ARN}],
    }
    # Nothing else of the service names AppConfig; the execution role gets nothing new.
    others = [p for p in with_agent.of_type(T.IAM_ROLE_POLICY) if p.name != "web-read-flags"]
    assert not [p for p in others if "appconfig" in json.dumps(p.inputs)]


def test_without_a_flag_set_there_is_no_sidecar_and_no_appconfig_permission() -> None:
    ev = build(base_args())
    for color in ("blue", "green"):
        task = containers(one(ev, T.ECS_TASK_DEFINITION, f"web-{color}-task"))
        assert set(task) == {"web"}
        assert "dependsOn" not in task["web"]
        assert not {"APP_FLAGS_AGENT_URL", "APP_FLAG_SET"} & set(env(task["web"]))
    assert not [p for p in ev.of_type(T.IAM_ROLE_POLICY) if "appconfig" in json.dumps(p.inputs)]


def test_native_mode_gets_the_same_sidecar_in_its_one_task_definition() -> None:
    ev = build(base_args(mode="native", native={"strategy": "BLUE_GREEN"}, flag_agent=AGENT))
    task = containers(one(ev, T.ECS_TASK_DEFINITION, "web-task"))
    assert set(task) == {"web", "appconfig-agent"}
    assert one(ev, T.IAM_ROLE_POLICY, "web-read-flags")


def test_image_and_poll_interval_are_overridable() -> None:
    image = "registry.example.com/mirror/aws-appconfig-agent:2.0.9000"
    ev = build(base_args(flag_agent={**AGENT, "image": image, "poll_interval_seconds": 45}))
    agent = containers(one(ev, T.ECS_TASK_DEFINITION, "web-blue-task"))["appconfig-agent"]
    assert agent["image"] == image
    assert env(agent)["POLL_INTERVAL"] == "45"


def test_flag_set_defaults_to_the_application_of_the_path() -> None:
    from zero_downtime.components.blue_green_service import resolve_flag_agent

    settings = resolve_flag_agent({"agent_path": PATH})
    assert settings is not None
    assert (settings.flag_set, settings.configuration_arn, settings.poll_interval_seconds) == ("checkout", None, 15)
    assert settings.agent_url == f"http://localhost:2772{PATH}"


@pytest.mark.parametrize(
    ("flag_agent", "extra", "key"),
    [
        ({**AGENT, "configuration_arn": ARN.rsplit("/", 1)[0] + "/*"}, {}, "flag_agent.configuration_arn"),
        (
            {**AGENT, "configuration_arn": "arn:aws:appconfig:us-east-1:123456789012:application/abc1234"},
            {},
            "flag_agent.configuration_arn",
        ),
        ({**AGENT, "agent_path": "/applications/checkout"}, {}, "flag_agent.agent_path"),
        ({**AGENT, "poll_interval_seconds": 0}, {}, "flag_agent.poll_interval_seconds"),
        ({**AGENT, "image": "agent image"}, {}, "flag_agent.image"),
        ({**AGENT, "port": 2773}, {}, "flag_agent.port"),
        ({k: v for k, v in AGENT.items() if k != "configuration_arn"}, {}, "flag_agent.configuration_arn"),
        (AGENT, {"environment": {"APP_FLAGS_AGENT_URL": "http://localhost:1/x"}}, "environment.APP_FLAGS_AGENT_URL"),
        (AGENT, {"environment": {"APP_FLAG_SET": "other"}}, "environment.APP_FLAG_SET"),
        ("checkout", {}, "flag_agent"),
    ],
)
def test_bad_flag_agent_args_fail_naming_the_key_before_anything_is_registered(
    flag_agent: Any, extra: dict[str, Any], key: str
) -> None:
    from zero_downtime.components.blue_green_service import BlueGreenService

    mocks = RecordingMocks()
    with pytest.raises(ArgError) as raised:
        run_under_mocks(
            lambda: BlueGreenService("web", base_args(flag_agent=flag_agent, **extra)), stack="unit", mocks=mocks
        )
    assert raised.value.key == key, str(raised.value)
    assert mocks.resources == []


@pytest.fixture
def component_mocks() -> RecordingMocks:
    from pulumi.runtime import settings

    mocks = RecordingMocks()
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="zero-downtime", stack="unit", preview=False)
    return mocks


@pulumi.runtime.test
def test_the_arn_may_be_an_output_resolved_at_deployment(component_mocks: RecordingMocks):
    """As the program wires it: the flag set's ARN exists only after the service (a deferred Output)."""
    from zero_downtime.components.blue_green_service import BlueGreenService

    arn, resolve = pulumi.deferred_output()
    svc = BlueGreenService("web", base_args(flag_agent={**AGENT, "configuration_arn": arn}))
    resolve(pulumi.Output.from_input(ARN))
    assert svc.flag_read_policy is not None

    def check(policy: str) -> None:
        assert json.loads(policy)["Statement"][0]["Resource"] == ARN

    return svc.flag_read_policy.policy.apply(check)
