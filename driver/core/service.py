"""Service releases: a new image on the idle color, then traffic moved to it step by step.

One strategy covers blue/green, canary, linear and all-at-once; the plan (`plan.py`) decides the
steps. The states and what each does:

    PENDING -> DEPLOYING_IDLE -> WAITING_HEALTHY -> PRE_TRAFFIC_CHECKS -> [SYNTHETIC_BAKE]
      -> SHIFTING(i) -> BAKING(i) -> [PAUSED] -> SHIFTING(i+1) ... -> [PAUSED] -> PROMOTING
      -> KEEPING_WARM -> SUCCEEDED
    failing gate / abort / port error -> ROLLING_BACK -> ROLLED_BACK   (the machine's part)

Evidence, in the order a fault meets it:
- SYNTHETIC_BAKE (when the plan has one): bounded synthetic load on the new color through the test
  listener and on the stable color through the production listener, measured by the sender and
  judged like a step. A gross fault is rolled back having served no user request.
- Each bake check judges the user traffic the metrics source saw since the step started, the
  probes sent through the test listener during the step (no metrics lag), and the alarms. A
  conclusive failure rolls back at once; `threshold` inconclusive-but-failing checks too.
- A step passes only once the observed split (per-color request counts) confirms the weights that
  were set; before the old color is scaled down, the same check confirms it serves nothing.

Rollback always targets the color that was live when the release started, and each of its three
steps is idempotent: 1) weights straight on the load balancer (the fast path), 2) the declared
state reconciled, 3) the failed color scaled down.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from ...contract import Color, Weights, other_color
from .analysis import SETTLED_TESTS, AnalysisConfig, Judgement, Verdict, check_split, evaluate
from .bake import EXTENSION_FACTOR, bake_check
from .errors import InputError, PortError
from .machine import Machine, Progress, StrategyBase
from .metric_checks import MetricJudge, combine
from .migrations import MIGRATION_STATES, MigrationPhases, is_frozen, refuse_if_frozen
from .plan import Plan
from .ports import (
    AlarmStatus,
    Deployer,
    MetricsSource,
    MigrationRunner,
    PreTrafficCheck,
    SyntheticTraffic,
    TrafficRouter,
    WindowMetrics,
)
from .status import FAILED, PAUSED, PENDING, ROLLED_BACK, ROLLING_BACK, SUCCEEDED, Status

log = logging.getLogger(__name__)

KIND = "service"
MAX_DESIRED_COUNT = 1000

DEPLOYING_IDLE = "DEPLOYING_IDLE"
WAITING_HEALTHY = "WAITING_HEALTHY"
PRE_TRAFFIC_CHECKS = "PRE_TRAFFIC_CHECKS"
SYNTHETIC_BAKE = "SYNTHETIC_BAKE"
SHIFTING = "SHIFTING"
BAKING = "BAKING"
PROMOTING = "PROMOTING"
KEEPING_WARM = "KEEPING_WARM"
FORWARD_STATES = (
    PENDING,
    DEPLOYING_IDLE,
    WAITING_HEALTHY,
    PRE_TRAFFIC_CHECKS,
    SYNTHETIC_BAKE,
    SHIFTING,
    BAKING,
    PROMOTING,
    KEEPING_WARM,
)


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a service release needs, validated; recorded in full so `resume` can rebuild it.

    Errors name the setting (`image`, `desired_count`, `keep_warm_seconds`...); the CLI maps it to its flag.
    """

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
    extension_factor: float = EXTENSION_FACTOR
    """A step lacking evidence may bake this many extra intervals before it fails ("not enough
    evidence"). The sequential tests' alpha and beta do not depend on when they stop, so a longer
    extension costs a good-but-slow step time, never detection: a fault crosses the failure
    boundary as soon as it would have anyway. Two: at the rehearsal bench's 10% step (10 user
    requests/s and 10 probes/s against 0.5% background errors, 15 s bakes) a good release's error
    SPRT had not accepted on users or probes by the end of one extension in about 0.7% of simulated
    steps (round 2 of the bench saw it once in 20 releases), by the end of two in about 0.1%. A fault
    between "no effect" and the minimum effect, which neither boundary may catch, is exposed at the
    step's weight that much longer before it rolls back. Journaled with the spec: a resumed release
    keeps the factor it started with."""
    stable_desired_count: int = 1
    """The stable color's task count at the start: a rollback to fewer healthy targets (at least 1)
    goes ahead with a note; one before the contract redeploys the old color up to it."""
    project: str = ""
    rule_arn: str = ""
    """The production listener rule the release moves: part of every record's binding."""
    metric_checks: dict[str, Any] | None = None
    """The analysis file's checks (`AnalysisPlan.to_dict()`), journaled so `resume` judges alike."""
    stable_image: str = ""
    """The old version's image (migration commands get it as ZDD_OLD_IMAGE; a rollback after the old
    color was scaled down, before the contract, redeploys it)."""

    def __post_init__(self) -> None:
        if not isinstance(self.image, str) or not self.image.strip():
            raise InputError("image", "must be a non-empty image reference")
        if any(c.isspace() for c in self.image):
            raise InputError("image", f"must not contain whitespace, got {self.image!r}")
        dc = self.desired_count
        if not isinstance(dc, int) or isinstance(dc, bool) or not 1 <= dc <= MAX_DESIRED_COUNT:
            raise InputError("desired_count", f"must be an integer 1-{MAX_DESIRED_COUNT}, got {dc!r}")
        if self.stable_color not in ("blue", "green"):
            raise InputError("stable_color", f"must be blue or green, got {self.stable_color!r}")
        for key, value in (
            ("health_timeout_seconds", self.health_timeout_seconds),
            ("verify_timeout_seconds", self.verify_timeout_seconds),
            ("verify_poll_seconds", self.verify_poll_seconds),
        ):
            if not value > 0:
                raise InputError(key, f"must be > 0 seconds, got {value!r}")
        if not self.keep_warm_seconds >= 0:
            raise InputError("keep_warm_seconds", f"must be >= 0 seconds, got {self.keep_warm_seconds!r}")
        if not self.extension_factor >= 0:
            raise InputError("extension_factor", f"must be >= 0, got {self.extension_factor!r}")
        if not self.plan.steps:
            raise InputError("steps", "needs at least one step")
        sc = self.stable_desired_count
        if not isinstance(sc, int) or isinstance(sc, bool) or not 0 <= sc <= MAX_DESIRED_COUNT:
            raise InputError("stable_desired_count", f"must be an integer 0-{MAX_DESIRED_COUNT}, got {sc!r}")
        migrations = self.plan.migrations
        if migrations is not None and self.keep_warm_seconds < migrations.contract_delay_seconds:
            raise InputError(
                "keep_warm_seconds",
                f"must be at least the contract delay ({migrations.contract_delay_seconds:g}s) in a release with "
                f"migrations, got {self.keep_warm_seconds:g}s: the old color stays warm until the contract may start",
            )

    @property
    def new_color(self) -> Color:
        return other_color(self.stable_color)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"] = self.plan.to_dict()
        data["analysis"] = self.analysis.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServiceSpec:
        values = dict(data)
        values["plan"] = Plan.from_dict(values["plan"])
        values["analysis"] = AnalysisConfig.from_dict(values["analysis"])
        return cls(**values)


