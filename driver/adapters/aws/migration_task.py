"""`MigrationRunner` on ECS: each migration command runs as a one-off Fargate task of the new image.

The stack exports what it needs (`services.<name>.migrationTask`, `contract/outputs.py`): the
cluster, a task definition to copy (the service's: roles, size, awslogs), the container, and the
service's own subnets and security groups, so the task reaches the database as the service does.

1. `DescribeTaskDefinition` of that definition, then `RegisterTaskDefinition` of a copy whose
   container runs the new image (ECS cannot override an image at `RunTask`); the copy is cached by
   image, so one release registers one revision. It passes the definition's roles (`iam:PassRole`).
2. `RunTask` (FARGATE, awsvpc in the service's network) with the command as the container's
   command override and the release facts as ZDD_* environment overrides.
3. `DescribeTasks` until the task is STOPPED, bounded by `timeout_seconds`; past it the task is
   stopped (`StopTask`) and the result fails.
4. The container's exit code decides (0 passes). The result's `log_url` is the CloudWatch console
   URL of the task's log stream (`<prefix>/<container>/<task id>`).

Against moto (the tests): `RunTask` records a task that never runs; moto's `DescribeTasks` moves it
to STOPPED on its own after a few calls and reports exit code 0. What moto can show is checked
there: the registered copy, the network, the overrides, the wait and the log link; failing exit
codes and timeouts come from a stub. A task without an exit code never passes.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from ....contract.outputs import MigrationTaskOutputs
from ...core.errors import PortError
from ...core.ports import Clock, MigrationResult
from .clients import AWS_ERRORS, port_error

# Keys of a task definition that RegisterTaskDefinition accepts back (DescribeTaskDefinition adds others).
_REGISTER_KEYS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


def log_console_url(region: str, group: str, stream: str) -> str:
    """The CloudWatch console's page of one log stream (its fragment escapes '/' as `$252F`)."""

    def esc(text: str) -> str:
        return quote(quote(text, safe=""), safe="").replace("%", "$")

    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{esc(group)}/log-events/{esc(stream)}"
    )


class EcsMigrationRunner:
    """Runs migration commands as one-off ECS tasks and awaits them."""

    def __init__(
        self,
        ecs: Any,
        task: MigrationTaskOutputs,
        clock: Clock,
        *,
        timeout_seconds: float = 1800.0,
        poll_seconds: float = 5.0,
        region: str | None = None,
    ) -> None:
        self.ecs = ecs
        self.task = task
        self.clock = clock
        self.timeout = timeout_seconds
        self.poll = poll_seconds
        self.region = region or getattr(getattr(ecs, "meta", None), "region_name", None) or "us-east-1"
        self._definitions: dict[str, str] = {}

    def run(self, phase: str, command: str, image: str, env: Mapping[str, str]) -> MigrationResult:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return MigrationResult(phase, False, f"cannot split {command!r}: {exc}")
        definition = self._definition_for(image)
        override = {
            "name": self.task.container_name,
            "command": argv,
            "environment": [{"name": k, "value": v} for k, v in sorted({**env, "ZDD_IMAGE": image}.items())],
        }
        try:
            started = self.ecs.run_task(
                cluster=self.task.cluster_arn,
                taskDefinition=definition,
                launchType="FARGATE",
                count=1,
                startedBy=f"zdd-{phase}"[:36],
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": list(self.task.subnet_ids),
                        "securityGroups": list(self.task.security_group_ids),
                        "assignPublicIp": self.task.assign_public_ip,
                    }
                },
                overrides={"containerOverrides": [override]},
            )
        except AWS_ERRORS as exc:
            raise port_error(f"ecs run_task ({phase})", exc) from exc
        if started.get("failures") or not started.get("tasks"):
            failures = started.get("failures", [])
            reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in failures)
            raise PortError(f"ecs run_task ({phase}) started no task: {reasons or 'no reason given'}")
        arn = started["tasks"][0]["taskArn"]
        task_id = arn.rsplit("/", 1)[-1]
        log_url = log_console_url(
            self.region, self.task.log_group_name, f"{self.task.log_stream_prefix}/{self.task.container_name}/{task_id}"
        )
        stopped = self._await(arn, phase)
        if stopped is None:
            self._stop(arn, phase)
            detail = f"{phase}: task {task_id} still running after {self.timeout:g}s; stopped it"
            return MigrationResult(phase, False, detail, None, log_url=log_url, task=arn)
        container = next((c for c in stopped.get("containers", []) if c.get("name") == self.task.container_name), {})
        code = container.get("exitCode")
        why = stopped.get("stoppedReason") or container.get("reason") or ""
        if code is None:
            detail = f"{phase}: task {task_id} stopped without an exit code" + (f" ({why})" if why else "")
            return MigrationResult(phase, False, detail, None, log_url=log_url, task=arn)
        detail = f"{phase}: task {task_id} exit {code}" + (f" ({why})" if why and code else "") + f"; logs: {log_url}"
        return MigrationResult(phase, code == 0, detail, int(code), log_url=log_url, task=arn)

    def _definition_for(self, image: str) -> str:
        """A revision of the service's definition whose container runs `image` (registered once)."""
        if image in self._definitions:
            return self._definitions[image]
        try:
            described = self.ecs.describe_task_definition(taskDefinition=self.task.task_definition_arn)
        except AWS_ERRORS as exc:
            raise port_error(f"ecs describe_task_definition {self.task.task_definition_arn}", exc) from exc
        source = described["taskDefinition"]
        spec = {k: source[k] for k in _REGISTER_KEYS if source.get(k) not in (None, [], {})}
        containers = [dict(c) for c in spec.get("containerDefinitions", [])]
        if not any(c.get("name") == self.task.container_name for c in containers):
            raise PortError(
                f"task definition {self.task.task_definition_arn} has no container {self.task.container_name!r} "
                "(stack output migrationTask.containerName)"
            )
        for c in containers:
            if c.get("name") == self.task.container_name:
                c["image"] = image
                c.pop("portMappings", None)  # a one-off task serves nothing
        spec["containerDefinitions"] = containers
        try:
            registered = self.ecs.register_task_definition(**spec)
        except AWS_ERRORS as exc:
            raise port_error(f"ecs register_task_definition ({source.get('family')}, image {image})", exc) from exc
        arn = str(registered["taskDefinition"]["taskDefinitionArn"])
        self._definitions[image] = arn
        return arn

    def _await(self, arn: str, phase: str) -> dict[str, Any] | None:
        """The task once STOPPED, or None when `timeout_seconds` passed first."""
        deadline = self.clock.now() + self.timeout
        while True:
            try:
                found = self.ecs.describe_tasks(cluster=self.task.cluster_arn, tasks=[arn])
            except AWS_ERRORS as exc:
                raise port_error(f"ecs describe_tasks ({phase})", exc) from exc
            tasks = found.get("tasks") or []
            if not tasks:
                raise PortError(f"ecs describe_tasks ({phase}): task {arn} is gone")
            if tasks[0].get("lastStatus") == "STOPPED":
                return dict(tasks[0])
            if self.clock.now() >= deadline:
                return None
            self.clock.sleep(min(self.poll, max(0.0, deadline - self.clock.now())) or self.poll)

    def _stop(self, arn: str, phase: str) -> None:
        # The result already fails and names the task; a task that cannot be stopped changes nothing.
        with contextlib.suppress(*AWS_ERRORS):
            self.ecs.stop_task(cluster=self.task.cluster_arn, task=arn, reason=f"zdd: {phase} timed out")
