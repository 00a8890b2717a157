"""Fleet releases: a new launch template version rolled out by an instance refresh that the driver
starts and follows under analysis, and that really returns to the released version when the
analysis fails.

    PENDING -> UPDATING_STACK -> REFRESHING -> PROMOTING -> SUCCEEDED
    failing analysis / AWS rollback / timeout / abort -> ROLLING_BACK -> ROLLED_BACK
    rollback impossible (not reversible, refresh already ended) or stuck -> FAILED

Why the driver starts the refresh itself: when `up` moves the group to a new template version,
pulumi-aws updates the group first and starts the refresh second (terraform-provider-aws #34189),
so AWS's rollback "returns" to the new version. Instead:

1. UPDATING_STACK records in the release store the released version N and the new AMI (resolved
   at release time, also for a fleet configured with an SSM parameter); `up` reads them, creates
   template version T (normally N+1) and keeps the group on N, so the provider starts no refresh.
2. REFRESHING starts `start_instance_refresh` with DesiredConfiguration = version T and the
   fleet's `refreshPreferences`, and follows it while the analysis polls.
3. PROMOTING (refresh Successful, AWS moved the group to T) records version T and runs `refresh` +
   `up`, which then has no diff. ROLLING_BACK calls `rollback_instance_refresh`: AWS returns the
   group to N; then the store gets back the AMI it had, and `up` applies it, so a failed release
   leaves nothing of itself behind (the group stays pinned to N throughout).

Decisions are the pure functions `follow_decision` and `rollback_decision`; the handlers carry
them out. Every state is safe to redo, so `resume` after a kill continues from the journal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ...contract.release_state import FleetState
from .analysis import AnalysisConfig, Judgement, Verdict, evaluate
from .bake import counted_fact, is_repeat
from .errors import InputError, NoActiveRefresh, PortError, RefreshNotReversible, StateError
from .machine import Machine, StrategyBase
from .ports import (
    REFRESH_SUCCESSFUL,
    ROLLBACK_FAILED,
    ROLLBACK_IN_PROGRESS,
    ROLLBACK_STATUSES,
    ROLLBACK_SUCCESSFUL,
    DesiredTemplate,
    FleetMetrics,
    FleetStack,
    FleetStates,
    Refresher,
    RefreshStatus,
    TemplateVersions,
)
from .status import FAILED, PENDING, ROLLED_BACK, ROLLING_BACK, SUCCEEDED, Status

KIND = "fleet"
UPDATING_STACK = "UPDATING_STACK"
REFRESHING = "REFRESHING"
PROMOTING = "PROMOTING"
FORWARD_STATES = (PENDING, UPDATING_STACK, REFRESHING, PROMOTING)
_ABORTABLE = frozenset({PENDING, UPDATING_STACK, REFRESHING})
_AMI_PREFIX = "ami-"
# A refresh we may have started before a kill is ours when AWS started it at most this long
# before we recorded that we were starting it (clock skew between us and AWS).
_START_SKEW_SECONDS = 300.0


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
        raise InputError(key, f"must be a launch template version number, got {config_value!r}") from None
    if configured != versions.pinned:
        raise InputError(
            key,
            f"is {configured} in config but the stack's group is on version {versions.pinned}: "
            "run `pulumi up` (or correct the key) before a release",
        )
    return configured


def restore_hint(group: str, template: DesiredTemplate) -> str:
    """The command that replaces instances of other versions with `template`'s (and only those)."""
    desired = {"LaunchTemplate": {"LaunchTemplateId": template.launch_template_id, "Version": template.version}}
    return (
        f"to put them back on version {template.version}: aws autoscaling start-instance-refresh "
        f"--auto-scaling-group-name {group} --desired-configuration '{json.dumps(desired, separators=(',', ':'))}' "
        """--preferences '{"SkipMatching":true}'"""
    )


