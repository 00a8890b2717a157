"""PreTrafficProbe: the Lambda that runs pre-traffic checks inside the VPC, and nothing more."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pulumi
import pytest
from zero_downtime.components.probe import HANDLER, VPC_ACCESS_POLICY, probe_code_path, resolve_probe
from zero_downtime.components.validation import ArgError
from zero_downtime.contract import probe as probe_module
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordingMocks

ARGS = {"vpc_id": "vpc-1", "subnet_ids": ["subnet-p1", "subnet-p2"], "test_listener_port": 9443}


def probe(**overrides: Any) -> Evaluation:
    from zero_downtime.components.probe import PreTrafficProbe

    return run_under_mocks(lambda: PreTrafficProbe("probe", {**ARGS, **overrides}), stack="unit")


def test_the_function_runs_the_driver_s_own_probe_module_in_the_private_subnets() -> None:
    ev = probe()
    [fn] = ev.of_type(T.LAMBDA_FUNCTION)
    [sg] = ev.of_type(T.SECURITY_GROUP)
    assert fn.inputs["handler"] == HANDLER
    assert fn.inputs["runtime"].startswith("python3.")
    assert fn.inputs["vpcConfig"]["subnetIds"] == ["subnet-p1", "subnet-p2"]
    assert fn.inputs["vpcConfig"]["securityGroupIds"] == [sg.id]
    module, _, function = HANDLER.partition(".")
    assert hasattr(probe_module, function)
    assert module == "probe"


def test_the_packaged_file_is_importable_alone_as_the_handler_module(tmp_path: Any) -> None:
    # Lambda has only this file: it must not import anything of this project.
    archive = tmp_path / "probe.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(probe_code_path(), "probe.py")
    import subprocess
    import sys

    # An empty directory, only the archive on the path: what the Lambda runtime has.
    result = subprocess.run(
        [sys.executable, "-c", "import json, probe; print(json.dumps(probe.handler({'format': 1})))"],
        env={"PYTHONPATH": str(archive), "PYTHONNOUSERSITE": "1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["detail"].startswith("bad probe event: url:")


def test_it_may_only_connect_to_the_test_listener_port() -> None:
    [sg] = probe(test_listener_port=8443).of_type(T.SECURITY_GROUP)
    assert sg.inputs.get("ingress", []) == []
    [egress] = sg.inputs["egress"]
    assert (egress["protocol"], egress["fromPort"], egress["toPort"]) == ("tcp", 8443, 8443)


def test_its_role_manages_network_interfaces_and_logs_only() -> None:
    ev = probe()
    [role] = ev.of_type(T.IAM_ROLE)
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert [a.inputs["policyArn"] for a in ev.of_type(T.IAM_ROLE_POLICY_ATTACHMENT)] == [VPC_ACCESS_POLICY]
    assert ev.of_type(T.IAM_ROLE_POLICY) == []


def test_logs_go_to_its_own_group_with_retention() -> None:
    ev = probe(log_retention_days=14)
    [group] = ev.of_type(T.LOG_GROUP)
    [fn] = ev.of_type(T.LAMBDA_FUNCTION)
    assert group.inputs["retentionInDays"] == 14
    assert fn.inputs["loggingConfig"]["logGroup"] == group.outputs["name"]


def test_everything_is_tagged_as_ours() -> None:
    ev = probe(tags={"team": "platform"})
    for r in ev.of_type(T.LAMBDA_FUNCTION) + ev.of_type(T.SECURITY_GROUP) + ev.of_type(T.IAM_ROLE):
        assert r.inputs["tags"]["managed-by"] == "pulumi-zero-downtime"
        assert r.inputs["tags"]["team"] == "platform"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"test_listener_port": 0}, "test_listener_port"),
        ({"test_listener_port": "9443"}, "test_listener_port"),
        ({"test_listener_port": None}, "test_listener_port"),
        ({"timeout_seconds": 901}, "timeout_seconds"),
        ({"timeout_seconds": 5}, "timeout_seconds"),
        ({"log_retention_days": 0}, "log_retention_days"),
        ({"log_retention_days": 31}, "log_retention_days"),
        ({"tags": {"aws:owner": "x"}}, "tags.aws:owner"),
        ({"vpc_id": ""}, "vpc_id"),
        ({"subnet_ids": None}, "subnet_ids"),
        ({"tags": ["a"]}, "tags"),
    ],
)
def test_bad_args_are_refused_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ArgError) as caught:
        resolve_probe({**ARGS, **overrides})  # type: ignore[typeddict-item]
    assert caught.value.key == key


def test_unknown_outputs_are_not_validated_early() -> None:
    settings = resolve_probe({**ARGS, "test_listener_port": pulumi.Output.from_input(9443)})  # type: ignore[typeddict-item]
    assert settings.timeout_seconds == 90


def test_a_name_too_long_for_the_function_is_refused_before_anything_is_created() -> None:
    from zero_downtime.components.probe import PreTrafficProbe

    mocks = RecordingMocks()
    name = "p" * 52  # `<name>-role` plus the 8-character auto-name suffix is 64 + 1
    with pytest.raises(ArgError, match=r"IAM role .* AWS allows 64 characters.* at most 51 characters"):
        run_under_mocks(lambda: PreTrafficProbe(name, ARGS), mocks=mocks)  # type: ignore[arg-type]
    assert mocks.resources == []
    run_under_mocks(lambda: PreTrafficProbe(name[:-1], ARGS), stack="unit")  # type: ignore[arg-type]
