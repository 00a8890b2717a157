"""Run `loadtest/k6/release.js` with a real k6 against the local stack on 127.0.0.1, and check that it
does what docs/load-testing.md says.

    make k6-check K6=/path/to/k6           # or: .venv/bin/python scripts/k6_check.py --k6 /path/to/k6

Scenarios (about two minutes in all, at `--rate` requests/s, 20 by default):

- `refused`: a missing BASE_URL, RATE=-1 and DURATION=abc stop the script before any request, with
  k6's exit code 107 (script exception) and a message naming the variable;
- `release`: the rehearsal's good release (canary v1 -> v2 through the driver's release machine,
  behind the rehearsal's HAProxy, with its own load) with k6 on the same frontend from the baseline
  to the end: exit 0, thresholds passed, both versions counted in `responses_by_version`, and the
  split over time follows the weights (no v1 answer once the weights are 100% v2);
- `faulty`: v3 with the rehearsal's fault (30% of requests answer 500, `--bad-error-rate`) alone
  behind HAProxy: `http_req_failed` crosses its threshold and k6 exits 99;
- `abort`: the same with ABORT=true and DURATION=3m: k6 stops itself once the 30 s grace is over,
  with 99, long before the 3 minutes.

Without a k6 binary (`--k6`, env `K6`, or `k6` on PATH) it prints SKIPPED and exits 0: CI has none.
k6 is an external tool here, never a dependency (docs/load-testing.md says where the one used came
from). Every process it starts is stopped when it ends, whatever ended it; all traffic stays on
127.0.0.1 (k6 runs with --no-usage-report). Exit codes: 0 every check passed (or skipped), 1 a check
failed, 2 bad usage (e.g. `K6` names no runnable binary), 3 HAProxy missing, 130 interrupted.
Figures and k6's summaries go to `--out` (default out/k6-check/).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from zero_downtime.contract import Weights
from zero_downtime.rehearsal.deployer import AppRelease, LocalDeployer
from zero_downtime.rehearsal.haproxy_process import HaproxyMissing, HaproxyProcess, find_haproxy
from zero_downtime.rehearsal.lifetime import SignalGuard, shielded, tethered, workdir
from zero_downtime.rehearsal.processes import Supervisor
from zero_downtime.rehearsal.router import HaproxyRouter
from zero_downtime.rehearsal.scenario import BAD, BASE, GOOD, Observer, RehearsalConfig, run_rehearsal

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "loadtest" / "k6" / "release.js"
EXIT_THRESHOLDS = 99  # k6: a threshold was crossed (also when abortOnFail stopped the run)
EXIT_SCRIPT_EXCEPTION = 107  # k6: the script threw in its init code (a refused setting)
FAULTY = "v3"
FAULT_RATE = 0.3  # the rehearsal's --bad-error-rate default
MAX_RATE = 50  # a local check on a shared machine
BUCKET_SECONDS = 5


def find_k6(explicit: str | None) -> str | None:
    """`--k6`, else env K6, else `k6` on PATH; None when none is given or found."""
    given = explicit or os.environ.get("K6")
    if given:
        return given
    return shutil.which("k6")


@dataclass
class Outcome:
    """One k6 run and what was checked about it."""

    scenario: str
    expected_exit: int
    exit_code: int | None = None
    seconds: float = 0.0
    requests: int | None = None
    failed_rate: float | None = None
    p99_waiting_ms: float | None = None
    apdex: float | None = None
    thresholds_crossed: list[str] = field(default_factory=list)
    by_version: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)


class K6Run:
    """One `k6 run` of release.js: its summary export, its points (`--out json`) and its logs."""

    def __init__(self, k6: str, out: Path, name: str, env: dict[str, str], *, points: bool = False) -> None:
        self.k6, self.name, self.env = k6, name, env
        self.summary_path = out / f"{name}.summary.json"
        self.points_path = out / f"{name}.points.jsonl" if points else None
        self.stdout_path = out / f"{name}.stdout.txt"
        self.stderr_path = out / f"{name}.stderr.txt"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.ended = 0.0

    def start(self) -> None:
        for path in (self.summary_path, self.points_path):
            if path is not None:
                path.unlink(missing_ok=True)
        argv = [self.k6, "run", "--quiet", "--no-color", "--no-usage-report"]
        argv += ["--summary-export", str(self.summary_path)]
        if self.points_path is not None:
            argv += ["--out", f"json={self.points_path}"]
        for key, value in self.env.items():
            argv += ["-e", f"{key}={value}"]
        argv.append(str(SCRIPT))
        env = {**os.environ, "K6_NO_USAGE_REPORT": "true"}
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            # Tethered: k6 dies with this process even if it is killed outright.
            self.proc = subprocess.Popen(
                tethered(argv), cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
            )
        self.started = time.time()

    def wait(self, timeout_seconds: float) -> int | None:
        """k6's exit code, or None when it had to be killed after `timeout_seconds`."""
        assert self.proc is not None
        try:
            code: int | None = self.proc.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        self.ended = time.time()
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def run(self, timeout_seconds: float) -> int | None:
        self.start()
        try:
            return self.wait(timeout_seconds)
        finally:
            self.kill()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def summary(self) -> dict[str, Any]:
        if not self.summary_path.exists():
            return {}
        return json.loads(self.summary_path.read_text()).get("metrics", {})

    def fill(self, outcome: Outcome) -> None:
        """Exit-independent figures from the summary export (k6's legacy format: a threshold's
        value is true when it was crossed)."""
        metrics = self.summary()
        outcome.seconds = round(self.ended - self.started, 1)
        if not metrics:
            return
        outcome.requests = int(metrics["http_reqs"]["count"])
        outcome.failed_rate = float(metrics["http_req_failed"]["value"])
        outcome.p99_waiting_ms = round(float(metrics["http_req_waiting"]["p(99)"]), 1)
        if "apdex" in metrics:
            outcome.apdex = round(float(metrics["apdex"]["avg"]), 3)
        outcome.thresholds_crossed = sorted(
            f"{name} {expr}"
            for name, metric in metrics.items()
            for expr, crossed in metric.get("thresholds", {}).items()
            if crossed
        )
        for name, metric in metrics.items():
            tag = re.fullmatch(r"responses_by_version\{version:(.+)\}", name)
            if tag:
                outcome.by_version[tag.group(1)] = int(metric.get("count", 0))

    def version_points(self) -> list[tuple[float, str]]:
        """(epoch seconds, version) of every response, from `--out json`."""
        if self.points_path is None or not self.points_path.exists():
            return []
        points = []
        with self.points_path.open() as lines:
            for line in lines:
                if '"responses_by_version"' not in line or '"Point"' not in line:
                    continue
                data = json.loads(line)["data"]
                points.append((_epoch(data["time"]), data["tags"].get("version", "none")))
        return points


