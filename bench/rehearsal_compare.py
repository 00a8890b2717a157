"""Canary plan vs all-at-once on the faulty release, with more traffic than the default rehearsal.

Runs the full local rehearsal twice (real HAProxy and processes on 127.0.0.1): once with the
canary plan for both releases, once with the faulty release shipped all-at-once. Prints, for the
faulty release: failed/total requests, bad-version exposure and rollback seconds, then the ratio
of exposures. Usage: .venv/bin/python bench/rehearsal_compare.py [--rate 200] [--interval 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from zero_downtime.rehearsal.report import Summary, summarize
from zero_downtime.rehearsal.scenario import RehearsalConfig, run_rehearsal


def _row(name: str, s: Summary) -> str:
    bad = next(p for p in s.phases if "faulty" in p.name)
    share = "-" if s.bad_version_share_release is None else f"{s.bad_version_share_release:.2%}"
    rollback = "-" if s.rollback_seconds is None else f"{s.rollback_seconds:.2f}"
    return f"{name:<14} {bad.failed:>6}/{bad.requests:<7} {share:>14} {rollback:>12}   {s.bad_release_state}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s (default 200)")
    parser.add_argument("--interval", type=float, default=6.0, help="bake seconds per step (default 6)")
    parser.add_argument("--steps", default="10,50,100", help="canary steps (default 10,50,100)")
    args = parser.parse_args()
    steps = tuple(int(x) for x in args.steps.split(","))
    base = RehearsalConfig(
        rate=args.rate,
        steps=steps,
        interval=args.interval,
        baseline_seconds=2,
        keep_warm_seconds=1,
        settle_seconds=2,
        max_seconds=600,
    )
    results: dict[str, Summary] = {}
    with tempfile.TemporaryDirectory(prefix="zdd-bench-") as out:  # journals only; removed after
        for name, cfg in (
            ("canary", replace(base, out_dir=Path(out) / "canary")),
            ("all-at-once", replace(base, bad_strategy="all-at-once", out_dir=Path(out) / "all-at-once")),
        ):
            print(f"running {name} ...", flush=True)
            results[name] = summarize(run_rehearsal(cfg))

    print(f"\nfaulty release at {args.rate:g} req/s, canary steps {list(steps)}, {args.interval:g}s per step")
    print(f"{'plan':<14} {'failed/total':>14} {'bad exposure':>14} {'rollback s':>12}   outcome")
    for name, s in results.items():
        print(_row(name, s))
    for name, s in results.items():
        kinds = {k: v for p in s.phases if "good" in p.name for k, v in p.failures_by_kind.items()}
        print(f"{name}: good release failed {s.good_release_failed} of {s.good_release_requests} {kinds or ''}")
    canary = results["canary"].bad_version_share_release
    all_at_once = results["all-at-once"].bad_version_share_release
    if canary and all_at_once:
        print(f"exposure ratio all-at-once / canary: {all_at_once / canary:.1f}x")
    else:
        print("exposure ratio: n/a (a run had no bad-version traffic)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
