"""Metric checks from an analysis file (`zdd-release deploy --analysis-file`): pure, no I/O.

An analysis file names metric checks. Each reads one built-in source (`cloudwatch`, `http-json`)
through the `MetricSource` port, for the new color and, when a threshold is relative, for the stable
color, over the same window. `MetricJudge.judge` turns the readings into one `Verdict`:

- FAIL as soon as one check that is not a dry run breaks a threshold (the reason names the metric,
  its value and the bound);
- INCONCLUSIVE when a check has fewer than `min_sample` observations, no value, or its source
  failed: no data is never a pass;
- PASS otherwise. Dry-run checks are read and judged alike, reported in `Verdict.figures`, and
  never change the outcome.

Every key of the file is validated here, before anything changes; a refusal is an `InputError`
whose key is the offending key's path (`analysis_file.checks[0].threshold.max`), which the CLI
shows under its flag. `AnalysisPlan.to_dict` writes the normalised file (defaults filled in) and
`from_dict` validates it again, so the plan journaled with a release rebuilds exactly on `resume`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ...contract import Color
from .analysis import Judgement, Verdict
from .errors import InputError, PortError

ROOT = "analysis_file"
CLOUDWATCH = "cloudwatch"
HTTP_JSON = "http-json"
BUILT_IN_SOURCES = (CLOUDWATCH, HTTP_JSON)
MAX_CHECKS = 50
MAX_SAMPLE = 10**12
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TOP_KEYS = ("checks", "judge")
CHECK_KEYS = ("name", "source", "query", "threshold", "min_sample", "dry_run")
REQUIRED_CHECK_KEYS = ("name", "source", "query", "threshold", "min_sample")

# CloudWatch (GetMetricData) limits and forms.
CW_NAMESPACE = re.compile(r"^[A-Za-z0-9 ._/#:-]{1,255}$")
CW_PERIODS_HIGH_RESOLUTION = (1, 5, 10, 30)
CW_STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
CW_PERCENTILE = re.compile(r"^p(100|[0-9]{1,2}(\.[0-9]{1,2})?)$")
CW_MAX_DIMENSIONS = 30
CW_MAX_PERIOD = 86_400
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
HTTP_PLACEHOLDERS = ("{color}", "{window_seconds}")
CW_PLACEHOLDERS = ("{color}",)
DOTTED_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# scheme://host[:port] then a path, query or nothing (the core parses URLs without urllib).
HTTP_URL = re.compile(r"^https?://[A-Za-z0-9._~%-]+(:[0-9]{1,5})?([/?#][^\s]*)?$")
MAX_HTTP_TIMEOUT_SECONDS = 60.0


# -- the checks --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Threshold:
    """Bounds on a check's value. Absolute: `max`, `min`. Relative to the stable color over the same
    window: `max_increase_over_stable` and `max_decrease_under_stable` (absolute differences),
    `max_ratio_to_stable` (new / stable)."""

    max: float | None = None
    min: float | None = None
    max_increase_over_stable: float | None = None
    max_decrease_under_stable: float | None = None
    max_ratio_to_stable: float | None = None

    @property
    def absolute(self) -> bool:
        return self.max is not None or self.min is not None

    @property
    def relative(self) -> bool:
        return any(
            v is not None
            for v in (self.max_increase_over_stable, self.max_decrease_under_stable, self.max_ratio_to_stable)
        )

    def to_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def absolute_failures(self, value: float) -> list[str]:
        out: list[str] = []
        if self.max is not None and value > self.max:
            out.append(f"{value:.6g} > max {self.max:.6g}")
        if self.min is not None and value < self.min:
            out.append(f"{value:.6g} < min {self.min:.6g}")
        return out

    def relative_failures(self, value: float, stable: float) -> list[str]:
        out: list[str] = []
        if self.max_increase_over_stable is not None and value - stable > self.max_increase_over_stable:
            out.append(
                f"{value:.6g} exceeds stable {stable:.6g} by {value - stable:.6g} "
                f"> max_increase_over_stable {self.max_increase_over_stable:.6g}"
            )
        if self.max_decrease_under_stable is not None and stable - value > self.max_decrease_under_stable:
            out.append(
                f"{value:.6g} is under stable {stable:.6g} by {stable - value:.6g} "
                f"> max_decrease_under_stable {self.max_decrease_under_stable:.6g}"
            )
        ratio = self.max_ratio_to_stable
        if ratio is not None and ((stable > 0 and value / stable > ratio) or (stable == 0 and value > 0)):
            shown = f"{value / stable:.6g}x" if stable > 0 else "infinitely"
            out.append(f"{value:.6g} is {shown} stable {stable:.6g} > max_ratio_to_stable {ratio:.6g}")
        return out


@dataclass(frozen=True)
class MetricCheck:
    """One named metric check: where to read it (`source` + `query`), its bounds, and the sample size
    below which it is inconclusive. A dry run is evaluated and reported, never rolls back."""

    name: str
    source: str
    query: Mapping[str, Any]
    threshold: Threshold
    min_sample: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "query": _plain(self.query),
            "threshold": self.threshold.to_dict(),
            "min_sample": self.min_sample,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True)
class AnalysisPlan:
    """A validated analysis file: its checks, and the judge overrides it carries (passed through as
    given; `AnalysisConfig` validates them)."""

    checks: tuple[MetricCheck, ...]
    judge: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"checks": [c.to_dict() for c in self.checks]}
        if self.judge:
            data["judge"] = dict(self.judge)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisPlan:
        return parse_analysis_file(data)


# -- the port -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSample:
    """What a source read for one color over a window: the value (None without data) and the
    sample size it rests on (requests, data points ...)."""

    value: float | None
    sample: float


@runtime_checkable
class MetricSource(Protocol):
    """A built-in metric source. `query` is the check's validated query; `start`/`end` are epoch
    seconds. Raises `PortError` when it cannot read (the check is then inconclusive)."""

    def read(self, query: Mapping[str, Any], color: Color, start: float, end: float) -> MetricSample: ...


# -- parsing ------------------------------------------------------------------------------------------
def _key(path: str) -> str:
    return f"{ROOT}.{path}" if path else ROOT


def _fail(path: str, problem: str) -> InputError:
    return InputError(_key(path), problem)


def _mapping(value: Any, path: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be a mapping, got {_kind(value)}")
    for k in value:
        if not isinstance(k, str):
            raise _fail(path, f"keys must be strings, got {k!r}")
        if k not in allowed:
            raise _fail(_join(path, k), f"unknown key; expected one of {', '.join(allowed)}")
    for k in required:
        if k not in value:
            raise _fail(_join(path, k), "required")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"must be a number, got {_kind(value)}")
    if not math.isfinite(value) or abs(value) > 1e15:
        raise _fail(path, f"must be a finite number up to 1e15 in size, got {value!r}")
    return float(value)


def _integer(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be a whole number {lo}-{hi}, got {_kind(value)}")
    if not lo <= value <= hi:
        raise _fail(path, f"must be a whole number {lo}-{hi}, got {value}")
    return value


def _string(value: Any, path: str, max_len: int = 255) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"must be a non-empty string, got {_kind(value)}")
    if len(value) > max_len:
        raise _fail(path, f"must be at most {max_len} characters, got {len(value)}")
    if not value.isprintable():
        raise _fail(path, "must not contain control characters")
    return value


def _placeholders(value: str, path: str, allowed: Sequence[str]) -> None:
    for found in PLACEHOLDER.findall(value):
        if found not in allowed:
            raise _fail(path, f"unknown placeholder {found}; only {', '.join(allowed)} are substituted")
    if PLACEHOLDER.sub("", value).count("{") or PLACEHOLDER.sub("", value).count("}"):
        raise _fail(path, "has an unbalanced brace")


def parse_analysis_file(data: Any) -> AnalysisPlan:
    """Validate a loaded analysis file (YAML or JSON) into an `AnalysisPlan`; `InputError` names the key."""
    top = _mapping(data, "", TOP_KEYS, ("checks",))
    raw_checks = top["checks"]
    if not isinstance(raw_checks, list | tuple):
        raise _fail("checks", f"must be a list of checks, got {_kind(raw_checks)}")
    if not 1 <= len(raw_checks) <= MAX_CHECKS:
        raise _fail("checks", f"must hold 1-{MAX_CHECKS} checks, got {len(raw_checks)}")
    checks: list[MetricCheck] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_checks):
        check = _check(raw, f"checks[{i}]")
        if check.name in seen:
            raise _fail(f"checks[{i}].name", f"{check.name!r} is already the name of checks[{seen[check.name]}]")
        seen[check.name] = i
        checks.append(check)
    judge = _judge(top.get("judge", {}))
    return AnalysisPlan(tuple(checks), judge)


def _judge(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("judge", f"must be a mapping of judge settings, got {_kind(value)}")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not NAME.match(k):
            raise _fail("judge", f"setting names must be plain words, got {k!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise _fail(f"judge.{k}", f"must be finite, got {v!r}")
        if not isinstance(v, bool | int | float | str):
            raise _fail(f"judge.{k}", f"must be a number, boolean or string, got {_kind(v)}")
        out[k] = v
    return out


def _check(raw: Any, path: str) -> MetricCheck:
    c = _mapping(raw, path, CHECK_KEYS, REQUIRED_CHECK_KEYS)
    name = c["name"]
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail(
            f"{path}.name",
            f"must be 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit, got {_kind(name)}",
        )
    source = c["source"]
    if source not in BUILT_IN_SOURCES or not isinstance(source, str):
        raise _fail(f"{path}.source", f"must be one of {', '.join(BUILT_IN_SOURCES)}, got {_kind(source)}")
    query = QUERY_PARSERS[source](c["query"], f"{path}.query")
    threshold = _threshold(c["threshold"], f"{path}.threshold")
    min_sample = _integer(c["min_sample"], f"{path}.min_sample", 1, MAX_SAMPLE)
    dry_run = c.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise _fail(f"{path}.dry_run", f"must be true or false, got {_kind(dry_run)}")
    return MetricCheck(name, source, query, threshold, min_sample, dry_run)


def _threshold(raw: Any, path: str) -> Threshold:
    keys = tuple(Threshold.__dataclass_fields__)
    t = _mapping(raw, path, keys)
    if not t:
        raise _fail(path, f"needs at least one of {', '.join(keys)}")
    values = {k: _number(v, f"{path}.{k}") for k, v in t.items()}
    for k in ("max_increase_over_stable", "max_decrease_under_stable"):
        if k in values and values[k] < 0:
            raise _fail(f"{path}.{k}", f"must be >= 0, got {values[k]:g}")
    if "max_ratio_to_stable" in values and values["max_ratio_to_stable"] <= 0:
        raise _fail(f"{path}.max_ratio_to_stable", f"must be > 0, got {values['max_ratio_to_stable']:g}")
    if "max" in values and "min" in values and values["min"] > values["max"]:
        raise _fail(f"{path}.min", f"{values['min']:g} is above max {values['max']:g}: no value could pass")
    return Threshold(**values)


def _cloudwatch_query(raw: Any, path: str) -> dict[str, Any]:
    """namespace, metric, dimensions ({color} substituted), stat, period (1 reads 1-second
    high-resolution storage), divide_by (a second metric: value = Sum(metric) / Sum(divide_by))."""
    q = _mapping(
        raw, path, ("namespace", "metric", "dimensions", "stat", "period", "divide_by"), ("namespace", "metric")
    )
    namespace = _string(q["namespace"], f"{path}.namespace")
    if not CW_NAMESPACE.match(namespace):
        raise _fail(f"{path}.namespace", "may hold only letters, digits, spaces and . _ / # : -")
    metric = _string(q["metric"], f"{path}.metric")
    dims_raw = q.get("dimensions", {})
    if not isinstance(dims_raw, Mapping):
        raise _fail(f"{path}.dimensions", f"must be a mapping of dimension name to value, got {_kind(dims_raw)}")
    if len(dims_raw) > CW_MAX_DIMENSIONS:
        raise _fail(f"{path}.dimensions", f"at most {CW_MAX_DIMENSIONS} dimensions, got {len(dims_raw)}")
    dimensions: dict[str, str] = {}
    for k, v in dims_raw.items():
        if not isinstance(k, str) or not k.strip() or len(k) > 255 or k.startswith(":"):
            raise _fail(f"{path}.dimensions", f"dimension names must be 1-255 characters, not ':...', got {k!r}")
        value = _string(v, f"{path}.dimensions.{k}", 1024)
        _placeholders(value, f"{path}.dimensions.{k}", CW_PLACEHOLDERS)
        dimensions[k] = value
    stat = q.get("stat", "Sum")
    if not isinstance(stat, str) or not (stat in CW_STATS or CW_PERCENTILE.match(stat)):
        raise _fail(f"{path}.stat", f"must be one of {', '.join(CW_STATS)} or a percentile pNN, got {_kind(stat)}")
    period = q.get("period", 60)
    if (
        isinstance(period, bool)
        or not isinstance(period, int)
        or not (period in CW_PERIODS_HIGH_RESOLUTION or (period % 60 == 0 and 60 <= period <= CW_MAX_PERIOD))
    ):
        raise _fail(
            f"{path}.period",
            f"must be 1, 5, 10 or 30 (high resolution) or a multiple of 60 up to {CW_MAX_PERIOD}, got {_kind(period)}",
        )
    out: dict[str, Any] = {
        "namespace": namespace,
        "metric": metric,
        "dimensions": dimensions,
        "stat": stat,
        "period": period,
    }
    if "divide_by" in q:
        out["divide_by"] = _string(q["divide_by"], f"{path}.divide_by")
        if stat != "Sum":
            raise _fail(f"{path}.stat", f"must be Sum with divide_by (a ratio of two sums), got {stat!r}")
    return out


def _http_json_query(raw: Any, path: str) -> dict[str, Any]:
    """url ({color} and {window_seconds} substituted), value and sample (dotted paths into the JSON
    answer), timeout_seconds, headers."""
    q = _mapping(raw, path, ("url", "value", "sample", "timeout_seconds", "headers"), ("url", "value", "sample"))
    url = _string(q["url"], f"{path}.url", 2048)
    _placeholders(url, f"{path}.url", HTTP_PLACEHOLDERS)
    if not HTTP_URL.match(PLACEHOLDER.sub("x", url)):
        raise _fail(f"{path}.url", f"must be an http:// or https:// URL with a host, got {url!r}")
    out: dict[str, Any] = {"url": url}
    for k in ("value", "sample"):
        dotted = _string(q[k], f"{path}.{k}")
        if not DOTTED_PATH.match(dotted):
            raise _fail(f"{path}.{k}", f"must be a dotted path such as latency_ms.p99, got {dotted!r}")
        out[k] = dotted
    timeout = _number(q.get("timeout_seconds", 5.0), f"{path}.timeout_seconds")
    if not 0 < timeout <= MAX_HTTP_TIMEOUT_SECONDS:
        raise _fail(f"{path}.timeout_seconds", f"must be > 0 and <= {MAX_HTTP_TIMEOUT_SECONDS:g}, got {timeout:g}")
    out["timeout_seconds"] = timeout
    headers_raw = q.get("headers", {})
    if not isinstance(headers_raw, Mapping):
        raise _fail(f"{path}.headers", f"must be a mapping of header name to value, got {_kind(headers_raw)}")
    headers: dict[str, str] = {}
    for k, v in headers_raw.items():
        if not isinstance(k, str) or not HEADER_NAME.match(k):
            raise _fail(f"{path}.headers", f"header names must be 1-64 letters, digits or '-', got {k!r}")
        value = _string(v, f"{path}.headers.{k}", 1024)
        _placeholders(value, f"{path}.headers.{k}", ("{color}",))
        headers[k] = value
    out["headers"] = headers
    return out


QUERY_PARSERS = {CLOUDWATCH: _cloudwatch_query, HTTP_JSON: _http_json_query}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def substitute(template: str, **values: object) -> str:
    """`template` with `{name}` replaced by each value (only the placeholders validated above)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