@dataclass(frozen=True)
class FleetSpec:
    """Everything a fleet release needs, validated; recorded in full so `resume` can rebuild it."""

    stack: str
    fleet: str
    ami_id: str
    config_path: str
    group_name: str
    launch_template_id: str
    released_version: int
    """Version N the group is on before the release; a rollback returns to it."""
    previous_ami: str = ""
    """The AMI of version N, put back in the release store when the release rolls back."""
    preferences: Mapping[str, Any] = field(default_factory=dict)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    timeout_seconds: float = 3600.0
    project: str = ""

    def __post_init__(self) -> None:
        ami = self.ami_id
        if not isinstance(ami, str) or not ami.startswith(_AMI_PREFIX) or len(ami) < 8 or any(c.isspace() for c in ami):
            raise InputError("ami_id", f"must be an AMI id like ami-0abc1234, got {ami!r}")
        if not self.timeout_seconds > 0:
            raise InputError("timeout_seconds", f"must be > 0 seconds, got {self.timeout_seconds!r}")
        if isinstance(self.released_version, bool) or not isinstance(self.released_version, int):
            raise InputError(self.released_key, f"must be an integer, got {self.released_version!r}")
        if self.released_version < 1:
            raise InputError(self.released_key, f"must be >= 1, got {self.released_version}")
        if not self.launch_template_id:
            raise InputError(f"{self.config_path}.launchTemplateId", "missing from the stack output `fleets`")
        if not self.group_name:
            raise InputError(f"{self.config_path}.autoScalingGroupName", "missing from the stack output `fleets`")

    @property
    def released_key(self) -> str:
        return f"{self.config_path}.releasedVersion"

    def template(self, version: int) -> DesiredTemplate:
        return DesiredTemplate(self.launch_template_id, str(version))

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "fleet": self.fleet,
            "ami_id": self.ami_id,
            "config_path": self.config_path,
            "group_name": self.group_name,
            "launch_template_id": self.launch_template_id,
            "released_version": self.released_version,
            "previous_ami": self.previous_ami,
            "preferences": dict(self.preferences),
            "analysis": self.analysis.to_dict(),
            "timeout_seconds": self.timeout_seconds,
            "project": self.project,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetSpec:
        values = dict(data)
        values["analysis"] = AnalysisConfig.from_dict(values["analysis"])
        return cls(**values)


@dataclass(frozen=True)
class FleetPorts:
    stack: FleetStack
    refresher: Refresher
    metrics: FleetMetrics
    states: FleetStates
    """The fleet's release state in the release store: what `up` applies."""


# -- decisions (pure) ---------------------------------------------------------------------------------
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
    repeat: bool = False,
) -> FollowDecision:
    """One poll of a running refresh: keep following, promote, or roll back. `repeat`: the verdict
    fails on errors an earlier counted failure of the same window saw (`bake.is_repeat`): not a
    failed check again."""
    if status.status in ROLLBACK_STATUSES:
        # AWS's own auto rollback (alarm specification or failed instances) got there first.
        why = f": {status.reason}" if status.reason else ""
        return FollowDecision("rollback", f"AWS is rolling the instance refresh back ({status.status}){why}")
    if verdict.outcome is Judgement.ALARM:
        return FollowDecision("rollback", "; ".join(verdict.reasons))
    failed = verdict.outcome is Judgement.FAIL and not repeat
    if verdict.outcome is Judgement.FAIL and verdict.conclusive:  # as a service's bake: at once
        return FollowDecision("rollback", "conclusive: " + "; ".join(verdict.reasons), failed_check=True)
    if failed and failed_checks + 1 >= cfg.threshold:
        reason = f"{failed_checks + 1} failed checks (threshold {cfg.threshold}): " + "; ".join(verdict.reasons)
        return FollowDecision("rollback", reason, failed_check=True)
    if status.status == REFRESH_SUCCESSFUL:
        note = ""
        if verdict.outcome is Judgement.INCONCLUSIVE:
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