@dataclass(frozen=True)
class ServicePorts:
    """The ports one service release uses (the clock and publisher belong to the machine)."""

    router: TrafficRouter
    metrics: MetricsSource
    deployer: Deployer
    checks: Sequence[PreTrafficCheck] = ()
    synthetic: SyntheticTraffic | None = None
    """Required when the plan has a synthetic bake."""
    metric_judge: MetricJudge | None = None
    """The analysis file's metric checks, judged at every bake check beside the built-in analysis."""
    migrations: MigrationRunner | None = None
    """Runs the plan's migration commands; required when the plan has migrations."""


class ServiceRelease(StrategyBase):
    """The states of a service release and what each does."""

    kind = KIND
    id_prefix = "r"
    published = frozenset({SHIFTING, PAUSED, ROLLING_BACK, ROLLED_BACK, SUCCEEDED, FAILED})

    def __init__(self, spec: ServiceSpec, ports: ServicePorts) -> None:
        self.spec = spec
        self.ports = ports
        # Each judgement uses its share of a release-wide alpha (recomputed alike on resume).
        self.synthetic_analysis, self.analysis = spec.analysis.for_release(
            spec.plan.synthetic is not None, spec.plan.step_judgements()
        )
        # In memory only: a resumed bake starts a fresh window anyway (see on_resume).
        self._baseline: WindowMetrics | None = None
        self._probe_step: int | None = None
        self._probe_total = WindowMetrics(0, 0)
        self.project = spec.project
        self.stack = spec.stack
        self.target = spec.service
        self.resource = spec.rule_arn
        self.steps = len(spec.plan.steps)
        self.phases = self._phases()
        first = self.phases.first_state() if self.phases else DEPLOYING_IDLE
        self.handlers = {
            **(self.phases.handlers if self.phases else {}),
            PENDING: lambda m: m.enter(first),
            DEPLOYING_IDLE: self._deploy_idle,
            WAITING_HEALTHY: self._wait_healthy,
            PRE_TRAFFIC_CHECKS: self._pre_traffic_checks,
            SYNTHETIC_BAKE: self._synthetic_bake,
            SHIFTING: lambda m: self._shift(m, _step(m.status)),
            BAKING: lambda m: self._bake(m, _step(m.status)),
            PROMOTING: self._promote,
            KEEPING_WARM: self._keep_warm,
            ROLLING_BACK: self._rollback,
        }

    # -- Strategy ------------------------------------------------------------------------------------
    def spec_dict(self) -> dict[str, Any]:
        return self.spec.to_dict()

    def start_message(self) -> str:
        return f"release of {self.spec.image} to {self.spec.new_color} started"

    def _phases(self) -> MigrationPhases | None:
        migrations = self.spec.plan.migrations
        if migrations is None:
            return None
        return MigrationPhases(
            migrations,
            self.ports.migrations,
            router=self.ports.router,
            deployer=self.ports.deployer,
            new_color=self.spec.new_color,
            stable_color=self.spec.stable_color,
            new_image=self.spec.image,
            old_image=self.spec.stable_image,
            env={"ZDD_STACK": self.spec.stack, "ZDD_SERVICE": self.spec.service, "ZDD_COLOR": self.spec.new_color},
            poll_seconds=self.spec.verify_poll_seconds,
            wait_seconds=self.spec.verify_timeout_seconds,
            after_expand=DEPLOYING_IDLE,
        )

    def abortable(self, status: Status) -> bool:
        return status.state != ROLLING_BACK and not is_frozen(status)

    def may_abort(self, status: Status) -> bool:
        refuse_if_frozen(status)
        return True

    def on_error(self, m: Machine, exc: PortError) -> bool:
        return self.phases is not None and self.phases.on_error(m, exc)

    def on_resume(self, m: Machine) -> None:
        s = m.status
        if self.phases is not None and self.phases.on_resume(m):
            return
        if s.state == FAILED:
            # FAILED means a rollback did not finish; rollback is idempotent, so finish it.
            m.enter(ROLLING_BACK, reason=f"resume: retry rollback ({s.reason})")
        elif s.state == BAKING and s.step is not None:
            expected = self._weights_for(s.step)
            try:
                observed = self.ports.router.observed_weights()
            except PortError as exc:
                m.begin_rollback(f"resume: cannot read the load balancer weights: {exc}")
                return
            if observed != expected:
                m.begin_rollback(
                    f"resume: load balancer reports {observed.as_dict()}, journal expects {expected.as_dict()}"
                )
            else:
                # The kill blinded the analysis: bake the step again from a fresh window.
                m.enter(BAKING, step=s.step, facts={"step_started_at": m.now()})

    def on_promote(self, m: Machine) -> None:
        if self.phases is not None and self.phases.on_promote(m):
            return
        step = _step(m.status)
        m.record("promote", note="promoted by operator")
        self._after_step(m, step, honour_pause=False)

    def weights_in(self, status: Status) -> Weights | None:
        if status.state in (ROLLING_BACK, ROLLED_BACK, FAILED):
            return Weights.all_to(self.spec.stable_color)
        if status.state in (PROMOTING, KEEPING_WARM, SUCCEEDED, *MIGRATION_STATES[2:]) or is_frozen(status):
            return Weights.all_to(self.spec.new_color)
        if status.state in MIGRATION_STATES:
            return Weights.all_to(self.spec.stable_color)
        return None if status.step is None else self._weights_for(status.step)

    # -- states ---------------------------------------------------------------------------------------
    def _deploy_idle(self, m: Machine) -> None:
        self.ports.deployer.deploy_idle(self.spec.new_color, self.spec.image, self.spec.desired_count)
        m.enter(WAITING_HEALTHY)

    def _wait_healthy(self, m: Machine) -> None:
        timeout = self.spec.health_timeout_seconds
        if not self.ports.deployer.wait_healthy(self.spec.new_color, timeout):
            m.begin_rollback(f"{self.spec.new_color} not healthy within {timeout:g}s")
        elif self.spec.plan.pre_traffic_checks:
            m.enter(PRE_TRAFFIC_CHECKS)
        else:
            self._before_traffic(m)

    def _pre_traffic_checks(self, m: Machine) -> None:
        results = []
        for check in self.ports.checks:
            res = check.run()
            results.append({"name": res.name, "passed": res.passed, "detail": res.detail})
            if not res.passed:
                m.record("check", detail={"checks": results})
                m.begin_rollback(f"pre-traffic check {res.name} failed: {res.detail}")
                return
        self._before_traffic(m, detail={"checks": results})

    def _before_traffic(self, m: Machine, detail: Mapping[str, Any] | None = None) -> None:
        if self.spec.plan.synthetic is not None:
            m.enter(SYNTHETIC_BAKE, detail=detail)
        else:
            m.enter(SHIFTING, step=0, detail=detail)

    def _synthetic_bake(self, m: Machine) -> None:
        bake, traffic = self.spec.plan.synthetic, self.ports.synthetic
        if bake is None or traffic is None:
            raise PortError("the plan has a synthetic bake but the release was given no synthetic traffic port")
        stable = new = None
        verdict, looks = Verdict(Judgement.INCONCLUSIVE), 0
        for n, seconds in bake.parts():
            # Sent in parts, judged after each: a conclusive FAIL (always valid, however often it
            # is looked at) stops the bake early; otherwise the last look decides.
            try:
                got_stable, got_new = _send_both(traffic, n, seconds)
            except PortError as exc:
                if stable is None or new is None:
                    # No burst went out: nothing learnt about the new version. The first step decides.
                    m.enter(SHIFTING, step=0, detail={"synthetic": {"unavailable": str(exc)}})
                    return
                break  # judge what came back
            stable = got_stable if stable is None else stable.plus(got_stable)
            new = got_new if new is None else new.plus(got_new)
            verdict, looks = evaluate(new, stable, AlarmStatus(), self.synthetic_analysis), looks + 1
            if verdict.outcome is Judgement.FAIL and verdict.conclusive:
                break
        assert stable is not None and new is not None
        self._baseline = stable
        figures = {"verdict": verdict.to_dict(), "stable": _summary(stable), "new": _summary(new), "looks": looks}
        if verdict.outcome is Judgement.FAIL:
            m.record("check", detail={"synthetic": figures})
            m.begin_rollback("synthetic bake, before any user request: " + "; ".join(verdict.reasons))
            return
        # Inconclusive synthetic evidence is no verdict: the first, small step decides on user traffic.
        m.enter(SHIFTING, step=0, detail={"synthetic": figures})

    def _shift(self, m: Machine, index: int) -> None:
        target = self._weights_for(index)
        current = self._weights_for(index - 1) if index > 0 else Weights.all_to(self.spec.stable_color)
        if not self._has_capacity(m, current):
            return
        self.ports.deployer.declare(target, self.spec.stable_color)  # release state first: `up` keeps it
        self.ports.router.set_weights(target)
        self.ports.deployer.reconcile(target, self.spec.stable_color)
        observed = self._await_weights(m, target)
        if observed != target:
            m.begin_rollback(f"verify: load balancer reports {observed.as_dict()} after setting {target.as_dict()}")
            return
        m.enter(BAKING, step=index, facts={"step_started_at": m.now()}, detail={"observed": observed.as_dict()})

    def _bake(self, m: Machine, index: int) -> None:
        step = self.spec.plan.steps[index]
        check = partial(self._check, index)
        report = partial(self._report_check, m, index)
        if bake_check(m, index, step, self.analysis, self.spec.extension_factor, check, report):
            self._after_step(m, index, honour_pause=True)

    def _after_step(self, m: Machine, index: int, *, honour_pause: bool) -> None:
        if honour_pause and self.spec.plan.steps[index].pause:
            m.enter(PAUSED, step=index, reason="waiting for promote")
        elif index + 1 < len(self.spec.plan.steps):
            m.enter(SHIFTING, step=index + 1)
        else:
            m.enter(PROMOTING, step=index)

    def _promote(self, m: Machine) -> None:
        new = self.spec.new_color
        if not self._has_capacity(m, self._weights_for(len(self.spec.plan.steps) - 1)):
            return
        self.ports.deployer.reconcile(Weights.all_to(new), new)
        now = m.now()
        m.enter(
            KEEPING_WARM, facts={"warm_since": now, "warm_until": now + self.spec.keep_warm_seconds, "live_color": new}
        )

    def _keep_warm(self, m: Machine) -> None:
        warm_until = float(m.status.facts.get("warm_until", m.now()))
        now = m.now()
        if now < warm_until:
            m.sleep(min(self.analysis.poll_seconds, warm_until - now))
            if m.abort_requested():
                return
            # The old color is still warm: a failing alarm now still rolls back in seconds.
            alarms = self.ports.metrics.alarms(self.spec.new_color)
            if alarms.is_firing:
                m.begin_rollback(f"alarm in ALARM during keep-warm: {', '.join(alarms.firing)} [{alarms.source}]")
            return
        since = float(m.status.facts.get("warm_since", warm_until - self.spec.keep_warm_seconds))
        split = self._split(since, now, 100)
        m.record("check", detail={"split_before_scale_down": split.to_dict()})
        if split.outcome is Judgement.FAIL:
            m.begin_rollback(
                f"observed split before scaling {self.spec.stable_color} down: " + "; ".join(split.reasons)
            )
            return
        self.ports.deployer.scale_down(self.spec.stable_color)
        if self.phases is not None:
            self.phases.after_keep_warm(m, since)
        else:
            m.enter(SUCCEEDED, reason=f"{self.spec.new_color} is live")

    def _rollback(self, m: Machine) -> None:
        stable = self.spec.stable_color
        target = Weights.all_to(stable)
        self._restore_stable(m)
        refused, reduced = self._rollback_refused(stable, target)
        if refused:
            m.fail(f"{m.status.reason}; rollback refused by the interlock: {refused}")
            return
        if reduced:
            m.record("rollback_to_reduced_capacity", note=reduced)
        self.ports.deployer.declare(target, stable)  # release state first: an `up` now keeps stable
        fast_error = ""
        try:
            self.ports.router.set_weights(target)  # 1) fast path, seconds
        except PortError as exc:
            fast_error = str(exc)
            log.warning("fast-path rollback failed, reconciling instead: %s", exc)
            self.ports.deployer.reconcile(target, stable)
        observed = self._await_weights(m, target)
        if observed != target:
            raise PortError(f"load balancer still reports {observed.as_dict()}")
        if "restored_at" not in m.status.facts:
            restored = m.now()
            seconds = round(restored - float(m.status.facts.get("detected_at", restored)), 3)
            log.info("traffic restored to %s in %.3fs", stable, seconds)
            m.record(
                "traffic_restored",
                facts={"restored_at": restored, "rollback_seconds": seconds},
                detail={"fast_path": not fast_error, "fast_path_error": fast_error},
            )
        if not fast_error:
            self.ports.deployer.reconcile(target, stable)  # 2) stack state matches
        self.ports.deployer.scale_down(self.spec.new_color)  # 3) failed color down
        m.enter(ROLLED_BACK)

    # -- helpers ---------------------------------------------------------------------------------------
    def _restore_stable(self, m: Machine) -> None:
        """Before the contract, the old color may already be scaled down (CONTRACT_CHECK): a rollback
        then deploys the old image on it again and waits for it, before traffic moves back."""
        spec = self.spec
        if "stable_scaled_down_at" not in m.status.facts or not spec.stable_image:
            return
        if not self._short_of_healthy(spec.stable_color, spec.stable_desired_count):
            return
        m.record("restore_stable", note=f"redeploy {spec.stable_image} on {spec.stable_color} before moving traffic")
        self.ports.deployer.deploy_idle(spec.stable_color, spec.stable_image, max(1, spec.stable_desired_count))
        self.ports.deployer.wait_healthy(spec.stable_color, spec.health_timeout_seconds)

    def _has_capacity(self, m: Machine, current: Weights) -> bool:
        """The interlock before the new color is given more traffic: True when it has its healthy targets.

        A task that dies mid-release is replaced by the platform (ECS starts a new one; the rehearsal
        does the same), so a color short of targets is waited for, with traffic left where it is,
        for at most `health_timeout_seconds`, as long as a first deploy may take to become healthy.
        The wait is journaled (`capacity_short_since`), so a resumed driver keeps its deadline; the
        alarms are read at every poll and `abort` is honoured. A color with no healthy target while
        it carries user traffic is not waited for: its users are failing now, so it rolls back.
        False when the handler returned to be called again, or began the rollback.
        """
        new = self.spec.new_color
        healthy = self.ports.deployer.healthy_targets(new)
        short = _shortfall(new, healthy, self.spec.desired_count)
        since = m.status.facts.get("capacity_short_since")
        if not short:
            if since is not None:
                waited = round(m.now() - float(since), 3)
                m.record("capacity_restored", facts={"capacity_short_since": None}, detail={"waited_seconds": waited})
            return True
        now = m.now()
        timeout = self.spec.health_timeout_seconds
        if healthy == 0 and current.of(new) > 0:
            m.begin_rollback(
                f"interlock: {short} while it serves {current.of(new)}% of traffic; traffic stays where it is"
            )
            return False
        if since is None:
            note = f"{short}: waiting up to {timeout:g}s"
            m.record("capacity_wait", note=note, facts={"capacity_short_since": now})
            m.report(Progress(m.status.state, m.status.step, self.steps, m.status.failed_checks, note, current))
            since = now
        elif now - float(since) >= timeout:
            m.begin_rollback(f"interlock: {short} after waiting {timeout:g}s; traffic stays where it is")
            return False
        m.sleep(min(self.analysis.poll_seconds, max(0.0, float(since) + timeout - now)))
        if m.abort_requested():
            return False
        alarms = self.ports.metrics.alarms(new)
        if alarms.is_firing:
            m.begin_rollback(
                f"alarm in ALARM while waiting for {new}'s targets: {', '.join(alarms.firing)} [{alarms.source}]"
            )
        return False

    def _short_of_healthy(self, color: Color, needed: int) -> str:
        """Why `color` may not take traffic now ("" when it may)."""
        return _shortfall(color, self.ports.deployer.healthy_targets(color), needed)

    def _rollback_refused(self, stable: Color, target: Weights) -> tuple[str, str]:
        """(why traffic may not move back to `stable` now, "" when it may or already is there;
        a note when it moves back to fewer healthy targets than `stable` started with).

        A rollback needs one healthy target, not the starting count: the release is rolling back
        because the new color is failing its users now, so a stable color with one target flapping
        its health check (seen under load in the rehearsal) still takes the traffic back, with a
        note; only a color with none would turn the failures into an outage.
        """
        try:
            observed: Weights | None = self.ports.router.observed_weights()
        except PortError:
            observed = None
        if observed == target:
            return "", ""  # nothing to give: traffic is already on the stable color
        healthy = self.ports.deployer.healthy_targets(stable)
        short = _shortfall(stable, healthy, self.spec.stable_desired_count)
        if not short:
            return "", ""
        if healthy >= 1:
            return "", f"{short}: traffic moves back anyway (the new color is failing its users)"
        where = f"traffic stays at {observed.as_dict()}" if observed else "traffic was not moved"
        return f"{short}; {where}; run `resume` once {stable} is healthy", ""

    def alpha_shares(self) -> str:
        """For the operator, at the start: the judge, and how the release's alpha is shared out."""
        cfg = self.spec.analysis
        if cfg.judge != "sequential":
            return f"judge {cfg.judge}"
        parts = [f"synthetic bake {self.synthetic_analysis.alpha:.2g}"] if self.spec.plan.synthetic else []
        n = self.spec.plan.step_judgements()
        if n:
            parts.append(f"{n} step judgement{'s' if n != 1 else ''} {self.analysis.alpha:.2g} each")
        return f"judge sequential, alpha {cfg.alpha:g} per {cfg.alpha_scope}: " + ", ".join(
            parts or ["absolute guards only"]
        )

    @staticmethod
    def _tests_of(settled: frozenset[str], source: str) -> frozenset[str]:
        prefix = source + ":"
        return frozenset(t[len(prefix) :] for t in settled if t.startswith(prefix)) & frozenset(SETTLED_TESTS)

    def _check(self, index: int, start: float, end: float, settled: frozenset[str] = frozenset()) -> Verdict:
        """One analysis check of step `index`: user traffic, probes, and the observed split.
        `settled`: the tests that accepted earlier in the step (`bake.settled_in`)."""
        cfg = self.analysis
        new = self.ports.metrics.window(self.spec.new_color, start, end)
        stable = self.ports.metrics.window(self.spec.stable_color, start, end)
        alarms = self.ports.metrics.alarms(self.spec.new_color)
        users = evaluate(new, stable, alarms, cfg, self._tests_of(settled, "users"))
        if users.outcome is Judgement.ALARM:
            return users
        if self.ports.metric_judge is not None:
            metric = self.ports.metric_judge.judge(self.spec.new_color, self.spec.stable_color, start, end)
            users = combine(users, metric)
        probes = self._probe(index, self._tests_of(settled, "probes"))
        accepted = frozenset(f"users:{t}" for t in users.accepted)
        if probes is not None:
            accepted |= frozenset(f"probes:{t}" for t in probes.accepted)
        split = check_split(new.requests, stable.requests, self.spec.plan.steps[index].weight, cfg)
        figures = {**users.figures, "split": split.to_dict()}
        if probes is not None:
            figures["probes"] = probes.to_dict()
        named = (("", users), ("probes: ", probes), ("observed split: ", split))
        failing = [(label, v) for label, v in named if v is not None and v.outcome is Judgement.FAIL]
        if failing:
            # Only point-estimate error failures: keyed by every error of the new color's evidence
            # in the step (users and probes, both cumulative), so a repeat is a check with no new error.
            on_errors = all(v.failed_on_errors is not None for _, v in failing)
            errors = new.errors_5xx + (self._probe_total.errors_5xx if probes is not None else 0)
            return Verdict(
                Judgement.FAIL,
                tuple(label + r for label, v in failing for r in v.reasons),
                figures,
                conclusive=any(v.conclusive for _, v in failing),
                accepted=accepted,
                failed_on_errors=errors if on_errors else None,
            )
        # The first step is small (1% by default): user traffic may be too thin to show anything in
        # its bake, so there the probes' evidence may stand in for it. Later steps need users'.
        users_ok = users.outcome is Judgement.PASS or (
            index == 0 and probes is not None and probes.outcome is Judgement.PASS
        )
        if users_ok and users.outcome is not Judgement.PASS:
            figures["passed_on"] = "probes"
        waiting = [] if users_ok else [*users.reasons]
        if split.outcome is not Judgement.PASS:
            waiting += [f"observed split: {r}" for r in split.reasons] or ["observed split: not confirmed yet"]
        if waiting:
            return Verdict(Judgement.INCONCLUSIVE, tuple(waiting), figures, accepted=accepted)
        return Verdict(Judgement.PASS, (), figures, accepted=accepted)

    def _probe(self, index: int, settled: frozenset[str] = frozenset()) -> Verdict | None:
        """Probes through the test listener (the new color only), added up over the step, judged
        against the stable color's synthetic baseline (thresholds only after a resume)."""
        bake, traffic = self.spec.plan.synthetic, self.ports.synthetic
        if bake is None or traffic is None or bake.probe_requests == 0:
            return None
        seconds = min(self.analysis.poll_seconds, bake.seconds)
        try:
            sent = traffic.send("test", bake.probe_requests, seconds)
        except PortError as exc:
            return Verdict(Judgement.INCONCLUSIVE, (f"probes not sent: {exc}",))
        if self._probe_step != index:
            self._probe_step, self._probe_total = index, sent
        else:
            self._probe_total = self._probe_total.plus(sent)
        return evaluate(self._probe_total, self._baseline, AlarmStatus(), self.analysis, settled)

    def _split(self, start: float, end: float, expected_new_percent: int) -> Verdict:
        new = self.ports.metrics.window(self.spec.new_color, start, end)
        stable = self.ports.metrics.window(self.spec.stable_color, start, end)
        return check_split(new.requests, stable.requests, expected_new_percent, self.analysis)

    def _report_check(self, m: Machine, index: int, verdict: Verdict, failed: int, seconds_left: float) -> None:
        fig = verdict.figures
        m.report(
            Progress(
                state=BAKING,
                step=index,
                steps=self.steps,
                failed_checks=failed,
                message=verdict.outcome.value + (": " + "; ".join(verdict.reasons) if verdict.reasons else ""),
                weights=self._weights_for(index),
                requests=fig.get("requests"),  # type: ignore[arg-type]
                error_rate=fig.get("error_rate"),  # type: ignore[arg-type]
                p99_seconds=fig.get("p99_seconds"),  # type: ignore[arg-type]
                seconds_left=max(0.0, seconds_left),
            )
        )

    def _await_weights(self, m: Machine, target: Weights) -> Weights:
        """Poll the load balancer until it reports `target` or the verify timeout passes."""
        deadline = m.now() + self.spec.verify_timeout_seconds
        observed = self.ports.router.observed_weights()
        while observed != target and m.now() < deadline:
            m.sleep(self.spec.verify_poll_seconds)
            observed = self.ports.router.observed_weights()
        return observed

    def _weights_for(self, index: int) -> Weights:
        return Weights.shifted(self.spec.stable_color, self.spec.plan.steps[index].weight)


def _send_both(traffic: SyntheticTraffic, requests: int, seconds: float) -> tuple[WindowMetrics, WindowMetrics]:
    """One look's stable and new parts, sent at the same time: each color meets the same moment's
    machine and network load, so a change of load between two parts sent one after the other
    cannot read as a slower or failing new version; and a look takes half as long.
    (stable via the production listener, new via the test listener); a PortError of either is raised."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="synthetic-look") as pool:
        stable = pool.submit(traffic.send, "production", requests, seconds)
        new = pool.submit(traffic.send, "test", requests, seconds)
        return stable.result(), new.result()


def _shortfall(color: Color, healthy: int, needed: int) -> str:
    """Why `color` with `healthy` targets may not take traffic ("" when it may)."""
    needed = max(1, needed)
    if healthy >= needed:
        return ""
    return f"{color} has {healthy} healthy target{'s' if healthy != 1 else ''} of {needed} needed"


def _summary(w: WindowMetrics) -> dict[str, Any]:
    return {"requests": w.requests, "errors_5xx": w.errors_5xx, "p99_seconds": w.p99_seconds}


def _step(status: Status) -> int:
    if status.step is None:
        raise PortError(f"{status.state} without a step index in the journal")
    return status.step