def _epoch(stamp: str) -> float:
    """k6's RFC 3339 time (nanoseconds, Z or an offset) as epoch seconds."""
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp()


# -- scenarios -------------------------------------------------------------------------------------------
REFUSED = (
    ("refused: no BASE_URL", {}, "BASE_URL"),
    ("refused: RATE=-1", {"BASE_URL": "http://127.0.0.1:9", "RATE": "-1"}, "RATE"),
    ("refused: DURATION=abc", {"BASE_URL": "http://127.0.0.1:9", "DURATION": "abc"}, "DURATION"),
)


def refused(k6: str, out: Path) -> list[Outcome]:
    outcomes = []
    for name, env, variable in REFUSED:
        run = K6Run(k6, out, re.sub(r"\W+", "-", name), env)
        outcome = Outcome(name, EXIT_SCRIPT_EXCEPTION)
        outcome.exit_code = run.run(60)
        outcome.seconds = round(run.ended - run.started, 1)
        outcome.expect(outcome.exit_code == EXIT_SCRIPT_EXCEPTION, f"exit {outcome.exit_code}, not 107")
        message = re.search(rf"Error: ({variable}:[^\\\n]*)", run.stderr)
        outcome.expect(message is not None, f"no message naming {variable} on stderr")
        outcome.expect(not run.summary_path.exists(), "a summary was written: the run started")
        if message:
            outcome.notes.append(message.group(1))
        outcomes.append(outcome)
    return outcomes


class _K6DuringRelease(Observer):
    """Starts k6 on the rehearsal's frontend as soon as v1 serves, and holds the rehearsal at its
    settle phase until k6 is done, so HAProxy outlives every request k6 sends."""

    def __init__(self, run: K6Run, wait_seconds: float) -> None:
        self.run, self.wait_seconds = run, wait_seconds
        self.exit_code: int | None = None
        self.waited = False

    def phase(self, name: str) -> None:
        print(f"  rehearsal: {name}", flush=True)
        if name == "settling" and self.run.proc is not None:
            self.exit_code = self.run.wait(self.wait_seconds)
            self.waited = True

    def frontend(self, url: str) -> None:
        self.run.env["BASE_URL"] = url
        self.run.start()


