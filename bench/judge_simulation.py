"""Judge simulation: false rollbacks of a good release and exposure to faulty ones, both judges.

A simulation, not a measurement of a real release: request streams at --rate req/s are split
between the colors by the step's weight (canary steps 1/10/50/100 by default), each request fails
with its color's error rate and takes a latency drawn from a log-normal distribution (median
50 ms). Every --poll seconds the judge sees the cumulative window since the step started, as
`driver/core/service.py` shows it: counts, p99 and the latency samples of both colors.

The caller's rules, per judge:
- threshold (the judge before issue 14, with today's caller): `threshold` failed checks across
  the release roll back;
- sequential: the first conclusive FAIL rolls back; other FAILs count toward `threshold`. A test
  that accepted is settled for the rest of its step (`Verdict.accepted`, as the driver does).
In both, a step moves on once it has baked its --bakes seconds and the check passes, and rolls back
with "not enough evidence" one more bake later (extension factor 1).

Rows: a good release (--background errors in both colors), and faults in the new color: 30% and
3% errors (on top of the background), and +600 ms latency. Figures per row and judge:
- rolled back: releases rolled back, of --runs;
- exposure: the new color's requests until the rollback, as a share of all user requests of the
  release until then (median and 90th percentile), and their number (median);
- decision: simulated seconds from the first request to the rollback (median and 90th percentile).

`--synthetic`: instead, the synthetic bake alone, for bakes of 200, 400 and 800 requests to each
color (sent and judged in the driver's parts, `SyntheticBake.parts`, stopping at a conclusive FAIL;
only the last part rolls back on a FAIL that is not conclusive): how often each release is
caught before any user request, and after how many requests to each color. Each row runs twice on
the same seeds: with the bake's looks today (`LOOK_FRACTIONS`) and with the doubling looks before
them (`DOUBLING_LOOK_FRACTIONS`).

Run: .venv/bin/python bench/judge_simulation.py [--runs 200] [--seed 14] [--synthetic]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from zero_downtime.driver.core.analysis import AnalysisConfig, Judgement, evaluate
from zero_downtime.driver.core.plan import DOUBLING_LOOK_FRACTIONS, LOOK_FRACTIONS, SyntheticBake, build_plan
from zero_downtime.driver.core.ports import AlarmStatus, WindowMetrics

NO_ALARMS = AlarmStatus()
MEDIAN_SECONDS = 0.05
SIGMA = 0.5


@dataclass(frozen=True)
class Fault:
    name: str
    extra_error_rate: float = 0.0
    extra_latency_seconds: float = 0.0


ROWS = (
    Fault("good release"),
    Fault("30% errors", extra_error_rate=0.30),
    Fault("3% errors", extra_error_rate=0.03),
    Fault("+600 ms latency", extra_latency_seconds=0.6),
)


@dataclass(frozen=True)
class Setup:
    rate: int
    steps: tuple[int, ...]
    bakes: tuple[float, ...]
    poll: float
    background: float
    samples: int

    @property
    def judgements(self) -> int:
        """Users only (no synthetic bake, so no probes): the plan's step judgements."""
        return build_plan("canary", steps=list(self.steps), intervals=list(self.bakes)).step_judgements()


@dataclass(frozen=True)
class Outcome:
    rolled_back: bool
    why: str
    new_requests: int
    all_requests: int
    seconds: float


@dataclass
class Window:
    """Cumulative per-color traffic of one step. The source reports p99 over every request and a
    uniform sample of at most `samples` latencies, as a metrics source with a reservoir would."""

    samples: int
    requests: int = 0
    errors: int = 0
    chunks: list[np.ndarray] | None = None

    def metrics(self, rng: np.random.Generator) -> WindowMetrics:
        if not self.chunks:
            return WindowMetrics(self.requests, self.errors)
        every = np.concatenate(self.chunks)
        self.chunks = [every]
        sample = every if len(every) <= self.samples else rng.choice(every, self.samples, replace=False)
        p99 = float(np.quantile(every, 0.99))
        return WindowMetrics(self.requests, self.errors, p99_seconds=p99, latencies=tuple(sample.tolist()))


def _serve(rng: np.random.Generator, n: int, error_rate: float, extra_latency: float, window: Window) -> None:
    if n == 0:
        return
    window.requests += n
    window.errors += int(rng.binomial(n, min(1.0, error_rate)))
    latencies = rng.lognormal(np.log(MEDIAN_SECONDS), SIGMA, n) + extra_latency
    window.chunks = [*(window.chunks or []), latencies]