# -- the strategy -------------------------------------------------------------------------------------
class FleetRelease(StrategyBase):
    """The states of a fleet release and what each does."""

    kind = KIND
    id_prefix = "f"

    def __init__(self, spec: FleetSpec, ports: FleetPorts) -> None:
        self.spec = spec
        self.ports = ports
        self.project = spec.project
        self.stack = spec.stack
        self.target = spec.fleet
        self.resource = spec.group_name
        self.handlers = {
            PENDING: lambda m: m.enter(UPDATING_STACK),
            UPDATING_STACK: self._update_stack,
            REFRESHING: self._follow,
            PROMOTING: self._promote,
            ROLLING_BACK: self._rollback,
        }

    # -- Strategy ------------------------------------------------------------------------------------
    def spec_dict(self) -> dict[str, Any]:
        return self.spec.to_dict()

    def start_message(self) -> str:
        return f"fleet release of {self.spec.ami_id} to {self.spec.group_name} started"

    def abortable(self, status: Status) -> bool:
        return status.state in _ABORTABLE

    def may_abort(self, status: Status) -> bool:
        if status.state == PROMOTING or status.facts.get("failed_in") == PROMOTING:
            raise StateError(
                f"the instance refresh of release {status.release_id} already succeeded and AWS cannot undo a "
                "finished refresh; run `resume` to record the released version"
            )
        return status.state != ROLLED_BACK  # a finished rollback has nothing left to do

    def on_error(self, m: Machine, exc: PortError) -> bool:
        if m.status.state != PROMOTING:
            return False
        m.fail(
            f"the instance refresh succeeded and the group runs launch template version "
            f"{m.status.facts.get('target_version')}, but recording it in the release store failed: {exc}; "
            "run `resume`"
        )
        return True

    def on_resume(self, m: Machine) -> None:
        if m.status.state != FAILED:
            return
        failed_in, reason = m.status.facts.get("failed_in"), m.status.reason
        if failed_in == PROMOTING:
            m.enter(PROMOTING, reason=f"resume: record the released version ({reason})")
        elif failed_in == UPDATING_STACK:
            m.enter(UPDATING_STACK, reason=f"resume: update the stack again ({reason})")
        else:
            m.begin_rollback(f"resume: retry rollback ({reason})")

    # -- states ---------------------------------------------------------------------------------------
    def _record(self, m: Machine, version: int, ami: str) -> None:
        """The fleet's release state, which every `up` applies from now on."""
        self.ports.states.write_fleet_state(
            FleetState(released_version=version, ami_id=ami, release_id=m.status.release_id, updated_at=m.now())
        )

    def _update_stack(self, m: Machine) -> None:
        n, stack = self.spec.released_version, self.ports.stack
        # The pin and the AMI go together: an `up` from any checkout keeps the group on N.
        self._record(m, n, self.spec.ami_id)
        stack.up(f"zdd: {self.spec.fleet} AMI {self.spec.ami_id}, group held on version {n}")
        versions = stack.template_versions(self.spec.fleet)
        if versions.pinned != n:
            # Not a rollback: the group left version N by some other way than this release.
            m.fail(
                f"after `up` the stack's group is on launch template version {versions.pinned}, not the "
                f"pinned {n}; check the fleet's release state and the group before releasing again"
            )
        elif versions.latest == n:
            m.enter(
                SUCCEEDED,
                reason=f"launch template unchanged: version {n} already has {self.spec.ami_id}; no refresh needed",
            )
        else:
            m.enter(
                REFRESHING,
                reason=f"launch template version {versions.latest} created; the group stays on {n}",
                facts={"target_version": versions.latest, "started_at": m.now()},
            )

    def _follow(self, m: Machine) -> None:
        facts = m.status.facts
        target = int(facts["target_version"])
        if "refresh_id" not in facts:
            self._start_or_adopt(m, target)
            return
        cfg, started = self.spec.analysis, float(facts["started_at"])
        m.sleep(cfg.poll_seconds)
        now = m.now()
        status = self.ports.refresher.get(str(facts["refresh_id"]))
        verdict = evaluate(self.ports.metrics.window(started, now), None, self.ports.metrics.alarms(), cfg)
        repeat = is_repeat(verdict, m.status, started)  # the window is cumulative, as a bake's
        decision = follow_decision(
            status, verdict, m.status.failed_checks, cfg, now - started, self.spec.timeout_seconds, repeat
        )
        m.record(
            "check",
            detail={
                "verdict": verdict.to_dict(),
                "refresh": status.status,
                "percent": status.percent_complete,
                **({"repeat_of_counted_failure": True} if repeat else {}),
            },
            failed_checks=m.status.failed_checks + decision.failed_check,
            facts=counted_fact(verdict, repeat, started) or None,
        )
        if decision.action == "promote":
            m.enter(PROMOTING, reason=decision.reason)
        elif decision.action == "rollback":
            m.begin_rollback(decision.reason)

    def _start_or_adopt(self, m: Machine, target: int) -> None:
        latest = self.ports.refresher.latest()
        if latest is not None and latest.desired_version == str(target) and self._ours(m.status, latest):
            rid, how = latest.refresh_id, f"adopted ({latest.status}; started before the driver was stopped)"
        elif latest is not None and latest.active:
            raise PortError(
                f"another instance refresh ({latest.refresh_id}, {latest.status}) is running on "
                f"{self.spec.group_name}; the driver starts none beside it"
            )
        else:
            m.record("refresh_starting", facts={"starting_at": m.now()})
            rid = self.ports.refresher.start(self.spec.preferences, self.spec.template(target))
            how = f"started towards launch template version {target}"
        m.record("refresh", note=f"instance refresh {rid} {how}", facts={"refresh_id": rid})

    @staticmethod
    def _ours(status: Status, refresh: RefreshStatus) -> bool:
        """A refresh to the target is ours if we were starting one when it began (resume after a kill)."""
        if "starting_at" not in status.facts:
            return False
        if refresh.start_time is None:
            return refresh.active or refresh.status == REFRESH_SUCCESSFUL
        return refresh.start_time >= float(status.facts["starting_at"]) - _START_SKEW_SECONDS

    def _promote(self, m: Machine) -> None:
        target = int(m.status.facts["target_version"])
        self._record(m, target, self.spec.ami_id)
        # Refresh first: AWS already moved the group to the target, so `up` has no diff and the
        # provider starts no second refresh (which, without skip matching, would replace all).
        self.ports.stack.refresh()
        self.ports.stack.up(f"zdd: {self.spec.fleet} released launch template version {target}")
        m.enter(SUCCEEDED, reason=m.status.reason or f"version {target} released")

    def _rollback(self, m: Machine) -> None:
        n, facts = self.spec.released_version, m.status.facts
        if "refresh_id" not in facts:
            if self._adopt_for_rollback(m):
                return  # the next round rolls back the refresh it adopted
            self._finish_rollback(
                m, f"{m.status.reason} (no instance refresh was started: the group stays on version {n})"
            )
            return
        since = float(facts.get("rollback_started_at", m.now()))
        status = self.ports.refresher.get(str(facts["refresh_id"]))
        action = rollback_decision(
            status, bool(facts.get("rollback_requested")), m.now() - since, self.spec.timeout_seconds
        )
        if action == "rolled_back":
            self._finish_rollback(m, f"{m.status.reason} (AWS returned the group to launch template version {n})")
        elif action == "request":
            self._request_rollback(m)
        elif action == "wait":
            m.sleep(self.spec.analysis.poll_seconds)
        elif action == "stuck":
            m.fail(
                f"{m.status.reason}; the rollback of instance refresh {status.refresh_id} is not done within "
                f"{self.spec.timeout_seconds:g}s (status {status.status}); `resume` keeps waiting for it"
            )
        else:
            self._cannot_roll_back(m, status)

    def _adopt_for_rollback(self, m: Machine) -> bool:
        """A driver killed inside `start` (AWS started the refresh, its id was never journaled)
        leaves `starting_at` behind: that refresh is ours and must be rolled back, not left running."""
        if "starting_at" not in m.status.facts:
            return False  # no refresh was ever being started
        latest = self.ports.refresher.latest()
        target = str(m.status.facts["target_version"])
        if latest is None or latest.desired_version != target or not self._ours(m.status, latest):
            return False
        m.record(
            "refresh",
            note=f"instance refresh {latest.refresh_id} adopted for the rollback ({latest.status}; started before "
            "the driver was stopped)",
            facts={"refresh_id": latest.refresh_id},
        )
        return True

    def _request_rollback(self, m: Machine) -> None:
        try:
            self.ports.refresher.rollback()
        except NoActiveRefresh:
            # It ended meanwhile: the next look at its status decides (after a pause, in case
            # describe still reports it running).
            m.sleep(self.spec.analysis.poll_seconds)
            return
        except RefreshNotReversible as exc:
            # Cancelling stops further replacements; instances replaced so far keep the new version.
            self.ports.refresher.cancel()
            m.record("refresh", note=f"instance refresh cancelled: {exc}")
            m.fail(
                f"{m.status.reason}; AWS cannot roll this refresh back ({exc}), so it was cancelled: instances "
                f"replaced so far keep launch template version {m.status.facts['target_version']} while the group "
                f"stays on version {self.spec.released_version}; "
                + restore_hint(self.spec.group_name, self.spec.template(self.spec.released_version))
            )
            return
        m.record("refresh", note="rollback_instance_refresh requested", facts={"rollback_requested": True})

    def _cannot_roll_back(self, m: Machine, status: RefreshStatus) -> None:
        n, target = self.spec.released_version, m.status.facts["target_version"]
        what = f"instance refresh {status.refresh_id} is {status.status}" + (
            f" ({status.reason})" if status.reason else ""
        )
        if status.status == REFRESH_SUCCESSFUL:
            where = (
                f"it completed before the rollback, so the group runs version {target} while config still "
                f"says releasedVersion {n}"
            )
        elif status.status in ROLLBACK_STATUSES or status.active:
            where = f"instances may run version {target} or {n}"
        else:
            where = f"instances replaced so far keep version {target} while the group stays on version {n}"
        hint = restore_hint(self.spec.group_name, self.spec.template(n))
        m.fail(f"{m.status.reason}; {what}: AWS cannot roll it back, {where}; {hint}")

    def _finish_rollback(self, m: Machine, reason: str) -> None:
        seconds = round(m.now() - float(m.status.facts.get("detected_at", m.now())), 3)
        if self.spec.previous_ami and self.spec.previous_ami != self.spec.ami_id:
            # Put back what the release changed: the AMI it recorded goes, the pin on N stays.
            n = self.spec.released_version
            self._record(m, n, self.spec.previous_ami)
            self.ports.stack.up(f"zdd: {self.spec.fleet} rolled back: AMI {self.spec.previous_ami}, version {n}")
        m.enter(ROLLED_BACK, reason=reason, facts={"rollback_seconds": seconds})