def release(k6: str, out: Path, rate: int, *, faulty_release: bool = False) -> Outcome:
    """k6 on the rehearsal's frontend during its good release (v1 -> v2, promoted) or, with
    `faulty_release`, during its faulty one (v1 -> v3, no synthetic bake, so users meet v3 until the
    driver rolls it back: k6 judges the whole run and passes, the point of a canary)."""
    version = BAD if faulty_release else GOOD
    cfg = RehearsalConfig(
        rate=30,  # the rehearsal's own load; with k6's, enough for --min-requests at the 10% step
        steps=(10, 50, 100),
        interval=6,
        baseline_seconds=3,
        keep_warm_seconds=2,
        settle_seconds=1,
        synthetic=not faulty_release,
        synthetic_requests=200,
        run_good=not faulty_release,
        run_bad=faulty_release,
        max_seconds=300,
        out_dir=out / "rehearsal",
    )
    # From the baseline to about the promotion (every step's bake, keep-warm) or a little past the
    # rollback; k6 ending late only holds the rehearsal at its settle phase meanwhile.
    duration = int(cfg.baseline_seconds + (15 if faulty_release else 3 * cfg.interval + cfg.keep_warm_seconds) + 8)
    name = "rollback" if faulty_release else "release"
    env = {"RATE": str(rate), "DURATION": f"{duration}s", "VERSIONS": f"{BASE},{version}"}
    run = K6Run(k6, out, name, env, points=True)
    outcome = Outcome(f"{name} {BASE}->{version} (rehearsal)", 0)
    observer = _K6DuringRelease(run, duration + 60)
    try:
        result = run_rehearsal(cfg, observer)
    finally:
        run.kill()
    outcome.exit_code = observer.exit_code
    run.fill(outcome)
    state = result.releases[version].result.state if version in result.releases else "not run"
    outcome.notes.append(f"driver: release {state}; rehearsal load {cfg.rate:g} rps; k6 {rate} rps for {duration}s")
    outcome.expect(observer.waited, "the rehearsal never reached its settle phase with k6 running")
    outcome.expect(outcome.exit_code == 0, f"exit {outcome.exit_code}, not 0")
    outcome.expect(not outcome.thresholds_crossed, f"thresholds crossed: {outcome.thresholds_crossed}")
    wanted_state = "ROLLED_BACK" if faulty_release else "SUCCEEDED"
    outcome.expect(state == wanted_state, f"the release ended {state}, not {wanted_state}")
    outcome.expect(not result.leftover_pids, f"processes left behind: {result.leftover_pids}")
    for counted in (BASE, version):
        outcome.expect(outcome.by_version.get(counted, 0) > 0, f"no response counted for {counted}")
    outcome.expect(outcome.by_version.get("none", 0) == 0, "responses without a version header")
    points = run.version_points()
    outcome.expect(len(points) == outcome.requests, f"{len(points)} points, {outcome.requests} requests")
    # The split follows the weights: none of the version the weights left once they settled (+1 s).
    settled, label = _settled(result.weight_history, faulty_release)
    if settled is not None and points:
        late = Counter(v for at, v in points if at > settled + 1)
        outcome.notes.append(f"after the weights went {label} (+1 s): {dict(late) or 'no request'}")
        gone_version = version if faulty_release else BASE
        outcome.expect(late.get(gone_version, 0) == 0, f"{late[gone_version]} {gone_version} answers after {label}")
    elif settled is None:
        outcome.problems.append(f"the weights never went {label}")
    outcome.notes += split_table(points, result.weight_history)
    return outcome


def _settled(history: list[Any], faulty_release: bool) -> tuple[float | None, str]:
    """When the weights reached their end: 100% green (promoted) or back to 100% blue (rolled back)."""
    if not faulty_release:
        return next((c.at for c in history if c.weights == Weights.all_to("green")), None), "100% green"
    moved = next((i for i, c in enumerate(history) if c.weights.of("green") > 0), len(history))
    return next((c.at for c in history[moved:] if c.weights == Weights.all_to("blue")), None), "back to 100% blue"


