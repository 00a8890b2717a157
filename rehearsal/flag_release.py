"""A flag release in the local rehearsal: the driver's flag strategy against real app processes.

    python -m zero_downtime.rehearsal.flag_release --out out/flags [--faulty 0.3] [--json]

The app instances read their flags with the OpenFeature file provider (`APP_FLAGS_FILE`); the
driver's `FileFlagStore` writes that file, step by step, through the same machine, plan, analysis
and journal (local release store) as every release. Bounded load on 127.0.0.1 asks the instances in
turn as users `u0..uN`; every answer says which variant the user got (`x-app-flags`), so the
metrics port (`VariantMetrics`) splits the requests flag-on vs flag-off with no metrics lag.

`--faulty R` makes the flagged code path fail for a share R of the requests that get the flag
(`APP_FLAG_FAULTS`): the release must be rolled back, the flag killed to 0% for everyone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from ..contract import flags as flag_doc
from ..driver.adapters.flag_file import FileFlagStore
from ..driver.adapters.release_store import ReleaseStore
from ..driver.core.analysis import AnalysisConfig
from ..driver.core.flag import FlagPorts, FlagRelease, FlagSpec, flag_target
from ..driver.core.machine import Machine
from ..driver.core.plan import build_plan
from ..driver.core.ports import AlarmStatus, SystemClock, Variant, WindowMetrics, nearest_rank_p99
from ..store.local import LocalBlobs
from .processes import Supervisor

PROJECT = "zero-downtime"
STACK = "local-rehearsal"
FLAG_SET = "rehearsal"
FLAGS_HEADER = "x-app-flags"  # app/service.py; the rehearsal does not import the app
MAX_REQUESTS = 100_000


@dataclass(frozen=True)
class Answer:
    """One request as the client saw it, with the variant the app says the user got."""

    sent_at: float
    latency: float
    status: int
    variant: str | None
    user: str
    instance: int


class VariantLoad:
    """Bounded GET /work load over the instances in turn; answers kept with their flag variant."""

    def __init__(
        self, urls: Sequence[str], flag: str, rate: float, max_seconds: float, users: int, seed: int = 7
    ) -> None:
        if not 0 < rate <= 1000 or not 0 < max_seconds <= 3600:
            raise ValueError(f"rate must be in (0, 1000] and max_seconds in (0, 3600], got {rate}, {max_seconds}")
        self.urls = list(urls)
        self.flag = flag
        self.rate = rate
        self.max_seconds = max_seconds
        self.users = users
        self.random = random.Random(seed)
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flag-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        start = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            for i in range(MAX_REQUESTS):
                due = start + i / self.rate
                if due - start >= self.max_seconds or self._stop.is_set():
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                which = i % len(self.urls)
                user = f"u{self.random.randrange(self.users)}"
                sent, t0 = time.time(), time.perf_counter()
                try:
                    r = client.get(f"{self.urls[which]}/work", params={"user": user})
                    variant = _variant(r.headers.get(FLAGS_HEADER, ""), self.flag)
                    self.answers.append(Answer(sent, time.perf_counter() - t0, r.status_code, variant, user, which))
                except httpx.HTTPError:
                    self.answers.append(Answer(sent, time.perf_counter() - t0, 0, None, user, which))


def _variant(header: str, flag: str) -> str | None:
    for part in header.split(","):
        key, _, value = part.partition("=")
        if key == flag:
            return value
    return None


class VariantMetrics:
    """FlagMetrics over the load's answers: what the requests of one variant got in a window."""

    def __init__(self, load: VariantLoad) -> None:
        self.load = load

    def window(self, flag: str, variant: Variant, start: float, end: float) -> WindowMetrics:
        picked = [a for a in list(self.load.answers) if a.variant == variant and start <= a.sent_at < end]
        latencies = tuple(a.latency for a in picked)
        return WindowMetrics(
            requests=len(picked),
            errors_5xx=sum(1 for a in picked if a.status == 0 or a.status >= 500),
            p99_seconds=nearest_rank_p99(latencies),
            latencies=latencies[-5000:],
        )

    def alarms(self) -> AlarmStatus:
        return AlarmStatus()


@dataclass(frozen=True)
class FlagRehearsalConfig:
    out_dir: Path
    flag: str = "new-checkout"
    steps: tuple[int, ...] = (20, 100)
    bake_seconds: float = 3.0
    poll_seconds: float = 1.0
    rate: float = 100.0
    instances: int = 2
    users: int = 400
    faulty_error_rate: float = 0.0
    """Share of the flagged requests that fail (the flagged code path's fault); 0: a good release."""
    min_requests: int = 20


@dataclass
class FlagRehearsalResult:
    release_id: str
    state: str
    reason: str
    served_percentage: int
    requests: int
    failed_on: int
    failed_off: int
    on_after_kill: int
    """Requests sent after the rollback wrote 0% that still got the flag: the kill switch's reach."""
    inconsistent_users: int
    """Users two instances answered differently within one step: stable bucketing says 0."""
    users_on_both: int
    """Users answered by more than one instance within one step (what the line above could see)."""
    states: list[str] = field(default_factory=list)


