"""The end-to-end rehearsal: blue v1 under load, a good canary (v2), a faulty release (v3).

Both releases are run by the driver's release machine through the local ports (HAProxy
router, HAProxy stats metrics, process deployer, pre-traffic checks against the instances).
Everything started here is stopped in `finally`, whatever happens, and signals cannot cut that
short; then the run's processes are looked up for real (lifetime.py) to report what is left.
Before anything starts, `--out` is checked and claimed (outdir.py) and the release store's lease
is checked, so a run that cannot finish is refused instead of failing midway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..app.settings import MAX_NOISE_ERROR_RATE, MAX_NOISE_JITTER_MS
from ..contract import Color, Weights, other_color
from ..driver.adapters.release_store import ReleaseStore
from ..driver.core.analysis import AnalysisConfig
from ..driver.core.errors import BusyError
from ..driver.core.machine import Machine, Progress, Result
from ..driver.core.plan import (
    DEFAULT_SYNTHETIC_CONCURRENCY,
    MAX_SYNTHETIC_CONCURRENCY,
    Plan,
    Strategy,
    SyntheticBake,
    build_plan,
)
from ..driver.core.ports import MetricsSource, SystemClock
from ..driver.core.service import ServicePorts, ServiceRelease, ServiceSpec
from ..store.local import LocalBlobs
from .chaos import KILL_DRIVER, Chaos, ChaosEvent, placement
from .checks import standard_checks
from .deployer import AppRelease, LocalDeployer, StopRecord
from .driver_process import PortServer, run_release
from .haproxy_process import HaproxyProcess, find_haproxy
from .lb_settings import LoadBalancerSettings
from .lifetime import kill_marked, marked_processes, shielded, workdir
from .loadgen import LoadGenerator, Record
from .metrics import MAX_LAG_SECONDS, HaproxyMetrics, LaggedMetrics
from .outdir import claim_out_dir, free_dead_lease
from .processes import Supervisor
from .router import HaproxyRouter, WeightChange
from .synthetic import LocalSyntheticTraffic, Probe

PROJECT = "zero-downtime"
STACK = "local-rehearsal"
SERVICE = "app"
GOOD, BAD, BASE = "v2", "v3", "v1"


class RehearsalError(RuntimeError):
    """The rehearsal's own set-up failed (an instance did not start or get healthy)."""


class RehearsalInterrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM stopped the run after everything was cleaned up; `leftover_pids` are the
    processes of the run found still alive after that (normally none)."""

    def __init__(self, leftover_pids: list[int]) -> None:
        super().__init__("interrupted")
        self.leftover_pids = leftover_pids


@dataclass(frozen=True)
class RehearsalConfig:
    """Everything a rehearsal run depends on (validated by `plans()` and `analysis()`)."""

    rate: float = 60.0
    instances: int = 2
    strategy: str = "canary"
    steps: tuple[int, ...] | None = (10, 50, 100)
    step_percent: int = 10
    interval: float = 6.0
    bad_strategy: str | None = None  # None: rehearse the bad release with the same plan
    poll_seconds: float = 1.0
    max_error_rate: float = 0.05
    max_p99_seconds: float = 2.0
    min_requests: int = 20
    threshold: int = 2
    baseline_seconds: float = 3.0
    keep_warm_seconds: float = 2.0
    settle_seconds: float = 3.0
    bad_error_rate: float = 0.3
    bad_latency_ms: float = 0.0
    max_seconds: float = 900.0  # hard bound on the load generator
    run_good: bool = True
    run_bad: bool = True
    out_dir: Path = Path("out/rehearsal")
    noise_error_rate: float = 0.0  # background 5xx share in every version (`--noise RATE:JITTER_MS`)
    noise_jitter_ms: float = 0.0  # background latency, uniform 0..this, in every version
    metrics_lag_seconds: float = 0.0  # what the driver's metrics source shows is this old (`--metrics-lag`)
    synthetic: bool = True  # synthetic bake before user traffic + probes at every check (`--no-synthetic`)
    synthetic_requests: int = 800
    synthetic_seconds: float = 5.0
    synthetic_concurrency: int = DEFAULT_SYNTHETIC_CONCURRENCY  # requests in flight (`--synthetic-concurrency`)
    probe_requests: int = 10
    judge: str | None = None  # the analysis judge (`--judge`); None: the driver's default
    lb_retries: bool = False  # HAProxy retries and redispatch (`--lb-retries`); an ALB has neither
    deregistration_delay: float | None = None  # drain seconds before SIGTERM (`--deregistration-delay`)
    chaos: tuple[str, ...] = ()  # chaos events during the good release (`--chaos`, rehearsal/chaos.py)

    def synthetic_bake(self, strategy: str) -> SyntheticBake | None:
        """The plan's synthetic bake: none when switched off, or for all-at-once (it checks nothing)."""
        if not self.synthetic or strategy == Strategy.ALL_AT_ONCE.value:
            return None
        return SyntheticBake(
            self.synthetic_requests,
            self.synthetic_seconds,
            self.probe_requests,
            concurrency=self.synthetic_concurrency,
        )

    def plan(self, strategy: str) -> Plan:
        steps = list(self.steps) if self.steps is not None and strategy == "canary" else None
        return build_plan(
            strategy,
            steps=steps,
            interval=self.interval,
            bake=self.interval,
            step_percent=self.step_percent,
            synthetic=self.synthetic_bake(strategy),
        )

    def good_plan(self) -> Plan:
        return self.plan(self.strategy)

    def bad_plan(self) -> Plan:
        return self.plan(self.bad_strategy or self.strategy)

    def schedule(self) -> dict[str, float]:
        """Seconds of load the scenario needs, by part: the releases' full plans (every step's
        bake) and keep-warm as if both promoted. Start-up, health waits and checks come on top."""
        parts = {"baseline": self.baseline_seconds}
        for version, plan, wanted in ((GOOD, self.good_plan(), self.run_good), (BAD, self.bad_plan(), self.run_bad)):
            if not wanted:
                continue
            if plan.synthetic is not None:  # stable's baseline, then the new color's, one after the other
                parts[f"release {version} synthetic bake"] = 2 * plan.synthetic.seconds
            parts[f"release {version} steps"] = plan.total_bake_seconds
            parts[f"{version} keep-warm"] = self.keep_warm_seconds
            if version == GOOD and KILL_DRIVER in self.chaos:  # the resumed driver bakes its step again
                parts["kill-driver: step baked again"] = self.interval
        parts["settle"] = self.settle_seconds
        return parts

    def min_seconds(self) -> float:
        """The shortest `--max-seconds` that keeps the load on for the whole schedule."""
        return sum(self.schedule().values())

    def load_balancer(self) -> LoadBalancerSettings:
        """The rehearsal's HAProxy: ALB-like, from the stack's defaults (lb_settings.py)."""
        return LoadBalancerSettings(retries=self.lb_retries, deregistration_delay=self.deregistration_delay)

    def analysis(self) -> AnalysisConfig:
        return AnalysisConfig(
            max_error_rate=self.max_error_rate,
            max_p99_seconds=self.max_p99_seconds,
            min_requests=self.min_requests,
            threshold=self.threshold,
            poll_seconds=self.poll_seconds,
            **({} if self.judge is None else {"judge": self.judge}),
        )

    def validate(self) -> None:
        """Raise ValueError naming the flag at fault, before anything starts."""
        checks: list[tuple[str, bool, str]] = [
            ("--rate", 0 < self.rate <= 2000, "must be in (0, 2000] requests/s"),
            ("--instances", 1 <= self.instances <= 8, "must be 1-8"),
            ("--baseline", 0 <= self.baseline_seconds <= 600, "must be 0-600 seconds"),
            ("--keep-warm", 0 <= self.keep_warm_seconds <= 600, "must be 0-600 seconds"),
            ("--settle", 0 <= self.settle_seconds <= 600, "must be 0-600 seconds"),
            ("--bad-error-rate", 0 <= self.bad_error_rate <= 1, "must be in [0, 1]"),
            ("--bad-latency-ms", 0 <= self.bad_latency_ms <= 60_000, "must be 0-60000"),
            ("--max-seconds", 10 <= self.max_seconds <= 24 * 3600, "must be 10-86400 seconds"),
            (
                "--noise",
                0 <= self.noise_error_rate <= MAX_NOISE_ERROR_RATE and 0 <= self.noise_jitter_ms <= MAX_NOISE_JITTER_MS,
                f"the error rate must be 0-{MAX_NOISE_ERROR_RATE:g} and the jitter 0-{MAX_NOISE_JITTER_MS:g} ms",
            ),
            ("--metrics-lag", 0 <= self.metrics_lag_seconds <= MAX_LAG_SECONDS, f"must be 0-{MAX_LAG_SECONDS:g} s"),
            ("--only", self.run_good or self.run_bad, "nothing to run"),
            (
                "--synthetic-concurrency",
                isinstance(self.synthetic_concurrency, int)
                and 1 <= self.synthetic_concurrency <= MAX_SYNTHETIC_CONCURRENCY,
                f"must be an integer 1-{MAX_SYNTHETIC_CONCURRENCY}",
            ),
        ]
        for flag, ok, message in checks:
            if not ok:
                raise ValueError(f"{flag}: {message}")
        good_plan = self.good_plan()
        self.bad_plan()
        self.analysis()
        self.load_balancer().validate()
        if self.chaos:
            if not self.run_good:
                raise ValueError("--chaos: needs the good release (--only good or both)")
            placement(self.chaos, len(good_plan.steps))
        needed = self.min_seconds()
        if self.max_seconds < needed:
            parts = " + ".join(f"{name} {seconds:g}" for name, seconds in self.schedule().items())
            raise ValueError(
                f"--max-seconds: must be at least {needed:g} seconds for this schedule ({parts}), "
                f"got {self.max_seconds:g}; a shorter bound would stop the load before the releases end"
            )


