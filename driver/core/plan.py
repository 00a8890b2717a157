"""Release strategies -> the list of traffic steps a service release takes.

Pure decisions: no I/O. Every input is validated here, before anything changes, and a bad value
raises `InputError` naming the setting that carried it (`steps`, `interval`, ...); the CLI maps the
setting to its key.
"""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .errors import InputError

MAX_STEPS = 100
MAX_SYNTHETIC_REQUESTS = 100_000
MAX_SYNTHETIC_CONCURRENCY = 64
DEFAULT_SYNTHETIC_CONCURRENCY = 20
"""`latency_min_samples`' default: one answer per slot gives the rank test its samples (`SyntheticBake`)."""
JOURNALED_SYNTHETIC_CONCURRENCY = 4
"""What a release journaled before `SyntheticBake.concurrency` existed sent at: it resumes alike."""
LOOK_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 7 / 8, 1.0)
"""Where the synthetic bake is judged: after these shares of its requests (`SyntheticBake.parts`).
Doubling at first, so a gross fault is seen after a sixteenth; then every eighth, because a 3% error
fault needs about half the default bake (docs/analysis.md, the synthetic bake alone)."""
DOUBLING_LOOK_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)
"""The bake's looks before round 6 of the evidence bench: `bench/judge_simulation.py` compares them."""
RUN_FROM = ("auto", "driver", "probe")
DEFAULT_CANARY_STEPS = (1, 10, 100)
MAX_INTERVAL_SECONDS = 24 * 3600  # ECS caps bake time at 1440 minutes; we keep the same bound.
MAX_CONTRACT_DELAY_SECONDS = 7 * 24 * 3600
MAX_COMMAND_CHARS = 4096


class Strategy(StrEnum):
    BLUE_GREEN = "blue-green"
    CANARY = "canary"
    LINEAR = "linear"
    ALL_AT_ONCE = "all-at-once"


@dataclass(frozen=True)
class Step:
    """Send `weight` percent to the new color, then bake `bake_seconds` under analysis.

    `pause` makes the release wait for `promote` once the bake has passed.
    """

    weight: int
    bake_seconds: float
    pause: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"weight": self.weight, "bake_seconds": self.bake_seconds, "pause": self.pause}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Step:
        return cls(
            weight=int(data["weight"]),  # type: ignore[arg-type]
            bake_seconds=float(data["bake_seconds"]),  # type: ignore[arg-type]
            pause=bool(data.get("pause", False)),
        )


