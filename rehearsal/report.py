"""Figures of a rehearsal run (pure functions over the records) and their rich/JSON rendering.

"Bad response" means a response of the faulty version that shows its fault: a failure that is not
background noise (`--noise`) for an error fault, any of its responses for a latency-only fault. A
synthetic request (synthetic bake or probe) counts there, never as a user request.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from rich.console import Console
from rich.table import Table

from ..contract import Weights
from .chaos import chaos_summary, headline
from .loadgen import Record
from .scenario import BAD, GOOD, RehearsalConfig, RehearsalResult
from .synthetic import Probe


@dataclass(frozen=True)
class PhaseFigures:
    name: str
    seconds: float
    requests: int
    failed: int
    by_version: dict[str, int]
    failures_by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    """What the report states; every figure is derived from records, not from settings."""

    total_requests: int
    total_failed: int
    phases: list[PhaseFigures]
    good_release_state: str | None
    good_release_reason: str | None
    good_release_failed: int | None
    good_release_requests: int | None
    bad_release_state: str | None
    bad_release_reason: str | None
    bad_version_requests: int
    bad_version_share_all: float | None
    bad_version_share_release: float | None
    first_bad_response_at: float | None
    traffic_restored_at: float | None
    rollback_seconds: float | None
    detection_to_restore_seconds: float | None
    graceful_stops: int
    forced_stops: int
    leftover_processes: int
    release_traffic: dict[str, int] = field(default_factory=dict)
    """Responses each released version served during its release (0: the release got no traffic)."""
    in_flight_at_sigterm: int = 0
    """Requests still in flight on stopping instances when their deregistration delay ran out."""
    settings: dict[str, Any] = field(default_factory=dict)
    """What made the run realistic or not: noise, metrics lag, synthetic bake/probes, judge."""
    good_release_failed_beyond_background: int | None = None
    """Failed requests during the good release that the background noise does not explain."""
    bad_release_failed_beyond_background: int | None = None
    """User requests failed during the faulty release that the background noise does not explain."""
    first_bad_response_via: str | None = None
    """"user" or "synthetic": which request saw the fault first."""
    synthetic_requests: dict[str, int] = field(default_factory=dict)
    """Synthetic requests sent, by listener ("test", "production")."""
    release_synthetic: dict[str, int] = field(default_factory=dict)
    """Synthetic responses each released version served during its release."""
    bad_release_caught_before_users: bool | None = None
    """The faulty release was rolled back before its version served any user request."""
    chaos: dict[str, Any] = field(default_factory=dict)
    """`--chaos`: each event (moment, figures, failed requests it explains), failures no event explains,
    the circuit breakers' transitions (rehearsal/chaos.py). Empty without chaos."""
    expectations: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.expectations.values())

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"ok": self.ok}


def _kind(record: Record) -> str:
    """ "HTTP 503 from v3", "ReadTimeout": what a failure was, for the report."""
    if record.status == 0:
        return record.error or "no answer"
    return f"HTTP {record.status} from {record.version or 'the load balancer'}"


def _in(records: list[Record], start: float, end: float) -> list[Record]:
    return [r for r in records if start <= r.sent_at < end]


def settings_of(cfg: RehearsalConfig) -> dict[str, Any]:
    """The settings a comparison between runs needs, as the report states them."""
    return {
        "noise": {"error_rate": cfg.noise_error_rate, "jitter_ms": cfg.noise_jitter_ms},
        "metrics_lag_seconds": cfg.metrics_lag_seconds,
        "synthetic": {
            "on": cfg.synthetic,
            "requests": cfg.synthetic_requests if cfg.synthetic else 0,
            "seconds": cfg.synthetic_seconds if cfg.synthetic else 0,
            "probe_requests": cfg.probe_requests if cfg.synthetic else 0,
            "concurrency": cfg.synthetic_concurrency if cfg.synthetic else 0,
        },
        "judge": cfg.judge or "driver default",
        "rate": cfg.rate,
        "steps": list(cfg.steps) if cfg.steps is not None else None,
        "interval": cfg.interval,
        "fault": {"error_rate": cfg.bad_error_rate, "latency_ms": cfg.bad_latency_ms},
        "load_balancer": {"retries": cfg.lb_retries, "behaviour": cfg.load_balancer().describe()},
    }