# -- judging ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """One check's judgement, for the verdict's figures and reasons."""

    name: str
    outcome: Judgement
    reasons: tuple[str, ...]
    dry_run: bool
    value: float | None = None
    sample: float | None = None
    stable_value: float | None = None
    stable_sample: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "dry_run": self.dry_run,
            "value": self.value,
            "sample": self.sample,
            "stable_value": self.stable_value,
            "stable_sample": self.stable_sample,
            "reasons": list(self.reasons),
        }


def decide(
    check: MetricCheck,
    new: MetricSample | PortError,
    stable: MetricSample | PortError | None,
) -> CheckResult:
    """Judge one check from its readings (a PortError stands for a source that failed)."""
    name, dry = check.name, check.dry_run
    if isinstance(new, PortError):
        return CheckResult(name, Judgement.INCONCLUSIVE, (f"{name}: {check.source} source failed: {new}",), dry)
    figures: dict[str, Any] = {"value": new.value, "sample": new.sample}
    if isinstance(stable, MetricSample):
        figures.update(stable_value=stable.value, stable_sample=stable.sample)
    if new.sample < check.min_sample:
        why = f"{name}: sample {new.sample:g} of {check.min_sample} needed"
        return CheckResult(name, Judgement.INCONCLUSIVE, (why,), dry, **figures)
    if new.value is None or not math.isfinite(new.value):
        return CheckResult(name, Judgement.INCONCLUSIVE, (f"{name}: no value (sample {new.sample:g})",), dry, **figures)
    t = check.threshold
    failures = t.absolute_failures(new.value)
    waiting: list[str] = []
    if t.relative:
        if isinstance(stable, PortError):
            waiting.append(f"{name}: stable color's {check.source} source failed: {stable}")
        elif stable is None or stable.sample < check.min_sample or stable.value is None:
            have = 0 if stable is None else stable.sample
            if not t.absolute:
                waiting.append(f"{name}: stable color has sample {have:g} of {check.min_sample} needed to compare")
        else:
            failures += t.relative_failures(new.value, stable.value)
    if failures:
        reasons = tuple(f"{name}: {f} (sample {new.sample:g})" for f in failures)
        return CheckResult(name, Judgement.FAIL, reasons, dry, **figures)
    if waiting:
        return CheckResult(name, Judgement.INCONCLUSIVE, tuple(waiting), dry, **figures)
    return CheckResult(name, Judgement.PASS, (), dry, **figures)


