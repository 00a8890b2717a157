"""EC2 Auto Scaling instance refresh: start, follow, cancel, roll back (boto3 autoscaling).

The driver starts refreshes with a `DesiredConfiguration` (an explicit launch template version)
while the group still holds the released version: only then does AWS's rollback return to the
released version (with the provider's refresh it would return to the new one, #34189).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ...core.errors import NoActiveRefresh, PortError, RefreshNotReversible
from ...core.ports import DesiredTemplate, RefreshStatus
from .clients import AWS_ERRORS, port_error


def desired_configuration(template: DesiredTemplate) -> dict[str, Any]:
    """boto3's DesiredConfiguration for `template`."""
    return {"LaunchTemplate": {"LaunchTemplateId": template.launch_template_id, "Version": template.version}}


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def _status(item: dict[str, Any]) -> RefreshStatus:
    template = (item.get("DesiredConfiguration") or {}).get("LaunchTemplate") or {}
    version = template.get("Version")
    return RefreshStatus(
        refresh_id=item["InstanceRefreshId"],
        status=item["Status"],
        percent_complete=int(item.get("PercentageComplete") or 0),
        reason=str(item.get("StatusReason") or ""),
        desired_version=None if version is None else str(version),
        start_time=_epoch(item.get("StartTime")),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class InstanceRefresher:
    def __init__(self, autoscaling: Any, group_name: str) -> None:
        self.asg = autoscaling
        self.group = group_name

    def start(self, preferences: Mapping[str, Any], desired: DesiredTemplate | None = None) -> str:
        kwargs: dict[str, Any] = {
            "AutoScalingGroupName": self.group,
            "Strategy": "Rolling",
            "Preferences": dict(preferences),
        }
        if desired is not None:
            kwargs["DesiredConfiguration"] = desired_configuration(desired)
        try:
            resp = self.asg.start_instance_refresh(**kwargs)
        except AWS_ERRORS as exc:
            raise port_error(f"start_instance_refresh {self.group}", exc) from exc
        return str(resp["InstanceRefreshId"])

    def latest(self) -> RefreshStatus | None:
        try:
            resp = self.asg.describe_instance_refreshes(AutoScalingGroupName=self.group, MaxRecords=1)
        except AWS_ERRORS as exc:
            raise port_error(f"describe_instance_refreshes {self.group}", exc) from exc
        items = resp.get("InstanceRefreshes") or []
        return _status(items[0]) if items else None

    def get(self, refresh_id: str) -> RefreshStatus:
        try:
            resp = self.asg.describe_instance_refreshes(
                AutoScalingGroupName=self.group, InstanceRefreshIds=[refresh_id]
            )
        except AWS_ERRORS as exc:
            raise port_error(f"describe_instance_refreshes {self.group}", exc) from exc
        items = resp.get("InstanceRefreshes") or []
        if not items:
            raise PortError(f"instance refresh {refresh_id} of {self.group} not found")
        return _status(items[0])

    def cancel(self) -> None:
        try:
            self.asg.cancel_instance_refresh(AutoScalingGroupName=self.group)
        except ClientError as exc:
            if _code(exc) == "ActiveInstanceRefreshNotFound":
                return  # nothing running: cancelling is idempotent
            raise port_error(f"cancel_instance_refresh {self.group}", exc) from exc
        except AWS_ERRORS as exc:
            raise port_error(f"cancel_instance_refresh {self.group}", exc) from exc

    def rollback(self) -> None:
        try:
            self.asg.rollback_instance_refresh(AutoScalingGroupName=self.group)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", "")
            if _code(exc) == "IrreversibleInstanceRefresh":
                raise RefreshNotReversible(f"rollback_instance_refresh {self.group}: {message}") from exc
            if _code(exc) == "ActiveInstanceRefreshNotFound":
                raise NoActiveRefresh(f"rollback_instance_refresh {self.group}: no active refresh") from exc
            raise port_error(f"rollback_instance_refresh {self.group}", exc) from exc
        except AWS_ERRORS as exc:
            raise port_error(f"rollback_instance_refresh {self.group}", exc) from exc