def split_table(points: list[tuple[float, str]], weights: list[Any]) -> list[str]:
    """Responses per version per BUCKET_SECONDS of the k6 run, beside the weights HAProxy had then."""
    if not points:
        return []
    start = points[0][0]
    buckets: dict[int, Counter[str]] = {}
    for at, version in points:
        buckets.setdefault(int((at - start) // BUCKET_SECONDS), Counter())[version] += 1
    rows = []
    for index in sorted(buckets):
        end = start + (index + 1) * BUCKET_SECONDS
        current = [c.weights for c in weights if c.at <= end]
        shown = f"{current[-1].of('green')}%" if current else "-"
        counts = "  ".join(f"{v} {n:4d}" for v, n in sorted(buckets[index].items()))
        lo, hi = index * BUCKET_SECONDS, (index + 1) * BUCKET_SECONDS
        rows.append(f"{lo:3d}-{hi:<3d}s  green weight at its end {shown:>4}  {counts}")
    return rows


@contextlib.contextmanager
def faulty_stack() -> Iterator[str]:
    """HAProxy with v3 (the rehearsal's fault: 30% of requests answer 500) as the only version."""
    with workdir() as work:
        haproxy = HaproxyProcess(work, slots_per_color=1)
        supervisor = Supervisor(work)

        def stop() -> None:
            supervisor.stop_all()
            haproxy.stop()

        try:
            haproxy.start()
            assert haproxy.api is not None and haproxy.layout is not None
            deployer = LocalDeployer(haproxy, supervisor, {FAULTY: AppRelease(FAULTY, error_rate=FAULT_RATE)})
            router = HaproxyRouter(haproxy.api, deployer.attached, test_map_path=haproxy.layout.test_map_path)
            deployer.deploy_idle("blue", FAULTY, 1)
            if not deployer.wait_healthy("blue", 30):
                raise RuntimeError(f"{FAULTY} did not become healthy behind HAProxy within 30s")
            router.set_weights(Weights.all_to("blue"))
            yield haproxy.url
        finally:
            shielded(stop)


def faulty(k6: str, out: Path, rate: int, url: str) -> Outcome:
    run = K6Run(k6, out, "faulty", {"BASE_URL": url, "RATE": str(rate), "DURATION": "20s", "VERSIONS": FAULTY})
    outcome = Outcome(f"faulty: {FAULTY} {FAULT_RATE:.0%} 500s", EXIT_THRESHOLDS)
    outcome.exit_code = run.run(120)
    run.fill(outcome)
    outcome.expect(outcome.exit_code == EXIT_THRESHOLDS, f"exit {outcome.exit_code}, not 99")
    outcome.expect("http_req_failed rate<=0.05" in outcome.thresholds_crossed, "http_req_failed not crossed")
    rate_seen = outcome.failed_rate or 0.0
    outcome.expect(FAULT_RATE / 2 < rate_seen < FAULT_RATE * 1.5, f"failure rate {rate_seen:.1%}, not about 30%")
    outcome.expect(outcome.by_version.get(FAULTY, 0) == outcome.requests, f"not every response counted as {FAULTY}")
    return outcome


def abort(k6: str, out: Path, rate: int, url: str) -> Outcome:
    env = {"BASE_URL": url, "RATE": str(rate), "DURATION": "3m", "ABORT": "true", "VERSIONS": FAULTY}
    run = K6Run(k6, out, "abort", env)
    outcome = Outcome("abort: ABORT=true, 3m", EXIT_THRESHOLDS)
    outcome.exit_code = run.run(240)
    run.fill(outcome)
    outcome.expect(outcome.exit_code == EXIT_THRESHOLDS, f"exit {outcome.exit_code}, not 99")
    outcome.expect(30 <= outcome.seconds <= 90, f"stopped after {outcome.seconds} s, not 30-90 s (grace 30 s)")
    outcome.expect(
        "abortOnFail" in run.stderr or "stopping test prematurely" in run.stderr, "k6 did not say it aborted"
    )
    return outcome


def _guarded(name: str, scenario: Callable[[], Outcome]) -> Outcome:
    """The scenario's outcome, or a failed one saying what broke (its processes are stopped already)."""
    try:
        return scenario()
    except Exception as exc:  # a scenario that could not run is a failed check, not a traceback
        outcome = Outcome(name, -1)
        outcome.problems.append(f"could not run: {type(exc).__name__}: {exc}")
        return outcome


# -- output ----------------------------------------------------------------------------------------------
def table(outcomes: list[Outcome]) -> str:
    head = ("scenario", "exit", "want", "requests", "failed", "p99 wait", "apdex", "by version", "secs", "result")
    rows = [head]
    for o in outcomes:
        rows.append(
            (
                o.scenario,
                str(o.exit_code),
                str(o.expected_exit),
                "-" if o.requests is None else str(o.requests),
                "-" if o.failed_rate is None else f"{o.failed_rate:.2%}",
                "-" if o.p99_waiting_ms is None else f"{o.p99_waiting_ms:g} ms",
                "-" if o.apdex is None else f"{o.apdex:g}",
                " ".join(f"{v}={n}" for v, n in sorted(o.by_version.items())) or "-",
                f"{o.seconds:g}",
                "PASS" if o.ok else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    for o in outcomes:
        for text in o.notes:
            lines.append(f"  {o.scenario}: {text}")
        for text in o.problems:
            lines.append(f"  {o.scenario}: FAIL {text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/k6_check.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--k6", help="the k6 binary (default: env K6, else k6 on PATH)")
    parser.add_argument("--rate", type=int, default=20, help=f"k6 requests/s, 1-{MAX_RATE} (default 20)")
    parser.add_argument(
        "--only",
        default="refused,release,faulty,abort",
        help="comma list of refused, release, rollback, faulty, abort (default: all but rollback)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "k6-check", help="summaries and figures")
    args = parser.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    known = {"refused", "release", "rollback", "faulty", "abort"}
    if not wanted or set(wanted) - known:
        parser.error(f"--only: choose from {', '.join(sorted(known))}, got {args.only!r}")
    if not 1 <= args.rate <= MAX_RATE:
        parser.error(f"--rate: must be 1-{MAX_RATE} (a local check on a shared machine), got {args.rate}")

    k6 = find_k6(args.k6)
    if k6 is None:
        print("k6_check: SKIPPED: no k6 binary (pass --k6 PATH, set K6=/path/to/k6, or put k6 on PATH); nothing ran")
        return 0
    try:
        version = subprocess.run([k6, "version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"k6_check: K6/--k6 {k6!r} is not a runnable k6: {exc}", file=sys.stderr)
        return 2
    try:
        find_haproxy()
    except HaproxyMissing as exc:
        print(f"k6_check: {exc} (run scripts/ensure-haproxy)", file=sys.stderr)
        return 3
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"k6_check: {version.strip()} ({k6}), {args.rate} requests/s, all on 127.0.0.1", flush=True)

    outcomes: list[Outcome] = []
    with SignalGuard() as guard:
        try:
            if "refused" in wanted:
                outcomes += refused(k6, args.out)
            if "release" in wanted:
                print("k6_check: k6 during the rehearsal's good release", flush=True)
                outcomes.append(_guarded("release", lambda: release(k6, args.out, args.rate)))
            if "rollback" in wanted:
                print("k6_check: k6 during the rehearsal's faulty release, rolled back by the driver", flush=True)
                outcomes.append(_guarded("rollback", lambda: release(k6, args.out, args.rate, faulty_release=True)))
            if "faulty" in wanted or "abort" in wanted:
                print(f"k6_check: k6 against {FAULTY} ({FAULT_RATE:.0%} of requests answer 500)", flush=True)
                with faulty_stack() as url:
                    if "faulty" in wanted:
                        outcomes.append(_guarded("faulty", lambda: faulty(k6, args.out, args.rate, url)))
                    if "abort" in wanted:
                        outcomes.append(_guarded("abort", lambda: abort(k6, args.out, args.rate, url)))
        except KeyboardInterrupt:
            print("k6_check: interrupted; everything it started was stopped", file=sys.stderr)
            return 130
        if guard.interrupted:
            return 130

    print(table(outcomes))
    report = {
        "k6": version.strip(),
        "k6_path": k6,
        "rate": args.rate,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ok": all(o.ok for o in outcomes),
        "outcomes": [{**asdict(o), "ok": o.ok} for o in outcomes],
    }
    (args.out / "k6-check.json").write_text(json.dumps(report, indent=2))
    print(f"k6_check: {'PASS' if report['ok'] else 'FAIL'}; figures in {args.out / 'k6-check.json'}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