def verdict_of(results: Sequence[CheckResult]) -> Verdict:
    """FAIL if a live check failed, INCONCLUSIVE if one lacks evidence, else PASS. Dry runs only
    appear in the figures (`metric_checks`, and `metric_checks_dry_run_failed`)."""
    live = [r for r in results if not r.dry_run]
    figures: dict[str, object] = {
        "metric_checks": {r.name: r.to_dict() for r in results},
        "metric_checks_dry_run_failed": [r.name for r in results if r.dry_run and r.outcome is Judgement.FAIL],
    }
    for outcome in (Judgement.FAIL, Judgement.INCONCLUSIVE):
        hit = [reason for r in live if r.outcome is outcome for reason in r.reasons]
        if hit:
            return Verdict(outcome=outcome, reasons=tuple(hit), figures=figures)
    return Verdict(outcome=Judgement.PASS, reasons=(), figures=figures)


class MetricJudge:
    """Judges the analysis file's checks over one window, reading each through its source."""

    def __init__(self, plan: AnalysisPlan, sources: Mapping[str, MetricSource]) -> None:
        for i, check in enumerate(plan.checks):
            if check.source not in sources:
                raise _fail(
                    f"checks[{i}].source",
                    f"no {check.source!r} source is available here (have: {', '.join(sorted(sources)) or 'none'})",
                )
        self.plan = plan
        self.sources = dict(sources)

    def judge(self, new: Color, stable: Color, start: float, end: float) -> Verdict:
        results = []
        for check in self.plan.checks:
            source = self.sources[check.source]
            new_reading = _read(source, check, new, start, end)
            stable_reading = _read(source, check, stable, start, end) if check.threshold.relative else None
            results.append(decide(check, new_reading, stable_reading))
        return verdict_of(results)