@dataclass(frozen=True)
class Phase:
    name: str
    start: float
    end: float


@dataclass
class ReleaseRun:
    """One release run inside the rehearsal."""

    version: str
    stable_color: Color
    plan: Plan
    result: Result
    start: float
    end: float


@dataclass
class RehearsalResult:
    """Raw material of the report and the chart."""

    config: RehearsalConfig
    records: list[Record]
    phases: list[Phase]
    releases: dict[str, ReleaseRun]
    weight_history: list[WeightChange]
    stops: list[StopRecord]
    started_at: float
    ended_at: float
    leftover_pids: list[int] = field(default_factory=list)
    workdir: str = ""  # the run's temporary directory (removed at the end)
    probes: list[Probe] = field(default_factory=list)  # synthetic requests (bakes and probes), not user traffic
    chaos: list[ChaosEvent] = field(default_factory=list)  # chaos events as they happened (`--chaos`)
    chaos_missed: list[str] = field(default_factory=list)  # chosen events that never fired
    load_balancer: str = ""  # how the load balancer behaved (retries on or off, drain, health check)


class Observer:
    """Receives live progress; the CLI renders it with rich. Default: ignore."""

    def phase(self, name: str) -> None:
        return None

    def progress(self, version: str, update: Progress) -> None:
        return None

    def attach(self, records: Callable[[], list[Record]], router: HaproxyRouter) -> None:
        return None

    def frontend(self, url: str) -> None:
        """HAProxy's production listener, once v1 serves behind it: for outside load (scripts/k6_check.py)."""
        return None


def run_rehearsal(cfg: RehearsalConfig, observer: Observer | None = None) -> RehearsalResult:
    """Run the whole scenario.

    Before starting anything: ValueError for a bad config, HaproxyMissing without HAProxy,
    OutDirError / OutDirBusy when `out_dir` cannot be written or another run uses it, BusyError
    when a live process holds the release store's lease. RehearsalInterrupted (a KeyboardInterrupt)
    after the cleanup when SIGINT/SIGTERM stopped the run.
    """
    cfg.validate()
    find_haproxy()  # fail with the install hint before creating anything
    with claim_out_dir(cfg.out_dir), workdir() as work:
        return _run(cfg, observer or Observer(), work)


