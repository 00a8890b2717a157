"""The IAM policies in docs/ cover every AWS call the release driver and the release store make.

The calls are read from the adapters' source (boto3 client methods), mapped to IAM actions, and
checked against the statements. A new call without a statement fails here before it fails in AWS.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

# client attribute / variable in the adapter source -> IAM service prefix
CLIENTS = {
    "elbv2": "elasticloadbalancing",
    "cw": "cloudwatch",
    "asg": "autoscaling",
    "sns": "sns",
    "lambda_client": "lambda",
    "appconfig": "appconfig",
    "ecs": "ecs",
}
# boto3 operations whose IAM action is not the operation's own name
ACTION_OF = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "s3:PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "s3:PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
}
CALL = re.compile(r"\b(?:self\.)?(elbv2|cw|asg|sns|lambda_client|appconfig|ecs|client)\.([a-z_0-9]+)\(")
PAGINATOR = re.compile(r'get_paginator\("([a-z_0-9]+)"\)')
INIT_ONLY = {"create_bucket", "head_bucket", "get_bucket_versioning", "put_bucket_versioning"}
INIT_ONLY |= {"get_bucket_encryption", "put_bucket_encryption", "get_public_access_block", "put_public_access_block"}
# actions AWS checks against the caller on top of the call's own: a refresh (or its rollback) to a
# desired configuration that names a launch template launches instances as the caller
IMPLIED = {
    "autoscaling:StartInstanceRefresh": {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"},
    "autoscaling:RollbackInstanceRefresh": {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole"},
    # a migration task's definition names the service's roles, which the caller passes to ECS
    "ecs:RegisterTaskDefinition": {"iam:PassRole"},
    "ecs:RunTask": {"iam:PassRole"},
}


def _camel(op: str) -> str:
    return "".join(part.title() if not part[0].isdigit() else part for part in op.split("_"))


def _action(service: str, op: str) -> str:
    name = f"{service}:{_camel(op)}"
    return ACTION_OF.get(name, name)


def _calls() -> tuple[set[str], set[str]]:
    """(actions of the driver, actions of `zdd-release init`)."""
    driver: set[str] = set()
    init: set[str] = set()
    for path in sorted((REPO_ROOT / "driver" / "adapters").rglob("*.py")):
        for var, op in CALL.findall(path.read_text()):
            if var in CLIENTS:
                driver.add(_action(CLIENTS[var], op))
    s3 = (REPO_ROOT / "store" / "s3.py").read_text()
    for var, op in CALL.findall(s3):
        if var == "client" and op not in ("get_paginator",):
            (init if op in INIT_ONLY else driver).add(_action("s3", op))
    driver |= {_action("s3", op) for op in PAGINATOR.findall(s3)}
    compose = (REPO_ROOT / "driver" / "compose.py").read_text()
    driver |= {_action("ssm", op) for op in re.findall(r'_client\("ssm"\)\.([a-z_]+)\(', compose)}
    for action in list(driver):
        driver |= IMPLIED.get(action, set())
    return driver, init


def _allowed(path: Path) -> set[str]:
    doc = json.loads(path.read_text())
    actions: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    return actions


def test_the_source_scan_finds_the_calls_it_must() -> None:
    driver, init = _calls()
    assert {"elasticloadbalancing:ModifyRule", "s3:PutObject", "s3:ListBucket", "ssm:GetParameter"} <= driver
    assert {"ec2:RunInstances", "ec2:CreateTags", "iam:PassRole", "lambda:InvokeFunction"} <= driver
    assert {"appconfig:CreateHostedConfigurationVersion", "appconfig:StartDeployment"} <= driver
    assert {"s3:CreateBucket", "s3:PutBucketVersioning", "s3:PutBucketPublicAccessBlock"} <= init


@pytest.mark.parametrize(
    ("policy", "which"), [("driver-iam-policy.json", 0), ("release-store-init-iam-policy.json", 1)]
)
def test_every_call_has_a_statement(policy: str, which: int) -> None:
    needed = _calls()[which]
    missing = needed - _allowed(REPO_ROOT / "docs" / policy)
    assert not missing, f"add to docs/{policy}: {sorted(missing)}"


def test_release_store_access_is_scoped_to_its_prefix() -> None:
    doc = json.loads((REPO_ROOT / "docs" / "driver-iam-policy.json").read_text())
    s3 = [
        s
        for s in doc["Statement"]
        if any(str(a).startswith("s3:") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    ]
    assert s3 and all(s["Resource"] != "*" for s in s3)
    objects = next(s for s in s3 if "s3:PutObject" in s["Action"])
    assert objects["Resource"].endswith("/dev/*")
    listing = next(s for s in s3 if s["Action"] == "s3:ListBucket")
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["dev/*"]


def _statement(action: str) -> dict:
    doc = json.loads((REPO_ROOT / "docs" / "driver-iam-policy.json").read_text())
    return next(s for s in doc["Statement"] if s["Action"] == action)


def test_instances_launch_only_from_launch_templates_and_the_role_goes_only_to_ec2() -> None:
    run = _statement("ec2:RunInstances")
    assert run["Condition"]["ArnLike"]["ec2:LaunchTemplate"].endswith(":launch-template/*")
    tags = _statement("ec2:CreateTags")
    assert tags["Condition"]["StringEquals"]["ec2:CreateAction"] == "RunInstances"
    pass_role = _statement("iam:PassRole")
    assert pass_role["Resource"] != "*"
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == "ec2.amazonaws.com"


def test_the_driver_may_invoke_only_our_functions() -> None:
    invoke = _statement("lambda:InvokeFunction")
    assert invoke["Resource"].startswith("arn:aws:lambda:") and ":function:" in invoke["Resource"]
    assert invoke["Condition"]["StringEquals"]["aws:ResourceTag/managed-by"] == "pulumi-zero-downtime"


def test_flag_releases_write_and_deploy_only_our_flag_sets() -> None:
    doc = json.loads((REPO_ROOT / "docs" / "driver-iam-policy.json").read_text())
    appconfig = [s for s in doc["Statement"] if any(str(a).startswith("appconfig:") for a in _listed(s["Action"]))]
    assert appconfig and all(s["Resource"] != "*" for s in appconfig)
    for action in ("appconfig:CreateHostedConfigurationVersion", "appconfig:StartDeployment"):
        statement = _statement(action)
        assert statement["Condition"]["StringEquals"]["aws:ResourceTag/managed-by"] == "pulumi-zero-downtime"
    assert _statement("appconfig:StopDeployment")["Resource"].endswith(":application/*/environment/*/deployment/*")


def _listed(action: str | list[str]) -> list[str]:
    return [action] if isinstance(action, str) else action


def test_migration_tasks_pass_roles_to_ecs_tasks_only_and_run_only_task_definitions() -> None:
    doc = json.loads((REPO_ROOT / "docs" / "driver-iam-policy.json").read_text())
    passes = [s for s in doc["Statement"] if s["Action"] == "iam:PassRole"]
    to_ecs = [s for s in passes if s["Condition"]["StringEquals"]["iam:PassedToService"] == "ecs-tasks.amazonaws.com"]
    assert to_ecs and all(s["Resource"] != "*" for s in passes)
    run = _statement("ecs:RunTask")
    assert run["Resource"].endswith(":task-definition/*") and "ecs:cluster" in run["Condition"]["ArnLike"]
    follow = next(s for s in doc["Statement"] if "ecs:DescribeTasks" in _listed(s["Action"]))
    assert follow["Resource"].endswith(":task/*")
    assert set(_listed(follow["Action"])) == {"ecs:DescribeTasks", "ecs:StopTask"}
