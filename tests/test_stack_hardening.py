"""Issue 13 through the real program and the real CLIs: every broken stack file is refused before
anything is created, with exit 2 and a message naming the key; the good neighbour still evaluates."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import PROJECT_ROOT, evaluate_program
from zero_downtime.offline.mocks import RecordingMocks
from zero_downtime.offline.preview import main as preview_main
from zero_downtime.policies.offline_check import main as check_main
from zero_downtime.stack_config.convert import ConfigError
from zero_downtime.stack_config.project import DECLARED, OBJECTS

NS = "zero-downtime"
SM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf"


def stack_file(stack: str) -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())


def project_copy(tmp: Path, stacks: dict[str, Any]) -> Path:
    """A copy of the project (program and project file) with the given stack files."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_ROOT / name, tmp / name)
    for stack, content in stacks.items():
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
        (tmp / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp


def preview(project: Path, stack: str = "t") -> tuple[int, str]:
    out = io.StringIO()
    code = preview_main([stack, "--project-dir", str(project)], console=Console(file=out, width=400))
    return code, out.getvalue()


def dev_with(**config: Any) -> dict[str, Any]:
    """Pulumi.dev.yaml with `config` keys replaced (None removes a key); keys without ':' are ours."""
    data = stack_file("dev")
    for key, value in config.items():
        full = key if ":" in key else f"{NS}:{key}"
        if value is None:
            data["config"].pop(full, None)
        else:
            data["config"][full] = value
    return data


def dev_services(**changes: Any) -> dict[str, Any]:
    services = stack_file("dev")["config"][f"{NS}:services"]
    services["web"].update(changes)
    return services


# --- the project namespace ---------------------------------------------------------------------------


def test_declared_keys_are_exactly_those_of_pulumi_yaml() -> None:
    declared = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]
    assert {k: v["type"] for k, v in declared.items()} == DECLARED, "stack_config/project.py DECLARED must follow"
    comments = (PROJECT_ROOT / "Pulumi.yaml").read_text()
    assert OBJECTS and all(f"#   {key}" in comments for key in OBJECTS), "every object key is documented in Pulumi.yaml"


def test_a_misspelt_section_is_refused_instead_of_emptying_the_stack() -> None:
    mocks = RecordingMocks()
    config = stack_file("dev")["config"]
    with pytest.raises(ConfigError, match=r"^servics: unknown key in the zero-downtime namespace"):
        evaluate_program("dev", overrides={"servics": config[f"{NS}:services"], "services": None}, mocks=mocks)
    assert mocks.resources == []


def test_an_empty_stack_is_refused_unless_it_says_so(tmp_path: Path) -> None:
    project = project_copy(tmp_path, {"t": dev_with(services=None), "ok": dev_with(services=None, allowEmpty=True)})
    code, out = preview(project)
    assert code == 2
    assert "services: the stack declares no service, fleet or Kubernetes service" in out
    assert "allowEmpty: true" in out
    code, out = preview(project, "ok")
    assert code == 0 and "0 resources" in out
    assert evaluate_program("dev", overrides={"services": {}, "allowEmpty": True}).resources == []


