"""`zdd-release` / `python -m zero_downtime.driver`: deploy, flag, kill-flag, status, promote, abort,
resume, history, init and wait-idle.

The CLI only parses flags, calls the composition root (`compose.Driver`) and prints what came
back. Every input is validated before anything changes; refusals exit 2 and name the flag. Errors
from the core name a setting (`image`, `analysis.threshold`); `FLAG_OF` maps each one the CLI owns
to its flag, so a message never names a flag that does not exist. Exit codes are in `ExitCode`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .compose import (
    AnalysisPlan,
    CheckRequest,
    Driver,
    FlagRequest,
    FleetRequest,
    KillRequest,
    Runtime,
    ServiceRequest,
    Target,
    apply_judge,
    load_analysis_file,
)
from .core.analysis import ALPHA_SCOPES, AnalysisConfig
from .core.errors import BusyError, DriverError, FrozenError, InputError, JournalError, PortError, StateError
from .core.flag import flag_target
from .core.machine import Progress, Result
from .core.migrations import FROZEN, migration_facts
from .core.plan import (
    DEFAULT_SYNTHETIC_CONCURRENCY,
    Migrations,
    Plan,
    SyntheticBake,
    build_plan,
    parse_float_list,
    parse_int_list,
)
from .core.status import Outcome, Record

log = logging.getLogger("zero_downtime.driver")

__all__ = ["FLAG_OF", "ExitCode", "Runtime", "build_parser", "main"]


class ExitCode(IntEnum):
    SUCCESS = 0
    """Release succeeded (or the query command worked)."""
    ERROR = 1
    """The release FAILED (rollback incomplete), or a stack/AWS/journal error."""
    REFUSED = 2
    """Bad input or a command that does not apply; nothing was changed."""
    ROLLED_BACK = 3
    """The release was rolled back; production is on the stable color."""
    PAUSED = 4
    """The release waits at a manual gate: run `promote` or `abort`."""
    BUSY = 5
    """Another driver holds the service lock, another Pulumi update kept the stack busy, or the
    driver that runs the release had not finished an `abort` within `--wait`."""
    FROZEN = 6
    """`abort` refused: the release started its contract and is frozen, roll forward only
    (fix the cause and run `resume`)."""


EXIT_OF = {
    Outcome.SUCCEEDED: ExitCode.SUCCESS,
    Outcome.ROLLED_BACK: ExitCode.ROLLED_BACK,
    Outcome.PAUSED: ExitCode.PAUSED,
    Outcome.FAILED: ExitCode.ERROR,
    Outcome.RUNNING: ExitCode.BUSY,
}
KILL_EXIT_OF = {
    Outcome.ROLLED_BACK: ExitCode.SUCCESS,
    Outcome.FAILED: ExitCode.ERROR,
    Outcome.RUNNING: ExitCode.BUSY,
    Outcome.SUCCEEDED: ExitCode.ERROR,
    Outcome.PAUSED: ExitCode.ERROR,
}
"""`kill-flag`: 0 only when the flag is off (its kill ended ROLLED_BACK); a kill never succeeds or pauses."""

FLAG_OF = {
    "stack": "--stack",
    "service": "--service",
    "image": "--image",
    "desired_count": "--desired-count",
    "health_timeout_seconds": "--health-timeout",
    "keep_warm_seconds": "--keep-warm",
    "strategy": "--strategy",
    "steps": "--steps",
    "interval": "--interval",
    "intervals": "--intervals",
    "step_percent": "--step-percent",
    "bake": "--bake",
    "pause_at": "--pause-at",
    "analysis.max_error_rate": "--max-error-rate",
    "analysis.max_p99_seconds": "--max-p99",
    "analysis.min_apdex": "--min-apdex",
    "analysis.min_requests": "--min-requests",
    "analysis.threshold": "--threshold",
    "analysis.poll_seconds": "--poll",
    "analysis.judge": "--judge",
    "analysis.alpha": "--alpha",
    "analysis.alpha_scope": "--alpha-scope",
    "analysis.beta": "--beta",
    "analysis.min_detectable_error_increase": "--min-detectable-error-increase",
    "analysis.min_detectable_latency_ratio": "--min-detectable-latency-ratio",
    "analysis.min_detectable_latency_seconds": "--min-detectable-latency-seconds",
    "analysis.split_tolerance": "--split-tolerance",
    "analysis_file": "--analysis-file",
    "check_path": "--check-path",
    "check_status": "--check-status",
    "check_body": "--check-body",
    "check_from": "--check-from",
    "synthetic_requests": "--synthetic-requests",
    "synthetic_seconds": "--synthetic-seconds",
    "synthetic_concurrency": "--synthetic-concurrency",
    "probe_requests": "--probe-requests",
    "synthetic_path": "--synthetic-path",
    "hook": "--hook",
    "expand_command": "--expand-command",
    "compat_command": "--compat-command",
    "contract_command": "--contract-command",
    "contract_delay_seconds": "--contract-delay",
    "ami_id": "--ami",
    "timeout_seconds": "--refresh-timeout",
    "release": "--release",
    "limit": "--limit",
    "wait": "--wait",
    "timeout": "--timeout",
    "flag": "--flag",
    "flag_set": "--flag-set",
    "verify_timeout_seconds": "--deploy-timeout",
    "verify_poll_seconds": "--deploy-poll",
    "reason": "--reason",
}
"""Setting named by a core error -> the flag that sets it."""


KILL_SWITCH = "kill-switch"
"""What `status` and `history` show as the strategy of a `kill-flag` release."""


class Refused(Exception):
    """A usage error found by argparse: exit 2, nothing changed."""


def message(exc: DriverError) -> str:
    """The operator's line for `exc`, naming the flag where the CLI owns the setting."""
    if isinstance(exc, InputError) and exc.key in FLAG_OF:
        return f"{FLAG_OF[exc.key]}: {exc.problem}"
    return str(exc)


