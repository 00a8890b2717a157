"""Flag releases (`zdd-release flag`) through the real CLI: percentages stepped through the plan,
judged flag-on vs flag-off on CloudWatch (moto), rolled back or killed to 0% on AppConfig (the
recorded fake in `flag_world.py`), journaled and continued from another checkout.

Also: the core strategy's refusals, and the file adapter the rehearsal uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import flags as flag_doc
from zero_downtime.driver.adapters.aws.clients import AWS_ERRORS
from zero_downtime.driver.adapters.flag_file import FileFlagStore
from zero_downtime.driver.cli import ExitCode
from zero_downtime.driver.core.analysis import AnalysisConfig
from zero_downtime.driver.core.errors import InputError, PortError
from zero_downtime.driver.core.flag import FlagSpec
from zero_downtime.driver.core.plan import build_plan

from tests.driver.conftest import StoreSetup
from tests.driver.flag_world import FAST_FLAG, FLAG, FlagWorld, journal_states
from tests.driver.release_world import Killed, recorded


@pytest.fixture
def world(aws: dict[str, Any], tmp_path: Path) -> FlagWorld:
    return FlagWorld(aws, StoreSetup("local", f"file://{tmp_path / 'store'}"), tmp_path)


def test_moto_has_no_appconfig_deployments(aws: dict[str, Any]) -> None:
    import boto3
    from zero_downtime.driver.adapters.aws.clients import retry_config

    client = boto3.client("appconfig", region_name="us-east-1", endpoint_url=aws["url"], config=retry_config(1))
    with pytest.raises(AWS_ERRORS):
        client.start_deployment(
            ApplicationId="app1234",
            EnvironmentId="env1234",
            DeploymentStrategyId="str1234",
            ConfigurationProfileId="prf1234",
            ConfigurationVersion="1",
        )


def test_a_good_flag_release_walks_the_percentages_and_succeeds(world: FlagWorld) -> None:
    code, out, err = world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    assert world.appconfig.served_percentage() == 100
    # one hosted version and one deployment per step, each of the flag set's own strategy
    starts = [p for op, p in world.appconfig.calls if op == "StartDeployment"]
    assert len(starts) == 3 and {p["DeploymentStrategyId"] for p in starts} == {"str1234"}
    versions = [flag_doc.parse_document(world.appconfig.versions[int(p["ConfigurationVersion"])]) for p in starts]
    assert [flag_doc.percentage_of(v, FLAG) for v in versions] == [10, 50, 100]
    assert {flag_doc.percentage_of(v, "dark-mode") for v in versions} == {50}  # other flags untouched
    states = journal_states(out)
    assert states[-1] == "SUCCEEDED" and states.count("BAKING") >= 3
    checks = [d for d in json.loads(out)["decisions"] if d["event"] == "check"]
    assert any(c["detail"]["verdict"]["off_requests"] > 0 for c in checks)


def test_a_faulty_flag_is_rolled_back_to_zero_percent(world: FlagWorld) -> None:
    world.on_error_rate = 0.3
    code, out, err = world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG)
    assert code == ExitCode.ROLLED_BACK, err
    assert world.appconfig.served_percentage() == 0
    result = json.loads(out)
    assert result["state"] == "ROLLED_BACK" and "error" in result["reason"].lower()
    last = world.appconfig.versions[max(world.appconfig.versions)]
    assert flag_doc.parse_document(last)["values"][FLAG]["enabled"] is False
    kill = [p for op, p in world.appconfig.calls if op == "StartDeployment"][-1]
    assert kill["DeploymentStrategyId"] == "kil1234"  # all at once, no bake: no alarm can undo it
    # The 10% step was still in AppConfig's bake: StopDeployment reverts it only with AllowRevert.
    [stop] = [p for op, p in world.appconfig.calls if op == "StopDeployment"]
    assert stop["AllowRevert"] is True and world.appconfig.stopped == [(2, "ROLLED_BACK")]


def test_a_step_waits_for_appconfigs_bake_instead_of_stopping_it(world: FlagWorld) -> None:
    """AppConfig's bake (its strategy's final bake time) outlasts the driver's step: StopDeployment
    would refuse a BAKING deployment without AllowRevert, and reverting it would flip the step's users
    off again, so the next step waits for the bake to end."""
    world.appconfig.bake_ticks = 12  # ~60 s of deploy polls beyond the driver's 120 s step
    code, out, err = world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    assert world.appconfig.served_percentage() == 100
    assert [op for op, _ in world.appconfig.calls if op == "StopDeployment"] == []
    waits = [d for d in json.loads(out)["decisions"] if d["event"] == "settling"]
    assert waits and all("BAKING" in d["detail"]["note"] for d in waits)
    assert [d["State"] for d in world.appconfig.deployments][:-1] == ["COMPLETE"] * 3  # none reverted


def test_a_bake_that_outlasts_the_deploy_timeout_rolls_back_with_a_revert(world: FlagWorld) -> None:
    world.appconfig.bake_ticks = 10_000
    code, out, err = world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG, "--deploy-timeout", "60")
    assert code == ExitCode.ROLLED_BACK, err
    result = json.loads(out)
    assert result["reason"].startswith("SHIFTING failed: deployment 2 of the flag set checkout is BAKING")
    assert world.appconfig.served_percentage() == 0
    assert world.appconfig.stopped == [(2, "ROLLED_BACK")]  # reverted (AllowRevert), then killed at once


def test_appconfig_rolling_a_step_back_on_its_alarm_rolls_the_release_back(world: FlagWorld) -> None:
    world.fire_alarm()  # AppConfig's monitor rolls the first step's deployment back
    code, out, _ = world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG)
    assert code == ExitCode.ROLLED_BACK
    assert "the flag store serves 0% after setting 10%" in json.loads(out)["reason"]
    assert world.appconfig.served_percentage() == 0
    assert [d["State"] for d in world.appconfig.deployments][1] == "ROLLED_BACK"


def test_an_alarm_after_the_deployment_completed_rolls_the_flag_back(world: FlagWorld) -> None:
    def fire_at_50(now: float) -> None:
        if world.appconfig.deployments[-1]["State"] == "COMPLETE" and world.appconfig.served_percentage() == 50:
            world.fire_alarm()

    world.clock.on_sleep(fire_at_50)
    code, out, _ = world.run("flag", "--flag", FLAG, "--json", *FAST_FLAG)
    assert code == ExitCode.ROLLED_BACK
    assert "alarm in ALARM: web-green-health" in json.loads(out)["reason"]
    assert world.appconfig.served_percentage() == 0


def test_abort_is_the_kill_switch_from_another_checkout(world: FlagWorld) -> None:
    with pytest.raises(Killed):
        world.run("flag", "--flag", FLAG, *FAST_FLAG, die_when=recorded("BAKING"))
    assert world.appconfig.served_percentage() == 10
    world.expire_leases()
    code, out, err = world.run("abort", "--json", "--reason", "kill switch")
    assert code == ExitCode.ROLLED_BACK, err
    assert world.appconfig.served_percentage() == 0
    assert json.loads(out)["reason"] == "kill switch"
    code, out, _ = world.run("status", "--json")
    status = json.loads(out)
    assert (status["kind"], status["flag"], status["state"]) == ("flag", FLAG, "ROLLED_BACK")
    code, out, _ = world.run("history", "--json")
    [row] = json.loads(out)
    assert (row["kind"], row["image"], row["state"]) == ("flag", FLAG, "ROLLED_BACK")


def test_a_second_flag_release_of_the_set_is_refused_while_one_runs(world: FlagWorld) -> None:
    with pytest.raises(Killed):
        world.run("flag", "--flag", FLAG, *FAST_FLAG, die_when=recorded("BAKING"))
    world.expire_leases()
    code, _, err = world.run("flag", "--flag", "dark-mode", *FAST_FLAG)
    assert code == ExitCode.REFUSED and "resume it first" in err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--flag", "nope"], "--flag: no flag 'nope'"),
        (["--flag", "9bad"], "--flag: flag key '9bad'"),
        (["--flag", FLAG, "--steps", "50,10"], "--steps: steps must strictly increase"),
        (["--flag", FLAG, "--deploy-timeout", "0"], "--deploy-timeout: must be > 0"),
    ],
)
def test_bad_input_is_refused_naming_the_flag_and_nothing_changes(world: FlagWorld, argv: list, problem: str) -> None:
    code, _, err = world.run("flag", *argv)
    assert code == ExitCode.REFUSED
    assert problem in err
    assert [
        op for op, _ in world.appconfig.calls if op != "ListDeployments" and op != "GetHostedConfigurationVersion"
    ] == []


def test_an_unknown_flag_set_is_refused(world: FlagWorld) -> None:
    code, _, err = world.run("flag", "--flag", FLAG, "--flag-set", "search")
    assert code == ExitCode.REFUSED and "unknown flag set 'search'" in err


def test_the_spec_refuses_a_synthetic_bake_and_a_bad_key() -> None:
    from zero_downtime.driver.core.plan import SyntheticBake

    plan = build_plan("canary", steps=[10, 100], interval=60)
    with pytest.raises(InputError) as caught:
        FlagSpec("dev", "checkout", "a b", plan)
    assert caught.value.key == "flag"
    synthetic = build_plan("canary", steps=[10, 100], interval=60, synthetic=SyntheticBake())
    with pytest.raises(InputError) as caught:
        FlagSpec("dev", "checkout", FLAG, synthetic)
    assert caught.value.key == "synthetic_requests"
    spec = FlagSpec("dev", "checkout", FLAG, plan, AnalysisConfig(), appconfig_strategy="AppConfig.AllAtOnce")
    assert FlagSpec.from_dict(spec.to_dict()) == spec


def test_the_file_store_replaces_the_document_whole(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(flag_doc.build_document({FLAG: flag_doc.flag_value(allow=["qa"])}))
    store = FileFlagStore(path)
    store.set_percentage(FLAG, 25)
    assert store.percentage(FLAG) == 25
    assert flag_doc.parse_document(path.read_text())["values"][FLAG]["allow"] == ["qa"]
    store.set_percentage(FLAG, 0)
    assert store.percentage(FLAG) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["flags.json"]  # no temporary file left
    with pytest.raises(PortError, match="no flag 'x'"):
        store.set_percentage("x", 5)
    path.write_text("{")
    with pytest.raises(PortError, match="not JSON"):
        store.percentage(FLAG)


def test_a_flag_release_splits_its_alpha_over_the_percentages_it_judges() -> None:
    from zero_downtime.driver.core.flag import FlagPorts, FlagRelease

    # 1%, 10% and 50% compare flag-on users with flag-off ones; 100% has none left off.
    plan = build_plan("canary", steps=[1, 10, 50, 100], interval=60)
    spec = FlagSpec("dev", "checkout", FLAG, plan, AnalysisConfig(alpha=0.03))
    release = FlagRelease(spec, FlagPorts(store=None, metrics=None, states=None))  # type: ignore[arg-type]
    assert release.analysis.alpha == pytest.approx(0.01)
    assert release.analysis.alpha_scope == "judgement"