def release(setup: Setup, fault: Fault, cfg: AnalysisConfig, conclusive_rolls_back: bool, seed: int) -> Outcome:
    """One simulated release, step by step, second by second."""
    rng = np.random.default_rng(seed)
    t, new_total, all_total, failed = 0.0, 0, 0, 0
    for weight, bake in zip(setup.steps, setup.bakes, strict=True):
        new, stable = Window(setup.samples), Window(setup.samples)
        elapsed, settled = 0.0, frozenset[str]()  # as the driver does: accepted tests stop for the step
        while True:
            for _ in range(int(setup.poll)):
                to_new = int(rng.binomial(setup.rate, weight / 100))
                _serve(rng, to_new, setup.background + fault.extra_error_rate, fault.extra_latency_seconds, new)
                _serve(rng, setup.rate - to_new, setup.background, 0.0, stable)
                new_total, all_total = new_total + to_new, all_total + setup.rate
            elapsed += setup.poll
            t += setup.poll
            verdict = evaluate(new.metrics(rng), stable.metrics(rng), NO_ALARMS, cfg, settled)
            settled |= verdict.accepted
            if verdict.outcome is Judgement.FAIL:
                failed += 1
                if conclusive_rolls_back and verdict.conclusive:
                    return Outcome(True, "conclusive", new_total, all_total, t)
                if failed >= cfg.threshold:
                    return Outcome(True, "failed checks", new_total, all_total, t)
                continue
            if elapsed < bake:
                continue
            if verdict.outcome is Judgement.PASS:
                break
            if elapsed >= 2 * bake:
                return Outcome(True, "not enough evidence", new_total, all_total, t)
    return Outcome(False, "promoted", new_total, all_total, t)


def synthetic_bake(
    requests: int, fault: Fault, cfg: AnalysisConfig, background: float, seed: int, looks: Sequence[float]
) -> int:
    """One synthetic bake as `ServiceRelease._synthetic_bake` runs it, judged after `looks` of its
    requests: the requests to each color when it was rolled back, or 0 when it let the release go on
    to user traffic."""
    rng = np.random.default_rng(seed)
    new, stable = Window(requests), Window(requests)
    parts = SyntheticBake(requests=requests).parts(looks)
    sent = 0
    for look, (n, _) in enumerate(parts):
        _serve(rng, n, background, 0.0, stable)
        _serve(rng, n, background + fault.extra_error_rate, fault.extra_latency_seconds, new)
        sent += n
        verdict = evaluate(new.metrics(rng), stable.metrics(rng), NO_ALARMS, cfg)
        if verdict.outcome is Judgement.FAIL and (verdict.conclusive or look == len(parts) - 1):
            return sent
    return 0


SCHEDULES = {"doubling (before round 6)": DOUBLING_LOOK_FRACTIONS, "every eighth after 1/4 (now)": LOOK_FRACTIONS}


def _synthetic_row(args: tuple[int, Fault, str, int, int, float]) -> tuple[int, Fault, str, list[int]]:
    requests, fault, schedule, runs, seed, background = args
    # the synthetic bake's share of the default canary plan's alpha (with users and probes)
    plan = build_plan("canary", synthetic=SyntheticBake())
    cfg, _ = JUDGES["sequential"][0].for_release(True, plan.step_judgements())
    looks = SCHEDULES[schedule]
    sent = [synthetic_bake(requests, fault, cfg, background, seed + i, looks) for i in range(runs)]
    return requests, fault, schedule, sent


def synthetic_table(runs: int, seed: int, background: float, workers: int) -> None:
    schedules = "".join(
        f"- {name}: after {', '.join(f'{f:.4g}' for f in looks)} of the requests\n" for name, looks in SCHEDULES.items()
    )
    print(
        f"Synthetic bake alone: {runs} bakes per row, background errors {background:.1%} in both colors, "
        f"the sequential judge's defaults, each look schedule on the same seeds:\n{schedules}"
    )
    print(
        "| requests to each color | release | looks | caught before user traffic "
        "| requests to each color when caught: median / p90 |"
    )
    print("| --- | --- | --- | --- | --- |")
    sizes = (200, 400, 800)
    jobs = [
        (n, fault, schedule, runs, seed * 100_000 + 1000 * r, background)
        for n in sizes
        for r, fault in enumerate(ROWS)
        for schedule in SCHEDULES
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for requests, fault, schedule, sent in pool.map(_synthetic_row, jobs):
            caught = [n for n in sent if n]
            at = f"{_pct(caught, 0.5):.0f} / {_pct(caught, 0.9):.0f}" if caught else "-"
            print(
                f"| {requests} | {fault.name} | {schedule} | {len(caught)}/{runs} ({len(caught) / runs:.1%}) | {at} |",
                flush=True,
            )


JUDGES = {
    "threshold": (AnalysisConfig(judge="threshold"), False),
    "sequential": (AnalysisConfig(judge="sequential"), True),
}


def _row(args: tuple[Setup, Fault, str, int, int, dict[str, object]]) -> list[Outcome]:
    setup, fault, judge, runs, seed, overrides = args
    cfg, conclusive = JUDGES[judge]
    _, cfg = replace(cfg, **overrides).for_release(False, setup.judgements)  # type: ignore[arg-type]
    return [release(setup, fault, cfg, conclusive, seed + i) for i in range(runs)]


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.quantile(values, q)) if values else float("nan")


