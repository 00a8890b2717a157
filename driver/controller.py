"""The release state machine. Decisions only: every effect goes through the ports.

    PENDING -> DEPLOYING_IDLE -> WAITING_HEALTHY -> PRE_TRAFFIC_CHECKS -> SHIFTING(i) -> BAKING(i)
      -> [PAUSED] -> SHIFTING(i+1) ... -> [PAUSED] -> PROMOTING -> KEEPING_WARM -> SUCCEEDED
    any failing gate / abort -> ROLLING_BACK -> ROLLED_BACK   (FAILED when the rollback itself fails)

Every transition and every analysis check is written to the journal *before* the effect it
announces, so `resume` after a kill knows where it was. Rollback always targets the color that
was live when the release started, and each of its three steps is idempotent.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from driver.analysis import AnalysisConfig, Outcome, Verdict, evaluate
from driver.journal import Journal
from driver.plan import Plan, PlanError
from driver.ports import (
    Clock,
    Color,
    Deployer,
    EventPublisher,
    MetricsSource,
    NullPublisher,
    PortError,
    PreTrafficCheck,
    ReleaseEvent,
    TrafficRouter,
    Weights,
    other_color,
)

log = logging.getLogger(__name__)

MAX_DESIRED_COUNT = 1000
MAX_TRANSITIONS = 10_000  # a guard against a loop bug, far above any real plan


class State(StrEnum):
    PENDING = "PENDING"
    DEPLOYING_IDLE = "DEPLOYING_IDLE"
    WAITING_HEALTHY = "WAITING_HEALTHY"
    PRE_TRAFFIC_CHECKS = "PRE_TRAFFIC_CHECKS"
    SHIFTING = "SHIFTING"
    BAKING = "BAKING"
    PAUSED = "PAUSED"
    PROMOTING = "PROMOTING"
    KEEPING_WARM = "KEEPING_WARM"
    SUCCEEDED = "SUCCEEDED"
    ROLLING_BACK = "ROLLING_BACK"
    ROLLED_BACK = "ROLLED_BACK"
    FAILED = "FAILED"


TERMINAL = frozenset({State.SUCCEEDED, State.ROLLED_BACK, State.FAILED})
# A release stops in these and a later command (promote/abort/resume) continues it.
STOPPED = TERMINAL | {State.PAUSED}


class SpecError(ValueError):
    """Refused release input; `flag` names it."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag


class ControllerError(RuntimeError):
    """A command that does not apply to the release's current state."""


@dataclass(frozen=True)
class ReleaseSpec:
    """Everything a release needs, validated; journaled in full so `resume` can rebuild it."""

    stack: str
    service: str
    image: str
    desired_count: int
    stable_color: Color
    plan: Plan
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    health_timeout_seconds: float = 600.0
    keep_warm_seconds: float = 900.0
    verify_timeout_seconds: float = 30.0
    verify_poll_seconds: float = 2.0
    extension_factor: float = 1.0
    """A step lacking evidence may bake this many extra intervals before it fails."""

    def __post_init__(self) -> None:
        if not isinstance(self.image, str) or not self.image.strip():
            raise SpecError("--image", "must be a non-empty image reference")
        if any(c.isspace() for c in self.image):
            raise SpecError("--image", f"must not contain whitespace, got {self.image!r}")
        dc = self.desired_count
        if not isinstance(dc, int) or isinstance(dc, bool) or not 1 <= dc <= MAX_DESIRED_COUNT:
            raise SpecError("--desired-count", f"must be an integer 1-{MAX_DESIRED_COUNT}")
        if self.stable_color not in ("blue", "green"):
            raise SpecError("liveColor", f"must be blue or green, got {self.stable_color!r}")
        for flag, value, minimum in (
            ("--health-timeout", self.health_timeout_seconds, 0.0),
            ("--verify-timeout", self.verify_timeout_seconds, 0.0),
            ("--verify-poll", self.verify_poll_seconds, 0.0),
        ):
            if not value > minimum:
                raise SpecError(flag, f"must be > {minimum:g} seconds, got {value!r}")
        if not self.keep_warm_seconds >= 0:
            raise SpecError("--keep-warm", f"must be >= 0 seconds, got {self.keep_warm_seconds!r}")
        if not self.extension_factor >= 0:
            raise SpecError("--extension-factor", "must be >= 0")
        if not self.plan.steps:
            raise PlanError("--steps", "needs at least one step")

    @property
    def new_color(self) -> Color:
        return other_color(self.stable_color)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "service": self.service,
            "image": self.image,
            "desired_count": self.desired_count,
            "stable_color": self.stable_color,
            "plan": self.plan.to_dict(),
            "analysis": self.analysis.to_dict(),
            "health_timeout_seconds": self.health_timeout_seconds,
            "keep_warm_seconds": self.keep_warm_seconds,
            "verify_timeout_seconds": self.verify_timeout_seconds,
            "verify_poll_seconds": self.verify_poll_seconds,
            "extension_factor": self.extension_factor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReleaseSpec:
        values = dict(data)
        values["plan"] = Plan.from_dict(values["plan"])
        values["analysis"] = AnalysisConfig.from_dict(values["analysis"])
        return cls(**values)


