"""Release of an ASG-backed fleet: a new launch template version rolled out by an instance refresh
that the driver starts and follows under analysis, and that really returns to the released
version when the analysis fails.

    PENDING -> UPDATING_CONFIG -> REFRESHING -> PROMOTING -> SUCCEEDED
    failing analysis / AWS rollback / timeout / abort -> ROLLING_BACK -> ROLLED_BACK
    rollback impossible (not reversible, refresh already ended) or stuck -> FAILED

Why the driver starts the refresh itself: when `up` moves the group to a new template version,
pulumi-aws updates the group first and starts the refresh second (terraform-provider-aws #34189),
so AWS's rollback "returns" to the new version. Instead:

1. UPDATING_CONFIG pins `fleets.<name>.releasedVersion` to the released version N and writes the
   new `amiId`; `up` creates template version T (normally N+1) and the group stays on N, so the
   provider starts no refresh.
2. REFRESHING starts `start_instance_refresh` with DesiredConfiguration = version T and the
   fleet's `refreshPreferences`, and follows it while the analysis polls.
3. PROMOTING (refresh Successful, AWS moved the group to T) sets releasedVersion = T and runs
   `refresh` + `up`, which then has no diff. ROLLING_BACK calls `rollback_instance_refresh`: AWS
   returns the group to N, which the config already says, so the config is left as it is.

Every transition is journaled before its effect; each state is safe to redo, so `resume` after a
kill continues from the journal. Decisions are the pure functions `follow_decision` and
`rollback_decision`; the class only carries them out.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from driver.analysis import AnalysisConfig, Outcome, Verdict, evaluate
from driver.aws.instance_refresh import (
    ROLLBACK_FAILED,
    ROLLBACK_IN_PROGRESS,
    ROLLBACK_STATUSES,
    ROLLBACK_SUCCESSFUL,
    SUCCESSFUL,
    DesiredTemplate,
    NoActiveRefresh,
    RefreshNotReversible,
    RefreshStatus,
)
from driver.controller import ControllerError, ReleaseResult, SpecError, State
from driver.journal import Journal
from driver.outputs import OutputsError
from driver.ports import AlarmStatus, Clock, PortError, WindowMetrics
from driver.stack_ops import StackOpsError

_AMI_PREFIX = "ami-"
# A refresh we may have started before a kill is ours when AWS started it at most this long
# before we journaled that we were starting it (clock skew between us and AWS).
_START_SKEW_SECONDS = 300.0


class FleetMetrics(Protocol):
    def window(self, start: float, end: float) -> WindowMetrics: ...

    def alarms(self) -> AlarmStatus: ...


class Refresher(Protocol):
    def start(self, preferences: dict[str, Any], desired: DesiredTemplate | None = None) -> str: ...

    def latest(self) -> RefreshStatus | None: ...

    def get(self, refresh_id: str) -> RefreshStatus: ...

    def cancel(self) -> None: ...

    def rollback(self) -> None: ...


class FleetStack(Protocol):
    def get_config(self, key: str) -> str | None: ...

    def set_config(self, values: dict[str, str]) -> None: ...

    def up(self, message: str = "") -> Any: ...

    def refresh(self) -> Any: ...

    def outputs(self) -> dict[str, Any]: ...


# -- what the stack says about the template ------------------------------------------------------
@dataclass(frozen=True)
class TemplateVersions:
    launch_template_id: str
    pinned: int
    """`launchTemplateVersion`: the version the group is pinned to (the released one)."""
    latest: int
    """`launchTemplateLatestVersion`: the template's newest version."""