def _run(cfg: RehearsalConfig, obs: Observer, work: Path) -> RehearsalResult:
    # The release store of the rehearsal: local files, the same journal, lease and format as S3.
    journal = ReleaseStore(LocalBlobs(cfg.out_dir / "store"), PROJECT, STACK, SERVICE, SystemClock())
    freed = free_dead_lease(journal)  # left by a run of this host that was killed mid-release
    lease = journal.lease()
    if lease is not None and lease.live(journal.clock.now()):
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lease.expires_at))
        raise BusyError(
            f"--out {cfg.out_dir}: the release store there is held by {lease.holder} until {until} "
            "(a process still running, or of another host); nothing was started"
        )
    marker = str(work)  # ZDD_REHEARSAL_RUN of every process of this run
    lb = cfg.load_balancer()
    check = lb.health_check()
    chaos = (
        Chaos(cfg.chaos, GOOD, len(cfg.good_plan().steps), cfg.good_plan().steps[0].bake_seconds) if cfg.chaos else None
    )
    if chaos is not None:
        obs = chaos.observer(obs)
    haproxy = HaproxyProcess(
        work,
        slots_per_color=cfg.instances,
        check=check,
        marker=marker,
        reloadable=chaos is not None and chaos.reloadable,
        retries=lb.retries,
    )
    supervisor = Supervisor(work, marker)
    loadgen: LoadGenerator | None = None
    metrics: HaproxyMetrics | None = None
    synthetic: LocalSyntheticTraffic | None = None
    phases: list[Phase] = []
    releases: dict[str, ReleaseRun] = {}
    started = time.time()
    router: HaproxyRouter | None = None
    deployer: LocalDeployer | None = None

    def stop_everything() -> list[int]:
        """Idempotent: stop through the handles, then kill whatever still carries the marker."""
        if loadgen is not None:
            loadgen.stop()
        if metrics is not None:
            metrics.stop()
        if synthetic is not None:
            synthetic.close()
        if chaos is not None:
            chaos.close()
        supervisor.stop_all()
        haproxy.stop()
        kill_marked(marker)  # a process whose handle was lost (e.g. a signal inside Popen)
        left = {inst.proc.pid for inst in supervisor.alive()} | set(marked_processes(marker))
        if haproxy.running and haproxy.pid is not None:
            left.add(haproxy.pid)
        return sorted(left)

    leftovers: list[int] | None = None
    try:
        try:
            if freed:
                obs.phase(f"freed the release store's lease left by {freed}, a run that was killed")
            obs.phase("starting HAProxy and blue v1")
            haproxy.start()
            assert haproxy.api is not None and haproxy.layout is not None
            noise = {"noise_error_rate": cfg.noise_error_rate, "noise_jitter_ms": cfg.noise_jitter_ms}
            env = chaos.app_env() if chaos is not None else {}
            deployer = LocalDeployer(
                haproxy,
                supervisor,
                {
                    BASE: AppRelease(BASE, **noise, extra_env=env),
                    GOOD: AppRelease(GOOD, **noise, extra_env=env),
                    BAD: AppRelease(
                        BAD, error_rate=cfg.bad_error_rate, added_latency_ms=cfg.bad_latency_ms, **noise, extra_env=env
                    ),
                },
                deregistration_delay_seconds=lb.drain_seconds,
            )
            router = HaproxyRouter(haproxy.api, deployer.attached, test_map_path=haproxy.layout.test_map_path)
            if chaos is not None:
                chaos.bind(haproxy, deployer, router)
            deployer.deploy_idle("blue", BASE, cfg.instances)
            if not deployer.wait_healthy("blue", 30):
                raise RehearsalError("blue v1 did not become healthy behind HAProxy within 30s")
            router.set_weights(Weights.all_to("blue"))

            loadgen = LoadGenerator(haproxy.url, cfg.rate, int(cfg.rate * cfg.max_seconds), cfg.max_seconds)
            metrics = HaproxyMetrics(haproxy.api, loadgen.snapshot)
            metrics.start()
            loadgen.start()
            obs.attach(loadgen.snapshot, router)
            obs.frontend(haproxy.url)

            live: Color = "blue"
            t = time.time()
            obs.phase(f"baseline: {BASE} on blue")
            time.sleep(cfg.baseline_seconds)
            phases.append(Phase(f"baseline {BASE}", t, time.time()))

            driver_metrics: MetricsSource = metrics
            if cfg.metrics_lag_seconds > 0:
                driver_metrics = LaggedMetrics(metrics, cfg.metrics_lag_seconds)
            if cfg.synthetic:
                synthetic = LocalSyntheticTraffic(haproxy.url, haproxy.test_url, concurrency=cfg.synthetic_concurrency)
            ports_for = _ports_factory(router, driver_metrics, deployer, synthetic)
            for version, plan, wanted in (
                (GOOD, cfg.good_plan(), cfg.run_good),
                (BAD, cfg.bad_plan(), cfg.run_bad),
            ):
                if not wanted:
                    continue
                label = "good" if version == GOOD else "faulty"
                obs.phase(f"release {version} ({label}, {plan.strategy.value}) to {other_color(live)}")
                if chaos is not None and chaos.drives_release(version):
                    ports = ports_for(live, version)
                    run = _release_in_driver_process(cfg, journal, ports, version, live, plan, obs, chaos, work)
                else:
                    run = _release(cfg, journal, ports_for(live, version), version, live, plan, obs)
                releases[version] = run
                phases.append(Phase(f"release {version} ({label})", run.start, run.end))
                if run.result.state == "SUCCEEDED":
                    live = other_color(live)

            t = time.time()
            obs.phase("settling")
            time.sleep(cfg.settle_seconds)
            phases.append(Phase("after releases", t, time.time()))
        finally:
            # Whatever ended the run (the end, an error, a signal): signals from here on are noted, not raised.
            leftovers = shielded(stop_everything)
    except KeyboardInterrupt:
        raise RehearsalInterrupted(leftovers or []) from None
    except Exception as exc:
        if leftovers:
            exc.add_note(f"processes left behind (could not be stopped): {', '.join(map(str, leftovers))}")
        raise
    return RehearsalResult(
        config=cfg,
        records=sorted(loadgen.snapshot() if loadgen else [], key=lambda r: r.sent_at),
        phases=phases,
        releases=releases,
        weight_history=list(router.history) if router else [],
        stops=list(deployer.stops) if deployer else [],
        started_at=started,
        ended_at=time.time(),
        leftover_pids=leftovers or [],
        workdir=str(work),
        probes=sorted(synthetic.probes if synthetic else [], key=lambda p: p.sent_at),
        chaos=sorted(chaos.events, key=lambda e: e.at) if chaos is not None else [],
        chaos_missed=chaos.missed() if chaos is not None else [],
        load_balancer=lb.describe(),
    )


