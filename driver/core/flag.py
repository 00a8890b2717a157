"""Flag releases: a feature flag's percentage moved step by step, judged like traffic, killed by `abort`.

The same plan (`plan.py` steps: each step's weight is the flag's percentage), the same analysis
(`analysis.py`: users with the flag on are the "new" side, users with it off the baseline) and the
same machine (journal before effect, resume, abort from another process) as a service release.

    PENDING -> SHIFTING(i) -> BAKING(i) -> [PAUSED] -> SHIFTING(i+1) ... -> SUCCEEDED
    failing gate / abort / port error -> ROLLING_BACK (percentage 0, the kill switch) -> ROLLED_BACK

- SHIFTING first records the step's percentage as the flag set's release state in the release store
  (`state/flags/<set>.json`: every later `pulumi up` deploys it, so an `up` never undoes a release),
  then writes it to the flag store (AppConfig: a new hosted version, then a deployment) and waits
  until the store reports it served; a store that never gets there rolls back.
- BAKING judges the requests that got the flag against those that did not, over the step so far,
  plus the flag set's alarms. At 100% nobody is left without the flag: the baseline becomes the
  absolute guards of the analysis.
- ROLLING_BACK records the flag as off in the release state, then sets the percentage to 0 and
  disables the flag: off for everyone, including allow-listed users. It is idempotent, so `abort`
  after a rollback applies the kill switch again.

The kill switch at any time (`zdd-release kill-flag`, also after a release SUCCEEDED or for a flag no
release ever moved) is a release of its own with `kill=True` and no steps, in the same journal:

    PENDING -> ROLLING_BACK (release state off first, then 0% all at once) -> ROLLED_BACK

so it is journaled, takes the set's lease and is resumed (or simply run again) after a kill of the
driver like any other release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ...contract import ContractError
from ...contract.flags import check_flag_key
from ...contract.release_state import FlagSetState, FlagState
from .analysis import SETTLED_TESTS, AnalysisConfig, Verdict, evaluate
from .bake import EXTENSION_FACTOR, bake_check
from .errors import InputError, PortError, StoreSettling
from .machine import Machine, Progress, StrategyBase
from .plan import Plan, Strategy
from .ports import FlagMetrics, FlagStates, FlagStore
from .status import PAUSED, PENDING, ROLLED_BACK, ROLLING_BACK, SUCCEEDED, Status

KIND = "flag"
SHIFTING = "SHIFTING"
BAKING = "BAKING"
FORWARD_STATES = (PENDING, SHIFTING, BAKING)
KILLED = 0
"""The percentage a rollback sets: the flag is off for everyone."""


TARGET_PREFIX = "flags."


def flag_target(flag_set: str) -> str:
    """The journal's name for a flag set (lease, journal, abort requests: `--service flags.<set>`).

    One per set, not per flag: a release rewrites the set's whole document, so two releases of
    flags of one set at once would overwrite each other's percentage."""
    return f"{TARGET_PREFIX}{flag_set}"