def test_an_empty_services_map_counts_as_empty() -> None:
    with pytest.raises(ConfigError, match=r"^services: the stack declares no service"):
        evaluate_program("dev", overrides={"services": {}})


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"testListenerPort": "abc"}, "testListenerPort: must be an integer"),
        ({"containerInsights": "maybe"}, "containerInsights: must be true or false"),
        ({"allowEmpty": "yes"}, "allowEmpty: must be true or false"),
        ({"testListenerCidrs": "10.0.0.0/8"}, "testListenerCidrs: must be a list of strings"),
        ({"productionCidrs": [1, 2]}, "productionCidrs: must be a list of strings"),
        ({"services": "web"}, "services: must be a mapping"),
        ({"tags": ["a"]}, "tags: must be a map"),
        ({"alarms": 5}, "alarms: must be a mapping"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_type_errors_end_in_exit_2_naming_the_key_never_a_traceback(
    tmp_path: Path, config: dict[str, Any], key: str
) -> None:
    project = project_copy(tmp_path, {"t": dev_with(**config)})
    code, out = preview(project)
    assert code == 2, out
    assert key in out and "Traceback" not in out


def test_config_given_as_a_list_is_a_stack_file_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = project_copy(tmp_path, {"t": "config:\n  - zero-downtime:services\n"})
    code, out = preview(project)
    assert code == 2 and "Pulumi.t.yaml: config: must be a mapping" in out
    assert check_main(["--project-dir", str(project), "t"]) == 2
    printed = capsys.readouterr().out
    assert "config: must be a mapping" in printed and "Traceback" not in printed


def test_the_policy_check_cli_reports_a_config_error_with_exit_2(tmp_path: Path, capsys: Any) -> None:
    project = project_copy(tmp_path, {"t": dev_with(testListenerPort="abc")})
    assert check_main(["--project-dir", str(project), "t", "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert "testListenerPort: must be an integer" in report["stacks"][0]["error"]


def test_a_secret_where_a_plain_value_is_expected_says_so(tmp_path: Path) -> None:
    services = dev_services(environment={"DB_PASSWORD": {"secure": "v1:abcdef"}})
    project = project_copy(tmp_path, {"t": dev_with(services=services)})
    code, out = preview(project)
    assert code == 2
    assert "services.web.environment.DB_PASSWORD: must not be a secret" in out
    assert "is required" not in out
    image = dev_services(blue={"image": {"secure": "v1:x"}, "desiredCount": 1, "weight": 100})
    project = project_copy(tmp_path, {"t": dev_with(services=image)})
    assert "services.web.blue.image: must not be a secret" in preview(project)[1]


def test_a_top_level_secret_is_refused_but_the_kubeconfig_may_be_one(tmp_path: Path) -> None:
    project = project_copy(tmp_path, {"t": dev_with(vpcId={"secure": "v1:abc"})})
    code, out = preview(project)
    assert code == 2 and "vpcId: must not be a secret" in out


# --- names: what `up` would refuse, refused up front ------------------------------------------------


def test_a_service_name_of_16_characters_is_refused_naming_it() -> None:
    services = stack_file("dev")["config"][f"{NS}:services"]
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=r"^services\.sixteen-chars-xx: .*at most 15 characters"):
        evaluate_program("dev", overrides={"services": {"sixteen-chars-xx": services["web"]}}, mocks=mocks)
    assert mocks.resources == []
    ev = evaluate_program("dev", overrides={"services": {"fifteen-chars-x": services["web"]}})
    names = [r.outputs["name"] for r in ev.of_type(T.TARGET_GROUP)]
    assert max(len(n) for n in names) == 32


def test_a_fleet_name_whose_target_group_would_be_too_long_is_refused() -> None:
    fleets = stack_file("staging")["config"][f"{NS}:fleets"]
    with pytest.raises(ConfigError, match=r"^fleets\.r{22}: .*at most 21 characters"):
        evaluate_program("staging", overrides={"fleets": {"r" * 22: fleets["reports"]}})


# --- values AWS refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"cpu": 256, "memory": 4096}, "services.web.memory"),
        ({"logRetentionDays": 45}, "services.web.logRetentionDays"),
        ({"tags": {"aws:owner": "me"}}, "services.web.tags.aws:owner"),
        ({"tags": {"team": "x" * 257}}, "services.web.tags.team"),
        ({"healthCheck": {"matcher": "200-600"}}, "services.web.healthCheck.matcher"),
        ({"blue": {"image": "web:1; curl evil", "desiredCount": 1, "weight": 100}}, "services.web.blue.image"),
        ({"image": "x" * 256}, "services.web.image"),
        ({"alarms": {"errorRatePercent": math.inf}}, "services.web.alarms.errorRatePercent"),
        ({"alarms": {"p99LatencySeconds": math.nan}}, "services.web.alarms.p99LatencySeconds"),
        ({"environment": {"WORKERS": 4}}, "services.web.environment.WORKERS"),
        ({"secrets": {"DB_PASSWORD": "hunter2"}}, "services.web.secrets.DB_PASSWORD"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else v,
)
def test_values_aws_refuses_are_refused_naming_the_key(changes: dict[str, Any], key: str) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError, match=f"^{re.escape(key)}: "):
        evaluate_program("dev", overrides={"services": dev_services(**changes)}, mocks=mocks)
    assert mocks.resources == []


@pytest.mark.parametrize(
    "config",
    [
        {"tags": {"aws:cost": "x"}},
        {"alarms": {"errorRatePercent": ".inf"}},
    ],
    ids=["stack-tag", "alarm-text"],
)
def test_stack_wide_values_name_their_key(config: dict[str, Any]) -> None:
    key = next(iter(config))
    with pytest.raises(ConfigError, match=rf"^{key}\."):
        evaluate_program("dev", overrides=config)


def test_secrets_by_arn_are_accepted_and_reach_the_task_definition() -> None:
    ev = evaluate_program("dev", overrides={"services": dev_services(secrets={"DB_PASSWORD": SM_ARN})})
    definitions = [json.loads(t.inputs["containerDefinitions"]) for t in ev.of_type(T.ECS_TASK_DEFINITION)]
    assert definitions and all(d[0]["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": SM_ARN}] for d in definitions)