def _read(source: MetricSource, check: MetricCheck, color: Color, start: float, end: float) -> MetricSample | PortError:
    try:
        return source.read(check.query, color, start, end)
    except PortError as exc:
        return exc


RANK = {Judgement.PASS: 0, Judgement.INCONCLUSIVE: 1, Judgement.FAIL: 2, Judgement.ALARM: 3}


def combine(first: Verdict, second: Verdict) -> Verdict:
    """The worse of two verdicts (ALARM > FAIL > INCONCLUSIVE > PASS), with the reasons of those at
    that outcome and both sets of figures: how a bake may join the metric checks to its own judge."""
    outcome = max(first.outcome, second.outcome, key=RANK.__getitem__)
    worst = [v for v in (first, second) if v.outcome is outcome]
    reasons = tuple(r for v in worst for r in v.reasons)
    return Verdict(
        outcome=outcome,
        reasons=reasons,
        figures={**first.figures, **second.figures},
        conclusive=any(v.conclusive for v in worst),
        accepted=first.accepted | second.accepted,
        failed_on_errors=_failed_on_errors(worst) if outcome is Judgement.FAIL else None,
    )


def _failed_on_errors(failing: Sequence[Verdict]) -> int | None:
    """The errors behind failures that all rest on the error guard's point estimate, else None."""
    errors = [v.failed_on_errors for v in failing]
    return None if any(e is None for e in errors) else sum(e for e in errors if e is not None)


__all__ = [
    "BUILT_IN_SOURCES",
    "AnalysisPlan",
    "CheckResult",
    "MetricCheck",
    "MetricJudge",
    "MetricSample",
    "MetricSource",
    "Threshold",
    "combine",
    "decide",
    "parse_analysis_file",
    "substitute",
    "verdict_of",
]
