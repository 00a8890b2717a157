"""The analysis file's metric checks: parsing that names the offending key, the judge's decisions
(min_sample, dry run, relative thresholds, failed sources), and the judge overrides."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zero_downtime.driver.compose import apply_judge, load_analysis_file
from zero_downtime.driver.core.analysis import AnalysisConfig, Judgement, Verdict
from zero_downtime.driver.core.errors import InputError, PortError
from zero_downtime.driver.core.metric_checks import (
    AnalysisPlan,
    CheckResult,
    MetricCheck,
    MetricJudge,
    MetricSample,
    Threshold,
    combine,
    decide,
    parse_analysis_file,
    substitute,
    verdict_of,
)

from tests.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "analysis.yaml"


def valid() -> dict[str, Any]:
    return {
        "judge": {"min_requests": 100},
        "checks": [
            {
                "name": "error-rate",
                "source": "cloudwatch",
                "query": {
                    "namespace": "ZeroDowntime/App",
                    "metric": "Errors",
                    "divide_by": "Requests",
                    "dimensions": {"Service": "api", "Color": "{color}"},
                    "stat": "Sum",
                    "period": 1,
                },
                "threshold": {"max": 0.02, "max_increase_over_stable": 0.01},
                "min_sample": 100,
            },
            {
                "name": "p99",
                "source": "http-json",
                "query": {
                    "url": "http://127.0.0.1:8080/metrics.json?window={window_seconds}&c={color}",
                    "value": "latency_ms.p99",
                    "sample": "requests",
                    "timeout_seconds": 2,
                    "headers": {"Host": "api.example.com"},
                },
                "threshold": {"max": 800},
                "min_sample": 50,
                "dry_run": True,
            },
        ],
    }


# -- parsing -------------------------------------------------------------------------------------------
def test_a_valid_file_parses_and_round_trips_through_the_journal_form() -> None:
    plan = parse_analysis_file(valid())
    assert [c.name for c in plan.checks] == ["error-rate", "p99"]
    assert plan.checks[0].query["period"] == 1
    assert plan.checks[0].threshold.max == 0.02
    assert plan.checks[1].dry_run is True
    assert plan.judge == {"min_requests": 100}
    data = plan.to_dict()
    assert AnalysisPlan.from_dict(data) == plan
    assert AnalysisPlan.from_dict(data).to_dict() == data


def test_defaults_are_written_out_so_resume_does_not_depend_on_them() -> None:
    doc = valid()
    del doc["checks"][0]["query"]["stat"]
    del doc["checks"][0]["query"]["period"]
    check = parse_analysis_file(doc).to_dict()["checks"][0]
    assert check["query"]["stat"] == "Sum"
    assert check["query"]["period"] == 60
    assert check["dry_run"] is False


def test_the_shipped_example_parses() -> None:
    plan = load_analysis_file(EXAMPLE)
    assert {c.source for c in plan.checks} == {"cloudwatch", "http-json"}
    assert any(c.dry_run for c in plan.checks)
    assert apply_judge(AnalysisConfig(), plan.judge).min_requests == 100


@dataclass(frozen=True)
class Bad:
    id: str
    path: tuple[Any, ...]
    value: Any
    key: str
    """The key the refusal must name, below `analysis_file.`."""
    message: str = ""


DELETE = object()
CASES = [
    Bad("top-level-unknown", ("version",), 1, "version", "unknown key"),
    Bad("no-checks", ("checks",), DELETE, "checks", "required"),
    Bad("checks-not-list", ("checks",), {"a": 1}, "checks", "list"),
    Bad("checks-empty", ("checks",), [], "checks", "1-50"),
    Bad("check-unknown-key", ("checks", 0, "treshold"), 1, "checks[0].treshold", "unknown key"),
    Bad("missing-min-sample", ("checks", 1, "min_sample"), DELETE, "checks[1].min_sample", "required"),
    Bad("min-sample-zero", ("checks", 0, "min_sample"), 0, "checks[0].min_sample", "1-"),
    Bad("min-sample-bool", ("checks", 0, "min_sample"), True, "checks[0].min_sample", "boolean"),
    Bad("bad-source", ("checks", 0, "source"), "prometheus", "checks[0].source", "cloudwatch"),
    Bad("bad-name", ("checks", 0, "name"), "has space", "checks[0].name", "letters"),
    Bad("dry-run-string", ("checks", 1, "dry_run"), "yes", "checks[1].dry_run", "true or false"),
    Bad("threshold-empty", ("checks", 0, "threshold"), {}, "checks[0].threshold", "at least one"),
    Bad("threshold-unknown", ("checks", 0, "threshold", "maximum"), 1, "checks[0].threshold.maximum"),
    Bad("threshold-string", ("checks", 0, "threshold", "max"), "2%", "checks[0].threshold.max", "number"),
    Bad("threshold-nan", ("checks", 0, "threshold", "max"), math.nan, "checks[0].threshold.max"),
    Bad(
        "increase-negative",
        ("checks", 0, "threshold", "max_increase_over_stable"),
        -1,
        "checks[0].threshold.max_increase_over_stable",
    ),
    Bad("min-above-max", ("checks", 1, "threshold", "min"), 900, "checks[1].threshold.min", "no value"),
    Bad("cw-period", ("checks", 0, "query", "period"), 2, "checks[0].query.period", "1, 5, 10 or 30"),
    Bad("cw-period-90", ("checks", 0, "query", "period"), 90, "checks[0].query.period"),
    Bad("cw-stat", ("checks", 0, "query", "stat"), "Median", "checks[0].query.stat"),
    Bad(
        "cw-ratio-needs-sum",
        ("checks", 0, "query", "stat"),
        "Average",
        "checks[0].query.stat",
        "divide_by",
    ),
    Bad("cw-namespace", ("checks", 0, "query", "namespace"), "bad\nname", "checks[0].query.namespace"),
    Bad(
        "cw-dimension-typo",
        ("checks", 0, "query", "dimensions", "Color"),
        "{colour}",
        "checks[0].query.dimensions.Color",
        "{colour}",
    ),
    Bad(
        "cw-dimensions-list",
        ("checks", 0, "query", "dimensions"),
        ["Service"],
        "checks[0].query.dimensions",
    ),
    Bad(
        "cw-missing-metric",
        ("checks", 0, "query", "metric"),
        DELETE,
        "checks[0].query.metric",
        "required",
    ),
    Bad("http-scheme", ("checks", 1, "query", "url"), "file:///etc/passwd", "checks[1].query.url", "http"),
    Bad("http-ftp", ("checks", 1, "query", "url"), "ftp://host/x", "checks[1].query.url"),
    Bad("http-path", ("checks", 1, "query", "value"), "latency ms", "checks[1].query.value", "dotted"),
    Bad("http-timeout", ("checks", 1, "query", "timeout_seconds"), 0, "checks[1].query.timeout_seconds"),
    Bad("http-unknown", ("checks", 1, "query", "method"), "POST", "checks[1].query.method", "unknown"),
    Bad("judge-not-mapping", ("judge",), [1], "judge", "mapping"),
    Bad("judge-nested", ("judge", "min_requests"), {"a": 1}, "judge.min_requests"),
]


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    if value is DELETE:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_each_refusal_names_the_offending_key(case: Bad) -> None:
    doc = valid()
    _set(doc, case.path, case.value)
    with pytest.raises(InputError) as caught:
        parse_analysis_file(doc)
    assert caught.value.key == f"analysis_file.{case.key}"
    assert case.message in caught.value.problem


def test_duplicate_names_are_refused_at_the_second() -> None:
    doc = valid()
    doc["checks"][1]["name"] = "error-rate"
    with pytest.raises(InputError, match=r"checks\[0\]") as caught:
        parse_analysis_file(doc)
    assert caught.value.key == "analysis_file.checks[1].name"


@pytest.mark.parametrize("doc", [None, [], "checks: []", 3])
def test_a_file_that_is_not_a_mapping_is_refused(doc: Any) -> None:
    with pytest.raises(InputError) as caught:
        parse_analysis_file(doc)
    assert caught.value.key == "analysis_file"


# -- mutated files (Hypothesis) -------------------------------------------------------------------------
def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _dotted(path: tuple[Any, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return "analysis_file" + text


def _parent(path: tuple[Any, ...]) -> tuple[Any, ...]:
    return path[:-1]


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["cloudwatch", "http-json", "{color}", "p95", "Sum", "http://x/{color}", "AWS/ApplicationELB"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_mutant_parses_or_is_refused_naming_a_key_at_the_mutation(data: st.DataObject) -> None:
    doc = valid()
    path = data.draw(st.sampled_from(_paths(doc)), label="path")
    action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
    target = path
    if action == "replace":
        _set(doc, path, data.draw(VALUES, label="value"))
    elif action == "delete":
        _set(doc, path, DELETE)
    else:
        parent = doc
        for part in path:
            parent = parent[part]
        if not isinstance(parent, dict):
            return
        key = data.draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in parent), label="key")
        parent[key] = data.draw(VALUES, label="value")
        target = (*path, key)
    try:
        plan = parse_analysis_file(doc)
    except InputError as exc:
        named = exc.key
        # The key blamed is the mutated one, one inside it, one above it, or (a changed `source`
        # re-reads `query`) a sibling under the same parent.
        scope = [_dotted(target), _dotted(_parent(target))]
        assert any(named == s or named.startswith(s + ".") or named.startswith(s + "[") for s in scope), (
            f"mutated {_dotted(target)} but the error names {named}: {exc}"
        )
        assert str(exc).startswith(named)
    else:
        assert AnalysisPlan.from_dict(plan.to_dict()) == plan  # whatever parses, journals and rebuilds


# -- judging -------------------------------------------------------------------------------------------
class ScriptedSource:
    """Answers per color; a PortError value is raised. Records what it was asked."""

    def __init__(self, answers: Mapping[str, MetricSample | PortError]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[str, float, float]] = []

    def read(self, query: Mapping[str, Any], color: str, start: float, end: float) -> MetricSample:
        self.calls.append((color, start, end))
        answer = self.answers[color]
        if isinstance(answer, PortError):
            raise answer
        return answer


def one_check(threshold: dict[str, float], *, min_sample: int = 100, dry_run: bool = False) -> AnalysisPlan:
    doc = valid()
    check = doc["checks"][0]
    check["threshold"] = threshold
    check["min_sample"] = min_sample
    check["dry_run"] = dry_run
    doc["checks"] = [check]
    return parse_analysis_file(doc)


def judge(plan: AnalysisPlan, new: MetricSample | PortError, stable: MetricSample | PortError | None = None) -> Verdict:
    answers: dict[str, MetricSample | PortError] = {"green": new}
    answers["blue"] = stable if stable is not None else MetricSample(None, 0)
    return MetricJudge(plan, {"cloudwatch": ScriptedSource(answers), "http-json": ScriptedSource({})}).judge(
        "green", "blue", 100.0, 160.0
    )


def test_pass_with_enough_sample_under_the_bound() -> None:
    verdict = judge(one_check({"max": 0.02}), MetricSample(0.01, 500))
    assert verdict.outcome is Judgement.PASS
    assert verdict.figures["metric_checks"]["error-rate"]["value"] == 0.01  # type: ignore[index]


def test_fail_names_the_metric_the_value_and_the_bound() -> None:
    verdict = judge(one_check({"max": 0.02}), MetricSample(0.05, 500))
    assert verdict.outcome is Judgement.FAIL
    assert verdict.reasons == ("error-rate: 0.05 > max 0.02 (sample 500)",)


def test_min_bound() -> None:
    verdict = judge(one_check({"min": 0.9}), MetricSample(0.5, 500))
    assert verdict.outcome is Judgement.FAIL
    assert "0.5 < min 0.9" in verdict.reasons[0]


def test_below_min_sample_is_inconclusive_never_a_pass_nor_a_fail() -> None:
    low = judge(one_check({"max": 0.02}, min_sample=100), MetricSample(0.0, 99))
    assert low.outcome is Judgement.INCONCLUSIVE
    assert low.reasons == ("error-rate: sample 99 of 100 needed",)
    bad_but_small = judge(one_check({"max": 0.02}, min_sample=100), MetricSample(0.9, 10))
    assert bad_but_small.outcome is Judgement.INCONCLUSIVE
    assert judge(one_check({"max": 0.02}, min_sample=100), MetricSample(0.0, 100)).outcome is Judgement.PASS


def test_no_value_is_inconclusive() -> None:
    assert judge(one_check({"max": 0.02}), MetricSample(None, 500)).outcome is Judgement.INCONCLUSIVE


def test_a_failed_source_is_inconclusive_and_says_why() -> None:
    verdict = judge(one_check({"max": 0.02}), PortError("get_metric_data: Throttling"))
    assert verdict.outcome is Judgement.INCONCLUSIVE
    assert "cloudwatch source failed: get_metric_data: Throttling" in verdict.reasons[0]


def test_a_dry_run_failure_is_reported_but_passes() -> None:
    verdict = judge(one_check({"max": 0.02}, dry_run=True), MetricSample(0.5, 500))
    assert verdict.outcome is Judgement.PASS
    assert verdict.reasons == ()
    assert verdict.figures["metric_checks_dry_run_failed"] == ["error-rate"]
    check = verdict.figures["metric_checks"]["error-rate"]  # type: ignore[index]
    assert check["outcome"] == "fail" and check["dry_run"] is True
    assert "0.5 > max 0.02" in check["reasons"][0]


def test_a_dry_run_that_lacks_evidence_does_not_hold_the_step() -> None:
    verdict = judge(one_check({"max": 0.02}, dry_run=True), MetricSample(0.0, 1))
    assert verdict.outcome is Judgement.PASS


def test_relative_threshold_fails_against_stable() -> None:
    verdict = judge(one_check({"max_increase_over_stable": 0.01}), MetricSample(0.05, 500), MetricSample(0.01, 5000))
    assert verdict.outcome is Judgement.FAIL
    assert "exceeds stable 0.01 by 0.04" in verdict.reasons[0]
    assert (
        judge(one_check({"max_increase_over_stable": 0.01}), MetricSample(0.015, 500), MetricSample(0.01, 5000)).outcome
        is Judgement.PASS
    )


def test_ratio_and_decrease_thresholds() -> None:
    ratio = one_check({"max_ratio_to_stable": 1.5})
    assert judge(ratio, MetricSample(200, 500), MetricSample(100, 500)).outcome is Judgement.FAIL
    assert judge(ratio, MetricSample(140, 500), MetricSample(100, 500)).outcome is Judgement.PASS
    assert judge(ratio, MetricSample(1, 500), MetricSample(0, 500)).outcome is Judgement.FAIL
    decrease = one_check({"max_decrease_under_stable": 0.05})
    assert judge(decrease, MetricSample(0.80, 500), MetricSample(0.95, 500)).outcome is Judgement.FAIL


def test_a_relative_only_check_without_stable_evidence_is_inconclusive() -> None:
    verdict = judge(one_check({"max_increase_over_stable": 0.01}), MetricSample(0.0, 500), MetricSample(0.0, 3))
    assert verdict.outcome is Judgement.INCONCLUSIVE
    assert "stable color has sample 3 of 100" in verdict.reasons[0]
    failed = judge(one_check({"max_increase_over_stable": 0.01}), MetricSample(0.0, 500), PortError("boom"))
    assert failed.outcome is Judgement.INCONCLUSIVE


def test_with_an_absolute_bound_a_missing_stable_is_skipped_not_blocking() -> None:
    # At a 100% step the stable color serves nothing: the absolute bound decides.
    plan = one_check({"max": 0.02, "max_increase_over_stable": 0.01})
    assert judge(plan, MetricSample(0.01, 500), MetricSample(None, 0)).outcome is Judgement.PASS
    assert judge(plan, MetricSample(0.03, 500), MetricSample(None, 0)).outcome is Judgement.FAIL


def test_the_stable_color_is_read_only_for_relative_thresholds_over_the_same_window() -> None:
    plan = one_check({"max": 0.02})
    source = ScriptedSource({"green": MetricSample(0.0, 500), "blue": MetricSample(0.0, 500)})
    MetricJudge(plan, {"cloudwatch": source}).judge("green", "blue", 100.0, 160.0)
    assert source.calls == [("green", 100.0, 160.0)]
    relative = one_check({"max_increase_over_stable": 0.01})
    source.calls.clear()
    MetricJudge(relative, {"cloudwatch": source}).judge("green", "blue", 100.0, 160.0)
    assert source.calls == [("green", 100.0, 160.0), ("blue", 100.0, 160.0)]


def test_a_failure_wins_over_another_checks_missing_evidence() -> None:
    plan = parse_analysis_file(valid())
    plan = AnalysisPlan(tuple(c if c.name == "error-rate" else _live(c) for c in plan.checks), plan.judge)
    sources = {
        "cloudwatch": ScriptedSource({"green": MetricSample(0.5, 500), "blue": MetricSample(0.0, 500)}),
        "http-json": ScriptedSource({"green": MetricSample(None, 0)}),
    }
    verdict = MetricJudge(plan, sources).judge("green", "blue", 0, 60)
    assert verdict.outcome is Judgement.FAIL
    assert verdict.reasons and all(r.startswith("error-rate:") for r in verdict.reasons)
    assert verdict.figures["metric_checks"]["p99"]["outcome"] == "inconclusive"  # type: ignore[index]


def _live(check: Any) -> Any:
    return replace(check, dry_run=False)


def test_a_judge_without_the_named_source_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        MetricJudge(parse_analysis_file(valid()), {"cloudwatch": ScriptedSource({})})
    assert caught.value.key == "analysis_file.checks[1].source"


def test_combine_takes_the_worse_outcome_and_both_figures() -> None:
    base = Verdict(outcome=Judgement.PASS, reasons=(), figures={"requests": 10})
    extra = Verdict(outcome=Judgement.FAIL, reasons=("x: 1 > max 0",), figures={"metric_checks": {}})
    both = combine(base, extra)
    assert both.outcome is Judgement.FAIL
    assert both.reasons == ("x: 1 > max 0",)
    assert both.figures == {"requests": 10, "metric_checks": {}}
    alarm = Verdict(outcome=Judgement.ALARM, reasons=("alarm",))
    assert combine(alarm, extra).outcome is Judgement.ALARM
    assert combine(base, Verdict(outcome=Judgement.PASS)).outcome is Judgement.PASS
    if hasattr(base, "conclusive"):  # the judge rewrite's flag: kept from the verdict that decides
        sure = replace(extra, conclusive=True)
        assert combine(base, sure).conclusive is True
        assert combine(sure, alarm).conclusive is False


def test_combine_keeps_the_errors_a_point_estimate_failure_rests_on_only_while_it_alone_fails() -> None:
    on_errors = Verdict(outcome=Judgement.FAIL, reasons=("error rate 6% > 5%",), failed_on_errors=3)
    metric_fail = Verdict(outcome=Judgement.FAIL, reasons=("x: 1 > max 0",))
    assert combine(on_errors, Verdict(outcome=Judgement.PASS)).failed_on_errors == 3
    assert combine(Verdict(outcome=Judgement.INCONCLUSIVE), on_errors).failed_on_errors == 3
    assert combine(on_errors, metric_fail).failed_on_errors is None  # a metric check failed too: counts
    assert combine(on_errors, replace(on_errors, failed_on_errors=2)).failed_on_errors == 5
    assert combine(on_errors, Verdict(outcome=Judgement.ALARM, reasons=("a",))).failed_on_errors is None


# -- judge overrides -----------------------------------------------------------------------------------
def test_judge_overrides_are_applied_over_the_flags() -> None:
    cfg = apply_judge(AnalysisConfig(min_requests=50), {"min_requests": 200, "max_error_rate": 0.01})
    assert cfg.min_requests == 200
    assert cfg.max_error_rate == 0.01


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"max_eror_rate": 0.1}, "analysis_file.judge.max_eror_rate"),
        ({"min_requests": "many"}, "analysis_file.judge.min_requests"),
        ({"min_requests": 2.5}, "analysis_file.judge.min_requests"),
        ({"require_latency": 1}, "analysis_file.judge.require_latency"),
        ({"max_error_rate": 2.0}, "analysis_file.judge.max_error_rate"),
    ],
)
def test_bad_judge_overrides_name_the_setting(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(InputError) as caught:
        apply_judge(AnalysisConfig(), overrides)
    assert caught.value.key == key


# -- the file -----------------------------------------------------------------------------------------
def test_load_refuses_unreadable_and_invalid_files_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InputError, match="cannot read") as caught:
        load_analysis_file(missing)
    assert caught.value.key == "analysis_file" and str(missing) in caught.value.problem
    broken = tmp_path / "broken.yaml"
    broken.write_text("checks: [\n  - name: x\n")
    with pytest.raises(InputError, match="not valid YAML at line") as caught:
        load_analysis_file(broken)
    assert str(broken) in caught.value.problem
    wrong = tmp_path / "wrong.yaml"
    doc = copy.deepcopy(valid())
    doc["checks"][0]["threshold"]["max"] = "high"
    import yaml

    wrong.write_text(yaml.safe_dump(doc))
    with pytest.raises(InputError) as caught:
        load_analysis_file(wrong)
    assert caught.value.key == "analysis_file"
    assert caught.value.problem.startswith(f"{wrong}: checks[0].threshold.max: must be a number")


# -- boundaries: exactly at each bound, and one float step beyond ----------------------------------------
# Each bound holds the value it names: `max` 0.5 passes 0.5 and fails the next float up. The values
# are powers of two or sums of them, so every difference and ratio below is exact in binary floating
# point, and "at the bound" really is at it (`>` told apart from `>=`, `<` from `<=`).
UP = math.inf
DOWN = -math.inf


@dataclass(frozen=True)
class Edge:
    id: str
    threshold: dict[str, float]
    value: float
    stable: float | None
    outcome: Judgement
    reason: str = ""


EDGES = [
    Edge("max-at", {"max": 0.5}, 0.5, None, Judgement.PASS),
    Edge("max-beyond", {"max": 0.5}, math.nextafter(0.5, UP), None, Judgement.FAIL, "0.5 > max 0.5"),
    Edge("min-at", {"min": 0.5}, 0.5, None, Judgement.PASS),
    Edge("min-beyond", {"min": 0.5}, math.nextafter(0.5, DOWN), None, Judgement.FAIL, "0.5 < min 0.5"),
    Edge("increase-at", {"max_increase_over_stable": 0.25}, 0.5, 0.25, Judgement.PASS),
    Edge(
        "increase-beyond",
        {"max_increase_over_stable": 0.25},
        math.nextafter(0.5, UP),
        0.25,
        Judgement.FAIL,
        "exceeds stable 0.25 by 0.25 > max_increase_over_stable 0.25",
    ),
    Edge("decrease-at", {"max_decrease_under_stable": 0.25}, 0.75, 1.0, Judgement.PASS),
    Edge(
        "decrease-beyond",
        {"max_decrease_under_stable": 0.25},
        math.nextafter(0.75, DOWN),
        1.0,
        Judgement.FAIL,
        "is under stable 1 by 0.25 > max_decrease_under_stable 0.25",
    ),
    Edge("ratio-at", {"max_ratio_to_stable": 1.5}, 3.0, 2.0, Judgement.PASS),
    Edge(
        "ratio-beyond",
        {"max_ratio_to_stable": 1.5},
        math.nextafter(3.0, UP),
        2.0,
        Judgement.FAIL,
        "is 1.5x stable 2 > max_ratio_to_stable 1.5",
    ),
    # A stable value of 0: any value above 0 is infinitely more; 0 itself is not more.
    Edge("ratio-zero-stable-at", {"max_ratio_to_stable": 1.5}, 0.0, 0.0, Judgement.PASS),
    Edge(
        "ratio-zero-stable-beyond",
        {"max_ratio_to_stable": 1.5},
        math.nextafter(0.0, UP),
        0.0,
        Judgement.FAIL,
        "is infinitely stable 0 > max_ratio_to_stable 1.5",
    ),
]


@pytest.mark.parametrize("edge", EDGES, ids=lambda e: e.id)
def test_each_threshold_holds_its_bound_and_fails_one_step_beyond(edge: Edge) -> None:
    stable = None if edge.stable is None else MetricSample(edge.stable, 500)
    verdict = judge(one_check(edge.threshold), MetricSample(edge.value, 500), stable)
    assert verdict.outcome is edge.outcome, verdict.reasons
    if edge.outcome is Judgement.FAIL:
        [reason] = verdict.reasons
        assert reason.startswith("error-rate: ") and edge.reason in reason, reason
    else:
        assert verdict.reasons == ()


def test_a_stable_color_with_exactly_min_sample_is_compared() -> None:
    plan = one_check({"max_increase_over_stable": 0.01}, min_sample=100)
    compared = judge(plan, MetricSample(0.5, 500), MetricSample(0.0, 100))
    assert compared.outcome is Judgement.FAIL and "exceeds stable 0 by 0.5" in compared.reasons[0]
    short = judge(plan, MetricSample(0.5, 500), MetricSample(0.0, 99))
    assert short.outcome is Judgement.INCONCLUSIVE
    assert short.reasons == ("error-rate: stable color has sample 99 of 100 needed to compare",)


@dataclass(frozen=True)
class Limit:
    id: str
    path: tuple[Any, ...]
    at: Any
    """Accepted: exactly at the limit."""
    beyond: Any
    """Refused: one step past it."""
    key: str
    message: str


def _dimensions(n: int) -> dict[str, str]:
    return {f"D{i}": "x" for i in range(n)}


def _checks(n: int) -> list[dict[str, Any]]:
    check = valid()["checks"][0]
    return [{**copy.deepcopy(check), "name": f"c{i}"} for i in range(n)]


Q0, T0 = ("checks", 0, "query"), ("checks", 0, "threshold")
LIMITS = [
    Limit("number-size", (*T0, "max"), 1e15, math.nextafter(1e15, UP), "checks[0].threshold.max", "up to 1e15"),
    Limit("number-size-negative", (*T0, "min"), -1e15, math.nextafter(-1e15, DOWN), "checks[0].threshold.min", "1e15"),
    Limit("min-sample-low", ("checks", 0, "min_sample"), 1, 0, "checks[0].min_sample", "1-1000000000000"),
    Limit(
        "min-sample-top", ("checks", 0, "min_sample"), 10**12, 10**12 + 1, "checks[0].min_sample", "got 1000000000001"
    ),
    Limit("metric-length", (*Q0, "metric"), "M" * 255, "M" * 256, "checks[0].query.metric", "at most 255 characters"),
    Limit("checks-count", ("checks",), _checks(50), _checks(51), "checks", "1-50 checks, got 51"),
    Limit(
        "increase-zero",
        (*T0, "max_increase_over_stable"),
        0,
        -1e-9,
        "checks[0].threshold.max_increase_over_stable",
        ">= 0",
    ),
    Limit(
        "decrease-zero",
        (*T0, "max_decrease_under_stable"),
        0,
        -1e-9,
        "checks[0].threshold.max_decrease_under_stable",
        ">= 0",
    ),
    Limit("ratio-positive", (*T0, "max_ratio_to_stable"), 5e-324, 0, "checks[0].threshold.max_ratio_to_stable", "> 0"),
    Limit("min-equal-max", (*T0, "min"), 0.02, math.nextafter(0.02, UP), "checks[0].threshold.min", "above max"),
    Limit(
        "dimensions-count",
        (*Q0, "dimensions"),
        _dimensions(30),
        _dimensions(31),
        "checks[0].query.dimensions",
        "at most 30",
    ),
    Limit(
        "dimension-name-length",
        (*Q0, "dimensions"),
        {"D" * 255: "x"},
        {"D" * 256: "x"},
        "checks[0].query.dimensions",
        "1-255 characters",
    ),
    Limit("period-top", (*Q0, "period"), 86_400, 86_460, "checks[0].query.period", "up to 86400"),
    Limit("period-bottom", (*Q0, "period"), 60, 0, "checks[0].query.period", "multiple of 60"),
    Limit(
        "http-timeout-top",
        ("checks", 1, "query", "timeout_seconds"),
        60,
        math.nextafter(60.0, UP),
        "checks[1].query.timeout_seconds",
        "<= 60",
    ),
]


@pytest.mark.parametrize("limit", LIMITS, ids=lambda c: c.id)
def test_each_limit_of_the_file_is_accepted_at_its_edge_and_refused_one_step_beyond(limit: Limit) -> None:
    at = valid()
    _set(at, limit.path, limit.at)
    parse_analysis_file(at)
    beyond = valid()
    _set(beyond, limit.path, limit.beyond)
    with pytest.raises(InputError) as caught:
        parse_analysis_file(beyond)
    assert caught.value.key == f"analysis_file.{limit.key}"
    assert limit.message in caught.value.problem, caught.value.problem


# --- issue 17, mutmut: what `decide`, `verdict_of`, `combine` and the judge carry, exactly ----------
WAIT, F, P = Judgement.INCONCLUSIVE, Judgement.FAIL, Judgement.PASS


def _check(dry_run: bool = True, **threshold: float) -> MetricCheck:
    return MetricCheck("lat", "cloudwatch", {"metric": "p99"}, Threshold(**threshold), min_sample=10, dry_run=dry_run)


def test_decide_carries_the_name_the_dry_run_flag_and_every_figure_on_each_branch() -> None:
    new, stable = MetricSample(5.0, 20), MetricSample(2.0, 30)
    figures = {"value": 5.0, "sample": 20, "stable_value": 2.0, "stable_sample": 30}
    rel = _check(max_increase_over_stable=1.0)
    assert decide(rel, PortError("boom"), stable) == CheckResult(
        "lat", WAIT, ("lat: cloudwatch source failed: boom",), True
    )
    assert decide(rel, MetricSample(5.0, 9), stable) == CheckResult(
        "lat", WAIT, ("lat: sample 9 of 10 needed",), True, 5.0, 9, 2.0, 30
    )
    assert decide(rel, MetricSample(None, 20), stable) == CheckResult(
        "lat", WAIT, ("lat: no value (sample 20)",), True, None, 20, 2.0, 30
    )
    failed = decide(_check(max=4.0, max_increase_over_stable=1.0), new, stable)  # both bounds broken: both said
    assert failed == CheckResult(
        "lat",
        F,
        (
            "lat: 5 > max 4 (sample 20)",
            "lat: 5 exceeds stable 2 by 3 > max_increase_over_stable 1 (sample 20)",
        ),
        True,
        **figures,
    )
    assert decide(_check(max=6.0), new, stable) == CheckResult("lat", P, (), True, **figures)
    assert decide(_check(dry_run=False, max=6.0), new, None) == CheckResult("lat", P, (), False, 5.0, 20)


def test_decide_waits_for_the_stable_color_saying_what_it_has() -> None:
    rel, new = _check(max_increase_over_stable=1.0), MetricSample(5.0, 20)
    assert decide(rel, new, PortError("down")) == CheckResult(
        "lat", WAIT, ("lat: stable color's cloudwatch source failed: down",), True, 5.0, 20
    )
    assert decide(rel, new, None).reasons == ("lat: stable color has sample 0 of 10 needed to compare",)
    assert decide(rel, new, MetricSample(2.0, 4)) == CheckResult(
        "lat", WAIT, ("lat: stable color has sample 4 of 10 needed to compare",), True, 5.0, 20, 2.0, 4
    )


def test_the_ratio_to_a_stable_value_below_one_is_still_a_ratio() -> None:
    assert Threshold(max_ratio_to_stable=2.0).relative_failures(2.0, 0.5) == [
        "2 is 4x stable 0.5 > max_ratio_to_stable 2"
    ]
    assert Threshold(max_ratio_to_stable=2.0).relative_failures(1.0, 0.5) == []


def test_a_check_result_reads_back_under_its_own_keys() -> None:
    assert CheckResult("lat", F, ("r",), False, 5.0, 20, 2.0, 30).to_dict() == {
        "outcome": "fail",
        "dry_run": False,
        "value": 5.0,
        "sample": 20,
        "stable_value": 2.0,
        "stable_sample": 30,
        "reasons": ["r"],
    }


def test_only_dry_runs_are_listed_as_dry_run_failures() -> None:
    live, dry = CheckResult("live", F, ("live: bad",), False), CheckResult("dry", F, ("dry: bad",), True)
    verdict = verdict_of([live, dry])
    assert (verdict.outcome, verdict.reasons) == (F, ("live: bad",))
    assert verdict.figures["metric_checks_dry_run_failed"] == ["dry"]


def test_combine_keeps_the_tests_either_side_accepted() -> None:
    first = Verdict(outcome=P, accepted=frozenset({"error_sprt"}))
    second = Verdict(outcome=P, accepted=frozenset({"latency"}))
    assert combine(first, second).accepted == frozenset({"error_sprt", "latency"})


def test_the_judge_names_the_sources_it_has_and_reads_each_with_the_checks_query() -> None:
    plan = AnalysisPlan((_check(max=6.0),))
    with pytest.raises(InputError) as raised:
        MetricJudge(plan, {})
    assert raised.value.problem == "no 'cloudwatch' source is available here (have: none)"

    class Source:
        def __init__(self) -> None:
            self.queries: list[Any] = []

        def read(self, query: Mapping[str, Any], color: str, start: float, end: float) -> MetricSample:
            self.queries.append(query)
            return MetricSample(1.0, 20)

    with pytest.raises(InputError) as raised:
        MetricJudge(plan, {"http-json": Source(), "prometheus": Source()})  # type: ignore[dict-item]
    assert raised.value.problem == "no 'cloudwatch' source is available here (have: http-json, prometheus)"
    source = Source()
    MetricJudge(plan, {"cloudwatch": source}).judge("green", "blue", 0.0, 60.0)  # type: ignore[dict-item]
    assert source.queries == [{"metric": "p99"}]


def _with(path: str, value: Any) -> dict[str, Any]:
    """valid() with the dotted `path` (list indexes as numbers) set to `value`, or removed for DROP."""
    data = valid()
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = data
    for p in parents:
        node = node[p]
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    return data


DROP = object()
C0, C1 = "checks.0", "checks.1"
K0, K1 = "analysis_file.checks[0]", "analysis_file.checks[1]"
PARSE_REFUSED = [
    ("checks", None, "analysis_file.checks: must be a list of checks, got nothing (null)"),
    ("checks", {"a": 1}, "analysis_file.checks: must be a list of checks, got a mapping"),
    ("bogus", 1, "analysis_file.bogus: unknown key; expected one of checks, judge"),
    (f"{C0}.min_sample", DROP, f"{K0}.min_sample: required"),
    (f"{C0}.threshold", {"max": 1, 5: 1}, f"{K0}.threshold: keys must be strings, got 5"),
    (f"{C0}.threshold", [1], f"{K0}.threshold: must be a mapping, got a list"),
    (
        f"{C0}.threshold",
        {},
        f"{K0}.threshold: needs at least one of max, min, max_increase_over_stable, "
        "max_decrease_under_stable, max_ratio_to_stable",
    ),
    (f"{C0}.threshold.max", "5", f"{K0}.threshold.max: must be a number, got a string ('5')"),
    (
        f"{C0}.name",
        "x" * 50 + "!",
        f"{K0}.name: must be 1-64 letters, digits, '.', '_' or '-' starting with a letter "
        f"or digit, got a string ({'x' * 40!r})",
    ),
    (f"{C0}.source", "prometheus", f"{K0}.source: must be one of cloudwatch, http-json, got a string ('prometheus')"),
    (f"{C0}.dry_run", {1}, f"{K0}.dry_run: must be true or false, got set"),
    (f"{C0}.query.namespace", "", f"{K0}.query.namespace: must be a non-empty string, got a string ('')"),
    (f"{C0}.query.metric", "a\x00", f"{K0}.query.metric: must not contain control characters"),
    (f"{C0}.query.namespace", "a$b", f"{K0}.query.namespace: may hold only letters, digits, spaces and . _ / # : -"),
    (f"{C0}.query.dimensions", [1], f"{K0}.query.dimensions: must be a mapping of dimension name to value, got a list"),
    (
        f"{C0}.query.dimensions",
        {5: "x"},
        f"{K0}.query.dimensions: dimension names must be 1-255 characters, not ':...', got 5",
    ),
    (
        f"{C0}.query.dimensions",
        {":x": "x"},
        f"{K0}.query.dimensions: dimension names must be 1-255 characters, not ':...', got ':x'",
    ),
    (
        f"{C0}.query.dimensions.Color",
        "x" * 1025,
        f"{K0}.query.dimensions.Color: must be at most 1024 characters, got 1025",
    ),
    (
        f"{C0}.query.dimensions.Color",
        "{colour}",
        f"{K0}.query.dimensions.Color: unknown placeholder {{colour}}; only {{color}} are substituted",
    ),
    (f"{C0}.query.dimensions.Color", "a{b", f"{K0}.query.dimensions.Color: has an unbalanced brace"),
    (f"{C0}.query.dimensions.Color", "a}b", f"{K0}.query.dimensions.Color: has an unbalanced brace"),
    (
        f"{C0}.query.stat",
        "avg",
        f"{K0}.query.stat: must be one of SampleCount, Average, Sum, Minimum, Maximum or a "
        "percentile pNN, got a string ('avg')",
    ),
    (
        f"{C0}.query.period",
        7,
        f"{K0}.query.period: must be 1, 5, 10 or 30 (high resolution) or a multiple of 60 up to "
        "86400, got a number (7)",
    ),
    (f"{C1}.query.url", "http://h/" + "a" * 2040, f"{K1}.query.url: must be at most 2048 characters, got 2049"),
    (
        f"{C1}.query.url",
        "http://h/{colour}",
        f"{K1}.query.url: unknown placeholder {{colour}}; only {{color}}, {{window_seconds}} are substituted",
    ),
    (f"{C1}.query.headers", [1], f"{K1}.query.headers: must be a mapping of header name to value, got a list"),
    (f"{C1}.query.headers", {5: "x"}, f"{K1}.query.headers: header names must be 1-64 letters, digits or '-', got 5"),
    (
        f"{C1}.query.headers",
        {"a b": "x"},
        f"{K1}.query.headers: header names must be 1-64 letters, digits or '-', got 'a b'",
    ),
    (f"{C1}.query.headers.Host", "x" * 1025, f"{K1}.query.headers.Host: must be at most 1024 characters, got 1025"),
    (
        f"{C1}.query.headers.Host",
        "{window_seconds}",
        f"{K1}.query.headers.Host: unknown placeholder {{window_seconds}}; only {{color}} are substituted",
    ),
    ("judge", [1], "analysis_file.judge: must be a mapping of judge settings, got a list"),
    ("judge", {"a b": 1}, "analysis_file.judge: setting names must be plain words, got 'a b'"),
    ("judge", {5: 1}, "analysis_file.judge: setting names must be plain words, got 5"),
    ("judge", {"alpha": math.nan}, "analysis_file.judge.alpha: must be finite, got nan"),
    ("judge", {"alpha": [1]}, "analysis_file.judge.alpha: must be a number, boolean or string, got a list"),
]


@pytest.mark.parametrize(("path", "value", "message"), PARSE_REFUSED, ids=[m[:70] for *_, m in PARSE_REFUSED])
def test_each_refusal_of_the_analysis_file_says_exactly_what_and_where(path: str, value: Any, message: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_analysis_file(_with(path, value))
    assert str(raised.value) == message


def test_limits_and_defaults_of_the_queries_as_parsed() -> None:
    plan = parse_analysis_file(_with(f"{C0}.query.dimensions.Color", "x" * 1024))
    assert plan.checks[0].query["dimensions"]["Color"] == "x" * 1024
    assert plan.checks[0].query["divide_by"] == "Requests"
    assert parse_analysis_file(_with(f"{C0}.query.dimensions", DROP)).checks[0].query["dimensions"] == {}
    url = "http://h/" + "a" * 2039
    assert parse_analysis_file(_with(f"{C1}.query.url", url)).checks[1].query["url"] == url
    assert parse_analysis_file(_with(f"{C1}.query.timeout_seconds", DROP)).checks[1].query["timeout_seconds"] == 5.0
    assert parse_analysis_file(_with(f"{C1}.query.timeout_seconds", 0.5)).checks[1].query["timeout_seconds"] == 0.5
    headers = {"Host": "x" * 1024, "X-Color": "{color}"}
    assert parse_analysis_file(_with(f"{C1}.query.headers", headers)).checks[1].query["headers"] == headers
    assert parse_analysis_file(_with("judge", {"alpha": 0.05})).judge == {"alpha": 0.05}


def test_substitute_fills_every_named_placeholder_and_leaves_the_others() -> None:
    """What the metric sources send: each `{name}` given replaced wherever it stands, by its text."""
    query = "sum(rate(x{color='{color}',tg='{target_group}'}[{window}s])) / {color}"
    filled = substitute(query, color="green", window=60, target_group=None)
    assert filled == "sum(rate(x{color='green',tg='None'}[60s])) / green"
    assert substitute("{color} {unknown}", color="blue") == "blue {unknown}"
    assert substitute("{color}") == "{color}"
