"""A fleet's program and AWS side, as far as the fleet release can tell them apart.

moto implements no instance refresh, so `FakeAutoScaling` speaks the four refresh calls in boto3's
request/response shapes (driven through the real `InstanceRefresher`). `FleetStack` is the fake
Pulumi stack whose `up` applies what the program would: the fleet's release state from the release
store when there is one, else git's config (`amiId`, `releasedVersion`); a changed AMI creates a new
launch template version; the group is pinned to the released version, else to the latest version;
and, like pulumi-aws, a change of the group's version in an update moves the group first and
starts a refresh second (terraform-provider-aws #34189).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from zero_downtime.contract import build_fleet
from zero_downtime.contract.release_state import FleetState, StoreKeys, decode_fleet_state
from zero_downtime.driver.core.fleet import FleetSpec
from zero_downtime.store import Blobs

from tests.driver.clock import FakeClock
from tests.driver.fake_stack import FakeStack

GROUP = "zero-downtime-dev-batch-asg"
TEMPLATE_ID = "lt-0abc123"
OLD_AMI = "ami-0old0000"
NEW_AMI = "ami-0new1111"
RELEASED = 3  # version the group is on before a release
PREFS = {
    "MinHealthyPercentage": 90,
    "MaxHealthyPercentage": 120,
    "SkipMatching": True,
    "AutoRollback": True,
    "AlarmSpecification": {"Alarms": ["batch-5xx"]},
}
_ACTIVE = {"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"}


def fleet_outputs(**overrides: Any) -> dict[str, Any]:
    """The stack output `fleets.batch` as the component exports it (built through the contract)."""
    values: dict[str, Any] = {
        "config_path": "fleets.batch",
        "auto_scaling_group_name": GROUP,
        "auto_scaling_group_arn": f"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x:{GROUP}",
        "launch_template_id": TEMPLATE_ID,
        "launch_template_version": str(RELEASED),
        "launch_template_latest_version": str(RELEASED),
        "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/batch/1",
        "target_group_arn_suffix": "targetgroup/batch/1",
        "load_balancer_arn_suffix": None,
        "listener_rule_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/x/1/2/3",
        "desired_capacity": 2,
        "min_size": 2,
        "max_size": 3,
        "alarm_names": ["batch-5xx"],
        "composite_alarm_name": "batch-health",
        "refresh_preferences": PREFS,
        "refresh_notes": [],
        "ami_id": OLD_AMI,
        "ami_ssm_parameter": None,
    }
    return build_fleet(**{**values, **overrides})


def fleet_spec(**changes: Any) -> FleetSpec:
    """A valid release of the `batch` fleet to NEW_AMI, with `changes` on top."""
    good: dict[str, Any] = {
        "stack": "dev",
        "fleet": "batch",
        "ami_id": NEW_AMI,
        "config_path": "fleets.batch",
        "group_name": GROUP,
        "launch_template_id": TEMPLATE_ID,
        "released_version": RELEASED,
    }
    return FleetSpec(**{**good, **changes})


def error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "op")


class FakeAutoScaling:
    """Each describe advances an active refresh by 25%. A successful refresh with a desired
    configuration moves the group to that version; a rollback returns the group to the version
    it had when the refresh started (for a provider-started refresh: already the new one)."""

    def __init__(self, clock: FakeClock, group_version: int = RELEASED) -> None:
        self.clock = clock
        self.group_version = group_version
        self.refreshes: list[dict[str, Any]] = []  # newest first, like AWS
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reversible = True
        self.fail_at: int | None = None
        """AWS fails the refresh at this percent (as with autoRollback off)."""
        self.aws_rollback_at: int | None = None
        """AWS's own auto rollback (alarm specification) starts at this percent."""
        self.rollback_polls = 2
        """Describes a rollback takes to finish."""

    def _running(self) -> dict[str, Any] | None:
        return next((r for r in self.refreshes if r["Status"] in {"Pending", "InProgress"}), None)

    def start_instance_refresh(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("start", kw))
        if any(r["Status"] in _ACTIVE for r in self.refreshes):
            raise error("InstanceRefreshInProgress", "an instance refresh is already running")
        item: dict[str, Any] = {
            "InstanceRefreshId": f"ir-{len(self.refreshes) + 1}",
            "Status": "Pending",
            "PercentageComplete": 0,
            "StartTime": datetime.fromtimestamp(self.clock.now(), UTC),
            "_from": self.group_version,
        }
        if "DesiredConfiguration" in kw:
            item["DesiredConfiguration"] = kw["DesiredConfiguration"]
        self.refreshes.insert(0, item)
        return {"InstanceRefreshId": item["InstanceRefreshId"]}

    def _advance(self, r: dict[str, Any]) -> None:
        if r["Status"] in {"Pending", "InProgress"}:
            r["Status"] = "InProgress"
            r["PercentageComplete"] = min(100, r["PercentageComplete"] + 25)
            pct = r["PercentageComplete"]
            if self.fail_at is not None and pct >= self.fail_at:
                r["Status"], r["StatusReason"] = "Failed", "instances failed health checks"
            elif self.aws_rollback_at is not None and pct >= self.aws_rollback_at:
                r["Status"], r["StatusReason"] = "RollbackInProgress", "alarm batch-5xx in ALARM"
            elif pct == 100:
                r["Status"] = "Successful"
                desired = (r.get("DesiredConfiguration") or {}).get("LaunchTemplate")
                if desired:
                    self.group_version = int(desired["Version"])
        elif r["Status"] == "RollbackInProgress":
            r["_rollback_polls"] = r.get("_rollback_polls", 0) + 1
            if r["_rollback_polls"] >= self.rollback_polls:  # replacing instances back takes a while
                r["Status"] = "RollbackSuccessful"
                self.group_version = r["_from"]

    def describe_instance_refreshes(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe", kw))
        for r in self.refreshes:
            self._advance(r)
        ids = kw.get("InstanceRefreshIds")
        items = [r for r in self.refreshes if not ids or r["InstanceRefreshId"] in ids]
        visible = [{k: v for k, v in r.items() if not k.startswith("_")} for r in items]
        return {"InstanceRefreshes": visible[: kw.get("MaxRecords", 50)]}

    def cancel_instance_refresh(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("cancel", kw))
        running = self._running()
        if not running:
            raise error("ActiveInstanceRefreshNotFound", "no active refresh")
        running["Status"] = "Cancelled"
        return {"InstanceRefreshId": running["InstanceRefreshId"]}

    def rollback_instance_refresh(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("rollback", kw))
        running = self._running()
        if not running:
            raise error("ActiveInstanceRefreshNotFound", "no active refresh")
        if not self.reversible:
            raise error("IrreversibleInstanceRefresh", "the launch template uses $Latest")
        running["Status"] = "RollbackInProgress"
        return {"InstanceRefreshId": running["InstanceRefreshId"]}

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls if op != "describe"]

    def starts(self) -> list[dict[str, Any]]:
        return [kw for op, kw in self.calls if op == "start"]


