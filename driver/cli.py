"""`zdd-release` / `python -m driver`: deploy, status, promote, abort, resume, history.

Every input is validated before anything changes; refusals exit 2 and name the flag or key.
Exit codes are in `ExitCode`.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from driver.analysis import AnalysisConfig, AnalysisError
from driver.aws.wiring import aws_ports, fleet_parts
from driver.checks import CommandHook, HttpCheck
from driver.controller import (
    STOPPED,
    ControllerError,
    Ports,
    Progress,
    ReleaseController,
    ReleaseResult,
    ReleaseSpec,
    SpecError,
    State,
)
from driver.fleet_release import FleetRelease, FleetSpec, TemplateVersions, released_version, template_versions
from driver.journal import Journal, JournalBusy, JournalError
from driver.outputs import FleetOutputs, OutputsError, ServiceOutputs, parse_fleet, parse_service
from driver.plan import PlanError, build_plan, parse_float_list, parse_int_list
from driver.ports import Clock, PortError, PreTrafficCheck, SystemClock, Weights
from driver.stack_ops import (
    StackBusy,
    StackCommandFailed,
    StackLike,
    StackNotFound,
    StackOps,
    StackOpsError,
    select_stack,
)

log = logging.getLogger("driver")


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
    """Another driver holds the service lock, or another Pulumi update kept the stack busy."""


STATE_EXIT = {
    State.SUCCEEDED: ExitCode.SUCCESS,
    State.ROLLED_BACK: ExitCode.ROLLED_BACK,
    State.PAUSED: ExitCode.PAUSED,
    State.FAILED: ExitCode.ERROR,
}


class Refused(Exception):
    """Refused input: exit 2, nothing changed."""


@dataclass
class Runtime:
    """What the CLI reaches outside itself; tests replace the stack and clients."""

    open_stack: Callable[[str, Path], StackLike] = select_stack
    clients: dict[str, Any] | None = None
    clock: Clock = field(default_factory=SystemClock)
    stack_backoff_seconds: float = 5.0
    health_poll_seconds: float = 5.0


# -- argument parsing ------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors reach our stderr and exit 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise Refused(f"{self.prog}: {message}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stack", required=True, help="Pulumi stack name (e.g. dev)")
    p.add_argument("--service", required=True, help="service name in the stack output `services`")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=Path.cwd(),
        help="Pulumi project directory (default: current directory)",
    )
    p.add_argument(
        "--journal-dir",
        type=Path,
        default=None,
        help="release journal root (default: <work-dir>/.zdd/journal)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")


def _aws(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default=None, help="AWS region (default: the AWS SDK's)")
    p.add_argument(
        "--no-percentiles",
        action="store_true",
        help="do not query p99/Apdex (for emulators without percentile statistics)",
    )
    p.add_argument("--notify", action="store_true", help="publish events to the SNS topic")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="zdd-release", description="Zero-downtime release driver for paired services.")
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("deploy", help="release a new image to the idle color")
    _common(d)
    _aws(d)
    d.add_argument("--image", default=None, help="container image for the idle color (services)")
    d.add_argument("--ami", default=None, help="AMI id for an Auto Scaling fleet (fleets)")
    d.add_argument(
        "--refresh-timeout",
        type=float,
        default=3600.0,
        help="fleets: seconds the instance refresh may take before rollback",
    )
    d.add_argument(
        "--strategy",
        default="canary",
        help="blue-green | canary | linear | all-at-once (default canary)",
    )
    d.add_argument("--steps", default=None, help="canary weights, e.g. 5,10,25,50,100")
    d.add_argument("--interval", type=float, default=300.0, help="bake seconds per step")
    d.add_argument("--intervals", default=None, help="bake seconds per step, one per step")
    d.add_argument("--step-percent", type=int, default=10, help="linear: percent per step")
    d.add_argument("--bake", type=float, default=300.0, help="blue-green: post-flip bake seconds")
    d.add_argument("--pause-at", default=None, help="pause after these step weights, e.g. 25,50")
    d.add_argument("--pause-before-promote", action="store_true", help="wait for `promote` at 100%%")
    d.add_argument(
        "--desired-count",
        type=int,
        default=None,
        help="tasks for the new color (default: the live color's count)",
    )
    d.add_argument("--keep-warm", type=float, default=900.0, help="seconds the old color stays up")
    d.add_argument("--health-timeout", type=float, default=600.0, help="seconds to wait for healthy targets")
    d.add_argument("--max-error-rate", type=float, default=0.05, help="rollback above (0-1)")
    d.add_argument("--max-p99", type=float, default=2.0, help="rollback above p99 seconds")
    d.add_argument("--min-apdex", type=float, default=0.8, help="rollback below Apdex")
    d.add_argument("--min-requests", type=int, default=50, help="requests before a step passes")
    d.add_argument("--threshold", type=int, default=2, help="failed checks before rollback")
    d.add_argument("--poll", type=float, default=15.0, help="seconds between analysis checks")
    d.add_argument("--check-path", default="/health", help="pre-traffic HTTP check path")
    d.add_argument("--check-status", type=int, default=200, help="expected HTTP status")
    d.add_argument("--check-body", default=None, help="regex the check body must match")
    d.add_argument("--hook", action="append", default=[], help="pre-traffic command (repeatable)")
    d.add_argument(
        "--no-test-check",
        action="store_true",
        help="skip the HTTP check against the test listener",
    )

    for name, text in (
        ("status", "the latest release's state"),
        ("history", "past releases and their decision trail"),
    ):
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
            p.add_argument(
                "--wait",
                type=float,
                default=120.0,
                help="seconds to wait for a running driver to finish the rollback",
            )
    return parser


# -- helpers -----------------------------------------------------------------------------------
class ProgressView:
    """Live progress lines on stderr (stdout stays clean for --json)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, p: Progress) -> None:
        step = f"step {p.step + 1}/{p.steps}" if p.step is not None else f"-/{p.steps}"
        weights = f"blue {p.weights.blue}% green {p.weights.green}%" if p.weights else "-"
        parts = [f"[bold]{p.state.value:<18}[/bold]", step, weights]
        if p.requests is not None:
            rate = f"{p.error_rate:.2%}" if p.error_rate is not None else "n/a"
            p99 = f"{p.p99_seconds:.3f}s" if p.p99_seconds is not None else "n/a"
            parts += [f"req {p.requests}", f"err {rate}", f"p99 {p99}"]
        parts.append(f"failed checks {p.failed_checks}")
        if p.seconds_left is not None:
            parts.append(f"{p.seconds_left:.0f}s left")
        if p.message:
            parts.append(p.message)
        self.console.print("  ".join(parts), highlight=False, markup=True)


