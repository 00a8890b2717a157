"""The ECS migration runner against moto in server mode (the emulator, on 127.0.0.1).

moto's RunTask records a task that never runs; its DescribeTasks moves the task to STOPPED on its
own after a few calls and reports exit code 0. So these tests check what moto can show: the copy of
the service's task definition with the new image, the task in the service's network with the
command and ZDD_* overrides, the wait until STOPPED and the log link. A failing exit code, a task
without one and a task that outlives the timeout come from a stub of DescribeTasks (`ExitCode`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from zero_downtime.contract.outputs import MigrationTaskOutputs, build_migration_task
from zero_downtime.driver.adapters.aws.clients import retry_config
from zero_downtime.driver.adapters.aws.migration_task import EcsMigrationRunner, log_console_url
from zero_downtime.driver.core.errors import PortError

from tests.driver.clock import FakeClock

REGION = "us-east-1"


@pytest.fixture
def ecs(aws: dict[str, Any]) -> Any:
    return boto3.client("ecs", region_name=REGION, endpoint_url=aws["url"], config=retry_config(max_attempts=2))


@pytest.fixture
def task(ecs: Any, aws: dict[str, Any]) -> MigrationTaskOutputs:
    cluster = ecs.create_cluster(clusterName="main")["cluster"]["clusterArn"]
    definition = ecs.register_task_definition(
        family="dev-web-blue",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        executionRoleArn="arn:aws:iam::123456789012:role/web-execution",
        taskRoleArn="arn:aws:iam::123456789012:role/web-task",
        containerDefinitions=[
            {
                "name": "web",
                "image": "repo/web:1",
                "essential": True,
                "memory": 512,  # moto's RunTask sums container memory (Fargate itself does not need it)
                "portMappings": [{"containerPort": 8080}],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {"awslogs-group": "/ecs/dev-web", "awslogs-stream-prefix": "blue"},
                },
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    vpc = aws["ec2"].create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    # moto's RunTask needs DNS host names in the VPC (it names the task's ENI).
    aws["ec2"].modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = aws["ec2"].create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    group = aws["ec2"].create_security_group(GroupName="web-tasks", Description="t", VpcId=vpc)["GroupId"]
    exported = build_migration_task(
        cluster_arn=cluster,
        task_definition_arn=definition,
        container_name="web",
        subnet_ids=[subnet],
        security_group_ids=[group],
        assign_public_ip="DISABLED",
        log_group_name="/ecs/dev-web",
        log_stream_prefix="blue",
    )
    from zero_downtime.contract.outputs import _parse_record

    return _parse_record(MigrationTaskOutputs, exported, "services.web.migrationTask")


def test_a_migration_runs_as_a_one_off_task_of_the_new_image(ecs: Any, task: MigrationTaskOutputs) -> None:
    runner = EcsMigrationRunner(ecs, task, FakeClock(), poll_seconds=1.0, region=REGION)
    result = runner.run("expand", "alembic upgrade 0002", "repo/web:2", {"ZDD_PHASE": "expand"})
    # The task ran with a copy of the service's definition whose container has the new image.
    described = ecs.describe_tasks(cluster=task.cluster_arn, tasks=[result.task])["tasks"][0]
    definition = ecs.describe_task_definition(taskDefinition=described["taskDefinitionArn"])["taskDefinition"]
    (container,) = definition["containerDefinitions"]
    assert container["image"] == "repo/web:2" and definition["family"] == "dev-web-blue"
    assert definition["revision"] == 2 and definition["executionRoleArn"].endswith("role/web-execution")
    override = described["overrides"]["containerOverrides"][0]
    assert override["name"] == "web" and override["command"] == ["alembic", "upgrade", "0002"]
    env = {e["name"]: e["value"] for e in override["environment"]}
    assert env == {"ZDD_PHASE": "expand", "ZDD_IMAGE": "repo/web:2"}
    assert described["lastStatus"] == "STOPPED"
    # moto stops its (never run) task by itself after a few DescribeTasks, reporting exit code 0.
    assert result.passed is True and result.exit_code == 0 and "exit 0" in result.detail
    task_id = result.task.rsplit("/", 1)[-1]
    assert unquote(unquote(result.log_url.split("log-events/")[1].replace("$", "%"))) == f"blue/web/{task_id}"
    # The same image again: no second registration.
    runner.run("contract", "alembic upgrade 0003", "repo/web:2", {})
    revisions = ecs.list_task_definitions(familyPrefix="dev-web-blue")["taskDefinitionArns"]
    assert len(revisions) == 2


class ExitCode:
    """moto's ECS around a DescribeTasks that reports the exit code (and status) we choose."""

    def __init__(self, ecs: Any, code: int | None, status: str = "STOPPED") -> None:
        self.ecs, self.code, self.status = ecs, code, status
        self.stopped: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ecs, name)

    def describe_tasks(self, **kw: Any) -> dict[str, Any]:
        found = self.ecs.describe_tasks(**kw)
        for t in found["tasks"]:
            t["lastStatus"] = self.status
            for c in t.get("containers", []) or [{"name": "web"}]:
                c["exitCode"] = self.code
            t["containers"] = t.get("containers") or [{"name": "web", "exitCode": self.code}]
        return found

    def stop_task(self, **kw: Any) -> dict[str, Any]:
        self.stopped.append(kw["task"])
        return self.ecs.stop_task(**kw)


@pytest.mark.parametrize(("code", "passed"), [(0, True), (1, False), (None, False)])
def test_the_exit_code_decides(ecs: Any, task: MigrationTaskOutputs, code: int, passed: bool) -> None:
    runner = EcsMigrationRunner(ExitCode(ecs, code), task, FakeClock(), region=REGION)
    result = runner.run("contract", "alembic upgrade 0003", "repo/web:3", {})
    assert result.passed is passed and result.exit_code == code
    if code is None:
        assert "stopped without an exit code" in result.detail and result.log_url
    else:
        assert f"exit {code}" in result.detail and "logs: https://us-east-1.console.aws.amazon.com/" in result.detail


def test_a_task_that_outlives_the_timeout_is_stopped_and_fails(ecs: Any, task: MigrationTaskOutputs) -> None:
    clock = FakeClock()
    stub = ExitCode(ecs, None, status="RUNNING")
    runner = EcsMigrationRunner(stub, task, clock, timeout_seconds=60, poll_seconds=10, region=REGION)
    result = runner.run("expand", "sleep 999", "repo/web:2", {})
    assert not result.passed and "still running after 60s" in result.detail
    assert stub.stopped == [result.task] and sum(clock.slept) == pytest.approx(60)


def test_a_task_definition_without_the_container_is_refused(ecs: Any, task: MigrationTaskOutputs) -> None:
    import dataclasses

    wrong = dataclasses.replace(task, container_name="api")
    with pytest.raises(PortError, match="has no container 'api'"):
        EcsMigrationRunner(ecs, wrong, FakeClock(), region=REGION).run("expand", "x", "repo/web:2", {})


def test_an_api_error_is_a_port_error(ecs: Any, task: MigrationTaskOutputs) -> None:
    import dataclasses

    gone = dataclasses.replace(task, task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/nope:1")
    with pytest.raises(PortError, match="ecs describe_task_definition"):
        EcsMigrationRunner(ecs, gone, FakeClock(), region=REGION).run("expand", "x", "repo/web:2", {})


def test_log_console_url_escapes_like_the_console() -> None:
    url = log_console_url("eu-west-1", "/ecs/dev-web", "blue/web/abc")
    assert url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#logsV2:log-groups/log-group/$252Fecs$252Fdev-web/log-events/blue$252Fweb$252Fabc"
    )