# -- argument parsing ------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors reach our stderr and exit 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise Refused(f"{self.prog}: {message}")


def _where(p: argparse.ArgumentParser, *, service: bool = True) -> None:
    p.add_argument("--stack", required=True, help="Pulumi stack name (e.g. dev)")
    if service:
        p.add_argument("--service", required=True, help="service or fleet name in the stack outputs")
    p.add_argument("--work-dir", type=Path, default=Path.cwd(), help="Pulumi project directory (default: .)")
    p.add_argument(
        "--store",
        default=None,
        help="release store, s3://<bucket>/<prefix> or file://<path> (default: the stack config key releaseStore)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def _common(p: argparse.ArgumentParser) -> None:
    _where(p)


def _aws(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default=None, help="AWS region (default: the AWS SDK's)")
    p.add_argument(
        "--no-percentiles",
        action="store_true",
        help="do not query p99/Apdex (for emulators without percentile statistics)",
    )
    p.add_argument("--notify", action="store_true", help="publish events to the SNS topic")
    p.add_argument(
        "--policy-pack",
        action="append",
        type=Path,
        default=None,
        help="policy pack the driver's own `up` runs with (repeatable; default: <work-dir>/policies when it "
        "holds a pack)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zdd-release", description="Zero-downtime release driver for paired services and fleets.")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("deploy", help="release a new image to the idle color, or a new AMI to a fleet")
    _common(d)
    _aws(d)
    d.add_argument(
        "--image",
        default=None,
        help="container image for the idle color (default: the stack config key services.<service>.image)",
    )
    d.add_argument("--ami", default=None, help="AMI id for an Auto Scaling fleet (fleets)")
    d.add_argument(
        "--ami-from-ssm",
        action="store_true",
        help="fleets: resolve the fleet's SSM parameter now and roll out the AMI it names",
    )
    d.add_argument(
        "--adopt-live",
        action="store_true",
        help="when the load balancer's weights differ from the release store, take the load balancer's",
    )
    d.add_argument("--refresh-timeout", type=float, default=3600.0, help="fleets: seconds the refresh may take")
    d.add_argument("--strategy", default="canary", help="blue-green | canary | linear | all-at-once (default canary)")
    d.add_argument("--steps", default=None, help="canary weights, e.g. 5,10,25,50,100")
    d.add_argument("--interval", type=float, default=300.0, help="bake seconds per step")
    d.add_argument("--intervals", default=None, help="bake seconds per step, one per step")
    d.add_argument("--step-percent", type=int, default=10, help="linear: percent per step")
    d.add_argument("--bake", type=float, default=300.0, help="blue-green: post-flip bake seconds")
    d.add_argument("--pause-at", default=None, help="pause after these step weights, e.g. 25,50")
    d.add_argument("--pause-before-promote", action="store_true", help="wait for `promote` at 100%%")
    d.add_argument("--desired-count", type=int, default=None, help="tasks for the new color (default: live's)")
    d.add_argument(
        "--keep-warm",
        type=float,
        default=None,
        help="seconds the old color stays up (default: the stack's migrations.keepWarmSeconds, else 900)",
    )
    d.add_argument("--health-timeout", type=float, default=600.0, help="seconds to wait for healthy targets")
    d.add_argument("--max-error-rate", type=float, default=0.05, help="rollback above (0-1)")
    d.add_argument("--max-p99", type=float, default=2.0, help="rollback above p99 seconds")
    d.add_argument("--min-apdex", type=float, default=0.8, help="rollback below Apdex")
    d.add_argument("--min-requests", type=int, default=50, help="requests before a step passes")
    d.add_argument("--threshold", type=int, default=2, help="failed checks before rollback")
    d.add_argument("--poll", type=float, default=15.0, help="seconds between analysis checks")
    d.add_argument(
        "--judge",
        default=AnalysisConfig.judge,
        metavar="{sequential,threshold}",
        help="sequential (SPRT on errors, Mann-Whitney on latency; default) or threshold (docs/analysis.md)",
    )
    d.add_argument(
        "--alpha",
        type=float,
        default=AnalysisConfig.alpha,
        help="sequential: risk the tests roll back a good release (shared out over its judgements; --alpha-scope)",
    )
    d.add_argument(
        "--alpha-scope",
        default=AnalysisConfig.alpha_scope,
        metavar="{" + ",".join(ALPHA_SCOPES) + "}",
        help="release (default): --alpha bounds the whole release; judgement: each judgement alone",
    )
    d.add_argument(
        "--beta", type=float, default=AnalysisConfig.beta, help="sequential: risk a minimum fault passes a step"
    )
    d.add_argument(
        "--min-detectable-error-increase",
        type=float,
        default=AnalysisConfig.min_detectable_error_increase,
        help="sequential: error-rate increase over stable to detect (0.02 = 2 points)",
    )
    d.add_argument(
        "--min-detectable-latency-ratio",
        type=float,
        default=AnalysisConfig.min_detectable_latency_ratio,
        help="sequential: latency effect to detect, as new/stable ...",
    )
    d.add_argument(
        "--min-detectable-latency-seconds",
        type=float,
        default=AnalysisConfig.min_detectable_latency_seconds,
        help="... and at least this many seconds slower",
    )
    d.add_argument(
        "--split-tolerance",
        type=float,
        default=AnalysisConfig.split_tolerance,
        help="percentage points the observed split may differ from the weights set",
    )
    d.add_argument(
        "--analysis-file",
        type=Path,
        default=None,
        help="YAML file of metric checks (sources, thresholds, min sample, dry run) and judge settings, "
        "which win over the flags above (docs/driver.md#analysis-file)",
    )
    d.add_argument("--check-path", default="/health", help="pre-traffic HTTP check path")
    d.add_argument("--check-status", type=int, default=200, help="expected HTTP status")
    d.add_argument("--check-body", default=None, help="regex the check body must match")
    d.add_argument("--hook", action="append", default=[], help="pre-traffic command (repeatable)")
    d.add_argument("--no-test-check", action="store_true", help="skip the HTTP check against the test listener")
    d.add_argument(
        "--expand-command",
        default=None,
        help="schema expand, run before the new color starts (default: the stack's services.<name>.migrations)",
    )
    d.add_argument(
        "--compat-command",
        default=None,
        help="compatibility gate: expand a scratch copy, smoke-test the old version on it (required with an expand)",
    )
    d.add_argument(
        "--contract-command",
        default=None,
        help="schema contract, run once the old color serves nothing; from then on the release is frozen",
    )
    d.add_argument("--contract-delay", type=float, default=None, help="contract no sooner than this after promotion")
    d.add_argument(
        "--synthetic-requests",
        type=int,
        default=800,
        help="synthetic requests to each color before any user traffic (0: no synthetic bake, no probes)",
    )
    d.add_argument("--synthetic-seconds", type=float, default=20.0, help="at most this long (at most 60)")
    d.add_argument(
        "--synthetic-concurrency",
        type=int,
        default=DEFAULT_SYNTHETIC_CONCURRENCY,
        help=f"synthetic requests and probes in flight at a time, 1-64 (default {DEFAULT_SYNTHETIC_CONCURRENCY})",
    )
    d.add_argument("--probe-requests", type=int, default=20, help="probes to the new color at every check (0: none)")
    d.add_argument("--synthetic-path", default="/", help="path the synthetic requests and probes GET")
    d.add_argument(
        "--check-from",
        default="auto",
        metavar="{auto,driver,probe}",
        help="where the HTTP check runs: the stack's probe function in the VPC (probe), here (driver), "
        "or the probe function when the stack has one (auto, the default)",
    )

    _flag_parser(sub, d)
    _kill_flag_parser(sub)

    for name, text in (("status", "the latest release's state"), ("history", "past releases and their trail")):
        p = sub.add_parser(name, help=text)
        _common(p)
        if name == "history":
            p.add_argument("--release", default=None, help="show the trail of this release id")
            p.add_argument("--limit", type=int, default=20, help="releases to list")

    for name, text in (
        ("promote", "continue a release paused at a manual gate"),
        ("abort", "roll the release back now (idempotent)"),
        ("resume", "continue a release after the driver was killed"),
    ):
        p = sub.add_parser(name, help=text)
        _common(p)
        _aws(p)
        if name == "abort":
            p.add_argument("--reason", default="aborted by operator", help="recorded reason")
            p.add_argument("--wait", type=float, default=120.0, help="seconds to wait for a running driver's rollback")
    i = sub.add_parser("init", help="create or check the release store (S3: versioning, encryption, no public access)")
    _where(i, service=False)
    i.add_argument("--region", default=None, help="AWS region of the bucket (default: the AWS SDK's)")
    i.add_argument("--check", action="store_true", help="only report; change nothing (exit 1 when not ready)")

    w = sub.add_parser("wait-idle", help="wait until no driver holds a lease in the stack (before a bare `up`)")
    _where(w, service=False)
    w.add_argument("--service", default=None, help="only this service or fleet (default: every one)")
    w.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait before exiting busy")
    return parser


FLAG_SHARED = frozenset(
    {
        "region",
        "no_percentiles",
        "strategy",
        "steps",
        "interval",
        "intervals",
        "step_percent",
        "bake",
        "pause_at",
        "pause_before_promote",
        "max_error_rate",
        "max_p99",
        "min_apdex",
        "min_requests",
        "threshold",
        "poll",
        "judge",
        "alpha",
        "alpha_scope",
        "beta",
        "min_detectable_error_increase",
        "min_detectable_latency_ratio",
        "min_detectable_latency_seconds",
    }
)
"""`deploy` flags that mean the same for `flag`: the plan (a step's weight is the percentage) and the analysis."""


def _flag_target_arguments(p: argparse.ArgumentParser) -> None:
    """What `flag` and `kill-flag` both name: the stack, the flag set and flag, and where to find them."""
    p.add_argument("--stack", required=True, help="Pulumi stack name (e.g. dev)")
    p.add_argument("--flag-set", required=True, help="flag set name in the stack output featureFlags")
    p.add_argument("--flag", required=True, help="flag key in the flag set")
    p.add_argument("--work-dir", type=Path, default=Path.cwd(), help="Pulumi project directory (default: .)")
    p.add_argument("--store", default=None, help="release store (default: the stack config key releaseStore)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def _flag_parser(sub: Any, deploy: argparse.ArgumentParser) -> None:
    f = sub.add_parser(
        "flag", help="release a feature flag by percentage (AWS AppConfig); `kill-flag` turns it off at any time"
    )
    _flag_target_arguments(f)
    f.add_argument(
        "--appconfig-strategy",
        default=None,
        help="AppConfig deployment strategy of each step, id or predefined name (default: the flag set's own)",
    )
    f.add_argument("--deploy-timeout", type=float, default=1800.0, help="seconds one step's deployment may take")
    f.add_argument("--deploy-poll", type=float, default=15.0, help="seconds between deployment polls")
    for action in deploy._actions:
        if action.dest in FLAG_SHARED:
            f._add_action(action)
    f.set_defaults(split_tolerance=AnalysisConfig.split_tolerance)  # no split to check: bucketing decides it


def _kill_flag_parser(sub: Any) -> None:
    k = sub.add_parser(
        "kill-flag",
        help="turn a feature flag off for everyone now (0%%, disabled, all at once), also after its release succeeded",
    )
    _flag_target_arguments(k)
    k.add_argument("--region", default=None, help="AWS region (default: the AWS SDK's)")
    k.add_argument("--reason", default="kill switch", help="recorded reason")
    k.add_argument(
        "--wait", type=float, default=120.0, help="seconds to wait for a running driver of this flag to roll back"
    )
    k.add_argument(
        "--deploy-timeout", type=float, default=600.0, help="seconds AppConfig may take to serve the kill switch"
    )
    k.add_argument("--deploy-poll", type=float, default=5.0, help="seconds between deployment polls")


# -- rendering ---------------------------------------------------------------------------------
class ProgressView:
    """Live progress lines on stderr (stdout stays clean for --json)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, p: Progress) -> None:
        step = f"step {p.step + 1}/{p.steps}" if p.step is not None and p.steps else "-"
        weights = f"blue {p.weights.blue}% green {p.weights.green}%" if p.weights else "-"
        parts = [f"[bold]{p.state:<18}[/bold]", step, weights]
        if p.requests is not None:
            rate = f"{p.error_rate:.2%}" if p.error_rate is not None else "n/a"
            p99 = f"{p.p99_seconds:.3f}s" if p.p99_seconds is not None else "n/a"
            parts += [f"req {p.requests}", f"err {rate}", f"p99 {p99}"]
        parts.append(f"failed checks {p.failed_checks}")
        if p.seconds_left is not None:
            parts.append(f"{p.seconds_left:.0f}s left")
        if p.message:
            parts.append(escape(p.message))
        self.console.print("  ".join(parts), highlight=False)


def _detail(record: Record) -> str:
    migration = record.detail.get("migration")
    if isinstance(migration, dict):  # a migration command: its outcome and where its logs are
        passed = "passed" if migration.get("passed") else "FAILED"
        logs = migration.get("log_url") or ""
        return f"{migration.get('phase')} {passed}: {migration.get('detail')}" + (
            f" (logs: {logs})" if logs and logs not in str(migration.get("detail")) else ""
        )
    verdict = record.detail.get("verdict")
    if isinstance(verdict, dict):
        return f"{verdict.get('outcome')} req={verdict.get('requests')} " + "; ".join(verdict.get("reasons", []))
    return str(record.detail.get("note") or "")


def _result_json(res: Result, code: ExitCode) -> dict[str, Any]:
    return {
        "release_id": res.release_id,
        "kind": res.status.kind,
        "stack": res.status.stack,
        "service": res.status.target,
        "state": res.state,
        "outcome": res.outcome.value,
        "reason": res.reason,
        "rollback_seconds": res.rollback_seconds,
        "exit_code": int(code),
        "decisions": [r.to_dict() for r in res.trail],
    }


def _report(
    res: Result,
    as_json: bool,
    out: Console,
    unreadable: Sequence[str] = (),
    *,
    exit_of: dict[Outcome, ExitCode] = EXIT_OF,
    note: str = "",
) -> ExitCode:
    code = exit_of[res.outcome]
    if as_json:
        out.print_json(json.dumps({**_result_json(res, code), "unreadable_records": list(unreadable)}, default=str))
        return code
    out.print(f"release {res.release_id}: [bold]{res.state}[/bold]")
    if res.reason:
        out.print(f"reason: {res.reason}", markup=False)
    if note:
        out.print(note, markup=False)
    if res.rollback_seconds is not None:
        out.print(f"traffic restored to the stable color in {res.rollback_seconds:.3f}s")
    for line in unreadable:
        out.print(f"skipped: {line}", markup=False)
    table = Table("time", "state", "event", "step", "detail", title="decision trail")
    for rec in res.trail:
        table.add_row(
            time.strftime("%H:%M:%S", time.gmtime(rec.ts)),
            rec.state,
            rec.event,
            "" if rec.status.step is None else str(rec.status.step + 1),
            escape(_detail(rec)),
        )
    out.print(table)
    out.print(f"exit code {int(code)} ({code.name})")
    return code


# -- commands ---------------------------------------------------------------------------------
def _target(args: argparse.Namespace) -> Target:
    packs = getattr(args, "policy_pack", None)
    return Target(
        stack=args.stack,
        service=args.service,
        work_dir=args.work_dir,
        store_url=args.store,
        region=getattr(args, "region", None),
        percentiles=not getattr(args, "no_percentiles", False),
        notify=getattr(args, "notify", False),
        adopt_live=getattr(args, "adopt_live", False),
        policy_packs=tuple(packs) if packs is not None else None,
    )


def _stack_target(args: argparse.Namespace) -> Target:
    """Commands about the whole stack (init, wait-idle) name no service."""
    return Target(
        stack=args.stack,
        service=getattr(args, "service", None) or "",
        work_dir=args.work_dir,
        store_url=args.store,
        region=getattr(args, "region", None),
    )


def _driver(args: argparse.Namespace, rt: Runtime, err: Console) -> Driver:
    return Driver(_target(args), rt, on_progress=ProgressView(err), announce=lambda line: err.print(line, markup=False))


def _analysis(args: argparse.Namespace) -> AnalysisConfig:
    return AnalysisConfig(
        max_error_rate=args.max_error_rate,
        max_p99_seconds=args.max_p99,
        min_apdex=args.min_apdex,
        min_requests=args.min_requests,
        threshold=args.threshold,
        poll_seconds=args.poll,
        require_latency=not args.no_percentiles,
        judge=args.judge,
        alpha=args.alpha,
        alpha_scope=args.alpha_scope,
        beta=args.beta,
        min_detectable_error_increase=args.min_detectable_error_increase,
        min_detectable_latency_ratio=args.min_detectable_latency_ratio,
        min_detectable_latency_seconds=args.min_detectable_latency_seconds,
        split_tolerance=args.split_tolerance,
    )


def _synthetic(args: argparse.Namespace) -> SyntheticBake | None:
    """The synthetic bake and probes, unless `--synthetic-requests 0` (or all-at-once, which checks nothing)."""
    if args.synthetic_requests == 0 or args.strategy == "all-at-once":
        return None
    return SyntheticBake(
        requests=args.synthetic_requests,
        seconds=args.synthetic_seconds,
        probe_requests=args.probe_requests,
        path=args.synthetic_path,
        run_from=args.check_from,
        concurrency=args.synthetic_concurrency,
    )


def _migrations(args: argparse.Namespace) -> Migrations | None:
    """The migration flags; None when none is given (the stack's own, if any, apply then)."""
    given = (args.expand_command, args.compat_command, args.contract_command, args.contract_delay)
    if all(v is None for v in given):
        return None
    return Migrations(
        expand_command=args.expand_command or "",
        compat_command=args.compat_command or "",
        contract_command=args.contract_command or "",
        contract_delay_seconds=args.contract_delay or 0.0,
    )


def _analysis_file(path: Path | None, analysis: AnalysisConfig) -> tuple[AnalysisPlan | None, AnalysisConfig]:
    """The analysis file's checks, and `analysis` with its judge settings on top."""
    if path is None:
        return None, analysis
    plan = load_analysis_file(path)  # refusals already name the path
    try:
        return plan, apply_judge(analysis, plan.judge)
    except InputError as exc:
        raise InputError("analysis_file", f"{path}: {exc.key.removeprefix('analysis_file.')}: {exc.problem}") from None


def _plan(args: argparse.Namespace, **extra: Any) -> Plan:
    """The plan from the step flags every step-by-step release takes (`deploy`, `flag`)."""
    return build_plan(
        args.strategy,
        steps=parse_int_list("steps", args.steps) if args.steps is not None else None,
        interval=args.interval,
        intervals=parse_float_list("intervals", args.intervals) if args.intervals else None,
        step_percent=args.step_percent,
        bake=args.bake,
        pause_at=parse_int_list("pause_at", args.pause_at) if args.pause_at else None,
        pause_before_promote=args.pause_before_promote,
        **extra,
    )


def cmd_deploy(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    plan = _plan(args, synthetic=_synthetic(args), migrations=_migrations(args))
    metric_checks, analysis = _analysis_file(args.analysis_file, _analysis(args))
    driver = _driver(args, rt, err)
    if args.ami is not None or args.ami_from_ssm:
        if args.analysis_file is not None:
            raise InputError("analysis_file", "metric checks apply to service releases only, not to fleets")
        if args.image is not None:
            raise InputError("image", "give --image for a service, or --ami / --ami-from-ssm for a fleet, not both")
        if args.ami is not None and args.ami_from_ssm:
            raise InputError("ami_id", "give --ami or --ami-from-ssm, not both")
        result = driver.deploy_fleet(FleetRequest(args.ami, analysis, timeout_seconds=args.refresh_timeout))
        return _report(result, args.json, out)
    request = ServiceRequest(
        image=args.image if args.image is not None else driver.next_image(),
        plan=plan,
        analysis=analysis,
        desired_count=args.desired_count,
        health_timeout_seconds=args.health_timeout,
        keep_warm_seconds=args.keep_warm,
        metric_checks=metric_checks,
        checks=CheckRequest(
            path=args.check_path,
            status=args.check_status,
            body_pattern=args.check_body,
            hooks=tuple(args.hook),
            test_listener=not args.no_test_check,
            check_from=args.check_from,
        ),
    )
    return _report(driver.deploy_service(request), args.json, out)


def _flag_driver(args: argparse.Namespace, rt: Runtime, err: Console) -> Driver:
    """The driver of the flag set `--flag-set` names (`flags.<set>`), for `flag` and `kill-flag`."""
    if not args.flag_set or any(c in args.flag_set for c in "/ "):
        raise InputError("flag_set", f"must be a flag set name, got {args.flag_set!r}")
    target = Target(
        stack=args.stack,
        service=flag_target(args.flag_set),
        work_dir=args.work_dir,
        store_url=args.store,
        region=args.region,
        percentiles=not getattr(args, "no_percentiles", False),
    )
    return Driver(target, rt, on_progress=ProgressView(err), announce=lambda line: err.print(line, markup=False))


def cmd_flag(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    plan = _plan(args)
    driver = _flag_driver(args, rt, err)
    request = FlagRequest(
        flag=args.flag,
        plan=plan,
        analysis=_analysis(args),
        appconfig_strategy=args.appconfig_strategy,
        timeout_seconds=args.deploy_timeout,
        poll_seconds=args.deploy_poll,
    )
    return _report(driver.deploy_flag(request), args.json, out)


def cmd_kill_flag(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    request = KillRequest(
        flag=args.flag,
        reason=args.reason,
        timeout_seconds=args.deploy_timeout,
        poll_seconds=args.deploy_poll,
        wait_seconds=args.wait,
    )
    result = _flag_driver(args, rt, err).kill_flag(request)
    if result.outcome is Outcome.RUNNING:
        err.print(f"the running driver has not finished yet (state {result.state})", markup=False)
        return ExitCode.BUSY
    note = ""
    if result.outcome is Outcome.ROLLED_BACK:
        note = f"{args.flag_set}/{args.flag} is off for everyone: 0%, disabled, recorded in the release store"
    return _report(result, args.json, out, exit_of=KILL_EXIT_OF, note=note)


def cmd_promote(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    return _report(_driver(args, rt, err).promote(), args.json, out)


def cmd_resume(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    return _report(_driver(args, rt, err).resume(), args.json, out)


def cmd_abort(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    if not args.wait >= 0:
        raise InputError("wait", f"must be >= 0 seconds, got {args.wait!r}")
    result = _driver(args, rt, err).abort(args.reason, args.wait)
    if result.outcome is Outcome.RUNNING:
        err.print(f"the running driver has not finished yet (state {result.state})", markup=False)
        return ExitCode.BUSY
    return _report(result, args.json, out)


def cmd_init(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    driver = Driver(_stack_target(args), rt, announce=lambda line: err.print(line, markup=False))
    checks = driver.init(check_only=args.check)
    ready = all(c.ok for c in checks)
    if args.json:
        rows = [{"setting": c.setting, "before": c.before, "after": c.after, "changed": c.changed} for c in checks]
        out.print_json(json.dumps({"store": driver.store_url, "ready": ready, "checks": rows}))
    else:
        table = Table("setting", "before", "after", title=f"release store {driver.store_url}")
        for c in checks:
            table.add_row(c.setting, c.before, c.after)
        out.print(table)
        out.print("ready" if ready else "not ready: run `zdd-release init` without --check")
    return ExitCode.SUCCESS if ready else ExitCode.ERROR


def cmd_wait_idle(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    if not args.timeout >= 0:
        raise InputError("timeout", f"must be >= 0 seconds, got {args.timeout!r}")
    driver = Driver(_stack_target(args), rt)
    held = driver.wait_idle(args.timeout, args.service)
    if args.json:
        out.print_json(
            json.dumps({s: {"holder": lease.holder, "expires_at": lease.expires_at} for s, lease in held.items()})
        )
    for service, lease in held.items():
        until = time.strftime("%H:%M:%S", time.gmtime(lease.expires_at))
        err.print(f"busy: {service} is held by {lease.holder} until {until} UTC", markup=False)
    if held:
        return ExitCode.BUSY
    err.print(f"idle: no driver holds a lease in {args.stack}" + (f" on {args.service}" if args.service else ""))
    return ExitCode.SUCCESS


def cmd_status(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    driver = _driver(args, rt, err)
    s = driver.status()
    lease = driver.journal.lease()
    spec = s.spec
    plan = spec.get("plan") or {}
    status = {
        "release_id": s.release_id,
        "kind": s.kind,
        "state": s.state,
        "step": None if s.step is None else s.step + 1,
        "steps": [step["weight"] for step in plan.get("steps", [])],
        "image": spec.get("image") or spec.get("ami_id"),
        "flag": spec.get("flag"),
        "strategy": KILL_SWITCH if spec.get("kill") else plan.get("strategy"),
        "stable_color": spec.get("stable_color"),
        "failed_checks": s.failed_checks,
        "reason": s.reason,
        "updated": (driver.journal.last(s.release_id) or _never()).ts,
        "driver_running": driver.journal.held(),
        "lease_holder": lease.holder if lease and lease.live(rt.clock.now()) else None,
        "lease_expires": lease.expires_at if lease and lease.live(rt.clock.now()) else None,
        "store": driver.journal.location,
        "unreadable_records": list(driver.journal.skipped),
        **migration_facts(s),
    }
    if args.json:
        out.print_json(json.dumps(status, default=str))
    else:
        table = Table(show_header=False, title=f"{args.stack}/{args.service}")
        for key, value in status.items():
            table.add_row(key, escape(str(value)))
        out.print(table)
        if status["frozen"]:
            out.print(f"{FROZEN}: the contract started; `abort` is refused, `resume` continues", markup=False)
    return ExitCode.SUCCESS


def _never() -> Any:  # pragma: no cover - latest_status found a record, so last() does too
    raise StateError("the journal changed while it was read")


def cmd_history(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    driver = _driver(args, rt, err)
    if args.release:
        if args.release not in driver.journal.release_ids():
            raise InputError("release", f"no release {args.release!r} in the journal")
        trail = driver.trail(args.release)
        _report(trail, args.json, out, driver.journal.skipped)
        return ExitCode.SUCCESS
    if args.limit < 1:
        raise InputError("limit", f"must be >= 1, got {args.limit}")
    rows = []
    for rid in driver.journal.release_ids()[-args.limit :]:
        records = driver.journal.records(rid)
        if not records:  # every record of it unreadable: listed under unreadable records
            continue
        first, last = records[0], records[-1]
        rows.append(
            {
                "release_id": rid,
                "kind": last.status.kind,
                "started": first.ts,
                "image": last.status.spec.get("image")
                or last.status.spec.get("ami_id")
                or last.status.spec.get("flag"),
                "strategy": KILL_SWITCH
                if last.status.spec.get("kill")
                else (last.status.spec.get("plan") or {}).get("strategy"),
                "state": last.state,
                "reason": last.status.reason,
                "rollback_seconds": last.status.facts.get("rollback_seconds"),
            }
        )
    if args.json:
        out.print_json(json.dumps(rows, default=str))
    else:
        table = Table("release", "started (UTC)", "image", "strategy", "state", "reason")
        for r in rows:
            table.add_row(
                r["release_id"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["started"])),
                escape(str(r["image"])),
                str(r["strategy"]),
                r["state"],
                escape(r["reason"]),
            )
        out.print(table)
    return ExitCode.SUCCESS


COMMANDS = {
    "deploy": cmd_deploy,
    "flag": cmd_flag,
    "kill-flag": cmd_kill_flag,
    "status": cmd_status,
    "history": cmd_history,
    "promote": cmd_promote,
    "abort": cmd_abort,
    "resume": cmd_resume,
    "init": cmd_init,
    "wait-idle": cmd_wait_idle,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    runtime: Runtime | None = None,
    stdout: Any = None,
    stderr: Any = None,
) -> int:
    out = Console(file=stdout or sys.stdout, soft_wrap=True)
    err = Console(file=stderr or sys.stderr, soft_wrap=True)
    try:
        args = build_parser().parse_args(argv)
    except Refused as exc:
        err.print(f"refused: {exc}", markup=False)
        err.print("nothing was changed")
        return ExitCode.REFUSED
    except SystemExit as exc:  # --help
        return ExitCode.SUCCESS if not exc.code else ExitCode.REFUSED
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=stderr or sys.stderr,
    )
    try:
        return int(COMMANDS[args.command](args, runtime or Runtime(), out, err))
    except InputError as exc:
        err.print(f"refused: {message(exc)}", markup=False)
        err.print("nothing was changed")
        return ExitCode.REFUSED
    except FrozenError as exc:
        err.print(f"refused: {args.command}: {message(exc)}", markup=False)
        return ExitCode.FROZEN
    except StateError as exc:
        err.print(f"refused: {args.command}: {message(exc)}", markup=False)
        return ExitCode.REFUSED
    except BusyError as exc:
        err.print(f"busy: {message(exc)}", markup=False)
        return ExitCode.BUSY
    except (PortError, JournalError) as exc:
        err.print(f"error: {message(exc)}", markup=False)
        return ExitCode.ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