def first_bad_response(
    cfg: RehearsalConfig, records: list[Record], probes: list[Probe]
) -> tuple[float | None, str | None]:
    """When the faulty version first answered with its fault, and to whom ("user", "synthetic")."""
    latency_only = cfg.bad_error_rate == 0 and cfg.bad_latency_ms > 0

    def shows_fault(version: str | None, failed: bool, background: bool) -> bool:
        return version == BAD and (latency_only or (failed and not background))

    user = min((r.done_at for r in records if shows_fault(r.version, r.failed, r.background)), default=None)
    synthetic = min((p.done_at for p in probes if shows_fault(p.version, p.failed, p.background)), default=None)
    if user is None and synthetic is None:
        return None, None
    if synthetic is None or (user is not None and user <= synthetic):
        return user, "user"
    return synthetic, "synthetic"


def summarize(result: RehearsalResult) -> Summary:
    records = result.records
    phases = [
        PhaseFigures(
            name=p.name,
            seconds=round(p.end - p.start, 2),
            requests=len(rs := _in(records, p.start, p.end)),
            failed=sum(r.failed for r in rs),
            by_version=dict(Counter(r.version or "none" for r in rs)),
            failures_by_kind=dict(Counter(_kind(r) for r in rs if r.failed)),
        )
        for p in result.phases
    ]
    good = result.releases.get(GOOD)
    bad = result.releases.get(BAD)
    good_records = _in(records, good.start, good.end) if good else None
    bad_records = _in(records, bad.start, bad.end) if bad else None
    bad_served = [r for r in records if r.version == BAD]

    first_bad, first_bad_via = first_bad_response(result.config, records, result.probes)
    restored = None
    if bad is not None:
        stable_only = Weights.all_to(bad.stable_color)
        restored = next(
            (w.at for w in result.weight_history if bad.start <= w.at <= bad.end and w.weights == stable_only),
            None,
        )
    rollback = (
        round(restored - first_bad, 3)
        if restored is not None and first_bad is not None and restored >= first_bad
        else None
    )
    total = len(records)
    summary = Summary(
        total_requests=total,
        total_failed=sum(r.failed for r in records),
        phases=phases,
        good_release_state=good.result.state if good else None,
        good_release_reason=good.result.reason if good else None,
        good_release_failed=sum(r.failed for r in good_records) if good_records is not None else None,
        good_release_requests=len(good_records) if good_records is not None else None,
        bad_release_state=bad.result.state if bad else None,
        bad_release_reason=bad.result.reason if bad else None,
        bad_version_requests=len(bad_served),
        bad_version_share_all=len(bad_served) / total if total else None,
        bad_version_share_release=(
            sum(r.version == BAD for r in bad_records) / len(bad_records) if bad_records else None
        ),
        first_bad_response_at=first_bad,
        traffic_restored_at=restored,
        rollback_seconds=rollback,
        detection_to_restore_seconds=bad.result.rollback_seconds if bad else None,
        graceful_stops=sum(code == 0 for s in result.stops for code in s.exit_codes.values()),
        forced_stops=sum(code != 0 for s in result.stops for code in s.exit_codes.values()),
        leftover_processes=len(result.leftover_pids),
        in_flight_at_sigterm=sum(s.in_flight_at_sigterm for s in result.stops),
        release_traffic={
            version: sum(r.version == version for r in _in(records, run.start, run.end))
            for version, run in result.releases.items()
        },
        settings=settings_of(result.config),
        good_release_failed_beyond_background=(
            sum(r.failed and not r.background for r in good_records) if good_records is not None else None
        ),
        bad_release_failed_beyond_background=(
            sum(r.failed and not r.background for r in bad_records) if bad_records is not None else None
        ),
        first_bad_response_via=first_bad_via,
        synthetic_requests=dict(Counter(p.via for p in result.probes)),
        release_synthetic={
            version: sum(p.version == version and run.start <= p.sent_at < run.end for p in result.probes)
            for version, run in result.releases.items()
        },
    )
    if bad is not None:
        summary = replace(
            summary,
            bad_release_caught_before_users=bad.result.state == "ROLLED_BACK"
            and summary.release_traffic.get(BAD, 0) == 0,
        )
    expectations: dict[str, bool] = {"no processes left behind": not result.leftover_pids}
    # A release that served nothing proves nothing (e.g. the load stopped at --max-seconds before it).
    if result.config.chaos:
        window = (good.start, good.end) if good is not None else None
        chaos = chaos_summary(result.chaos, result.chaos_missed, records, window, result.started_at)
        summary = replace(summary, chaos=chaos)
    if good is not None:
        expectations["good release got traffic"] = summary.release_traffic.get(GOOD, 0) > 0
        expectations["good release succeeded"] = summary.good_release_state == "SUCCEEDED"
        if summary.chaos:  # failures are judged per chaos event instead (below)
            expectations.update(summary.chaos["expectations"])
        elif result.config.noise_error_rate > 0:
            beyond = summary.good_release_failed_beyond_background
            expectations["0 failed requests beyond the background during the good release"] = beyond == 0
        else:
            name = "0 failed requests during the good release"
            if result.config.lb_retries:  # say what made it so: an ALB would not have retried
                name += " (with HAProxy retries ON, not ALB-like)"
            expectations[name] = summary.good_release_failed == 0
    if bad is not None:
        # Synthetic requests count here: a fault caught before any user request did get traffic.
        served = summary.release_traffic.get(BAD, 0) + summary.release_synthetic.get(BAD, 0)
        expectations["faulty release got traffic"] = served > 0
        expectations["faulty release rolled back"] = summary.bad_release_state == "ROLLED_BACK"
    expectations["old instances exited gracefully"] = summary.forced_stops == 0
    return replace(summary, expectations=expectations)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def describe_settings(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings as (setting, value) rows for the printed report."""
    noise, synthetic = settings.get("noise", {}), settings.get("synthetic", {})
    rate, jitter = noise.get("error_rate", 0), noise.get("jitter_ms", 0)
    background = f"{rate:.2%} errors, 0-{jitter:g} ms jitter, in every version" if rate or jitter else "off"
    probing = "off"
    if synthetic.get("on"):
        probing = (
            f"on: {synthetic['requests']} requests per color in at most {synthetic['seconds']:g} s, "
            f"{synthetic['probe_requests']} probes per check"
        )
    return [
        ("background noise", background),
        ("metrics lag", f"{settings.get('metrics_lag_seconds', 0):g} s"),
        ("synthetic bake + probes", probing),
        ("judge", str(settings.get("judge", "-"))),
        ("load balancer", str(settings.get("load_balancer", {}).get("behaviour", "-"))),
    ]


def render(summary: Summary, console: Console) -> None:
    setup = Table(title="Settings", title_justify="left", show_header=False)
    setup.add_column("setting")
    setup.add_column("value")
    for name, value in describe_settings(summary.settings):
        setup.add_row(name, value)
    console.print(setup)

    table = Table(title="Requests per phase", title_justify="left")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    table.add_column("requests", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("served by version")
    for p in summary.phases:
        versions = ", ".join(f"{v}: {n}" for v, n in sorted(p.by_version.items()))
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(p.failures_by_kind.items()))
        failed = f"[red]{p.failed}[/] ({kinds})" if p.failed else "0"
        table.add_row(p.name, f"{p.seconds:.1f}", str(p.requests), failed, versions)
    table.add_row("total", "", str(summary.total_requests), str(summary.total_failed), "")
    console.print(table)

    facts = Table(title="Release outcome", title_justify="left", show_header=False)
    facts.add_column("figure")
    facts.add_column("value")
    if summary.good_release_state is not None:
        facts.add_row("good release (v2)", summary.good_release_state)
        facts.add_row(
            "failed requests during the good release",
            f"{summary.good_release_failed} of {summary.good_release_requests}",
        )
        facts.add_row("  beyond the background noise", f"{summary.good_release_failed_beyond_background} (target 0)")
    if summary.bad_release_state is not None:
        facts.add_row("faulty release (v3)", f"{summary.bad_release_state}")
        facts.add_row("  why", summary.bad_release_reason or "-")
        facts.add_row(
            "requests that reached the bad version",
            f"{summary.bad_version_requests} = {_pct(summary.bad_version_share_all)} of all, "
            f"{_pct(summary.bad_version_share_release)} of the faulty release's",
        )
        via = f" (first seen by a {summary.first_bad_response_via} request)" if summary.first_bad_response_via else ""
        facts.add_row("first bad response -> traffic restored", _secs(summary.rollback_seconds) + via)
        if summary.bad_release_caught_before_users:
            facts.add_row("  caught", "before any user request (synthetic bake or probes)")
        facts.add_row("rollback decision -> traffic restored", _secs(summary.detection_to_restore_seconds))
    for version, served in summary.release_traffic.items():
        synthetic = summary.release_synthetic.get(version, 0)
        facts.add_row(f"responses from {version} during its release", f"{served} user, {synthetic} synthetic")
    if summary.synthetic_requests:
        sent = ", ".join(f"{n} via {via}" for via, n in sorted(summary.synthetic_requests.items()))
        facts.add_row("synthetic requests sent", sent)
    facts.add_row("instances stopped", f"{summary.graceful_stops} gracefully, {summary.forced_stops} forced")
    facts.add_row("requests in flight at SIGTERM (after the drain)", str(summary.in_flight_at_sigterm))
    facts.add_row("processes left behind", str(summary.leftover_processes))
    console.print(facts)
    if summary.chaos:
        render_chaos(summary.chaos, console)
    for name, passed in summary.expectations.items():
        mark = "[green]PASS[/]" if passed else "[red]FAIL[/]"
        console.print(f"{mark} {name}")


def render_chaos(chaos: dict[str, Any], console: Console) -> None:
    table = Table(title="Chaos during the good release", title_justify="left")
    for column in ("event", "at", "effect over", "failed requests", "figures"):
        table.add_column(column)
    for row in chaos["events"]:
        figures = headline(row)
        kinds = ", ".join(f"{k}: {n}" for k, n in row["failed_by_kind"].items())
        failed = f"{row['failed_requests']}" + (f" ({kinds})" if kinds else "")
        allowed = row.get("allowed_failures")
        if allowed != 0:
            failed += f", at most {allowed}" if allowed is not None else ", not bounded"
        if row["error"]:
            figures = f"[red]did not happen: {row['error']}[/]"
        table.add_row(
            row["kind"], f"{row['at_seconds']:.1f} s", f"{row['until_seconds']:.1f} s", failed, figures or "-"
        )
    for kind in chaos["missed"]:
        table.add_row(kind, "-", "-", "-", "[red]never fired (the release ended before its moment)[/]")
    console.print(table)
    console.print(
        f"failed requests of the good release no chaos event explains: {chaos['failed_unexplained_in_good_release']}"
    )
    opened = [c for c in chaos["breaker_changes"] if c["to"] == "open"]
    if chaos["breaker_changes"]:
        console.print(f"circuit breaker transitions: {len(chaos['breaker_changes'])}, {len(opened)} to open")


def chart_notes(summary: Summary) -> list[str]:
    """The key figures, short enough for the chart's subtitle."""
    notes: list[str] = []
    realism = {name: value for name, value in describe_settings(summary.settings) if name != "judge"}
    if summary.settings:
        notes.append(
            f"noise {'on' if realism['background noise'] != 'off' else 'off'}, "
            f"lag {realism['metrics lag']}, synthetic {'on' if summary.settings['synthetic']['on'] else 'off'}"
        )
    if summary.settings.get("load_balancer", {}).get("retries"):
        notes.append("HAProxy retries ON (not ALB-like)")
    if summary.good_release_state is not None:
        notes.append(f"good release: {summary.good_release_failed} failed of {summary.good_release_requests}")
    if summary.bad_release_state is not None:
        notes.append(f"bad version served {_pct(summary.bad_version_share_all)} of all requests")
        notes.append(f"first bad response -> restored {_secs(summary.rollback_seconds)}")
    return notes
