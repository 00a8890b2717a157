"""Issue 14's evidence table: how often each release is rolled back, how much of the faulty release
the bad version served, and how long from its first bad response to traffic restored.

Runs the local rehearsal (real HAProxy and processes on 127.0.0.1, the driver's release machine)
`--runs` times per row, each run as its own `python -m zero_downtime.rehearsal --json` process with a
hard time bound (SIGTERM, then SIGKILL), and prints a table. Not a test: figures vary with the machine.

Rows, each with today's judge (`threshold`) beside the new one (`sequential`):
- good release, background noise (0.5% errors, jitter) in both versions;
- faults in the new version: 30% errors, 3% errors, +600 ms latency;
- the same faults with `--metrics-lag` (60 s), with and without the synthetic bake and probes. Their
  bakes outlast the lag (`--lag-interval`), so lagged user metrics can decide at all.

Every row passes the driver's `--min-requests` (50), not the rehearsal's 20: with 0.5% background
errors, the error-rate guard's point estimate at 20 requests counts a failure on 2 errors in 30
probes, and two such counts rolled back about 2% of good releases (simulated; 1 of 20 in round 6).

Usage: .venv/bin/python bench/evidence.py [--runs 20] [--rate 100] [--steps 10,50,100] [--interval 8]
       [--min-requests 50] [--rows TEXT] [--row NAME ...]   (several processes may run different rows at once: ports and
                                         output directories are per run)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.service import ServiceSpec
from zero_downtime.rehearsal.cli import build_parser, config_from_args

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAULTS = {
    "30% errors": ["--bad-error-rate", "0.3", "--bad-latency-ms", "0"],
    "3% errors": ["--bad-error-rate", "0.03", "--bad-latency-ms", "0"],
    "+600 ms": ["--bad-error-rate", "0", "--bad-latency-ms", "600"],
}
START_MARGIN_SECONDS = 60.0  # HAProxy, instances, health waits and the cleanup, on top of the load bound


@dataclass(frozen=True)
class Row:
    name: str
    args: tuple[str, ...]
    good: bool = False  # the good release (rolled back is the failure) rather than a fault


@dataclass
class Outcome:
    rolled_back: int = 0
    false_alarms: list[str] = field(default_factory=list)
    """Why each good release was rolled back."""
    caught_pre_traffic: int = 0
    shares: list[float] = field(default_factory=list)
    restores: list[float] = field(default_factory=list)
    beyond_background: list[int] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # runs that gave no figures, and why
    not_rolled_back: list[str] = field(default_factory=list)  # faults that were not, and why


JUDGES = ("threshold", "sequential")  # today's judge beside the new one


def rows(args: argparse.Namespace) -> list[Row]:
    base = (
        "--rate",
        str(args.rate),
        "--steps",
        args.steps,
        "--noise",
        args.noise,
        "--baseline",
        "1",
        "--keep-warm",
        "1",
        "--settle",
        "1",
        "--min-requests",
        str(args.min_requests),
        "--no-chart",
    )
    short = (*base, "--interval", str(args.interval))
    lagged = (*base, "--interval", str(args.lag_interval), "--metrics-lag", str(args.lag))
    out = [Row(f"good, noise {args.noise}", (*short, "--only", "good"), good=True)]
    out += [Row(name, (*short, "--only", "bad", *fault)) for name, fault in FAULTS.items()]
    for synthetic in (True, False):
        label = "synthetic+probes" if synthetic else "no synthetic"
        switch = () if synthetic else ("--no-synthetic",)
        out += [
            Row(f"{name}, lag {args.lag:g}s, {label}", (*lagged, "--only", "bad", *fault, *switch))
            for name, fault in FAULTS.items()
        ]
    return out


def bound_seconds(cli_args: list[str]) -> tuple[float, float]:
    """(--max-seconds, the process's hard bound) for one run: the schedule with every step extended
    as far as the driver may (`ServiceSpec.extension_factor` more bakes), plus start-up."""
    cfg = config_from_args(build_parser().parse_args([*cli_args, "--out", "unused"]))
    steps = sum(
        p.total_bake_seconds for p, run in ((cfg.good_plan(), cfg.run_good), (cfg.bad_plan(), cfg.run_bad)) if run
    )
    max_seconds = math.ceil(cfg.min_seconds() + steps * ServiceSpec.extension_factor + 10)
    return max_seconds, max_seconds + START_MARGIN_SECONDS


def run_once(cli_args: list[str], out: Path, bound: float) -> dict[str, object] | str:
    """One rehearsal; its JSON summary, or why there is none."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "zero_downtime.rehearsal", *cli_args, "--json", "--out", str(out)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        stdout, stderr = proc.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the rehearsal stops every process it started, then exits 130
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return f"timed out after {bound:g}s"
    if proc.returncode not in (0, 1):
        return f"exit {proc.returncode}: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}"
    try:
        return json.loads(stdout)  # type: ignore[no-any-return]
    except json.JSONDecodeError:
        return "no JSON summary"


def record(outcome: Outcome, row: Row, summary: dict[str, object]) -> None:
    state = summary["good_release_state"] if row.good else summary["bad_release_state"]
    outcome.rolled_back += state == "ROLLED_BACK"
    if row.good and state == "ROLLED_BACK":
        outcome.false_alarms.append(str(summary.get("good_release_reason") or "?"))
    beyond = summary["good_release_failed_beyond_background" if row.good else "bad_release_failed_beyond_background"]
    if isinstance(beyond, int):
        outcome.beyond_background.append(beyond)
    if row.good:
        return
    if state != "ROLLED_BACK":
        outcome.not_rolled_back.append(f"{state}: {summary.get('bad_release_reason') or '?'}")
    outcome.caught_pre_traffic += bool(summary.get("bad_release_caught_before_users"))
    if isinstance(share := summary.get("bad_version_share_release"), float | int):
        outcome.shares.append(float(share))
    if isinstance(restore := summary.get("rollback_seconds"), float | int):
        outcome.restores.append(float(restore))


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def spread(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    return f"{format(statistics.median(values), fmt)} / {format(nearest_rank(values, 0.9), fmt)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs per row and judge (default 20)")
    parser.add_argument("--rate", type=float, default=100.0, help="user requests/s (default 100)")
    parser.add_argument("--steps", default="10,50,100", help="canary steps (default 10,50,100)")
    parser.add_argument("--interval", type=float, default=8.0, help="bake seconds per step without lag (default 8)")
    parser.add_argument("--noise", default="0.005:20", help="background RATE:JITTER_MS in every row (0.005:20)")
    parser.add_argument(
        "--min-requests",
        type=int,
        default=AnalysisConfig().min_requests,
        help=f"requests per step and source before a pass (default {AnalysisConfig().min_requests}, the driver's)",
    )
    parser.add_argument("--lag", type=float, default=60.0, help="--metrics-lag of the lagged rows (default 60)")
    parser.add_argument("--lag-interval", type=float, default=None, help="their bake seconds (default lag + 15)")
    parser.add_argument("--rows", default="", help="only rows whose name contains this text")
    parser.add_argument("--row", action="append", default=[], help="only the row of exactly this name (repeatable)")
    parser.add_argument("--judges", default=",".join(JUDGES), help="comma list of judges (default: both, side by side)")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be 1-1000")
    args.lag_interval = args.lag_interval or args.lag + 15
    plan = [r for r in rows(args) if args.rows in r.name and (not args.row or r.name in args.row)]
    if not plan:
        parser.error(f"no row matches; the rows: {', '.join(r.name for r in rows(args))}")
    judges = [j for j in JUDGES if j in args.judges.split(",")]
    if not judges:
        parser.error(f"--judges: none of {args.judges!r} is a judge; the judges: {','.join(JUDGES)}")
    variants = [(row, judge) for row in plan for judge in judges]
    bounds = {}
    for row, judge in variants:
        cli = [*row.args, *(["--judge", judge] if judge else [])]
        bounds[(row.name, judge)] = (cli, *bound_seconds(cli))
    total = sum(hard for _, _, hard in bounds.values()) * args.runs
    print(
        f"{len(variants)} rows x {args.runs} runs of the local rehearsal (HAProxy on 127.0.0.1), "
        f"{args.rate:g} req/s, steps {args.steps}, bake {args.interval:g}s ({args.lag_interval:g}s with lag), "
        f"noise {args.noise} in every row",
        flush=True,
    )
    print(f"every run stops by itself; all together take at most {total / 60:.0f} min ({total:.0f} s)", flush=True)
    outcomes: dict[tuple[str, str | None], Outcome] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zdd-evidence-") as tmp:  # journals only; removed after
        for n, (row, judge) in enumerate(variants):
            cli, max_seconds, hard = bounds[(row.name, judge)]
            outcome = outcomes.setdefault((row.name, judge), Outcome())
            for i in range(args.runs):
                result = run_once([*cli, "--max-seconds", str(max_seconds)], Path(tmp) / f"{n}-{i}", hard)
                if isinstance(result, str):
                    outcome.broken.append(result)
                else:
                    record(outcome, row, result)
            elapsed = time.monotonic() - started
            print(f"  [{elapsed:5.0f}s] {row.name} / {judge or 'driver default'}: done", file=sys.stderr, flush=True)

    header = (
        f"{'row':<38} {'judge':<10} {'rolled back':>11} {'pre-traffic':>11} "
        f"{'bad share med/p90':>19} {'restored s med/p90':>19} {'failed beyond bg':>16}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for (name, judge), o in outcomes.items():
        runs = args.runs - len(o.broken)
        good = name.startswith("good")
        beyond = (
            f"{sum(o.beyond_background)} ({max(o.beyond_background, default=0)} max)" if o.beyond_background else "-"
        )
        print(
            f"{name:<38} {judge or 'default':<10} {f'{o.rolled_back}/{runs}':>11} "
            f"{'-' if good else f'{o.caught_pre_traffic}/{runs}':>11} "
            f"{spread([100 * s for s in o.shares], '.2f') + ' %' if o.shares else '-':>19} "
            f"{spread(o.restores, '.2f'):>19} {beyond:>16}"
        )
        for why in o.false_alarms:
            print(f"    rolled back: {why[:160]}")
        for why in o.not_rolled_back:
            print(f"    not rolled back: {why[:160]}")
        for why in sorted(set(o.broken)):
            print(f"    {o.broken.count(why)} run(s) gave no figures: {why}")
    print(
        "\nrolled back: of the good release, a false alarm; of a fault, the goal. pre-traffic: faults rolled back "
        "before any user request. bad share: the faulty release's user requests the bad version served. "
        "restored: first bad response (user or synthetic) -> weights back on stable. failed beyond bg: failed user "
        "requests the background noise does not explain, summed over the runs (worst run)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