def summarize(fault: Fault, judge: str, outcomes: list[Outcome]) -> str:
    runs = len(outcomes)
    rolled = [o for o in outcomes if o.rolled_back]
    whys = statistics.multimode([o.why for o in rolled]) if rolled else []
    counts = {why: sum(o.why == why for o in rolled) for why in sorted({o.why for o in rolled})}
    detail = ", ".join(f"{n} {why}" for why, n in counts.items()) or "-"
    del whys
    if fault.name == "good release":
        durations = [o.seconds for o in outcomes if not o.rolled_back]
        served = f"promoted in median {_pct(durations, 0.5):.0f} s" if durations else "never promoted"
        return f"| {fault.name} | {judge} | {len(rolled)}/{runs} ({len(rolled) / runs:.1%}) | {detail} | {served} | | |"
    shares = [o.new_requests / o.all_requests for o in rolled]
    new_counts = [o.new_requests for o in rolled]
    seconds = [o.seconds for o in rolled]
    missed = runs - len(rolled)
    return (
        f"| {fault.name} | {judge} | {len(rolled)}/{runs} | {detail}{f'; {missed} promoted' if missed else ''} | "
        f"{100 * _pct(shares, 0.5):.2f}% / {100 * _pct(shares, 0.9):.2f}% | "
        f"{_pct(new_counts, 0.5):.0f} | {_pct(seconds, 0.5):.0f} s / {_pct(seconds, 0.9):.0f} s |"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="simulated releases per row and judge")
    parser.add_argument("--rate", type=int, default=60, help="user requests per second")
    parser.add_argument("--steps", default="1,10,50,100", help="canary weights in percent")
    parser.add_argument(
        "--bakes",
        default="600,120,60,60",
        help="bake seconds per step: the 1%% step gets 0.6 req/s at 60 req/s and needs minutes of evidence",
    )
    parser.add_argument("--samples", type=int, default=1000, help="latency samples per color the source reports")
    parser.add_argument("--poll", type=int, default=5, help="seconds between checks")
    parser.add_argument("--background", type=float, default=0.005, help="background error rate of both colors")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--alpha", type=float, default=None, help="override the sequential judge's alpha")
    parser.add_argument("--beta", type=float, default=None, help="override the sequential judge's beta")
    parser.add_argument("--error-effect", type=float, default=None, help="override min_detectable_error_increase")
    parser.add_argument("--synthetic", action="store_true", help="the synthetic bake alone, by its size")
    args = parser.parse_args(argv)
    if args.synthetic:
        synthetic_table(args.runs, args.seed, args.background, args.workers)
        return
    setup = Setup(
        args.rate,
        tuple(int(s) for s in args.steps.split(",")),
        tuple(float(b) for b in args.bakes.split(",")),
        args.poll,
        args.background,
        args.samples,
    )
    overrides = {
        k: v
        for k, v in (("alpha", args.alpha), ("beta", args.beta), ("min_detectable_error_increase", args.error_effect))
        if v is not None
    }
    seq = replace(JUDGES["sequential"][0], **overrides)  # type: ignore[arg-type]
    print(
        f"Simulation: {args.runs} releases per row and judge, {setup.rate} req/s, steps {setup.steps} %, "
        f"bakes {', '.join(f'{b:g}' for b in setup.bakes)} s, poll {setup.poll} s, "
        f"background errors {setup.background:.1%} in both colors, "
        f"latency log-normal median {MEDIAN_SECONDS * 1000:.0f} ms, sigma {SIGMA}, "
        f"up to {setup.samples} latency samples per color and check."
    )
    print(
        f"Sequential judge: alpha {seq.alpha} per release ({seq.alpha_scope}), "
        f"{seq.for_release(False, setup.judgements)[1].alpha:.4g} for each of its {setup.judgements} judgements "
        "(users only, no synthetic bake), "
        f"beta {seq.beta}, error effect +{seq.min_detectable_error_increase:.1%}, "
        f"latency effect {seq.min_detectable_latency_ratio}x or +{seq.min_detectable_latency_seconds} s."
    )
    print()
    print(
        "| release | judge | rolled back | why | new color's share of requests until rollback (median / p90) "
        "| new-color requests (median) | decision (median / p90) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    jobs = [
        (setup, fault, judge, args.runs, args.seed * 100_000 + 1000 * r, overrides if judge == "sequential" else {})
        for r, fault in enumerate(ROWS)
        for judge in JUDGES
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for (_, fault, judge, *_), outcomes in zip(jobs, pool.map(_row, jobs), strict=True):
            print(summarize(fault, judge, outcomes), flush=True)
    print(f"\n({time.monotonic() - started:.0f} s wall clock; both judges see the same seeds per row)")


if __name__ == "__main__":
    main()
