"""`scripts/mutation.py` (`make mutation`): how it reads mutmut's results and scores them, on a
small fabricated result set. mutmut itself never runs here: `mutmut` (the subprocess call) is
replaced by a fake that answers `results` and `show`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.paths import REPO_ROOT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", REPO_ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


mutation = _load()

PLAN = "zero_downtime.driver.core.plan"
LOCAL = "zero_downtime.store.local"
# As `mutmut results --all true` prints them: indented `name: status`, functions as `x_<name>`,
# methods as `xǁ<Class>ǁ<name>`; statuses with spaces in them; modules out of order.
RESULTS = f"""\
    {LOCAL}.xǁLocalBlobsǁcreate__mutmut_4: not checked
    {PLAN}.x_build_plan__mutmut_1: killed
    {PLAN}.x_build_plan__mutmut_2: survived
    {PLAN}.xǁPlanǁto_dict__mutmut_1: timeout
    {PLAN}.xǁPlanǁto_dict__mutmut_2: caught by type check
    {PLAN}.xǁMigrationsǁ__post_init____mutmut_7: no tests
    {PLAN}.x_step_weights__mutmut_3: killed
    {LOCAL}.x__temp__mutmut_1: not checked
"""


def test_results_are_parsed_into_a_status_per_mutant() -> None:
    status = mutation.parse_results(RESULTS + "\n")
    assert len(status) == 8
    assert status[f"{PLAN}.x_build_plan__mutmut_2"] == "survived"
    assert status[f"{PLAN}.xǁPlanǁto_dict__mutmut_2"] == "caught by type check"
    assert status[f"{PLAN}.xǁMigrationsǁ__post_init____mutmut_7"] == "no tests"
    assert status[f"{LOCAL}.x__temp__mutmut_1"] == "not checked"


@pytest.mark.parametrize(
    ("mutant", "module"),
    [
        (f"{PLAN}.x_build_plan__mutmut_2", PLAN),
        (f"{PLAN}.xǁPlanǁto_dict__mutmut_1", PLAN),
        (f"{LOCAL}.x__temp__mutmut_1", LOCAL),  # a private function: x_ then _temp
        ("zero_downtime.components.validation.xǁArgErrorǁ__init____mutmut_1", "zero_downtime.components.validation"),
    ],
)
def test_a_mutant_belongs_to_the_module_its_name_starts_with(mutant: str, module: str) -> None:
    assert mutation.module_of(mutant) == module


def test_the_score_counts_timeouts_and_type_check_catches_as_killed_and_leaves_out_the_untested() -> None:
    rows = mutation.scores(mutation.parse_results(RESULTS))
    assert rows == [  # sorted by module name
        mutation.Score(PLAN, killed=4, survived=1, other=1),
        mutation.Score(LOCAL, killed=0, survived=0, other=2),
    ]
    by_module = {r.module: r for r in rows}
    assert by_module[PLAN].score == "80%"  # 4 of the 5 the tests ran to an end; "no tests" is not counted
    assert by_module[LOCAL].score == "-"  # nothing was run: no score, not 0%
    assert mutation.Score("m", killed=2, survived=1, other=0).score == "67%"
    assert mutation.Score("m", killed=0, survived=3, other=5).score == "0%"  # all survived: 0%, not "-"
    assert mutation.survivors(mutation.parse_results(RESULTS)) == [f"{PLAN}.x_build_plan__mutmut_2"]


def test_the_table_has_one_row_per_module_under_its_header() -> None:
    lines = mutation.table(mutation.scores(mutation.parse_results(RESULTS)))
    assert lines[0].split() == ["module", "killed", "survived", "other", "score"]
    assert [line.split() for line in lines[1:]] == [[PLAN, "4", "1", "1", "80%"], [LOCAL, "0", "0", "2", "-"]]


class FakeMutmut:
    """Answers `results` with RESULTS and `show NAME` with a diff; records every call."""

    def __init__(self, results_code: int = 0) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.results_code = results_code

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if args[0] == "results":
            return subprocess.CompletedProcess(
                args, self.results_code, RESULTS, "" if not self.results_code else "boom"
            )
        return subprocess.CompletedProcess(args, 0, f"# {args[1]}: survived\n--- diff\n", "")


def test_report_prints_the_scores_and_shows_each_survivor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeMutmut()
    monkeypatch.setattr(mutation, "mutmut", fake)
    assert mutation.report() == 0
    out = capsys.readouterr().out
    assert fake.calls == [("results", "--all", "true"), ("show", f"{PLAN}.x_build_plan__mutmut_2")]
    assert "1 surviving mutants" in out
    assert f"# {PLAN}.x_build_plan__mutmut_2: survived" in out
    assert [line.split()[-1] for line in out.splitlines()[1:3]] == ["80%", "-"]


def test_report_fails_when_mutmut_cannot_list_its_results(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mutation, "mutmut", FakeMutmut(results_code=1))
    assert mutation.report() == 1
    assert "boom" in capsys.readouterr().err


def test_report_only_never_stages_nor_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("--report must not stage or run mutmut")

    monkeypatch.setattr(mutation, "stage", never)
    monkeypatch.setattr(mutation.subprocess, "run", never)
    monkeypatch.setattr(mutation, "mutmut", FakeMutmut())
    assert mutation.main(["--report"]) == 0