def _journal(args: argparse.Namespace) -> Journal:
    root = args.journal_dir or (args.work_dir / ".zdd" / "journal")
    try:
        return Journal(root, args.stack, args.service)
    except ValueError as exc:
        raise Refused(str(exc)) from None


def _pulumi_log(journal: Journal) -> Callable[[str], None]:
    path = journal.path.with_suffix(".pulumi.log")

    def write(line: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(line if line.endswith("\n") else line + "\n")
        log.debug("pulumi: %s", line.rstrip())

    return write


def _open_stack(args: argparse.Namespace, rt: Runtime, journal: Journal) -> tuple[StackOps, dict[str, Any]]:
    stack = rt.open_stack(args.stack, args.work_dir)
    ops = StackOps(stack, rt.clock, backoff_seconds=rt.stack_backoff_seconds, on_output=_pulumi_log(journal))
    return ops, ops.outputs()


def _open(args: argparse.Namespace, rt: Runtime, journal: Journal) -> tuple[StackOps, ServiceOutputs]:
    ops, outputs = _open_stack(args, rt, journal)
    try:
        service = parse_service(outputs, args.service)
    except OutputsError as exc:
        raise Refused(str(exc)) from None
    if service.mode != "paired":
        raise Refused(
            f"--service: {args.service} uses mode {service.mode!r}; ECS shifts its traffic itself, "
            "the driver releases paired services only"
        )
    return ops, service


def _ports(
    args: argparse.Namespace,
    rt: Runtime,
    ops: StackOps,
    service: ServiceOutputs,
    checks: Sequence[PreTrafficCheck] = (),
) -> Ports:
    return aws_ports(
        service,
        ops,
        rt.clock,
        checks=checks,
        region=args.region,
        percentiles=not args.no_percentiles,
        notify=args.notify,
        health_poll_seconds=rt.health_poll_seconds,
        clients=rt.clients,
    )


def _result_json(res: ReleaseResult, code: ExitCode, journal: Journal) -> dict[str, Any]:
    return {
        "release_id": res.release_id,
        "stack": journal.stack,
        "service": journal.service,
        "state": res.state.value,
        "reason": res.reason,
        "rollback_seconds": res.rollback_seconds,
        "exit_code": int(code),
        "decisions": res.trail,
    }


def _report(res: ReleaseResult, journal: Journal, as_json: bool, out: Console) -> ExitCode:
    code = STATE_EXIT.get(res.state, ExitCode.ERROR)
    if as_json:
        out.print_json(json.dumps(_result_json(res, code, journal), default=str))
        return code
    out.print(f"release {res.release_id}: [bold]{res.state.value}[/bold]")
    if res.reason:
        out.print(f"reason: {res.reason}", markup=False)
    if res.rollback_seconds is not None:
        out.print(f"traffic restored to the stable color in {res.rollback_seconds:.3f}s")
    table = Table("time", "state", "event", "step", "detail", title="decision trail")
    for rec in res.trail:
        detail = rec.get("reason") or ""
        verdict = rec.get("data", {}).get("verdict")
        if verdict:
            detail = f"{verdict['outcome']} req={verdict.get('requests')} " + "; ".join(verdict.get("reasons", []))
        table.add_row(
            time.strftime("%H:%M:%S", time.gmtime(rec["ts"])),
            rec["state"],
            rec["event"],
            "" if rec.get("step") is None else str(rec["step"] + 1),
            detail,
        )
    out.print(table)
    out.print(f"exit code {int(code)} ({code.name})")
    return code


# -- commands ---------------------------------------------------------------------------------
def _plan_and_analysis(args: argparse.Namespace) -> tuple[Any, AnalysisConfig]:
    steps = parse_int_list("--steps", args.steps) if args.steps is not None else None
    intervals = parse_float_list("--intervals", args.intervals) if args.intervals else None
    pause_at = parse_int_list("--pause-at", args.pause_at) if args.pause_at else None
    plan = build_plan(
        args.strategy,
        steps=steps,
        interval=args.interval,
        intervals=intervals,
        step_percent=args.step_percent,
        bake=args.bake,
        pause_at=pause_at,
        pause_before_promote=args.pause_before_promote,
    )
    analysis = AnalysisConfig(
        max_error_rate=args.max_error_rate,
        max_p99_seconds=args.max_p99,
        min_apdex=args.min_apdex,
        min_requests=args.min_requests,
        threshold=args.threshold,
        poll_seconds=args.poll,
        require_latency=not args.no_percentiles,
    )
    return plan, analysis


def cmd_deploy(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    plan, analysis = _plan_and_analysis(args)
    if args.ami is not None:
        if args.image is not None:
            raise Refused("--ami: give --image for a service or --ami for a fleet, not both")
        return _deploy_fleet(args, rt, analysis, out, err)
    if args.image is None:
        raise Refused("--image: required (or --ami for an Auto Scaling fleet)")

    def make_spec(stable: str, count: int) -> ReleaseSpec:
        return ReleaseSpec(
            stack=args.stack,
            service=args.service,
            image=args.image,
            desired_count=count,
            stable_color=stable,  # type: ignore[arg-type]
            plan=plan,
            analysis=analysis,
            health_timeout_seconds=args.health_timeout,
            keep_warm_seconds=args.keep_warm,
        )

    # Validate image/count/timeouts now, before the stack is even opened.
    make_spec("blue", args.desired_count if args.desired_count is not None else 1)
    if not 100 <= args.check_status <= 599:
        raise Refused(f"--check-status: must be an HTTP status, got {args.check_status}")
    if not args.check_path.startswith("/"):
        raise Refused(f"--check-path: must start with '/', got {args.check_path!r}")
    for hook in args.hook:
        CommandHook(hook)  # ValueError names --hook
    if args.check_body is not None:
        try:
            re.compile(args.check_body)
        except re.error as exc:
            raise Refused(f"--check-body: not a valid regular expression: {exc}") from None
    journal = _journal(args)
    # Read-only first: an unknown stack or service is refused before anything is written.
    ops, service = _open(args, rt, journal)
    stable = service.live_color
    if service.weights != Weights.all_to(stable):
        raise Refused(
            f"--service: traffic of {args.service} is split {service.weights.as_dict()} "
            f"with liveColor {stable}; finish or abort that release first"
        )
    count = args.desired_count or max(1, service.colors[stable].desired_count)
    spec = make_spec(stable, count)
    with journal.lock():
        _refuse_if_in_progress(journal, args.service)
        checks: list[PreTrafficCheck] = []
        if service.test_url and not args.no_test_check:
            checks.append(
                HttpCheck(
                    service.test_url.rstrip("/") + args.check_path,
                    expected_status=args.check_status,
                    body_pattern=args.check_body,
                )
            )
        env = {
            "ZDD_STACK": args.stack,
            "ZDD_SERVICE": args.service,
            "ZDD_IMAGE": args.image,
            "ZDD_COLOR": spec.new_color,
            "ZDD_TEST_URL": service.test_url or "",
        }
        checks += [CommandHook(h, env=env) for h in args.hook]
        ports = _ports(args, rt, ops, service, checks)
        observed = ports.router.observed_weights()
        if observed != Weights.all_to(stable):
            raise Refused(
                f"--service: the load balancer reports {observed.as_dict()} but the stack says "
                f"100% {stable}; run `pulumi refresh` or abort the previous release first"
            )
        ctl = ReleaseController.start(spec, ports, journal, on_progress=ProgressView(err))
        err.print(
            f"release {ctl.release_id}: {args.image} -> {service.name}/{spec.new_color} "
            f"({plan.strategy.value}, steps {[s.weight for s in plan.steps]})"
        )
        return _report(ctl.run(), journal, args.json, out)


def _deploy_fleet(
    args: argparse.Namespace, rt: Runtime, analysis: AnalysisConfig, out: Console, err: Console
) -> ExitCode:
    def make_spec(fleet: FleetOutputs | None, versions: TemplateVersions | None, released: int) -> FleetSpec:
        return FleetSpec(
            stack=args.stack,
            fleet=args.service,
            ami_id=args.ami,
            config_path=fleet.config_path if fleet else f"fleets.{args.service}",
            group_name=fleet.group_name if fleet else "unknown",
            launch_template_id=versions.launch_template_id if versions else "unknown",
            released_version=released,
            preferences=fleet.refresh_preferences if fleet else {},
            analysis=analysis,
            timeout_seconds=args.refresh_timeout,
        )

    make_spec(None, None, 1)  # refuse a bad --ami before the stack is opened
    journal = _journal(args)
    ops, outputs = _open_stack(args, rt, journal)
    try:
        fleet = parse_fleet(outputs, args.service)
        versions = template_versions(outputs, args.service)
    except OutputsError as exc:
        raise Refused(str(exc)) from None
    with journal.lock():
        _refuse_if_in_progress(journal, args.service)
        _refuse_if_release_unrecorded(journal, args.service)
        key = f"{fleet.config_path}.releasedVersion"
        # N: the version a rollback returns to; pinned in config before the template changes.
        spec = make_spec(fleet, versions, released_version(ops.get_config(key), versions, key))
        refresher, metrics = fleet_parts(
            fleet,
            region=args.region,
            percentiles=not args.no_percentiles,
            clients=rt.clients,
        )
        rel = FleetRelease.start(spec, ops, refresher, metrics, rt.clock, journal)
        err.print(
            f"fleet release {rel.release_id}: {args.ami} -> {fleet.group_name} "
            f"(held on launch template version {spec.released_version} until the refresh succeeds)"
        )
        return _report(rel.run(), journal, args.json, out)


def _refuse_if_release_unrecorded(journal: Journal, name: str) -> None:
    """A fleet release whose refresh succeeded but whose releasedVersion write failed must be
    resumed first: a new release would pin the old version while AWS runs the new one."""
    latest = journal.last()
    if latest is not None and latest["state"] == "FAILED" and latest.get("data", {}).get("failed_in") == "PROMOTING":
        raise Refused(
            f"--service: fleet release {latest['release_id']} of {name} finished its instance refresh "
            "but did not record releasedVersion; run `resume` first"
        )


def _refuse_if_in_progress(journal: Journal, name: str) -> None:
    latest = journal.last()
    if latest is not None and latest["state"] not in {s.value for s in STOPPED - {State.PAUSED}}:
        raise Refused(
            f"--service: release {latest['release_id']} of {name} is "
            f"{latest['state']}; promote, abort or resume it first"
        )


def _is_fleet(journal: Journal) -> bool:
    rid = journal.latest_release_id()
    first = journal.records(rid)[0] if rid else {}
    return first.get("data", {}).get("spec", {}).get("kind") == "fleet"


def _load_fleet(args: argparse.Namespace, rt: Runtime, journal: Journal) -> FleetRelease:
    ops, outputs = _open_stack(args, rt, journal)
    try:
        fleet = parse_fleet(outputs, args.service)
    except OutputsError as exc:
        raise Refused(str(exc)) from None
    refresher, metrics = fleet_parts(fleet, region=args.region, percentiles=not args.no_percentiles, clients=rt.clients)
    return FleetRelease.load(journal, ops, refresher, metrics, rt.clock)


def _load(args: argparse.Namespace, rt: Runtime, journal: Journal, err: Console) -> Any:
    if journal.latest_release_id() is None:
        raise Refused(f"--service: no release recorded for {args.stack}/{args.service}")
    if _is_fleet(journal):
        return _load_fleet(args, rt, journal)
    ops, service = _open(args, rt, journal)
    ports = _ports(args, rt, ops, service)
    return ReleaseController.load(journal, ports, on_progress=ProgressView(err))


def cmd_promote(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    journal = _journal(args)
    with journal.lock():
        ctl = _load(args, rt, journal, err)
        if isinstance(ctl, FleetRelease):
            raise Refused("promote: fleet releases have no manual gate")
        if ctl.state is not State.PAUSED:
            raise Refused(f"promote: release {ctl.release_id} is {ctl.state.value}, not PAUSED")
        return _report(ctl.promote(), journal, args.json, out)


def cmd_resume(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    journal = _journal(args)
    with journal.lock():
        ctl = _load(args, rt, journal, err)
        return _report(ctl.resume(), journal, args.json, out)


def cmd_abort(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    journal = _journal(args)
    rid = journal.latest_release_id()
    if rid is None:
        raise Refused(f"--service: no release recorded for {args.stack}/{args.service}")
    if journal.is_locked():
        # A driver is running this release: ask it, and wait for it to finish the rollback.
        journal.request_abort(rid, args.reason)
        err.print(f"abort requested from the running driver of {rid}; waiting up to {args.wait}s")
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            last = journal.last(rid)
            if last and State(last["state"]) in STOPPED:
                break
            time.sleep(0.5)
        last = journal.last(rid) or {}
        state = State(last.get("state", "PENDING"))
        if state not in STOPPED:
            err.print(f"the running driver has not finished yet (state {state.value})")
            return ExitCode.BUSY
        ctl_result = ReleaseResult(
            rid,
            state,
            str(last.get("reason", "")),
            (last.get("data") or {}).get("rollback_seconds"),
            journal.records(rid),
        )
        return _report(ctl_result, journal, args.json, out)
    with journal.lock():
        ctl = _load(args, rt, journal, err)
        return _report(ctl.abort(args.reason), journal, args.json, out)


def cmd_status(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    journal = _journal(args)
    rid = journal.latest_release_id()
    if rid is None:
        raise Refused(f"--service: no release recorded for {args.stack}/{args.service}")
    records = journal.records(rid)
    first, last = records[0], records[-1]
    spec = first.get("data", {}).get("spec", {})
    steps = [s["weight"] for s in spec.get("plan", {}).get("steps", [])]
    step = last.get("step")
    status = {
        "release_id": rid,
        "state": last["state"],
        "step": None if step is None else step + 1,
        "steps": steps,
        "image": spec.get("image") or spec.get("ami_id"),
        "strategy": spec.get("plan", {}).get("strategy"),
        "stable_color": spec.get("stable_color"),
        "failed_checks": last.get("failed_checks", 0),
        "reason": last.get("reason") or "",
        "updated": last.get("ts"),
        "driver_running": journal.is_locked(),
    }
    if args.json:
        out.print_json(json.dumps(status, default=str))
    else:
        table = Table(show_header=False, title=f"{args.stack}/{args.service}")
        for key, value in status.items():
            table.add_row(key, str(value))
        out.print(table)
    return ExitCode.SUCCESS


def cmd_history(args: argparse.Namespace, rt: Runtime, out: Console, err: Console) -> ExitCode:
    journal = _journal(args)
    if args.release:
        records = journal.records(args.release)
        if not records:
            raise Refused(f"--release: no release {args.release!r} in the journal")
        last = records[-1]
        res = ReleaseResult(
            args.release,
            State(last["state"]),
            str(last.get("reason", "")),
            (last.get("data") or {}).get("rollback_seconds"),
            records,
        )
        _report(res, journal, args.json, out)
        return ExitCode.SUCCESS
    if args.limit < 1:
        raise Refused("--limit: must be >= 1")
    rows = []
    for rid in journal.release_ids()[-args.limit :]:
        recs = journal.records(rid)
        spec = recs[0].get("data", {}).get("spec", {})
        rows.append(
            {
                "release_id": rid,
                "started": recs[0]["ts"],
                "image": spec.get("image") or spec.get("ami_id"),
                "strategy": spec.get("plan", {}).get("strategy"),
                "state": recs[-1]["state"],
                "reason": recs[-1].get("reason") or "",
                "rollback_seconds": next(
                    (r["data"]["rollback_seconds"] for r in recs if r.get("event") == "traffic_restored"),
                    None,
                ),
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
                str(r["image"]),
                str(r["strategy"]),
                r["state"],
                r["reason"],
            )
        out.print(table)
    return ExitCode.SUCCESS


COMMANDS = {
    "deploy": cmd_deploy,
    "status": cmd_status,
    "history": cmd_history,
    "promote": cmd_promote,
    "abort": cmd_abort,
    "resume": cmd_resume,
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
    rt = runtime or Runtime()
    try:
        return int(COMMANDS[args.command](args, rt, out, err))
    except (Refused, PlanError, AnalysisError, SpecError, StackNotFound, OutputsError) as exc:
        err.print(f"refused: {exc}", markup=False)
        err.print("nothing was changed")
        return ExitCode.REFUSED
    except ControllerError as exc:
        err.print(f"refused: {exc}", markup=False)
        return ExitCode.REFUSED
    except ValueError as exc:  # e.g. --hook parsing
        err.print(f"refused: {exc}", markup=False)
        err.print("nothing was changed")
        return ExitCode.REFUSED
    except (JournalBusy, StackBusy) as exc:
        err.print(f"busy: {exc}", markup=False)
        return ExitCode.BUSY
    except (StackCommandFailed, StackOpsError, PortError, JournalError) as exc:
        err.print(f"error: {exc}", markup=False)
        return ExitCode.ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