def _ports_factory(
    router: HaproxyRouter,
    metrics: MetricsSource,
    deployer: LocalDeployer,
    synthetic: LocalSyntheticTraffic | None = None,
) -> Callable[[Color, str], ServicePorts]:
    def make(stable: Color, version: str) -> ServicePorts:
        new = other_color(stable)
        return ServicePorts(
            router=router,
            metrics=metrics,
            deployer=deployer,
            checks=standard_checks(lambda: deployer.instances(new), version),
            synthetic=synthetic,
        )

    return make


def _release(
    cfg: RehearsalConfig,
    journal: ReleaseStore,
    ports: ServicePorts,
    version: str,
    stable: Color,
    plan: Plan,
    obs: Observer,
) -> ReleaseRun:
    spec = _spec(cfg, version, stable, plan)
    start = time.time()
    with journal.hold():
        machine = Machine.start(
            ServiceRelease(spec, ports), journal, SystemClock(), on_progress=lambda p: obs.progress(version, p)
        )
        result = machine.run()
    return ReleaseRun(version, stable, plan, result, start, time.time())


def _release_in_driver_process(
    cfg: RehearsalConfig,
    journal: ReleaseStore,
    ports: ServicePorts,
    version: str,
    stable: Color,
    plan: Plan,
    obs: Observer,
    chaos: Chaos,
    work: Path,
) -> ReleaseRun:
    """The release in a separate driver process (`--chaos kill-driver`), resumed by another after its kill."""
    server = PortServer(ports, lambda p: obs.progress(version, p))
    driver: list[int] = []
    chaos.driver_pid = lambda: driver[-1] if driver else None
    start = time.time()
    try:
        ran = run_release(
            server,
            cfg.out_dir / "store",
            (PROJECT, STACK, SERVICE),
            _spec(cfg, version, stable, plan),
            workdir=work,
            marker=str(work),
            timeout_seconds=cfg.max_seconds,
            on_start=lambda proc: driver.append(proc.pid),
            killed=chaos.driver_killed,
            journal=journal,
        )
    except RuntimeError as exc:
        raise RehearsalError(f"--chaos kill-driver: {exc}") from exc
    finally:
        chaos.driver_pid = lambda: None
        server.close()
    if ran.resumed_at is not None:
        chaos.driver_resumed(ran.resumed_at, ran.resumed_in or "", ran.pids[-1])
    return ReleaseRun(version, stable, plan, ran.result, start, time.time())


def _spec(cfg: RehearsalConfig, version: str, stable: Color, plan: Plan) -> ServiceSpec:
    return ServiceSpec(
        stack=STACK,
        service=SERVICE,
        image=version,
        desired_count=cfg.instances,
        stable_color=stable,
        plan=plan,
        analysis=cfg.analysis(),
        health_timeout_seconds=30.0,
        keep_warm_seconds=cfg.keep_warm_seconds,
        verify_timeout_seconds=5.0,
        verify_poll_seconds=0.1,
        stable_desired_count=cfg.instances,
        project=PROJECT,
        rule_arn="haproxy:backend/app",
    )
