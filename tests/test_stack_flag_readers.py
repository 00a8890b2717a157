"""`services.<name>.flagSet` through the real program: the service's tasks get the AppConfig agent
sidecar and its task role may read exactly that flag set; bad references are refused by key, before
anything is created. Under Pulumi's mocks: no ECS, AppConfig or agent here."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from zero_downtime.contract import parse_feature_flags
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, evaluate_program
from zero_downtime.offline.mocks import RecordingMocks
from zero_downtime.stack_config.convert import ConfigError

from tests.paths import REPO_ROOT

FLAGS: dict[str, Any] = {
    # The set monitors web's alarms and web reads it: the program must wire both directions.
    "checkout": {"flags": {"new-checkout": {"percentage": 0}}, "monitorServices": ["web"]},
    "search": {"flags": {"fuzzy": {}}, "applicationName": "shop-search"},
}
READ_ACTIONS = ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"]


def prod_services(**web: Any) -> dict[str, Any]:
    config = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
    services = copy.deepcopy(config["zero-downtime:services"])
    services["web"].update(web)
    return services


def containers(ev: Evaluation, task: str) -> dict[str, dict[str, Any]]:
    [definition] = [t for t in ev.of_type(T.ECS_TASK_DEFINITION) if t.name == task]
    return {c["name"]: c for c in json.loads(definition.inputs["containerDefinitions"])}


def env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("environment", [])}


@pytest.fixture(scope="module")
def reading() -> Evaluation:
    return evaluate_program("prod", overrides={"featureFlags": FLAGS, "services": prod_services(flagSet="checkout")})


def test_the_reading_service_runs_the_agent_and_reads_the_set_s_agent_path(reading: Evaluation) -> None:
    agent_path = parse_feature_flags(reading.outputs, "checkout").agent_path
    for color in ("blue", "green"):
        task = containers(reading, f"web-{color}-task")
        assert set(task) == {"web", "appconfig-agent"}
        assert task["appconfig-agent"]["portMappings"] == [{"containerPort": 2772, "protocol": "tcp"}]
        assert env(task["appconfig-agent"])["PREFETCH_LIST"] == agent_path
        assert env(task["web"])["APP_FLAGS_AGENT_URL"] == f"http://localhost:2772{agent_path}"
        assert env(task["web"])["APP_FLAG_SET"] == "checkout"
        assert task["web"]["dependsOn"] == [{"containerName": "appconfig-agent", "condition": "START"}]


def test_its_task_role_may_read_exactly_that_set_s_configuration(reading: Evaluation) -> None:
    [app] = [a for a in reading.of_type(T.APPCONFIG_APPLICATION) if a.name == "checkout-app"]
    [environment] = [e for e in reading.of_type(T.APPCONFIG_ENVIRONMENT) if e.name == "checkout-env"]
    [profile] = [p for p in reading.of_type(T.APPCONFIG_PROFILE) if p.name == "checkout-flags"]
    arn = (
        f"arn:aws:appconfig:us-east-1:123456789012:application/{app.id}"
        f"/environment/{environment.outputs['environmentId']}/configuration/{profile.outputs['configurationProfileId']}"
    )
    [policy] = [p for p in reading.of_type(T.IAM_ROLE_POLICY) if p.name == "web-read-flags"]
    [task_role] = [r for r in reading.of_type(T.IAM_ROLE) if r.name == "web-task-role"]
    assert policy.inputs["role"] == task_role.id
    assert json.loads(policy.inputs["policy"])["Statement"] == [
        {"Effect": "Allow", "Action": READ_ACTIONS, "Resource": arn}
    ]


def test_a_service_without_the_key_has_no_sidecar_and_no_appconfig_permission(reading: Evaluation) -> None:
    for color in ("blue", "green"):
        task = containers(reading, f"api-{color}-task")
        assert set(task) == {"api"}
        assert "APP_FLAGS_AGENT_URL" not in env(task["api"])
    policies = [p for p in reading.of_type(T.IAM_ROLE_POLICY) if "appconfig:" in p.inputs["policy"]]
    assert [p.name for p in policies] == ["web-read-flags"]


def test_the_agent_path_follows_the_set_s_application_name_and_the_agent_settings_apply() -> None:
    services = prod_services(
        flagSet="search", flagAgent={"pollIntervalSeconds": 30, "image": "mirror.example.com/agent:2"}
    )
    ev = evaluate_program("prod", overrides={"featureFlags": FLAGS, "services": services})
    agent = containers(ev, "web-blue-task")["appconfig-agent"]
    assert env(agent)["PREFETCH_LIST"] == "/applications/shop-search/environments/prod/configurations/flags"
    assert env(agent)["PREFETCH_LIST"] == parse_feature_flags(ev.outputs, "search").agent_path
    assert env(agent)["POLL_INTERVAL"] == "30"
    assert agent["image"] == "mirror.example.com/agent:2"
    assert env(containers(ev, "web-blue-task")["web"])["APP_FLAG_SET"] == "search"


def test_the_policy_pack_finds_nothing_mandatory_on_the_sidecar(reading: Evaluation) -> None:
    from zero_downtime.policies.config import parse_pack_config
    from zero_downtime.policies.offline_check import check_resources
    from zero_downtime.policies.pack import all_policies

    settings = {p.name: p.settings for p in all_policies()}
    report = check_resources("prod", "zero-downtime", reading.resources, parse_pack_config({}, settings))
    on_tasks = [v for v in report.violations if v.resource_type == T.ECS_TASK_DEFINITION]
    assert on_tasks == [], on_tasks


@pytest.mark.parametrize(
    ("web", "flags", "message"),
    [
        ({"flagSet": "nope"}, FLAGS, "services.web.flagSet: no flag set 'nope' (featureFlags: checkout, search)"),
        ({"flagSet": "checkout"}, None, "services.web.flagSet: no flag set 'checkout' (featureFlags: none)"),
        ({"flagSet": ["checkout"]}, FLAGS, "services.web.flagSet: must be the name of a flag set"),
        ({"flagSet": ""}, FLAGS, "services.web.flagSet: must be the name of a flag set"),
        ({"flagAgent": {"pollIntervalSeconds": 30}}, FLAGS, "services.web.flagAgent: needs services.web.flagSet"),
        ({"flagSet": "checkout", "flagAgent": {"port": 1}}, FLAGS, "services.web.flagAgent.port: unknown key"),
        ({"flagSet": "checkout", "flagAgent": "2.x"}, FLAGS, "services.web.flagAgent: must be a mapping"),
        (
            {"flagSet": "checkout", "flagAgent": {"pollIntervalSeconds": 0}},
            FLAGS,
            "services.web.flagAgent.pollIntervalSeconds:",
        ),
        ({"flagSet": "checkout", "flagAgent": {"image": "a b"}}, FLAGS, "services.web.flagAgent.image:"),
        (
            {"flagSet": "checkout", "environment": {"APP_FLAGS_AGENT_URL": "http://localhost:1/x"}},
            FLAGS,
            "services.web.environment.APP_FLAGS_AGENT_URL: is set by the component",
        ),
    ],
)
def test_bad_references_are_refused_naming_the_key_before_anything_is_created(
    web: dict[str, Any], flags: dict[str, Any] | None, message: str
) -> None:
    mocks = RecordingMocks()
    overrides: dict[str, Any] = {"services": prod_services(**web)}
    if flags is not None:
        overrides["featureFlags"] = flags
    with pytest.raises(ConfigError) as caught:
        evaluate_program("prod", overrides=overrides, mocks=mocks)
    assert str(caught.value).startswith(message), str(caught.value)
    assert mocks.resources == []
