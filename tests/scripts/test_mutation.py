"""`scripts/mutation.py` (`make mutation`): how it reads mutmut's results and scores them, on a
small fabricated result set. mutmut itself never runs here: `mutmut` (the subprocess call) is
replaced by a fake that answers `results` and `show`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
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


def test_batches_name_only_the_untested_mutants_the_globs_match() -> None:
    status = mutation.parse_results(RESULTS)
    assert mutation.batches([f"{PLAN}.*", f"{LOCAL}.x__temp*"], status) == [[f"{LOCAL}.x__temp__mutmut_1"]]
    assert mutation.batches([f"{LOCAL}.*"], status) == [
        [f"{LOCAL}.x__temp__mutmut_1", f"{LOCAL}.xǁLocalBlobsǁcreate__mutmut_4"]
    ]
    assert mutation.batches(["zero_downtime.components.*"], status) == []


def test_batches_follow_the_globs_order_and_put_each_mutant_in_its_first_glob_only() -> None:
    status = {
        f"{PLAN}.x_b__mutmut_1": "not checked",
        f"{LOCAL}.x_a__mutmut_1": "not checked",
        f"{PLAN}.x_a__mutmut_2": "not checked",
        f"{PLAN}.x_a__mutmut_1": "killed",
        "zero_downtime.components.routing.x_r__mutmut_1": "not checked",
    }
    globs = [f"{PLAN}.x_b*", f"{LOCAL}.*", "zero_downtime.*.nothing*", "zero_downtime.*"]
    assert mutation.batches(globs, status) == [
        [f"{PLAN}.x_b__mutmut_1"],  # not again under the catch-all glob
        [f"{LOCAL}.x_a__mutmut_1"],
        ["zero_downtime.components.routing.x_r__mutmut_1", f"{PLAN}.x_a__mutmut_2"],
    ]


def test_the_default_runs_judge_the_release_machine_first_and_the_slow_bake_last_of_the_core() -> None:
    core = "zero_downtime.driver.core"
    status = {
        f"{core}.{module}.x_f__mutmut_1": "not checked"
        for module in ("analysis", "bake", "machine", "metric_checks", "plan")
    } | {
        "zero_downtime.store.local.x_f__mutmut_1": "not checked",
        "zero_downtime.components.routing.x_f__mutmut_1": "not checked",
    }
    firsts = [mutation.module_of(batch[0]) for batch in mutation.batches(mutation.DEFAULT_MUTANTS, status)]
    assert firsts == [
        f"{core}.machine",
        f"{core}.analysis",
        f"{core}.plan",
        "zero_downtime.store.local",
        f"{core}.metric_checks",
        f"{core}.bake",
        "zero_downtime.components.routing",
    ]


def test_the_default_globs_match_the_resolve_steps_and_not_the_rest_of_a_component_file() -> None:
    def default(name: str) -> bool:
        return bool(mutation.batches(mutation.DEFAULT_MUTANTS, {name: "not checked"}))

    c = "zero_downtime.components"
    assert default(f"{c}.blue_green_service.x_resolve_blue_green__mutmut_1")
    assert default(f"{c}.blue_green_service.x__resolve_color__mutmut_1")
    assert default(f"{c}.release_alarms.x_resolve_thresholds__mutmut_2")
    assert default(f"{c}.routing.x_resolve_health_check__mutmut_3")
    assert default("zero_downtime.driver.core.bake.x_bake_check__mutmut_1")
    assert default("zero_downtime.driver.core.metric_checks.xǁThresholdǁto_dict__mutmut_1")
    assert not default(f"{c}.blue_green_service.xǁBlueGreenServiceǁ__init____mutmut_1")
    assert not default(f"{c}.rolling_asg.x_launch_template__mutmut_1")
    assert not default("zero_downtime.driver.cli.x_main__mutmut_1")


class FakeRun:
    """`mutmut` for the default run: the generation pass, then `results` with RESULTS."""

    def __init__(self, generate_output: str) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.generate_output = generate_output

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if args[0] == "run":
            return subprocess.CompletedProcess(args, 1, "", self.generate_output)
        return subprocess.CompletedProcess(args, 0, RESULTS, "")


def test_a_default_run_regenerates_then_tests_only_the_default_mutants_without_a_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeRun("AssertionError: Filtered for specific mutants, but nothing matches")
    ran: list[tuple[list[str], int]] = []
    monkeypatch.setattr(mutation, "mutmut", fake)
    monkeypatch.setattr(mutation, "run", lambda names, children: ran.append((names, children)) or 0)
    monkeypatch.setattr(mutation, "DEFAULT_MUTANTS", (f"{LOCAL}.x_*", f"{PLAN}.*"))
    assert mutation.run_default(2) == 0
    assert fake.calls == [("run", "--max-children", "2", mutation.NO_MUTANT), ("results", "--all", "true")]
    assert ran == [([f"{LOCAL}.x__temp__mutmut_1"], 2)]  # the method of LocalBlobs is not matched


def test_a_default_run_runs_mutmut_once_per_glob_in_order_and_stops_at_a_failed_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(mutation, "mutmut", FakeRun("but nothing matches"))
    monkeypatch.setattr(mutation, "run", lambda names, children: ran.append(names) or 0)
    monkeypatch.setattr(mutation, "DEFAULT_MUTANTS", (f"{LOCAL}.xǁ*", f"{LOCAL}.*"))
    assert mutation.run_default(1) == 0
    assert ran == [[f"{LOCAL}.xǁLocalBlobsǁcreate__mutmut_4"], [f"{LOCAL}.x__temp__mutmut_1"]]

    ran.clear()
    monkeypatch.setattr(mutation, "run", lambda names, children: ran.append(names) or 3)
    assert mutation.run_default(1) == 3
    assert ran == [[f"{LOCAL}.xǁLocalBlobsǁcreate__mutmut_4"]]  # the second run never started


def test_a_default_run_with_nothing_untested_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mutation, "mutmut", FakeRun("but nothing matches"))
    monkeypatch.setattr(mutation, "run", lambda *_: pytest.fail("nothing to run"))
    monkeypatch.setattr(mutation, "DEFAULT_MUTANTS", (f"{PLAN}.*",))
    assert mutation.run_default(1) == 0


def test_a_default_run_stops_when_mutmut_did_not_stop_after_generating(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(mutation, "mutmut", FakeRun("Failed to run clean test"))
    monkeypatch.setattr(mutation, "run", lambda *_: pytest.fail("must not run"))
    assert mutation.run_default(1) == 1
    assert "did not stop after generating" in capsys.readouterr().err


def test_main_runs_named_globs_or_everything_as_given_else_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(mutation, "stage", lambda: calls.append("stage"))
    monkeypatch.setattr(mutation, "run", lambda names, children: calls.append(("run", names, children)) or 0)
    monkeypatch.setattr(mutation, "run_default", lambda children: calls.append(("default", children)) or 0)
    monkeypatch.setattr(mutation, "report", lambda: 0)
    assert mutation.main([f"{PLAN}*", "--max-children", "2"]) == 0
    assert mutation.main(["--all"]) == 0
    assert mutation.main([]) == 0
    assert calls == ["stage", ("run", [f"{PLAN}*"], 2), "stage", ("run", [], 1), "stage", ("default", 1)]
    with pytest.raises(SystemExit):
        mutation.main(["--all", f"{PLAN}*"])


def test_a_configured_file_mutmut_only_copied_is_forgotten_so_it_gets_mutated(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.mutmut]\nonly_mutate = ["pkg/mutated.py"]\n')
    cache = tmp_path / "mutants" / "pkg"
    cache.mkdir(parents=True)
    for name in ("mutated.py", "mutated.py.meta", "copied.py", "other.py"):
        (cache / name).write_text("")
    stats = tmp_path / "mutants" / "mutmut-stats.json"
    stats.write_text("{}")
    assert mutation.forget_unmutated_copies(tmp_path) == []  # run before that copy was configured
    assert stats.exists()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mutmut]\nonly_mutate = ["pkg/mutated.py", "pkg/copied.py", "pkg/new.py"]\n'
    )
    assert mutation.forget_unmutated_copies(tmp_path) == ["pkg/copied.py"]
    assert sorted(p.name for p in cache.iterdir()) == ["mutated.py", "mutated.py.meta", "other.py"]
    assert not stats.exists(), "its functions have no stats: the next run must collect them all"
    stats.write_text("{}")
    assert mutation.forget_unmutated_copies(tmp_path) == []  # nothing more to forget
    assert stats.exists()