def run_flag_rehearsal(cfg: FlagRehearsalConfig) -> FlagRehearsalResult:
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    path = out / "flags.json"
    path.write_text(flag_doc.build_document({cfg.flag: flag_doc.flag_value(enabled=False)}))
    supervisor = Supervisor(out)
    load: VariantLoad | None = None
    try:
        env = {"APP_VERSION": "v1", "APP_FLAGS_FILE": str(path)}
        if cfg.faulty_error_rate:
            env["APP_FLAG_FAULTS"] = json.dumps({cfg.flag: cfg.faulty_error_rate})
        urls = [supervisor.spawn_app(f"flags-{i}", env).url for i in range(cfg.instances)]
        budget = 10 + len(cfg.steps) * cfg.bake_seconds * 3
        load = VariantLoad(urls, cfg.flag, cfg.rate, budget, cfg.users)
        load.start()
        journal = ReleaseStore(LocalBlobs(out / "store"), PROJECT, STACK, flag_target(FLAG_SET), SystemClock())
        spec = FlagSpec(
            stack=STACK,
            flag_set=FLAG_SET,
            flag=cfg.flag,
            plan=build_plan("canary", steps=list(cfg.steps), interval=cfg.bake_seconds),
            analysis=AnalysisConfig(judge="threshold", poll_seconds=cfg.poll_seconds, min_requests=cfg.min_requests),
            verify_timeout_seconds=5.0,
            verify_poll_seconds=0.2,
            project=PROJECT,
            resource=f"file:{path}#{cfg.flag}",
        )
        store = FileFlagStore(path)
        with journal.hold():
            result = Machine.start(
                FlagRelease(spec, FlagPorts(store, VariantMetrics(load), journal)), journal, SystemClock()
            ).run()
        time.sleep(0.5)  # answers to requests in flight when the release ended
        load.stop()
        answers = list(load.answers)
        killed_at = result.status.facts.get("restored_at")
        return FlagRehearsalResult(
            release_id=result.release_id,
            state=result.state,
            reason=result.reason,
            served_percentage=store.percentage(cfg.flag),
            requests=len(answers),
            failed_on=sum(1 for a in answers if a.variant == "on" and a.status >= 500),
            failed_off=sum(1 for a in answers if a.variant != "on" and (a.status == 0 or a.status >= 500)),
            on_after_kill=sum(1 for a in answers if killed_at and a.sent_at > float(killed_at) and a.variant == "on"),
            inconsistent_users=_inconsistent(answers, result.trail)[0],
            users_on_both=_inconsistent(answers, result.trail)[1],
            states=[r.state for r in result.trail],
        )
    finally:
        if load is not None:
            load.stop()
        supervisor.stop_all()


def _inconsistent(answers: list[Answer], trail: Sequence[object]) -> tuple[int, int]:
    """(users whose variant differed between instances while one percentage was served, users that
    more than one instance answered in one step)."""
    bakes: dict[int, tuple[float, float]] = {}
    for r in trail:
        status = r.status  # type: ignore[attr-defined]
        if r.event == "check" and status.step is not None and "step_started_at" in status.facts:  # type: ignore[attr-defined]
            bakes[status.step] = (float(status.facts["step_started_at"]), r.ts)  # type: ignore[attr-defined]
    seen: dict[tuple[int, str], set[str]] = {}
    by: dict[tuple[int, str], set[int]] = {}
    for a in answers:
        step = next((i for i, (s, e) in bakes.items() if s <= a.sent_at <= e), None)
        if step is not None and a.variant is not None:
            seen.setdefault((step, a.user), set()).add(a.variant)
            by.setdefault((step, a.user), set()).add(a.instance)
    return sum(1 for v in seen.values() if len(v) > 1), sum(1 for i in by.values() if len(i) > 1)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m zero_downtime.rehearsal.flag_release", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("out/flags"), help="working directory (flag file, journal, logs)")
    p.add_argument("--faulty", type=float, default=0.0, help="share of flagged requests that fail (0: good release)")
    p.add_argument("--steps", default="20,100", help="flag percentages, e.g. 10,50,100")
    p.add_argument("--bake", type=float, default=3.0, help="seconds per step")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    try:
        steps = tuple(int(s) for s in args.steps.split(","))
    except ValueError:
        print(f"refused: --steps: expected comma-separated integers, got {args.steps!r}", file=sys.stderr)
        return 2
    if not 0 <= args.faulty <= 1 or not 0 < args.bake <= 600:
        print("refused: --faulty must be 0-1 and --bake in (0, 600] seconds", file=sys.stderr)
        return 2
    cfg = FlagRehearsalConfig(args.out, steps=steps, bake_seconds=args.bake, faulty_error_rate=args.faulty)
    with contextlib.suppress(KeyboardInterrupt):
        try:
            result = run_flag_rehearsal(cfg)
        except ValueError as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(asdict(result), indent=2) if args.json else f"{result.state}: {result.reason}")
        return 0 if result.state == "SUCCEEDED" else 3
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