@dataclass(frozen=True)
class SyntheticBake:
    """Synthetic load on the new color before any user request (`SyntheticTraffic` port).

    Up to `requests` requests over at most `seconds` go to the new color through the test listener,
    and as many to the stable color through the production listener (still 100% stable), measured
    alike by the sender and judged by the same analysis as a traffic step. `probe_requests` more go
    through the test listener at every analysis check of every bake: evidence with no metrics lag.

    `concurrency` requests are in flight at a time (1-64, default 20), in the bake and in the probes.
    The bake's first look comes after 1/16 of its requests (50 of the default 800) and 1/16 of its
    seconds per color, so the concurrency sets how soon a slow new color is seen. The latency rank
    test needs 20 samples per color (`latency_min_samples`); with 20 slots one answer each is
    enough, so a look whose time share is shorter than one slow answer still has them. At 4 (the
    value before this setting existed) 50 answers of 650 ms took about 8 s; in the local rehearsal
    (5 s bakes) +600 ms was restored in about 6 s at 4, 0.85 s at 16 (two looks) and 0.07 s at 20
    (the first look). It is bounded load: `requests` in all, to the new color through the test
    listener (no user there) and as many to the stable color through production, before any user
    request reaches the new color; 20 at a time is a small fraction of what a production listener
    serves. The probe function's bursts (`contract/probe.py`) accept up to 64; one deployed before
    that accepted 16, and the driver sends it 16 (`driver/adapters/synthetic.py`).
    """

    requests: int = 800
    seconds: float = 20.0
    probe_requests: int = 20
    path: str = "/"
    """What the synthetic requests GET (on both listeners)."""
    run_from: str = "auto"
    """Where the requests are sent from: `probe` (the stack's probe function inside the VPC),
    `driver` (here), or `auto` (the probe function when the stack has one). Adapters read it."""
    concurrency: int = DEFAULT_SYNTHETIC_CONCURRENCY
    """Synthetic requests in flight at a time (bake and probes). Adapters read it."""

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path.startswith("/") or any(c.isspace() for c in self.path):
            raise InputError("synthetic_path", f"must be a path starting with '/', got {self.path!r}")
        if self.run_from not in RUN_FROM:
            raise InputError("check_from", f"must be one of {', '.join(RUN_FROM)}, got {self.run_from!r}")
        for key, value, low in (("synthetic_requests", self.requests, 1), ("probe_requests", self.probe_requests, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_SYNTHETIC_REQUESTS:
                raise InputError(key, f"must be an integer {low}-{MAX_SYNTHETIC_REQUESTS}, got {value!r}")
        _check_interval("synthetic_seconds", self.seconds)
        c = self.concurrency
        if not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= MAX_SYNTHETIC_CONCURRENCY:
            raise InputError("synthetic_concurrency", f"must be an integer 1-{MAX_SYNTHETIC_CONCURRENCY}, got {c!r}")

    def parts(self, fractions: Sequence[float] = LOOK_FRACTIONS) -> list[tuple[int, float]]:
        """The bake in parts, (requests, seconds) each, judged after each part: the requests so far
        at `fractions` of the whole. Small parts first, so a gross fault is caught after a
        sixteenth of the bake, then an eighth at a time, where a small fault needs the numbers."""
        cumulative = sorted({max(1, round(self.requests * f)) for f in fractions})
        counts = [b - a for a, b in zip([0, *cumulative], cumulative, strict=False)]
        return [(n, self.seconds * n / self.requests) for n in counts]

    def to_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "seconds": self.seconds,
            "probe_requests": self.probe_requests,
            "path": self.path,
            "run_from": self.run_from,
            "concurrency": self.concurrency,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> SyntheticBake:
        return cls(
            requests=int(data["requests"]),  # type: ignore[call-overload]
            seconds=float(data["seconds"]),  # type: ignore[arg-type]
            probe_requests=int(data.get("probe_requests", 0)),  # type: ignore[call-overload]
            path=str(data.get("path", "/")),
            run_from=str(data.get("run_from", "auto")),
            concurrency=int(data.get("concurrency", JOURNALED_SYNTHETIC_CONCURRENCY)),  # type: ignore[call-overload]
        )


@dataclass(frozen=True)
class Migrations:
    """Schema migrations around a service release: expand before the new color starts, contract
    once the old version serves nothing (docs/migrations.md).

    The commands run through the `MigrationRunner` port: a local process, or a one-off ECS task of
    the new image on AWS. `compat_command` is the compatibility gate: it applies the expand to a
    scratch copy of the schema and smoke-tests the old version against it, before the production
    schema changes. Each command must be safe to run twice (a resumed release repeats it).
    """

    expand_command: str = ""
    compat_command: str = ""
    contract_command: str = ""
    contract_delay_seconds: float = 0.0
    """Contract no earlier than this long after promotion (the old color stays warm at least this long)."""

    def __post_init__(self) -> None:
        for key in ("expand_command", "compat_command", "contract_command"):
            value = getattr(self, key)
            if not isinstance(value, str):
                raise InputError(key, f"must be a command string, got {value!r}")
            if len(value) > MAX_COMMAND_CHARS:
                raise InputError(key, f"must be at most {MAX_COMMAND_CHARS} characters, got {len(value)}")
            try:
                shlex.split(value)
            except ValueError as exc:
                raise InputError(key, f"cannot split {value!r} into arguments: {exc}") from None
            if value and not shlex.split(value):
                raise InputError(key, f"must name a program, got {value!r}")
        if not self.expand_command and not self.contract_command:
            raise InputError("expand_command", "a migration needs an expand command, a contract command or both")
        if self.expand_command and not self.compat_command:
            raise InputError(
                "compat_command",
                "required with an expand command: the compatibility gate smoke-tests the old version "
                "against the expanded schema before production's schema changes",
            )
        if self.compat_command and not self.expand_command:
            raise InputError("compat_command", "gates an expand; give it with an expand command")
        delay = self.contract_delay_seconds
        if not isinstance(delay, int | float) or isinstance(delay, bool) or delay != delay:
            raise InputError("contract_delay_seconds", f"must be a number of seconds, got {delay!r}")
        if not 0 <= delay <= MAX_CONTRACT_DELAY_SECONDS:
            raise InputError("contract_delay_seconds", f"must be 0-{MAX_CONTRACT_DELAY_SECONDS} seconds, got {delay!r}")
        if delay and not self.contract_command:
            raise InputError("contract_delay_seconds", "delays a contract; give it with a contract command")

    def to_dict(self) -> dict[str, object]:
        return {
            "expand_command": self.expand_command,
            "compat_command": self.compat_command,
            "contract_command": self.contract_command,
            "contract_delay_seconds": self.contract_delay_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Migrations:
        return cls(
            expand_command=str(data.get("expand_command") or ""),
            compat_command=str(data.get("compat_command") or ""),
            contract_command=str(data.get("contract_command") or ""),
            contract_delay_seconds=float(data.get("contract_delay_seconds") or 0.0),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Plan:
    """The validated steps of one release, whether pre-traffic checks gate the first one, and the
    synthetic bake before it (None: no synthetic load)."""

    strategy: Strategy
    steps: tuple[Step, ...]
    pre_traffic_checks: bool = True
    synthetic: SyntheticBake | None = None
    migrations: Migrations | None = None
    """Expand before the new color starts, contract after promotion (None: no schema change)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "strategy": self.strategy.value,
            "steps": [s.to_dict() for s in self.steps],
            "pre_traffic_checks": self.pre_traffic_checks,
            "synthetic": self.synthetic.to_dict() if self.synthetic else None,
            "migrations": self.migrations.to_dict() if self.migrations else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Plan:
        steps = tuple(Step.from_dict(s) for s in data["steps"])  # type: ignore[attr-defined]
        synthetic, migrations = data.get("synthetic"), data.get("migrations")
        return cls(
            strategy=Strategy(str(data["strategy"])),
            steps=steps,
            pre_traffic_checks=bool(data.get("pre_traffic_checks", True)),
            synthetic=SyntheticBake.from_dict(synthetic) if isinstance(synthetic, dict) else None,  # type: ignore[arg-type]
            migrations=Migrations.from_dict(migrations) if isinstance(migrations, dict) else None,
        )

    @property
    def total_bake_seconds(self) -> float:
        return sum(s.bake_seconds for s in self.steps)

    def step_judgements(self) -> int:
        """How many judgements with sequential tests the steps make, over which the steps' share of
        a release-wide alpha is split (`AnalysisConfig.for_release`): each step's user traffic below
        100% (at 100% no stable users are left to compare with), and each step's probes."""
        probes = self.synthetic is not None and self.synthetic.probe_requests > 0
        return sum(1 for s in self.steps if s.weight < 100) + (len(self.steps) if probes else 0)


def _check_interval(key: str, value: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InputError(key, f"must be a number of seconds, got {value!r}")
    if value != value or value <= 0:  # NaN or non-positive
        raise InputError(key, f"must be > 0 seconds, got {value!r}")
    if value > MAX_INTERVAL_SECONDS:
        raise InputError(key, f"must be at most {MAX_INTERVAL_SECONDS} seconds, got {value!r}")
    return float(value)


def validate_weights(key: str, weights: list[int]) -> tuple[int, ...]:
    """Steps are integers in 1..100, strictly increasing, and end at 100."""
    if not weights:
        raise InputError(key, "needs at least one step")
    if len(weights) > MAX_STEPS:
        raise InputError(key, f"at most {MAX_STEPS} steps, got {len(weights)}")
    for w in weights:
        if not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= 100:
            raise InputError(key, f"each step must be an integer 1-100, got {w!r}")
    for prev, cur in itertools.pairwise(weights):
        if cur <= prev:
            raise InputError(key, f"steps must strictly increase, got {prev} then {cur}")
    if weights[-1] != 100:
        raise InputError(key, f"the last step must be 100, got {weights[-1]}")
    return tuple(weights)


def parse_int_list(key: str, text: str) -> list[int]:
    """'5,10,100' -> [5, 10, 100]; anything unparsable names `key`."""
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise InputError(key, f"expected comma-separated integers, got {text!r}")
    try:
        return [int(t) for t in items]
    except ValueError:
        raise InputError(key, f"expected comma-separated integers, got {text!r}") from None


def parse_float_list(key: str, text: str) -> list[float]:
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise InputError(key, f"expected comma-separated seconds, got {text!r}")
    try:
        return [float(t) for t in items]
    except ValueError:
        raise InputError(key, f"expected comma-separated seconds, got {text!r}") from None


def build_plan(
    strategy: str,
    *,
    steps: list[int] | None = None,
    interval: float = 300.0,
    intervals: list[float] | None = None,
    step_percent: int = 10,
    bake: float = 300.0,
    pause_at: list[int] | None = None,
    pause_before_promote: bool = False,
    synthetic: SyntheticBake | None = None,
    migrations: Migrations | None = None,
) -> Plan:
    """Turn strategy flags into a validated `Plan`.

    - blue-green: one step to 100 after the pre-traffic checks, then `bake` (post-flip window).
    - canary: `steps` (default 1,10,100: a first step cheap enough to be wrong on, gated on evidence)
      with `interval` each,
      or one interval per step with `intervals`.
    - linear: `step_percent` every `interval` until 100 (the last step is capped at 100).
    - all-at-once: one step to 100 baking `interval`, without pre-traffic checks (a baseline).
    `pause_at` pauses after the listed step weights; `pause_before_promote` after the last step.
    `synthetic` adds a synthetic bake before the first step (not with all-at-once, which checks nothing).
    """
    try:
        strat = Strategy(strategy)
    except ValueError:
        allowed = ", ".join(s.value for s in Strategy)
        raise InputError("strategy", f"must be one of {allowed}, got {strategy!r}") from None

    checks = True
    if strat is Strategy.BLUE_GREEN:
        if steps is not None:
            raise InputError("steps", "blue-green flips 100% at once; use --strategy canary")
        weights: tuple[int, ...] = (100,)
        bakes = [_check_interval("bake", bake)]
    elif strat is Strategy.ALL_AT_ONCE:
        if steps is not None:
            raise InputError("steps", "all-at-once has a single step; use --strategy canary")
        weights = (100,)
        bakes = [_check_interval("interval", interval)]
        checks = False
    elif strat is Strategy.CANARY:
        weights = validate_weights("steps", list(steps) if steps is not None else list(DEFAULT_CANARY_STEPS))
        bakes = _bakes_for(weights, interval, intervals)
    else:
        if steps is not None:
            raise InputError("steps", "linear derives its steps from --step-percent")
        if not isinstance(step_percent, int) or isinstance(step_percent, bool) or not 1 <= step_percent <= 100:
            raise InputError("step_percent", f"must be an integer 1-100, got {step_percent!r}")
        weights = tuple(min(w, 100) for w in range(step_percent, 100 + step_percent, step_percent))
        weights = validate_weights("step_percent", list(dict.fromkeys(weights)))
        bakes = _bakes_for(weights, interval, intervals)

    pauses = set(pause_at or [])
    unknown = sorted(pauses - set(weights))
    if unknown:
        raise InputError("pause_at", f"{unknown} are not step weights of this plan {list(weights)}")
    built = tuple(
        Step(
            weight=w,
            bake_seconds=b,
            pause=(w in pauses) or (pause_before_promote and i == len(weights) - 1),
        )
        for i, (w, b) in enumerate(zip(weights, bakes, strict=True))
    )
    if synthetic is not None and not checks:
        raise InputError("synthetic_requests", "all-at-once checks nothing before traffic; use another strategy")
    return Plan(strategy=strat, steps=built, pre_traffic_checks=checks, synthetic=synthetic, migrations=migrations)


def _bakes_for(weights: tuple[int, ...], interval: float, intervals: list[float] | None) -> list[float]:
    if intervals is None:
        one = _check_interval("interval", interval)
        return [one] * len(weights)
    if len(intervals) != len(weights):
        raise InputError("intervals", f"needs one interval per step ({len(weights)}), got {len(intervals)}")
    return [_check_interval("intervals", v) for v in intervals]