@dataclass
class Ports:
    """The ports one release uses."""

    router: TrafficRouter
    metrics: MetricsSource
    deployer: Deployer
    clock: Clock
    checks: Sequence[PreTrafficCheck] = ()
    publisher: EventPublisher = field(default_factory=NullPublisher)


@dataclass(frozen=True)
class Progress:
    """One live-progress update for the CLI."""

    state: State
    step: int | None
    steps: int
    weights: Weights | None
    requests: int | None = None
    error_rate: float | None = None
    p99_seconds: float | None = None
    failed_checks: int = 0
    seconds_left: float | None = None
    message: str = ""


@dataclass
class ReleaseResult:
    release_id: str
    state: State
    reason: str
    rollback_seconds: float | None
    trail: list[dict[str, Any]]


class ReleaseController:
    """Drives one release through its states. Create with `start` or `load`."""

    def __init__(
        self,
        spec: ReleaseSpec,
        ports: Ports,
        journal: Journal,
        release_id: str,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.spec = spec
        self.ports = ports
        self.journal = journal
        self.release_id = release_id
        self.on_progress = on_progress
        self.state = State.PENDING
        self.step: int | None = None
        self.failed_checks = 0
        self.reason = ""
        self.data: dict[str, Any] = {}

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        spec: ReleaseSpec,
        ports: Ports,
        journal: Journal,
        release_id: str | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ReleaseController:
        rid = release_id or f"r-{uuid.uuid4().hex[:12]}"
        ctl = cls(spec, ports, journal, rid, on_progress)
        ctl._record(State.PENDING, event="start", data={"spec": spec.to_dict()})
        ctl._publish(State.PENDING, f"release of {spec.image} to {spec.new_color} started")
        return ctl

    @classmethod
    def load(
        cls,
        journal: Journal,
        ports: Ports,
        release_id: str | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ReleaseController:
        """Rebuild a controller from the journal (latest release unless `release_id`)."""
        rid = release_id or journal.latest_release_id()
        if rid is None:
            raise ControllerError(f"no release recorded for {journal.stack}/{journal.service}")
        records = journal.records(rid)
        spec = ReleaseSpec.from_dict(records[0]["data"]["spec"])
        ctl = cls(spec, ports, journal, rid, on_progress)
        last = records[-1]
        ctl.state = State(last["state"])
        ctl.step = last.get("step")
        ctl.failed_checks = int(last.get("failed_checks", 0))
        ctl.reason = str(last.get("reason", ""))
        # Carry over what later states need (warm deadline, failure detection time).
        for rec in records:
            for key in ("warm_until", "detected_at", "restored_at", "rollback_seconds"):
                if key in rec.get("data", {}):
                    ctl.data[key] = rec["data"][key]
        return ctl

    # -- commands --------------------------------------------------------------------------
    def run(self) -> ReleaseResult:
        """Advance until the release succeeds, rolls back, fails or pauses."""
        for _ in range(MAX_TRANSITIONS):
            if self.state in STOPPED:
                break
            requested = self.journal.abort_requested(self.release_id)
            if requested and self.state is not State.ROLLING_BACK:
                self.journal.clear_abort()
                self._begin_rollback(f"aborted: {requested}")
                continue
            try:
                self._advance()
            except PortError as exc:
                if self.state is State.ROLLING_BACK:
                    self._enter(State.FAILED, reason=f"rollback failed: {exc}")
                else:
                    self._begin_rollback(f"{self.state.value} failed: {exc}")
        else:  # pragma: no cover - the guard only trips on a bug
            self._enter(State.FAILED, reason="transition limit reached")
        return self.result()

    def resume(self) -> ReleaseResult:
        """Continue after a kill: from the recorded state, or roll back when it is unsafe."""
        if self.state not in TERMINAL:
            self._record(self.state, event="resume", reason=f"resumed in {self.state.value}")
        if self.state is State.FAILED:
            # FAILED means a rollback did not finish; rollback is idempotent, so finish it.
            self._enter(State.ROLLING_BACK, reason=f"resume: retry rollback ({self.reason})")
        elif self.state is State.BAKING and self.step is not None:
            expected = self._weights_for(self.step)
            try:
                observed = self.ports.router.observed_weights()
            except PortError as exc:
                self._begin_rollback(f"resume: cannot read the load balancer weights: {exc}")
                return self.run()
            if observed != expected:
                self._begin_rollback(
                    f"resume: load balancer reports {observed.as_dict()}, journal expects {expected.as_dict()}"
                )
            else:
                # The kill blinded the analysis: bake the step again from a fresh window.
                self._enter(State.BAKING, step=self.step, data={"step_started_at": self._now()})
        return self.run()

    def promote(self) -> ReleaseResult:
        if self.state is not State.PAUSED or self.step is None:
            raise ControllerError(f"promote needs a PAUSED release, this one is {self.state.value}")
        self._record(State.PAUSED, event="promote", step=self.step, reason="promoted by operator")
        self._after_step(self.step, honour_pause=False)
        return self.run()

    def abort(self, reason: str = "aborted by operator") -> ReleaseResult:
        """Roll back now. On a finished rollback this re-applies it (idempotent)."""
        if self.state is State.SUCCEEDED:
            raise ControllerError("the release already succeeded and the old color is scaled down")
        self._begin_rollback(reason)
        return self.run()

    def result(self) -> ReleaseResult:
        return ReleaseResult(
            release_id=self.release_id,
            state=self.state,
            reason=self.reason,
            rollback_seconds=self.data.get("rollback_seconds"),
            trail=self.journal.records(self.release_id),
        )

    # -- state handlers --------------------------------------------------------------------
    def _advance(self) -> None:
        s = self.state
        if s is State.PENDING:
            self._enter(State.DEPLOYING_IDLE)
        elif s is State.DEPLOYING_IDLE:
            self.ports.deployer.deploy_idle(self.spec.new_color, self.spec.image, self.spec.desired_count)
            self._enter(State.WAITING_HEALTHY)
        elif s is State.WAITING_HEALTHY:
            timeout = self.spec.health_timeout_seconds
            if self.ports.deployer.wait_healthy(self.spec.new_color, timeout):
                if self.spec.plan.pre_traffic_checks:
                    self._enter(State.PRE_TRAFFIC_CHECKS)
                else:
                    self._enter(State.SHIFTING, step=0)
            else:
                self._begin_rollback(f"{self.spec.new_color} not healthy within {timeout:g}s")
        elif s is State.PRE_TRAFFIC_CHECKS:
            self._pre_traffic_checks()
        elif s is State.SHIFTING:
            self._shift(self._require_step())
        elif s is State.BAKING:
            self._bake(self._require_step())
        elif s is State.PROMOTING:
            self.ports.deployer.reconcile(Weights.all_to(self.spec.new_color), self.spec.new_color)
            warm_until = self._now() + self.spec.keep_warm_seconds
            self.data["warm_until"] = warm_until
            self._enter(
                State.KEEPING_WARM,
                data={"warm_until": warm_until, "live_color": self.spec.new_color},
            )
        elif s is State.KEEPING_WARM:
            self._keep_warm()
        elif s is State.ROLLING_BACK:
            self._rollback()
        else:  # pragma: no cover - STOPPED states never reach here
            raise ControllerError(f"nothing to do in {s.value}")

    def _pre_traffic_checks(self) -> None:
        results = []
        for check in self.ports.checks:
            res = check.run()
            results.append({"name": res.name, "passed": res.passed, "detail": res.detail})
            if not res.passed:
                self._record(State.PRE_TRAFFIC_CHECKS, event="check", data={"checks": results})
                self._begin_rollback(f"pre-traffic check {res.name} failed: {res.detail}")
                return
        self._enter(State.SHIFTING, step=0, data={"checks": results})

    def _shift(self, index: int) -> None:
        target = self._weights_for(index)
        self.ports.router.set_weights(target)
        self.ports.deployer.reconcile(target, self.spec.stable_color)
        observed = self._await_weights(target)
        if observed != target:
            self._begin_rollback(f"verify: load balancer reports {observed.as_dict()} after setting {target.as_dict()}")
            return
        self._enter(
            State.BAKING,
            step=index,
            data={"step_started_at": self._now(), "observed": observed.as_dict()},
        )

    def _bake(self, index: int) -> None:
        step = self.spec.plan.steps[index]
        cfg = self.spec.analysis
        started = self._step_started_at(index)
        bake_end = started + step.bake_seconds
        give_up = bake_end + step.bake_seconds * self.spec.extension_factor
        now = self._now()
        # Sleep to the next poll, but not past the end of the bake.
        remaining = bake_end - now
        self.ports.clock.sleep(cfg.poll_seconds if remaining <= 0 else min(cfg.poll_seconds, remaining))
        if self.journal.abort_requested(self.release_id):
            return  # run() turns the request into a rollback before the next advance
        now = self._now()
        verdict = self._check(started, now)
        self._report_check(index, verdict, bake_end - now)
        if verdict.outcome is Outcome.ALARM:
            self._begin_rollback("; ".join(verdict.reasons))
            return
        if verdict.outcome is Outcome.FAIL:
            self.failed_checks += 1
            self._record(State.BAKING, event="check", step=index, data={"verdict": verdict.to_dict()})
            if self.failed_checks >= cfg.threshold:
                self._begin_rollback(
                    f"{self.failed_checks} failed checks (threshold {cfg.threshold}): " + "; ".join(verdict.reasons)
                )
            return
        self._record(State.BAKING, event="check", step=index, data={"verdict": verdict.to_dict()})
        if now < bake_end:
            return
        if verdict.outcome is Outcome.PASS:
            self._after_step(index, honour_pause=True)
        elif now >= give_up:
            self._begin_rollback("not enough evidence to pass the step: " + "; ".join(verdict.reasons))

    def _after_step(self, index: int, *, honour_pause: bool) -> None:
        step = self.spec.plan.steps[index]
        if honour_pause and step.pause:
            self._enter(State.PAUSED, step=index, reason="waiting for promote")
        elif index + 1 < len(self.spec.plan.steps):
            self._enter(State.SHIFTING, step=index + 1)
        else:
            self._enter(State.PROMOTING, step=index)

    def _keep_warm(self) -> None:
        warm_until = float(self.data.get("warm_until", self._now()))
        now = self._now()
        if now < warm_until:
            self.ports.clock.sleep(min(self.spec.analysis.poll_seconds, warm_until - now))
            if self.journal.abort_requested(self.release_id):
                return
            # The old color is still warm: a failing alarm now still rolls back in seconds.
            alarms = self.ports.metrics.alarms(self.spec.new_color)
            if alarms.is_firing:
                self._begin_rollback(f"alarm in ALARM during keep-warm: {', '.join(alarms.firing)} [{alarms.source}]")
            return
        self.ports.deployer.scale_down(self.spec.stable_color)
        self._enter(State.SUCCEEDED, reason=f"{self.spec.new_color} is live")

    def _rollback(self) -> None:
        stable = self.spec.stable_color
        target = Weights.all_to(stable)
        detected = float(self.data.get("detected_at", self._now()))
        fast_error = ""
        try:
            self.ports.router.set_weights(target)  # 1) fast path, seconds
        except PortError as exc:
            fast_error = str(exc)
            log.warning("fast-path rollback failed, reconciling instead: %s", exc)
            self.ports.deployer.reconcile(target, stable)
        observed = self._await_weights(target)
        if observed != target:
            raise PortError(f"load balancer still reports {observed.as_dict()}")
        if "restored_at" not in self.data:
            restored = self._now()
            seconds = round(restored - detected, 3)
            self.data.update(restored_at=restored, rollback_seconds=seconds)
            log.info("traffic restored to %s in %.3fs", stable, seconds)
            self._record(
                State.ROLLING_BACK,
                event="traffic_restored",
                data={
                    "restored_at": restored,
                    "rollback_seconds": seconds,
                    "fast_path": not fast_error,
                    "fast_path_error": fast_error,
                },
            )
        if not fast_error:
            self.ports.deployer.reconcile(target, stable)  # 2) stack state matches
        self.ports.deployer.scale_down(self.spec.new_color)  # 3) failed color down
        self._finish_rollback()

    def _finish_rollback(self) -> None:
        self._enter(
            State.ROLLED_BACK,
            reason=self.reason,
            data={"rollback_seconds": self.data.get("rollback_seconds")},
        )

    # -- helpers ---------------------------------------------------------------------------
    def _begin_rollback(self, reason: str) -> None:
        now = self._now()
        # A repeated abort keeps the first detection time: latency is measured from the failure.
        if self.state is not State.ROLLED_BACK:
            self.data.setdefault("detected_at", now)
        else:
            self.data = {"detected_at": now}
        self._enter(
            State.ROLLING_BACK,
            reason=reason,
            data={"detected_at": self.data["detected_at"], "from_state": self.state.value},
        )

    def _check(self, start: float, end: float) -> Verdict:
        new = self.ports.metrics.window(self.spec.new_color, start, end)
        stable = self.ports.metrics.window(self.spec.stable_color, start, end)
        alarms = self.ports.metrics.alarms(self.spec.new_color)
        return evaluate(new, stable, alarms, self.spec.analysis)

    def _report_check(self, index: int, verdict: Verdict, seconds_left: float) -> None:
        if self.on_progress is None:
            return
        fig = verdict.figures
        self.on_progress(
            Progress(
                state=State.BAKING,
                step=index,
                steps=len(self.spec.plan.steps),
                weights=self._weights_for(index),
                requests=fig.get("requests"),  # type: ignore[arg-type]
                error_rate=fig.get("error_rate"),  # type: ignore[arg-type]
                p99_seconds=fig.get("p99_seconds"),  # type: ignore[arg-type]
                failed_checks=self.failed_checks + (verdict.outcome is Outcome.FAIL),
                seconds_left=max(0.0, seconds_left),
                message=verdict.outcome.value + (": " + "; ".join(verdict.reasons) if verdict.reasons else ""),
            )
        )

    def _await_weights(self, target: Weights) -> Weights:
        """Poll the load balancer until it reports `target` or the verify timeout passes."""
        deadline = self._now() + self.spec.verify_timeout_seconds
        observed = self.ports.router.observed_weights()
        while observed != target and self._now() < deadline:
            self.ports.clock.sleep(self.spec.verify_poll_seconds)
            observed = self.ports.router.observed_weights()
        return observed

    def _expected_weights(self, state: State) -> Weights | None:
        """What production traffic should be in `state` (None before any shift)."""
        if state in {State.ROLLING_BACK, State.ROLLED_BACK, State.FAILED}:
            return Weights.all_to(self.spec.stable_color)
        if state in {State.PROMOTING, State.KEEPING_WARM, State.SUCCEEDED}:
            return Weights.all_to(self.spec.new_color)
        if self.step is None:
            return None
        return self._weights_for(self.step)

    def _weights_for(self, index: int) -> Weights:
        return Weights.shifted(self.spec.stable_color, self.spec.plan.steps[index].weight)

    def _step_started_at(self, index: int) -> float:
        for rec in reversed(self.journal.records(self.release_id)):
            if rec.get("step") == index and "step_started_at" in rec.get("data", {}):
                return float(rec["data"]["step_started_at"])
        return self._now()

    def _require_step(self) -> int:
        if self.step is None:
            raise ControllerError(f"{self.state.value} without a step index")
        return self.step

    def _now(self) -> float:
        return self.ports.clock.now()

    def _enter(
        self,
        state: State,
        *,
        step: int | None = None,
        reason: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.state = state
        if step is not None:
            self.step = step
        if reason:
            self.reason = reason
        self._record(state, event="transition", step=self.step, reason=reason, data=data)
        self._publish(state, reason)
        if self.on_progress is not None:
            self.on_progress(
                Progress(
                    state=state,
                    step=self.step,
                    steps=len(self.spec.plan.steps),
                    weights=self._expected_weights(state),
                    failed_checks=self.failed_checks,
                    message=reason,
                )
            )

    def _record(
        self,
        state: State,
        *,
        event: str,
        step: int | None = None,
        reason: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        self.journal.append(
            {
                "ts": self._now(),
                "release_id": self.release_id,
                "stack": self.spec.stack,
                "service": self.spec.service,
                "state": state.value,
                "event": event,
                "step": step if step is not None else self.step,
                "failed_checks": self.failed_checks,
                "reason": reason,
                "data": data or {},
            }
        )

    def _publish(self, state: State, reason: str) -> None:
        if state not in {
            State.PENDING,
            State.SHIFTING,
            State.PAUSED,
            State.ROLLING_BACK,
            State.ROLLED_BACK,
            State.SUCCEEDED,
            State.FAILED,
        }:
            return
        event = ReleaseEvent(
            stack=self.spec.stack,
            service=self.spec.service,
            release_id=self.release_id,
            state=state.value,
            message=reason or state.value,
            data={"step": self.step, "failed_checks": self.failed_checks},
        )
        try:
            self.ports.publisher.publish(event)
        except Exception as exc:  # events are best effort; they never change the release
            log.warning("could not publish release event: %s", exc)
