"""EC2 Auto Scaling instance refresh: start, follow, cancel, roll back (boto3 autoscaling)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from driver.aws.clients import AWS_ERRORS, port_error
from driver.ports import PortError

IN_PROGRESS = frozenset({"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"})
SUCCESSFUL = "Successful"


class RefreshNotReversible(PortError):
    """AWS refused to roll the refresh back (no desired configuration, `$Latest`, ...)."""


@dataclass(frozen=True)
class RefreshStatus:
    refresh_id: str
    status: str
    percent_complete: int
    reason: str

    @property
    def active(self) -> bool:
        return self.status in IN_PROGRESS


def _status(item: dict[str, Any]) -> RefreshStatus:
    return RefreshStatus(
        refresh_id=item["InstanceRefreshId"],
        status=item["Status"],
        percent_complete=int(item.get("PercentageComplete") or 0),
        reason=str(item.get("StatusReason") or ""),
    )


class InstanceRefresher:
    def __init__(self, autoscaling: Any, group_name: str) -> None:
        self.asg = autoscaling
        self.group = group_name

    def start(self, preferences: dict[str, Any]) -> str:
        try:
            resp = self.asg.start_instance_refresh(
                AutoScalingGroupName=self.group, Strategy="Rolling", Preferences=preferences
            )
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
            if exc.response.get("Error", {}).get("Code") == "ActiveInstanceRefreshNotFound":
                return  # nothing running: cancelling is idempotent
            raise port_error(f"cancel_instance_refresh {self.group}", exc) from exc
        except AWS_ERRORS as exc:
            raise port_error(f"cancel_instance_refresh {self.group}", exc) from exc

    def rollback(self) -> None:
        try:
            self.asg.rollback_instance_refresh(AutoScalingGroupName=self.group)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "IrreversibleInstanceRefresh":
                msg = exc.response.get("Error", {}).get("Message", "")
                raise RefreshNotReversible(f"rollback_instance_refresh {self.group}: {msg}") from exc
            if code == "ActiveInstanceRefreshNotFound":
                raise RefreshNotReversible(
                    f"rollback_instance_refresh {self.group}: no active refresh to roll back"
                ) from exc
            raise port_error(f"rollback_instance_refresh {self.group}", exc) from exc
        except AWS_ERRORS as exc:
            raise port_error(f"rollback_instance_refresh {self.group}", exc) from exc