def _version(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    try:
        number = int(str(value))
    except ValueError:
        raise OutputsError(f"{where}.{key}", f"expected a launch template version number, got {value!r}") from None
    if number < 1:
        raise OutputsError(f"{where}.{key}", f"expected a version >= 1, got {value!r}")
    return number


def template_versions(outputs: dict[str, Any], fleet: str) -> TemplateVersions:
    """The launch template id and versions of one entry of the stack output `fleets`."""
    fleets = outputs.get("fleets")
    where = f"fleets.{fleet}"
    data = fleets.get(fleet) if isinstance(fleets, dict) else None
    if not isinstance(data, dict):
        raise OutputsError("--service", f"unknown fleet {fleet!r} in the stack output `fleets`")
    template_id = data.get("launchTemplateId")
    if not isinstance(template_id, str) or not template_id:
        raise OutputsError(f"{where}.launchTemplateId", "missing from the stack output `fleets`")
    return TemplateVersions(
        launch_template_id=template_id,
        pinned=_version(data, "launchTemplateVersion", where),
        latest=_version(data, "launchTemplateLatestVersion", where),
    )


def released_version(config_value: str | None, versions: TemplateVersions, key: str) -> int:
    """The released version N the release pins and returns to.

    Unset in config: the version the group is on now (the release pins it). Set: it must be the
    version the stack's group is on; otherwise the next `up` would move the group itself and
    the provider would start a refresh that cannot roll back properly.
    """
    if config_value is None or config_value == "":
        return versions.pinned
    try:
        configured = int(config_value)
    except ValueError:
        raise SpecError(key, f"must be a launch template version number, got {config_value!r}") from None
    if configured != versions.pinned:
        raise SpecError(
            key,
            f"is {configured} in config but the stack's group is on version {versions.pinned}: "
            "run `pulumi up` (or correct the key) before a release",
        )
    return configured


def restore_hint(group: str, template: DesiredTemplate) -> str:
    """The command that replaces instances of other versions with `template`'s (and only those)."""
    desired = json.dumps(template.to_boto3(), separators=(",", ":"))
    return (
        f"to put them back on version {template.version}: aws autoscaling start-instance-refresh "
        f"--auto-scaling-group-name {group} --desired-configuration '{desired}' "
        """--preferences '{"SkipMatching":true}'"""
    )


# -- the release's input --------------------------------------------------------------------------
@dataclass(frozen=True)
class FleetSpec:
    stack: str
    fleet: str
    ami_id: str
    config_path: str
    group_name: str
    launch_template_id: str
    released_version: int
    """Version N the group is on before the release; a rollback returns to it."""
    preferences: dict[str, Any] = field(default_factory=dict)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    timeout_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if not self.ami_id.startswith(_AMI_PREFIX) or len(self.ami_id) < 8 or any(c.isspace() for c in self.ami_id):
            raise SpecError("--ami", f"must be an AMI id like ami-0abc1234, got {self.ami_id!r}")
        if not self.timeout_seconds > 0:
            raise SpecError("--refresh-timeout", "must be > 0 seconds")
        if isinstance(self.released_version, bool) or not isinstance(self.released_version, int):
            raise SpecError(self.released_key, f"must be an integer, got {self.released_version!r}")
        if self.released_version < 1:
            raise SpecError(self.released_key, f"must be >= 1, got {self.released_version}")
        if not self.launch_template_id:
            raise SpecError(f"{self.config_path}.launchTemplateId", "missing from the stack output `fleets`")
        if not self.group_name:
            raise SpecError(f"{self.config_path}.autoScalingGroupName", "missing from the stack output `fleets`")

    @property
    def ami_key(self) -> str:
        return f"{self.config_path}.amiId"

    @property
    def released_key(self) -> str:
        return f"{self.config_path}.releasedVersion"

    def template(self, version: int) -> DesiredTemplate:
        return DesiredTemplate(self.launch_template_id, str(version))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "fleet",
            "stack": self.stack,
            "fleet": self.fleet,
            "ami_id": self.ami_id,
            "config_path": self.config_path,
            "group_name": self.group_name,
            "launch_template_id": self.launch_template_id,
            "released_version": self.released_version,
            "preferences": self.preferences,
            "analysis": self.analysis.to_dict(),
            "timeout_seconds": self.timeout_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FleetSpec:
        values = {k: v for k, v in data.items() if k != "kind"}
        values["analysis"] = AnalysisConfig.from_dict(values["analysis"])
        return cls(**values)


# -- decisions (pure) -------------------------------------------------------------------------------
FollowAction = Literal["wait", "promote", "rollback"]


@dataclass(frozen=True)
class FollowDecision:
    action: FollowAction
    reason: str = ""
    failed_check: bool = False
    """This check counted as failed (Flagger's failedChecks)."""


def follow_decision(
    status: RefreshStatus,
    verdict: Verdict,
    failed_checks: int,
    cfg: AnalysisConfig,
    elapsed: float,
    timeout: float,
) -> FollowDecision:
    """One poll of a running refresh: keep following, promote, or roll back."""
    if status.status in ROLLBACK_STATUSES:
        # AWS's own auto rollback (alarm specification or failed instances) got there first.
        why = f": {status.reason}" if status.reason else ""
        return FollowDecision("rollback", f"AWS is rolling the instance refresh back ({status.status}){why}")
    if verdict.outcome is Outcome.ALARM:
        return FollowDecision("rollback", "; ".join(verdict.reasons))
    failed = verdict.outcome is Outcome.FAIL
    if failed and failed_checks + 1 >= cfg.threshold:
        reason = f"{failed_checks + 1} failed checks (threshold {cfg.threshold}): " + "; ".join(verdict.reasons)
        return FollowDecision("rollback", reason, failed_check=True)
    if status.status == SUCCESSFUL:
        note = ""
        if verdict.outcome is Outcome.INCONCLUSIVE:
            note = " (analysis inconclusive: " + "; ".join(verdict.reasons) + ")"
        return FollowDecision("promote", f"instance refresh {status.refresh_id} successful{note}", failed)
    if not status.active:
        reason = f"instance refresh {status.status}" + (f": {status.reason}" if status.reason else "")
        return FollowDecision("rollback", reason, failed)
    if elapsed > timeout:
        return FollowDecision("rollback", f"instance refresh not done within {timeout:g}s", failed)
    return FollowDecision("wait", failed_check=failed)


RollbackAction = Literal["request", "wait", "rolled_back", "failed", "stuck"]


def rollback_decision(status: RefreshStatus, requested: bool, elapsed: float, timeout: float) -> RollbackAction:
    """What to do with our refresh while rolling back."""
    if status.status == ROLLBACK_SUCCESSFUL:
        return "rolled_back"
    if status.status == ROLLBACK_FAILED:
        return "failed"
    if status.status == ROLLBACK_IN_PROGRESS or (requested and status.active):
        return "stuck" if elapsed > timeout else "wait"
    if status.active:
        return "request"
    # Successful, Failed, Cancelled: the refresh ended, AWS can no longer roll it back.
    return "failed"


# -- the release -------------------------------------------------------------------------------------
TERMINAL = {"SUCCEEDED", "ROLLED_BACK", "FAILED"}
_ABORTABLE = {"PENDING", "UPDATING_CONFIG", "REFRESHING"}
_DATA_KEYS = (
    "previous_ami",
    "target_version",
    "started_at",
    "starting_at",
    "refresh_id",
    "detected_at",
    "rollback_requested",
    "rollback_seconds",
    "rollback_wait_from",
    "failed_in",
)


class FleetRelease:
    def __init__(
        self,
        spec: FleetSpec,
        stack: FleetStack,
        refresher: Refresher,
        metrics: FleetMetrics,
        clock: Clock,
        journal: Journal,
        release_id: str,
    ) -> None:
        self.spec = spec
        self.stack = stack
        self.refresher = refresher
        self.metrics = metrics
        self.clock = clock
        self.journal = journal
        self.release_id = release_id
        self.state = "PENDING"
        self.reason = ""
        self.failed_checks = 0
        self.data: dict[str, Any] = {}

    @classmethod
    def start(cls, spec: FleetSpec, *args: Any, release_id: str | None = None) -> FleetRelease:
        rel = cls(spec, *args, release_id=release_id or f"f-{uuid.uuid4().hex[:12]}")
        rel._record("start", data={"spec": spec.to_dict()})
        return rel

    @classmethod
    def load(
        cls,
        journal: Journal,
        stack: FleetStack,
        refresher: Refresher,
        metrics: FleetMetrics,
        clock: Clock,
    ) -> FleetRelease:
        rid = journal.latest_release_id()
        if rid is None:
            raise ControllerError("no fleet release recorded")
        records = journal.records(rid)
        spec = FleetSpec.from_dict(records[0]["data"]["spec"])
        rel = cls(spec, stack, refresher, metrics, clock, journal, rid)
        rel.state = records[-1]["state"]
        rel.reason = next((r["reason"] for r in reversed(records) if r.get("reason")), "")
        rel.failed_checks = int(records[-1].get("failed_checks", 0))
        for rec in records:
            for key in _DATA_KEYS:
                if key in rec.get("data", {}):
                    rel.data[key] = rec["data"][key]
        return rel

    # -- commands ----------------------------------------------------------------------------------
    def run(self) -> ReleaseResult:
        for _ in range(100_000):  # each iteration sleeps a poll interval or changes state
            if self.state in TERMINAL:
                break
            requested = self.journal.abort_requested(self.release_id)
            if requested and self.state in _ABORTABLE:
                self.journal.clear_abort()
                self._begin_rollback(f"aborted: {requested}")
                continue
            try:
                self._advance()
            except (PortError, StackOpsError, OutputsError) as exc:
                self._on_error(exc)
        return self.result()

    def abort(self, reason: str) -> ReleaseResult:
        if self.state == "SUCCEEDED":
            raise ControllerError("the fleet release already succeeded")
        if self.state == "PROMOTING" or self.data.get("failed_in") == "PROMOTING":
            raise ControllerError(
                f"the instance refresh of release {self.release_id} already succeeded and AWS cannot undo a "
                "finished refresh; run `resume` to record the released version"
            )
        if self.state == "ROLLED_BACK":
            return self.result()  # idempotent
        self._begin_rollback(reason)
        return self.run()

    def resume(self) -> ReleaseResult:
        if self.state == "FAILED":
            failed_in = self.data.get("failed_in")
            if failed_in == "PROMOTING":
                self._enter("PROMOTING", reason=f"resume: record the released version ({self.reason})")
            elif failed_in == "UPDATING_CONFIG":
                self._enter("UPDATING_CONFIG", reason=f"resume: update the stack again ({self.reason})")
            else:
                self._begin_rollback(f"resume: retry rollback ({self.reason})")
        elif self.state not in TERMINAL:
            self._record("resume", reason=f"resumed in {self.state}")
        return self.run()

    def result(self) -> ReleaseResult:
        return ReleaseResult(
            release_id=self.release_id,
            state=State(self.state) if self.state in TERMINAL else State.FAILED,
            reason=self.reason,
            rollback_seconds=self.data.get("rollback_seconds"),
            trail=self.journal.records(self.release_id),
        )

    # -- states ------------------------------------------------------------------------------------
    def _advance(self) -> None:
        if self.state == "PENDING":
            previous = self.stack.get_config(self.spec.ami_key)
            self._enter("UPDATING_CONFIG", data={"previous_ami": previous})
        elif self.state == "UPDATING_CONFIG":
            self._update_config()
        elif self.state == "REFRESHING":
            self._follow()
        elif self.state == "PROMOTING":
            target = int(self.data["target_version"])
            self.stack.set_config({self.spec.released_key: str(target)})
            # Refresh first: AWS already moved the group to the target, so `up` has no diff and the
            # provider starts no second refresh (which, without skip matching, would replace all).
            self.stack.refresh()
            self.stack.up(f"zdd: {self.spec.fleet} released launch template version {target}")
            self._enter("SUCCEEDED", reason=self.reason or f"version {target} released")
        elif self.state == "ROLLING_BACK":
            self._rollback()

    def _update_config(self) -> None:
        n = self.spec.released_version
        # The pin goes first: an `up` between the two writes must never move the group.
        self.stack.set_config({self.spec.released_key: str(n), self.spec.ami_key: self.spec.ami_id})
        self.stack.up(f"zdd: {self.spec.fleet} AMI {self.spec.ami_id}, group held on version {n}")
        versions = template_versions(self.stack.outputs(), self.spec.fleet)
        if versions.pinned != n:
            # Not a rollback: the group left version N by some other way than this release.
            self._fail(
                f"after `up` the stack's group is on launch template version {versions.pinned}, not the "
                f"pinned {n}; check {self.spec.released_key} and the group before releasing again"
            )
            return
        if versions.latest == n:
            self._enter(
                "SUCCEEDED",
                reason=f"launch template unchanged: version {n} already has {self.spec.ami_id}; no refresh needed",
            )
            return
        started = self.clock.now()
        self.data.update(target_version=versions.latest, started_at=started)
        self._enter(
            "REFRESHING",
            reason=f"launch template version {versions.latest} created; the group stays on {n}",
            data={"target_version": versions.latest, "started_at": started},
        )

    def _follow(self) -> None:
        target = int(self.data["target_version"])
        if "refresh_id" not in self.data:
            self._start_or_adopt(target)
            return
        cfg = self.spec.analysis
        started = float(self.data["started_at"])
        self.clock.sleep(cfg.poll_seconds)
        now = self.clock.now()
        status = self.refresher.get(self.data["refresh_id"])
        verdict = evaluate(self.metrics.window(started, now), None, self.metrics.alarms(), cfg)
        decision = follow_decision(status, verdict, self.failed_checks, cfg, now - started, self.spec.timeout_seconds)
        if decision.failed_check:
            self.failed_checks += 1
        self._record(
            "check",
            data={"verdict": verdict.to_dict(), "refresh": status.status, "percent": status.percent_complete},
        )
        if decision.action == "promote":
            self._enter("PROMOTING", reason=decision.reason)
        elif decision.action == "rollback":
            self._begin_rollback(decision.reason)

    def _start_or_adopt(self, target: int) -> None:
        latest = self.refresher.latest()
        if latest is not None and latest.desired_version == str(target) and self._ours(latest):
            rid, how = latest.refresh_id, f"adopted ({latest.status}; started before the driver was stopped)"
        elif latest is not None and latest.active:
            raise PortError(
                f"another instance refresh ({latest.refresh_id}, {latest.status}) is running on "
                f"{self.spec.group_name}; the driver starts none beside it"
            )
        else:
            starting = self.clock.now()
            self.data["starting_at"] = starting
            self._record("refresh_starting", data={"starting_at": starting})
            rid = self.refresher.start(self.spec.preferences, self.spec.template(target))
            how = f"started towards launch template version {target}"
        self.data["refresh_id"] = rid
        self._record("refresh", reason=f"instance refresh {rid} {how}", data={"refresh_id": rid})

    def _ours(self, status: RefreshStatus) -> bool:
        """A refresh to the target is ours if we were starting one when it began (resume after a kill)."""
        if "starting_at" not in self.data:
            return False
        if status.start_time is None:
            return status.active or status.status == SUCCESSFUL
        return status.start_time >= float(self.data["starting_at"]) - _START_SKEW_SECONDS

    def _rollback(self) -> None:
        n = self.spec.released_version
        if "refresh_id" not in self.data:
            self._finish_rollback(f"{self.reason} (no instance refresh was started: the group stays on version {n})")
            return
        since = float(self.data.get("rollback_wait_from", self.clock.now()))
        status = self.refresher.get(self.data["refresh_id"])
        action = rollback_decision(
            status, bool(self.data.get("rollback_requested")), self.clock.now() - since, self.spec.timeout_seconds
        )
        if action == "rolled_back":
            self._finish_rollback(f"{self.reason} (AWS returned the group to launch template version {n})")
        elif action == "request":
            self._request_rollback()
        elif action == "wait":
            self.clock.sleep(self.spec.analysis.poll_seconds)
        elif action == "stuck":
            self._fail(
                f"{self.reason}; the rollback of instance refresh {status.refresh_id} is not done within "
                f"{self.spec.timeout_seconds:g}s (status {status.status}); `resume` keeps waiting for it"
            )
        else:
            self._cannot_roll_back(status)

    def _request_rollback(self) -> None:
        try:
            self.refresher.rollback()
        except NoActiveRefresh:
            # It ended meanwhile: the next look at its status decides (after a pause, in case
            # describe still reports it running).
            self.clock.sleep(self.spec.analysis.poll_seconds)
            return
        except RefreshNotReversible as exc:
            # Cancelling stops further replacements; instances replaced so far keep the new version.
            self.refresher.cancel()
            self._record("refresh", reason=f"instance refresh cancelled: {exc}")
            self._fail(
                f"{self.reason}; AWS cannot roll this refresh back ({exc}), so it was cancelled: instances "
                f"replaced so far keep launch template version {self.data['target_version']} while the group "
                f"stays on version {self.spec.released_version}; "
                + restore_hint(self.spec.group_name, self.spec.template(self.spec.released_version))
            )
            return
        self.data["rollback_requested"] = True
        self._record("refresh", reason="rollback_instance_refresh requested", data={"rollback_requested": True})

    def _cannot_roll_back(self, status: RefreshStatus) -> None:
        n, target = self.spec.released_version, self.data["target_version"]
        what = f"instance refresh {status.refresh_id} is {status.status}" + (
            f" ({status.reason})" if status.reason else ""
        )
        if status.status == SUCCESSFUL:
            where = (
                f"it completed before the rollback, so the group runs version {target} while config still "
                f"says releasedVersion {n}"
            )
        elif status.status in ROLLBACK_STATUSES or status.active:
            where = f"instances may run version {target} or {n}"
        else:
            where = f"instances replaced so far keep version {target} while the group stays on version {n}"
        hint = restore_hint(self.spec.group_name, self.spec.template(n))
        self._fail(f"{self.reason}; {what}: AWS cannot roll it back, {where}; {hint}")

    def _finish_rollback(self, reason: str) -> None:
        seconds = round(self.clock.now() - float(self.data.get("detected_at", self.clock.now())), 3)
        self.data["rollback_seconds"] = seconds
        self._enter("ROLLED_BACK", reason=reason, data={"rollback_seconds": seconds})

    def _on_error(self, exc: Exception) -> None:
        if self.state == "ROLLING_BACK":
            self._fail(f"rollback failed: {exc}")
        elif self.state == "PROMOTING":
            self._fail(
                f"the instance refresh succeeded and the group runs launch template version "
                f"{self.data.get('target_version')}, but recording {self.spec.released_key} failed: {exc}; "
                "run `resume`"
            )
        else:
            self._begin_rollback(f"{self.state} failed: {exc}")

    def _fail(self, reason: str) -> None:
        self.data["failed_in"] = self.state
        self._enter("FAILED", reason=reason, data={"failed_in": self.state})

    def _begin_rollback(self, reason: str) -> None:
        now = self.clock.now()
        self.data.setdefault("detected_at", now)
        self.data["rollback_wait_from"] = now  # each (re)try waits up to the timeout for AWS
        self._enter(
            "ROLLING_BACK",
            reason=reason,
            data={"detected_at": self.data["detected_at"], "rollback_wait_from": now},
        )

    def _enter(self, state: str, *, reason: str = "", data: dict[str, Any] | None = None) -> None:
        self.state = state
        if reason:
            self.reason = reason
        self._record("transition", reason=reason, data=data)

    def _record(self, event: str, *, reason: str = "", data: dict[str, Any] | None = None) -> None:
        self.journal.append(
            {
                "ts": self.clock.now(),
                "release_id": self.release_id,
                "stack": self.spec.stack,
                "service": self.spec.fleet,
                "state": self.state,
                "event": event,
                "step": None,
                "failed_checks": self.failed_checks,
                "reason": reason,
                "data": data or {},
            }
        )
