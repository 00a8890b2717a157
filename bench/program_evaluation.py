"""How long does evaluating the stack program take as a stack grows? (mocks, no engine)

Prints resources registered per second for 1, 10 and 50 services, and how time grows with the
service count. Run: .venv/bin/python bench/program_evaluation.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from zero_downtime.offline.evaluate import evaluate_program


def services(count: int) -> dict[str, dict]:
    def one(i: int) -> dict:
        entry = {
            "liveColor": "blue",
            "blue": {"image": f"registry.example.com/svc{i}:1", "desiredCount": 1, "weight": 100},
            "green": {"image": f"registry.example.com/svc{i}:1", "desiredCount": 0, "weight": 0},
        }
        if i:  # one catch-all service, the others routed by path
            entry["routing"] = {"priority": i, "pathPatterns": [f"/svc{i}/*"]}
        return entry

    return {f"svc{i}": one(i) for i in range(count)}


def measure(count: int, repeat: int) -> tuple[float, int]:
    timings, resources = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        evaluation = evaluate_program("dev", overrides={"services": services(count)})
        timings.append(time.perf_counter() - start)
        resources = len(evaluation.resources)
    return statistics.median(timings), resources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is reported")
    args = parser.parse_args()
    measure(1, 1)  # warm-up: imports and provider module loading
    rows = [(count, *measure(count, args.repeat)) for count in (1, 10, 50)]
    print(f"{'services':>8} {'resources':>9} {'seconds':>8} {'resources/s':>11} {'s/service':>9}")
    for count, seconds, resources in rows:
        print(f"{count:>8} {resources:>9} {seconds:>8.2f} {resources / seconds:>11.0f} {seconds / count:>9.3f}")
    (c1, t1, _), (c50, t50, _) = rows[0], rows[-1]
    print(f"time x{t50 / t1:.1f} for services x{c50 / c1:.0f} (linear would be x{c50 / c1:.0f})")


if __name__ == "__main__":
    main()
