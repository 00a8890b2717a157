"""`zdd-rehearse` / `python -m zero_downtime.rehearsal`: the full local rehearsal, with flags to
rehearse a release plan.

Exit codes: 0 every expectation met, 1 an expectation failed (the report says which),
2 invalid flag or unwritable --out (nothing started), 3 HAProxy missing or the rehearsal could not
set itself up, 5 busy: another run uses the same --out (nothing started), 130 interrupted (SIGINT or
SIGTERM; every process is stopped first, and further signals cannot cut that short).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..driver.core.errors import BusyError, InputError, JournalError, PortError
from ..driver.core.plan import Strategy, parse_int_list
from ..store import StoreError
from .chaos import KINDS as CHAOS_KINDS
from .chaos import parse_chaos
from .chart import write_chart
from .haproxy_process import HaproxyFailed, HaproxyMissing, find_haproxy
from .lifetime import SignalGuard
from .live import LiveObserver
from .outdir import OutDirBusy, OutDirError, claim_out_dir
from .report import chart_notes, render, summarize
from .scenario import RehearsalConfig, RehearsalError, RehearsalInterrupted, run_rehearsal

EXIT_OK, EXIT_EXPECTATION, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_BUSY = 5  # the driver's exit code for BusyError too
EXIT_INTERRUPTED = 130
EXIT_CODES = """exit codes:
  0    every expectation met
  1    an expectation failed (the report says which)
  2    invalid flag or unwritable --out (the message names it; nothing was started)
  3    HAProxy missing or the rehearsal could not set itself up
  5    busy: another run uses the same --out (nothing was started)
  130  interrupted by SIGINT/SIGTERM (every process is stopped first; more signals cannot cut that short)"""

# Release setting named by a driver error -> the rehearsal flag that sets it.
FLAG_OF = {
    "strategy": "--strategy",
    "steps": "--steps",
    "step_percent": "--step-percent",
    "interval": "--interval",
    "bake": "--interval",
    "analysis.max_error_rate": "--max-error-rate",
    "analysis.max_p99_seconds": "--max-p99",
    "analysis.min_requests": "--min-requests",
    "analysis.threshold": "--threshold",
    "analysis.poll_seconds": "--poll",
    "analysis.judge": "--judge",
    "synthetic_requests": "--synthetic-requests",
    "synthetic_seconds": "--synthetic-seconds",
    "synthetic_concurrency": "--synthetic-concurrency",
    "probe_requests": "--probe-requests",
}


def parse_noise(text: str) -> tuple[float, float]:
    """`--noise RATE:JITTER_MS` (e.g. `0.005:50`) -> (error rate, jitter ms); ValueError names the flag."""
    rate, sep, jitter = text.partition(":")
    try:
        values = (float(rate), float(jitter) if sep else 0.0)
    except ValueError:
        raise ValueError(f"--noise: must be RATE:JITTER_MS, e.g. 0.005:50, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"--noise: must be finite numbers, got {text!r}")
    return values


def build_parser() -> argparse.ArgumentParser:
    d = RehearsalConfig()
    p = argparse.ArgumentParser(
        prog="zdd-rehearse",
        description="Blue v1 under load behind HAProxy, a canary release of v2, then a faulty v3\n"
        "that must be rolled back automatically. Writes a report and a PNG chart.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    strategies = [s.value for s in Strategy]
    p.add_argument("--strategy", default=d.strategy, choices=strategies, help="release plan (default canary)")
    p.add_argument("--steps", default="10,50,100", help="canary step weights in %% (default 10,50,100)")
    p.add_argument("--step-percent", type=int, default=d.step_percent, help="linear step (default 10)")
    p.add_argument("--interval", type=float, default=d.interval, help="bake seconds per step (default 6)")
    p.add_argument(
        "--bad-strategy", choices=strategies, default=None, help="plan for the faulty release (default: --strategy)"
    )
    p.add_argument("--poll", type=float, default=d.poll_seconds, help="seconds between analysis checks (default 1)")
    p.add_argument("--max-error-rate", type=float, default=d.max_error_rate, help="5xx ratio limit (default 0.05)")
    p.add_argument("--max-p99", type=float, default=d.max_p99_seconds, help="p99 limit in seconds (default 2)")
    p.add_argument("--min-requests", type=int, default=d.min_requests, help="requests per step to pass (default 20)")
    p.add_argument("--threshold", type=int, default=d.threshold, help="failed checks before rollback (default 2)")
    p.add_argument("--rate", type=float, default=d.rate, help="load in requests/s (default 60)")
    p.add_argument("--instances", type=int, default=d.instances, help="instances per color (default 2)")
    p.add_argument("--baseline", type=float, default=d.baseline_seconds, help="seconds of v1-only load (default 3)")
    p.add_argument("--keep-warm", type=float, default=d.keep_warm_seconds, help="old color kept after promote (2)")
    p.add_argument("--settle", type=float, default=d.settle_seconds, help="load after the releases (default 3)")
    p.add_argument("--bad-error-rate", type=float, default=d.bad_error_rate, help="v3 injected 5xx ratio (0.3)")
    p.add_argument("--bad-latency-ms", type=float, default=d.bad_latency_ms, help="v3 added latency (default 0)")
    p.add_argument("--only", choices=["good", "bad", "both"], default="both", help="which releases to run")
    p.add_argument(
        "--noise",
        default="0:0",
        metavar="RATE:JITTER_MS",
        help="background in every version: share of 500s and uniform 0..JITTER_MS added latency, e.g. 0.005:50 "
        "(default 0:0, none)",
    )
    p.add_argument(
        "--metrics-lag",
        type=float,
        default=d.metrics_lag_seconds,
        metavar="SECONDS",
        help="the driver's metrics show only what happened this long ago, as CloudWatch's (default 0)",
    )
    p.add_argument(
        "--no-synthetic",
        action="store_true",
        help="no synthetic bake before user traffic and no probes during bakes (default: both on)",
    )
    p.add_argument(
        "--synthetic-requests",
        type=int,
        default=d.synthetic_requests,
        help=f"synthetic bake: requests to each color (default {d.synthetic_requests})",
    )
    p.add_argument(
        "--synthetic-seconds",
        type=float,
        default=d.synthetic_seconds,
        help=f"synthetic bake: at most this long per color (default {d.synthetic_seconds:g})",
    )
    p.add_argument(
        "--synthetic-concurrency",
        type=int,
        default=d.synthetic_concurrency,
        help=f"synthetic requests and probes in flight at a time, 1-64 (default {d.synthetic_concurrency})",
    )
    p.add_argument(
        "--probe-requests",
        type=int,
        default=d.probe_requests,
        help=f"probes through the test listener at every analysis check (default {d.probe_requests})",
    )
    p.add_argument(
        "--judge",
        choices=["sequential", "threshold"],
        default=None,
        help="analysis judge (default: the driver's; threshold is the fixed-threshold judge)",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=d.max_seconds,
        help="hard bound on the load (default 900); at least the schedule: baseline + every step's bake "
        "+ keep-warm per release + settle",
    )
    p.add_argument(
        "--chaos",
        default="",
        metavar="EVENTS",
        help="chaos during the good release: all, or a comma list of " + ", ".join(CHAOS_KINDS) + " (default none)",
    )
    p.add_argument(
        "--lb-retries",
        action="store_true",
        help="let HAProxy retry failed connections on another instance (an ALB does not; the report says so)",
    )
    p.add_argument(
        "--deregistration-delay",
        type=float,
        default=None,
        metavar="SECONDS",
        help="drain before SIGTERM (default: the stack's 30 s delay x0.05 = 1.5 s)",
    )
    p.add_argument("--out", type=Path, default=d.out_dir, help="report/chart/journal dir (default out/rehearsal)")
    p.add_argument("--no-chart", action="store_true", help="do not write the PNG chart")
    p.add_argument("--json", action="store_true", help="print the summary as JSON instead of tables")
    return p


def config_from_args(args: argparse.Namespace) -> RehearsalConfig:
    steps = tuple(parse_int_list("steps", args.steps)) if args.strategy == "canary" else None
    noise_error_rate, noise_jitter_ms = parse_noise(args.noise)
    chaos = parse_chaos(args.chaos) if args.chaos else ()
    cfg = RehearsalConfig(
        rate=args.rate,
        instances=args.instances,
        strategy=args.strategy,
        steps=steps,
        step_percent=args.step_percent,
        interval=args.interval,
        bad_strategy=args.bad_strategy,
        poll_seconds=args.poll,
        max_error_rate=args.max_error_rate,
        max_p99_seconds=args.max_p99,
        min_requests=args.min_requests,
        threshold=args.threshold,
        baseline_seconds=args.baseline,
        keep_warm_seconds=args.keep_warm,
        settle_seconds=args.settle,
        bad_error_rate=args.bad_error_rate,
        bad_latency_ms=args.bad_latency_ms,
        max_seconds=args.max_seconds,
        run_good=args.only in ("good", "both"),
        run_bad=args.only in ("bad", "both"),
        out_dir=args.out,
        noise_error_rate=noise_error_rate,
        noise_jitter_ms=noise_jitter_ms,
        metrics_lag_seconds=args.metrics_lag,
        lb_retries=args.lb_retries,
        deregistration_delay=args.deregistration_delay,
        synthetic=not args.no_synthetic,
        synthetic_requests=args.synthetic_requests,
        synthetic_seconds=args.synthetic_seconds,
        synthetic_concurrency=args.synthetic_concurrency,
        probe_requests=args.probe_requests,
        judge=args.judge,
        chaos=chaos,
    )
    cfg.validate()
    return cfg


def _say(console: Console, text: str) -> None:
    """`error: ...` / `busy: ...` with the prefix colored; the rest is printed as is (no markup)."""
    prefix, sep, rest = text.partition(": ")
    style = {"error": "red", "busy": "yellow", "interrupted": "yellow"}.get(prefix, "")
    console.print(Text.assemble((prefix + sep, style), rest), highlight=False, soft_wrap=True)


def _error(console: Console, exc: BaseException) -> None:
    notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", []))
    _say(console, f"error: {exc}{notes}")


def _interrupted(console: Console, leftovers: list[int]) -> int:
    if leftovers:
        pids = ", ".join(map(str, leftovers))
        _say(console, f"interrupted: {len(leftovers)} process(es) of the rehearsal could not be stopped: {pids}")
    else:
        _say(console, "interrupted: every process started by the rehearsal was stopped (none is left)")
    return EXIT_INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=args.json)
    try:
        cfg = config_from_args(args)
    except InputError as exc:
        flag = FLAG_OF.get(exc.key, exc.key)
        _say(console, f"error: {flag}: {exc.problem}")
        return EXIT_USAGE
    except ValueError as exc:
        _say(console, f"error: {exc}")
        return EXIT_USAGE
    try:
        find_haproxy()  # before --out is touched: a missing HAProxy leaves nothing behind
        with claim_out_dir(cfg.out_dir), SignalGuard() as guard:
            return _run(cfg, args, console, guard)
    except OutDirError as exc:
        _say(console, f"error: {exc}")
        return EXIT_USAGE
    except (OutDirBusy, BusyError) as exc:
        _say(console, f"busy: {exc}")
        return EXIT_BUSY
    except (HaproxyMissing, HaproxyFailed, RehearsalError, PortError, JournalError, StoreError) as exc:
        _error(console, exc)
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:  # a signal before the guard was up: nothing had started yet
        return _interrupted(console, [])


def _run(cfg: RehearsalConfig, args: argparse.Namespace, console: Console, guard: SignalGuard) -> int:
    try:
        with LiveObserver(console) as observer:
            result = run_rehearsal(cfg, observer)
    except RehearsalInterrupted as exc:
        return _interrupted(console, exc.leftover_pids)
    except KeyboardInterrupt:  # before run_rehearsal started any process
        return _interrupted(console, [])
    if guard.interrupted:  # a signal arrived during the cleanup: it finished, then we stop
        return _interrupted(console, result.leftover_pids)
    try:
        summary = summarize(result)
        if args.json:
            print(json.dumps(summary.to_dict(), indent=2))
        else:
            render(summary, console)
        report_path = cfg.out_dir / "report.json"
        report_path.write_text(json.dumps(summary.to_dict(), indent=2))
        chart_path = None if args.no_chart else write_chart(result, cfg.out_dir / "rehearsal.png", chart_notes(summary))
    except KeyboardInterrupt:
        return _interrupted(console, result.leftover_pids)
    except OSError as exc:
        _say(console, f"error: --out {cfg.out_dir}: cannot write the results: {exc.strerror or exc}")
        return EXIT_ENVIRONMENT
    if not args.json:
        console.print(f"report: {report_path}" + (f"\nchart:  {chart_path}" if chart_path else ""))
    return EXIT_OK if summary.ok else EXIT_EXPECTATION


if __name__ == "__main__":
    sys.exit(main())