# --- security --------------------------------------------------------------------------------------


def test_a_test_listener_split_over_the_world_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^testListenerCidrs: .*whole IPv4 internet"):
        evaluate_program("dev", overrides={"testListenerCidrs": ["0.0.0.0/1", "128.0.0.0/1"]})


def test_a_slash_star_rule_over_the_catch_all_service_is_refused() -> None:
    services = stack_file("prod")["config"][f"{NS}:services"]
    services["api"]["routing"]["pathPatterns"] = ["/*"]
    with pytest.raises(
        ConfigError, match=r"^services\.api\.routing\.pathPatterns: matches every request of services\.web"
    ):
        evaluate_program("prod", overrides={"services": services})


def test_a_fleet_rule_shadowed_by_a_service_prefix_is_refused() -> None:
    config = stack_file("staging")["config"]
    services, fleets = config[f"{NS}:services"], config[f"{NS}:fleets"]
    services["api"]["routing"]["pathPatterns"] = ["/*"]
    services["api"]["routing"]["priority"] = 150
    fleets["reports"]["routing"]["priority"] = 300
    with pytest.raises(ConfigError, match=r"^services\.api\.routing\.pathPatterns: matches every request of"):
        evaluate_program("staging", overrides={"services": services, "fleets": fleets})


def test_a_host_restricted_slash_star_leaves_the_catch_all_its_traffic() -> None:
    services = stack_file("prod")["config"][f"{NS}:services"]
    services["api"]["routing"] = {"priority": 100, "pathPatterns": ["/*"], "hostHeaders": ["api.example.com"]}
    assert evaluate_program("prod", overrides={"services": services}).of_type(T.LISTENER_RULE)


# --- messages print literally ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["/[a-z]+", "/[bold]x[/bold]", "/[/]"])
def test_rich_markup_in_a_message_prints_literally(tmp_path: Path, text: str) -> None:
    services = dev_services(routing={"priority": 10, "pathPatterns": [text]})
    project = project_copy(tmp_path, {"t": dev_with(services=services)})
    code, out = preview(project)
    assert code == 2 and repr(text) in out


def test_the_policy_check_prints_a_program_error_literally(tmp_path: Path, capsys: Any) -> None:
    services = dev_services(routing={"priority": 10, "pathPatterns": ["/[a-z]"]})
    project = project_copy(tmp_path, {"t": dev_with(services=services)})
    assert check_main(["--project-dir", str(project), "t"]) == 2
    assert "'/[a-z]'" in capsys.readouterr().out


def test_pack_config_with_min_above_max_is_refused_by_the_cli(tmp_path: Path, capsys: Any) -> None:
    config = tmp_path / "pack.json"
    config.write_text(json.dumps({"elb-target-group-deregistration-delay": {"minSeconds": 200, "maxSeconds": 100}}))
    assert check_main(["--config", str(config), "dev"]) == 2
    assert "elb-target-group-deregistration-delay.minSeconds: must be <= maxSeconds (100)" in capsys.readouterr().err


def test_errors_in_free_form_maps_name_the_key_as_the_user_wrote_it() -> None:
    with pytest.raises(ConfigError, match=r"^services\.web\.tags\.cost_center: "):
        evaluate_program("dev", overrides={"services": dev_services(tags={"cost_center": 5})})
    with pytest.raises(ConfigError, match=r"^services\.web\.secrets\.DB_PASSWORD: "):
        evaluate_program("dev", overrides={"services": dev_services(secrets={"DB_PASSWORD": "x"})})


# --- Kubernetes: Flagger's load and the serving pods' spread -----------------------------------------


def test_the_k8s_canary_loads_through_the_ingress_and_spreads_the_serving_pods() -> None:
    ev = evaluate_program("k8s")
    [canary] = ev.of_type(T.FLAGGER_CANARY)
    [load] = [h for h in canary.inputs["spec"]["analysis"]["webhooks"] if h["type"] == "rollout"]
    assert load["metadata"]["cmd"].endswith("-host shop.example.com http://ingress-nginx-controller.ingress-nginx/")
    spreads = {
        d.inputs["metadata"]["name"]: d.inputs["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
        for d in ev.of_type(T.K8S_DEPLOYMENT)
    }
    # web is managed by Flagger: its primary pods are labelled web-primary, so the spread counts the
    # instance label they keep; api is a plain Deployment and keeps its selector.
    assert spreads["web"]["labelSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "web-k8s"}
    assert spreads["api"]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/instance": "api-k8s",
    }
