"""Release of an ASG-backed fleet: new AMI in stack config, then an instance refresh followed
under analysis, rolled back (or cancelled) when the analysis fails.

    PENDING -> UPDATING_CONFIG -> REFRESHING -> SUCCEEDED
    failing analysis / AWS failure / timeout / abort -> ROLLING_BACK -> ROLLED_BACK (FAILED if stuck)

The ASG resource may start the refresh itself when `up` changes its launch template (pulumi-aws
`instanceRefresh`); the driver adopts that refresh instead of starting a second one, and starts
one only when none is active. Pulumi does not wait for a refresh (terraform-provider-aws #42355):
following it is this module's job.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from driver.analysis import AnalysisConfig, Outcome, evaluate
from driver.aws.instance_refresh import SUCCESSFUL, RefreshNotReversible, RefreshStatus
from driver.controller import ControllerError, ReleaseResult, SpecError, State
from driver.journal import Journal
from driver.ports import AlarmStatus, Clock, PortError, WindowMetrics
from driver.stack_ops import StackOpsError

_AMI_PREFIX = "ami-"


class FleetMetrics(Protocol):
    def window(self, start: float, end: float) -> WindowMetrics: ...

    def alarms(self) -> AlarmStatus: ...


class Refresher(Protocol):
    def start(self, preferences: dict[str, Any]) -> str: ...

    def latest(self) -> RefreshStatus | None: ...

    def get(self, refresh_id: str) -> RefreshStatus: ...

    def cancel(self) -> None: ...

    def rollback(self) -> None: ...


class FleetStack(Protocol):
    def get_config(self, key: str) -> str | None: ...

    def set_config(self, values: dict[str, str]) -> None: ...

    def up(self, message: str = "") -> Any: ...


@dataclass(frozen=True)
class FleetSpec:
    stack: str
    fleet: str
    ami_id: str
    config_path: str
    preferences: dict[str, Any] = field(default_factory=dict)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    timeout_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if not self.ami_id.startswith(_AMI_PREFIX) or len(self.ami_id) < 8:
            raise SpecError("--ami", f"must be an AMI id like ami-0abc1234, got {self.ami_id!r}")
        if not self.timeout_seconds > 0:
            raise SpecError("--refresh-timeout", "must be > 0 seconds")

    @property
    def ami_key(self) -> str:
        return f"{self.config_path}.amiId"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "fleet",
            "stack": self.stack,
            "fleet": self.fleet,
            "ami_id": self.ami_id,
            "config_path": self.config_path,
            "preferences": self.preferences,
            "analysis": self.analysis.to_dict(),
            "timeout_seconds": self.timeout_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FleetSpec:
        values = {k: v for k, v in data.items() if k != "kind"}
        values["analysis"] = AnalysisConfig.from_dict(values["analysis"])
        return cls(**values)


TERMINAL = {"SUCCEEDED", "ROLLED_BACK", "FAILED"}


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
        rel.reason = records[-1].get("reason", "")
        rel.failed_checks = int(records[-1].get("failed_checks", 0))
        for rec in records:
            for key in ("previous_ami", "refresh_id", "started_at", "detected_at", "rollback_seconds"):
                if key in rec.get("data", {}):
                    rel.data[key] = rec["data"][key]
        return rel

    # -- driving ---------------------------------------------------------------------------
    def run(self) -> ReleaseResult:
        for _ in range(100_000):  # each iteration sleeps a poll interval; bounded by timeout
            if self.state in TERMINAL:
                break
            requested = self.journal.abort_requested(self.release_id)
            if requested and self.state != "ROLLING_BACK":
                self.journal.clear_abort()
                self._begin_rollback(f"aborted: {requested}")
                continue
            try:
                self._advance()
            except (PortError, StackOpsError) as exc:
                if self.state == "ROLLING_BACK":
                    self._enter("FAILED", reason=f"rollback failed: {exc}")
                else:
                    self._begin_rollback(f"{self.state} failed: {exc}")
        return self.result()

    def abort(self, reason: str) -> ReleaseResult:
        if self.state == "SUCCEEDED":
            raise ControllerError("the fleet release already succeeded")
        self._begin_rollback(reason)
        return self.run()

    def resume(self) -> ReleaseResult:
        if self.state == "FAILED":
            self._enter("ROLLING_BACK", reason=f"resume: retry rollback ({self.reason})")
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

    def _advance(self) -> None:
        if self.state == "PENDING":
            previous = self.stack.get_config(self.spec.ami_key)
            self._enter("UPDATING_CONFIG", data={"previous_ami": previous})
            self.data["previous_ami"] = previous
        elif self.state == "UPDATING_CONFIG":
            self.stack.set_config({self.spec.ami_key: self.spec.ami_id})
            self.stack.up(f"zdd: {self.spec.fleet} AMI {self.spec.ami_id}")
            started = self.clock.now()
            self.data["started_at"] = started
            self._enter("REFRESHING", data={"started_at": started})
        elif self.state == "REFRESHING":
            self._follow()
        elif self.state == "ROLLING_BACK":
            self._rollback()

    def _follow(self) -> None:
        if "refresh_id" not in self.data:
            active = self.refresher.latest()
            if active is not None and active.active:
                rid, how = active.refresh_id, "adopted (started by the stack update)"
            else:
                rid, how = self.refresher.start(self.spec.preferences), "started"
            self.data["refresh_id"] = rid
            self._record("refresh", reason=f"instance refresh {rid} {how}", data={"refresh_id": rid})
            return
        cfg = self.spec.analysis
        started = float(self.data.get("started_at", self.clock.now()))
        self.clock.sleep(cfg.poll_seconds)
        now = self.clock.now()
        status = self.refresher.get(self.data["refresh_id"])
        verdict = evaluate(self.metrics.window(started, now), None, self.metrics.alarms(), cfg)
        self._record(
            "check",
            data={"verdict": verdict.to_dict(), "refresh": status.status, "percent": status.percent_complete},
        )
        if verdict.outcome is Outcome.ALARM:
            self._begin_rollback("; ".join(verdict.reasons))
        elif verdict.outcome is Outcome.FAIL:
            self.failed_checks += 1
            if self.failed_checks >= cfg.threshold:
                self._begin_rollback(
                    f"{self.failed_checks} failed checks (threshold {cfg.threshold}): " + "; ".join(verdict.reasons)
                )
        elif status.status == SUCCESSFUL:
            note = ""
            if verdict.outcome is Outcome.INCONCLUSIVE:
                note = " (analysis inconclusive: " + "; ".join(verdict.reasons) + ")"
            self._enter("SUCCEEDED", reason=f"instance refresh {status.refresh_id} successful{note}")
        elif not status.active:
            # Failed, Cancelled, RollbackSuccessful...: AWS stopped it; put the config back.
            self._begin_rollback(f"instance refresh {status.status}: {status.reason}".rstrip(": "))
        elif now - started > self.spec.timeout_seconds:
            self._begin_rollback(f"instance refresh not done within {self.spec.timeout_seconds:g}s")

    def _rollback(self) -> None:
        status = self.refresher.latest()
        if status is not None and status.active and status.status != "RollbackInProgress":
            try:
                self.refresher.rollback()  # replaces new instances with the previous template
                how = "rolled back"
            except RefreshNotReversible as exc:
                self.refresher.cancel()  # stops replacing; instances already replaced stay
                how = f"cancelled ({exc})"
            self._record("refresh", reason=f"instance refresh {how}")
        previous = self.data.get("previous_ami")
        if previous:
            self.stack.set_config({self.spec.ami_key: str(previous)})
            self.stack.up(f"zdd: {self.spec.fleet} AMI back to {previous}")
        seconds = round(self.clock.now() - float(self.data.get("detected_at", self.clock.now())), 3)
        self.data["rollback_seconds"] = seconds
        note = "" if previous else " (no previous amiId recorded: config left as is)"
        self._enter("ROLLED_BACK", reason=self.reason + note, data={"rollback_seconds": seconds})

    def _begin_rollback(self, reason: str) -> None:
        self.data.setdefault("detected_at", self.clock.now())
        self._enter("ROLLING_BACK", reason=reason, data={"detected_at": self.data["detected_at"]})

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