class FleetStack(FakeStack):
    """The fake Pulumi stack of one fleet `batch`, its program applied on `up`."""

    def __init__(self, asg: FakeAutoScaling, blobs: Blobs, *, pinned_in_config: bool = False) -> None:
        super().__init__(on_up=self._apply)
        self.asg = asg
        self.blobs = blobs
        self.keys = StoreKeys("zero-downtime", "dev")
        self.config["releaseStore"] = blobs.url
        self.seen: list[FleetState | None] = []
        """The release state each `up` applied, in order."""
        self.ssm_parameter: str | None = None
        """The fleet's `amiSsmParameter` in the outputs, when it is configured with one."""
        self.ignores_the_pin = False
        """A program that drops the released version (to show the release notices)."""
        # Version -> AMI of the launch template; the group's version is the newest one.
        self.template_amis = {1: "ami-0aaa0001", 2: "ami-0aaa0002", RELEASED: OLD_AMI}
        self.state_group_version = asg.group_version  # the group's version in Pulumi's state
        self.provider_refreshes = 0
        self.config["fleets.batch.amiId"] = OLD_AMI
        if pinned_in_config:
            self.config["fleets.batch.releasedVersion"] = str(RELEASED)
        self._publish()

    @property
    def latest(self) -> int:
        return max(self.template_amis)

    def released(self) -> FleetState | None:
        """The fleet's release state in the store, as the program reads it."""
        blob = self.blobs.get(self.keys.fleet_state("batch"))
        return None if blob is None else decode_fleet_state(blob.data, "test")

    def _apply(self, cfg: dict[str, str]) -> None:
        state = self.released()
        self.seen.append(state)
        ami = state.ami_id if state else cfg["fleets.batch.amiId"]
        if ami != self.template_amis[self.latest]:
            self.template_amis[self.latest + 1] = ami
        pinned = state.released_version if state else int(cfg.get("fleets.batch.releasedVersion") or self.latest)
        if self.ignores_the_pin:
            pinned = self.latest
        if pinned != self.state_group_version:
            # pulumi-aws: the group's template first, then the refresh (#34189).
            self.asg.group_version = pinned
            self.asg.start_instance_refresh(AutoScalingGroupName=GROUP, Strategy="Rolling", Preferences=PREFS)
            self.provider_refreshes += 1
            self.state_group_version = pinned
        self._publish()

    def refresh(self, **kwargs: Any) -> Any:
        result = super().refresh(**kwargs)
        self.state_group_version = self.asg.group_version
        self._publish()
        return result

    def _publish(self) -> None:
        self._outputs = {
            "services": {},
            "fleets": {
                "batch": fleet_outputs(
                    launch_template_version=str(self.state_group_version),
                    launch_template_latest_version=str(self.latest),
                    ami_id=self.template_amis[self.latest],
                    ami_ssm_parameter=getattr(self, "ssm_parameter", None),
                )
            },
        }

    def ups(self) -> int:
        return sum(1 for c in self.calls if c[0] == "up")