@dataclass(frozen=True)
class FlagSpec:
    """Everything a flag release needs, validated; recorded in full so `resume` can rebuild it."""

    stack: str
    flag_set: str
    flag: str
    plan: Plan
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    start_percentage: int = 0
    """The percentage before the release (reported; a rollback still goes to 0)."""
    verify_timeout_seconds: float = 600.0
    """How long the store may take to serve a new percentage (an AppConfig deployment takes minutes)."""
    verify_poll_seconds: float = 5.0
    extension_factor: float = EXTENSION_FACTOR
    """A step lacking evidence may bake this many extra intervals before it fails."""
    project: str = ""
    resource: str = ""
    """What the release moves (`appconfig:<app>/<env>/<profile>#<flag>`): part of every record's binding."""
    appconfig_strategy: str | None = None
    """AWS: the AppConfig deployment strategy of each step (None: the flag set's own). Adapters read it."""
    kill: bool = False
    """The kill switch: no steps, straight to ROLLING_BACK (0%, disabled) with `reason`."""
    reason: str = ""
    """Why the flag was killed (kill switch only); recorded as the release's reason."""

    def __post_init__(self) -> None:
        try:
            check_flag_key(self.flag, "flag")
        except ContractError as exc:
            raise InputError("flag", exc.problem) from None
        if not isinstance(self.flag_set, str) or not self.flag_set:
            raise InputError("flag_set", "must name a flag set of the stack output `featureFlags`")
        for key, value in (
            ("verify_timeout_seconds", self.verify_timeout_seconds),
            ("verify_poll_seconds", self.verify_poll_seconds),
        ):
            if not value > 0:
                raise InputError(key, f"must be > 0 seconds, got {value!r}")
        if not self.extension_factor >= 0:
            raise InputError("extension_factor", f"must be >= 0, got {self.extension_factor!r}")
        if self.kill:
            if self.plan.steps:
                raise InputError("steps", "the kill switch has no steps")
            if not isinstance(self.reason, str) or not self.reason.strip():
                raise InputError("reason", "must say why the flag is killed, got an empty reason")
        elif not self.plan.steps:
            raise InputError("steps", "needs at least one step")
        if self.plan.synthetic is not None:
            raise InputError("synthetic_requests", "a flag release sends no synthetic traffic")
        if not 0 <= self.start_percentage <= 100:
            raise InputError("start_percentage", f"must be 0-100, got {self.start_percentage!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "flag_set": self.flag_set,
            "flag": self.flag,
            "plan": self.plan.to_dict(),
            "analysis": self.analysis.to_dict(),
            "start_percentage": self.start_percentage,
            "verify_timeout_seconds": self.verify_timeout_seconds,
            "verify_poll_seconds": self.verify_poll_seconds,
            "extension_factor": self.extension_factor,
            "project": self.project,
            "resource": self.resource,
            "appconfig_strategy": self.appconfig_strategy,
            "kill": self.kill,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlagSpec:
        values = dict(data)
        values["plan"] = Plan.from_dict(values["plan"])
        values["analysis"] = AnalysisConfig.from_dict(values["analysis"])
        return cls(**values)


def kill_plan() -> Plan:
    """The kill switch's plan: no steps (it only rolls back; AppConfig deploys it all at once)."""
    return Plan(strategy=Strategy.ALL_AT_ONCE, steps=(), pre_traffic_checks=False)


@dataclass(frozen=True)
class FlagPorts:
    store: FlagStore
    metrics: FlagMetrics
    states: FlagStates
    """The release store: the flag set's release state, written before every change of the flag."""


class FlagRelease(StrategyBase):
    """The states of a flag release and what each does."""

    kind = KIND
    id_prefix = "g"
    published = frozenset({SHIFTING, PAUSED, ROLLING_BACK, ROLLED_BACK, SUCCEEDED})

    def __init__(self, spec: FlagSpec, ports: FlagPorts) -> None:
        self.spec = spec
        self.ports = ports
        # Each judgement uses its share of a release-wide alpha (recomputed alike on resume).
        _, self.analysis = spec.analysis.for_release(False, spec.plan.step_judgements())
        self.project = spec.project
        self.stack = spec.stack
        self.target = flag_target(spec.flag_set)
        self.resource = spec.resource
        self.steps = len(spec.plan.steps)
        self._settling_since: dict[int, float] = {}
        """Step -> when this driver first found the store settling before it (`on_error`)."""
        self.handlers = {
            PENDING: self._start,
            SHIFTING: lambda m: self._shift(m, _step(m.status)),
            BAKING: lambda m: self._bake(m, _step(m.status)),
            ROLLING_BACK: self._rollback,
        }

    # -- Strategy ------------------------------------------------------------------------------------
    def spec_dict(self) -> dict[str, Any]:
        return self.spec.to_dict()

    def start_message(self) -> str:
        if self.spec.kill:
            return f"kill switch for {self.spec.flag_set}/{self.spec.flag}: 0% and disabled ({self.spec.reason})"
        steps = [s.weight for s in self.spec.plan.steps]
        return f"flag release of {self.spec.flag_set}/{self.spec.flag} started (steps {steps}%)"

    def on_resume(self, m: Machine) -> None:
        s = m.status
        if s.state == "FAILED":
            m.enter(ROLLING_BACK, reason=f"resume: retry the kill switch ({s.reason})")
        elif s.state == BAKING and s.step is not None:
            expected = self.spec.plan.steps[s.step].weight
            try:
                observed = self.ports.store.percentage(self.spec.flag)
            except PortError as exc:
                m.begin_rollback(f"resume: cannot read the flag's percentage: {exc}")
                return
            if observed != expected:
                m.begin_rollback(f"resume: the flag store serves {observed}%, the journal expects {expected}%")
            else:
                # The kill blinded the analysis: bake the step again from a fresh window.
                m.enter(BAKING, step=s.step, facts={"step_started_at": m.now()})

    def on_error(self, m: Machine, exc: PortError) -> bool:
        """A store still finishing an earlier change (AppConfig: a deployment in its bake) delays a
        step: poll until it takes the new percentage, for at most `verify_timeout_seconds`, then
        roll back. Aborts are honoured between polls. Any other error rolls back."""
        if not isinstance(exc, StoreSettling) or m.status.state != SHIFTING:
            return False
        index = _step(m.status)
        if index not in self._settling_since:
            self._settling_since[index] = m.now()
            m.record("settling", note=str(exc))
        if m.now() - self._settling_since[index] >= self.spec.verify_timeout_seconds:
            return False
        m.report(Progress(SHIFTING, index, self.steps, m.status.failed_checks, message=f"waiting: {exc}"))
        m.sleep(self.spec.verify_poll_seconds)
        return True

    def on_promote(self, m: Machine) -> None:
        m.record("promote", note="promoted by operator")
        self._after_step(m, _step(m.status), honour_pause=False)

    # -- states ---------------------------------------------------------------------------------------
    def _start(self, m: Machine) -> None:
        if self.spec.kill:
            m.begin_rollback(self.spec.reason)
        else:
            m.enter(SHIFTING, step=0, facts={"start_percentage": self.spec.start_percentage})

    def _declare(self, m: Machine, percentage: int) -> None:
        """The flag's release state, which every `up` deploys from now on; written before the effect,
        so an `up` at any moment keeps what the release set (or is setting)."""
        states, flag_set = self.ports.states, self.spec.flag_set
        current = states.flag_set_state(flag_set) or FlagSetState(flags={})
        flag = FlagState(enabled=percentage > 0, percentage=percentage)
        if current.flags.get(self.spec.flag) != flag:
            states.write_flag_set_state(
                flag_set, current.with_flag(self.spec.flag, flag, release_id=m.status.release_id, updated_at=m.now())
            )

    def _shift(self, m: Machine, index: int) -> None:
        target = self.spec.plan.steps[index].weight
        self._declare(m, target)  # release state first: an `up` now keeps the new percentage
        self.ports.store.set_percentage(self.spec.flag, target)
        observed = self._await(m, target)
        if observed != target:
            m.begin_rollback(f"verify: the flag store serves {observed}% after setting {target}%")
            return
        m.enter(BAKING, step=index, facts={"step_started_at": m.now(), "percentage": target})

    def _bake(self, m: Machine, index: int) -> None:
        step = self.spec.plan.steps[index]

        def report(verdict: Verdict, failed: int, seconds_left: float) -> None:
            fig = verdict.figures
            m.report(
                Progress(
                    state=BAKING,
                    step=index,
                    steps=self.steps,
                    failed_checks=failed,
                    message=f"{step.weight}% on: {verdict.outcome.value}"
                    + (": " + "; ".join(verdict.reasons) if verdict.reasons else ""),
                    requests=fig.get("requests"),  # type: ignore[arg-type]
                    error_rate=fig.get("error_rate"),  # type: ignore[arg-type]
                    p99_seconds=fig.get("p99_seconds"),  # type: ignore[arg-type]
                    seconds_left=max(0.0, seconds_left),
                )
            )

        if bake_check(m, index, step, self.analysis, self.spec.extension_factor, self._check, report):
            self._after_step(m, index, honour_pause=True)

    def _after_step(self, m: Machine, index: int, *, honour_pause: bool) -> None:
        if honour_pause and self.spec.plan.steps[index].pause:
            m.enter(PAUSED, step=index, reason="waiting for promote")
        elif index + 1 < len(self.spec.plan.steps):
            m.enter(SHIFTING, step=index + 1)
        else:
            m.enter(SUCCEEDED, reason=f"{self.spec.flag} is on for {self.spec.plan.steps[index].weight}% of users")

    def _rollback(self, m: Machine) -> None:
        self._declare(m, KILLED)  # release state first: an `up` after the kill keeps the flag off
        self.ports.store.set_percentage(self.spec.flag, KILLED)
        observed = self._await(m, KILLED)
        if observed != KILLED:
            raise PortError(f"the flag store still serves {observed}%")
        if "restored_at" not in m.status.facts:
            restored = m.now()
            seconds = round(restored - float(m.status.facts.get("detected_at", restored)), 3)
            m.record("flag_killed", facts={"restored_at": restored, "rollback_seconds": seconds, "percentage": 0})
        m.enter(ROLLED_BACK)  # the reason stays the one that rolled it back

    # -- helpers ---------------------------------------------------------------------------------------
    def _check(self, start: float, end: float, settled: frozenset[str] = frozenset()) -> Verdict:
        """Users with the flag on against users with it off, over the step so far; `settled`: the
        sequential tests that accepted earlier in the step (`bake.py`)."""
        on = self.ports.metrics.window(self.spec.flag, "on", start, end)
        off = self.ports.metrics.window(self.spec.flag, "off", start, end)
        alarms = self.ports.metrics.alarms()
        known = settled & frozenset(SETTLED_TESTS)
        verdict = evaluate(on, off if off.requests > 0 else None, alarms, self.analysis, known)
        figures = {**verdict.figures, "off_requests": off.requests, "off_errors_5xx": off.errors_5xx}
        return replace(verdict, figures=figures)

    def _await(self, m: Machine, target: int) -> int:
        deadline = m.now() + self.spec.verify_timeout_seconds
        observed = self.ports.store.percentage(self.spec.flag)
        while observed != target and m.now() < deadline:
            m.sleep(self.spec.verify_poll_seconds)
            observed = self.ports.store.percentage(self.spec.flag)
        return observed


def _step(status: Status) -> int:
    if status.step is None:
        raise PortError(f"{status.state} without a step index in the journal")
    return status.step
