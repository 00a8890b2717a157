"""The kill switch at any time: `zdd-release kill-flag` through the real CLI, in `flag_world.py`'s world
(the recorded AppConfig fake, moto's CloudWatch, a release store on local files).

Before it, `abort` was the only way to turn a flag off, and `abort` refuses a release that SUCCEEDED:
a flag released to 100% stayed on, no plan could set 0%, and a `pulumi up` could not turn it off
either, because the release store's percentage wins over git's. `kill-flag` writes the flag off to
the release store, then deploys 0% with the flag set's all-at-once kill-switch strategy, journaled as
a release of its own; run again, or `resume`d, after a kill of the driver at any point.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import flags as flag_doc
from zero_downtime.contract.release_state import FlagState, StoreKeys, decode_flag_set_state
from zero_downtime.driver.adapters.aws.appconfig import AppConfigFlagStore
from zero_downtime.driver.adapters.release_store import ReleaseStore
from zero_downtime.driver.cli import ExitCode
from zero_downtime.driver.core.status import ROLLING_BACK

from tests.driver.conftest import StoreSetup
from tests.driver.fakes import AnnouncedEffects, Killed
from tests.driver.flag_world import FAST_FLAG, FLAG, FLAG_SET, KILL, FlagWorld
from tests.driver.release_world import recorded

STATE_KEY = StoreKeys("zero-downtime", "dev").flag_set_state(FLAG_SET)


@pytest.fixture
def world(aws: dict[str, Any], tmp_path: Path) -> FlagWorld:
    return FlagWorld(aws, StoreSetup("local", f"file://{tmp_path / 'store'}"), tmp_path)


def _flag_state(world: FlagWorld, flag: str = FLAG) -> FlagState | None:
    blob = world.store.blobs().get(STATE_KEY)
    return None if blob is None else decode_flag_set_state(blob.data, STATE_KEY).flags.get(flag)


def _journal(world: FlagWorld) -> ReleaseStore:
    return ReleaseStore(world.store.blobs(), "zero-downtime", "dev", f"flags.{FLAG_SET}", world.clock)


def _served_value(world: FlagWorld, flag: str = FLAG) -> dict[str, Any]:
    served = next(d for d in reversed(world.appconfig.deployments) if d["State"] in ("BAKING", "COMPLETE"))
    return flag_doc.parse_document(world.appconfig.versions[int(served["ConfigurationVersion"])])["values"][flag]


def _assert_killed(world: FlagWorld, flag: str = FLAG) -> None:
    assert world.appconfig.served_percentage(flag) == 0
    assert _served_value(world, flag)["enabled"] is False  # off for allow-listed users too
    assert _flag_state(world, flag) == FlagState(enabled=False, percentage=0)  # what every `up` deploys


def test_after_a_release_succeeded_abort_names_the_kill_switch_and_kill_flag_turns_it_off(world: FlagWorld) -> None:
    world.appconfig.bake_ticks = 12  # AppConfig still bakes the 100% step when the release has succeeded
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    assert world.appconfig.served_percentage() == 100

    code, _, err = world.run("abort")
    assert code == ExitCode.REFUSED
    assert "already succeeded" in err
    assert f"zdd-release kill-flag --stack dev --flag-set {FLAG_SET} --flag {FLAG}" in err
    assert world.appconfig.served_percentage() == 100  # the refusal changed nothing

    code, out, err = world.run("kill-flag", "--flag", FLAG, "--json", "--reason", "checkout errors")
    assert code == ExitCode.SUCCESS, err
    result = json.loads(out)
    assert (result["kind"], result["state"], result["reason"], result["exit_code"]) == (
        "flag",
        "ROLLED_BACK",
        "checkout errors",
        0,
    )
    assert [d["state"] for d in result["decisions"]] == ["PENDING", "ROLLING_BACK", "ROLLING_BACK", "ROLLED_BACK"]
    _assert_killed(world)
    kill = [p for op, p in world.appconfig.calls if op == "StartDeployment"][-1]
    assert kill["DeploymentStrategyId"] == KILL  # all at once, no bake
    # The 100% step was still in AppConfig's bake: reverted with AllowRevert, never refused.
    assert world.appconfig.stopped == [(4, "ROLLED_BACK")]
    assert [p.get("AllowRevert") for op, p in world.appconfig.calls if op == "StopDeployment"] == [True]

    code, out, _ = world.run("status", "--json")
    status = json.loads(out)
    assert (status["kind"], status["flag"], status["state"], status["strategy"], status["steps"]) == (
        "flag",
        FLAG,
        "ROLLED_BACK",
        "kill-switch",
        [],
    )
    code, out, _ = world.run("history", "--json")
    assert [(r["image"], r["strategy"], r["state"]) for r in json.loads(out)] == [
        (FLAG, "canary", "SUCCEEDED"),
        (FLAG, "kill-switch", "ROLLED_BACK"),
    ]


def test_the_text_output_says_the_flag_is_off(world: FlagWorld) -> None:
    code, out, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.SUCCESS, err
    assert "ROLLED_BACK" in out and f"{FLAG_SET}/{FLAG} is off for everyone" in out and "exit code 0" in out
    assert "kill switch g-" in err  # the announcement, with the release id, on stderr


def test_a_flag_no_release_ever_moved_can_be_killed_and_the_others_stay(world: FlagWorld) -> None:
    assert world.appconfig.served_percentage("dark-mode") == 50  # git's value, never released
    code, _, err = world.run("kill-flag", "--flag", "dark-mode")
    assert code == ExitCode.SUCCESS, err
    _assert_killed(world, "dark-mode")
    assert _served_value(world, FLAG) == flag_doc.flag_value(percentage=0)  # untouched
    assert _flag_state(world, FLAG) is None  # only the killed flag is release state


def test_kill_flag_is_safe_to_repeat(world: FlagWorld) -> None:
    for _ in range(2):
        code, _, err = world.run("kill-flag", "--flag", FLAG)
        assert code == ExitCode.SUCCESS, err
        _assert_killed(world)
    assert len(_journal(world).release_ids()) == 2


def test_the_release_store_says_off_before_appconfig_gets_the_kill(world: FlagWorld) -> None:
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    seen: list[FlagState | None] = []
    create = world.appconfig.create_hosted_configuration_version

    def spy(**params: Any) -> dict[str, Any]:
        seen.append(_flag_state(world))
        return create(**params)

    world.appconfig.create_hosted_configuration_version = spy  # type: ignore[method-assign]
    code, _, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.SUCCESS, err
    assert seen == [FlagState(enabled=False, percentage=0)]


def test_a_running_release_of_the_flag_is_aborted_by_the_kill(world: FlagWorld) -> None:
    """Its driver was killed mid-bake: the kill rolls that release back (no second release)."""
    with pytest.raises(Killed):
        world.run("flag", "--flag", FLAG, *FAST_FLAG, die_when=recorded("BAKING"))
    world.expire_leases()
    code, out, err = world.run("kill-flag", "--flag", FLAG, "--json", "--reason", "stop it")
    assert code == ExitCode.SUCCESS, err
    result = json.loads(out)
    assert result["release_id"].startswith("g-") and result["reason"] == "stop it"
    assert len(_journal(world).release_ids()) == 1
    _assert_killed(world)


def test_a_paused_release_of_the_flag_is_aborted_by_the_kill(world: FlagWorld) -> None:
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG, "--pause-at", "10")
    assert code == ExitCode.PAUSED, err
    code, _, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.SUCCESS, err
    assert len(_journal(world).release_ids()) == 1
    _assert_killed(world)


def test_an_unfinished_release_of_another_flag_of_the_set_is_refused_naming_it(world: FlagWorld) -> None:
    with pytest.raises(Killed):
        world.run("flag", "--flag", "dark-mode", *FAST_FLAG, die_when=recorded("BAKING"))
    world.expire_leases()
    writes = len(world.appconfig.calls)
    code, _, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.REFUSED
    assert "refused: --flag: release g-" in err and "of 'dark-mode' in flag set checkout is BAKING" in err
    assert "Traceback" not in err
    assert [op for op, _ in world.appconfig.calls[writes:] if op not in ("ListDeployments",)] == []


# -- a kill of the driver during the kill switch, then the kill switch again -------------------------------
@pytest.mark.parametrize("state", ["PENDING", "ROLLING_BACK"])
def test_a_driver_killed_mid_kill_is_continued_by_running_it_again(world: FlagWorld, state: str) -> None:
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    with pytest.raises(Killed):
        world.run("kill-flag", "--flag", FLAG, die_when=recorded(state))
    assert world.appconfig.served_percentage() == 100  # died before any effect
    world.expire_leases()
    code, out, err = world.run("kill-flag", "--flag", FLAG, "--json")
    assert code == ExitCode.SUCCESS, err
    assert len(_journal(world).release_ids()) == 2  # the release, and one kill switch: continued, not restarted
    assert json.loads(out)["reason"] == "kill switch"
    _assert_killed(world)


def test_a_driver_killed_mid_kill_can_be_resumed(world: FlagWorld) -> None:
    with pytest.raises(Killed):
        world.run("kill-flag", "--flag", FLAG, die_when=recorded("ROLLING_BACK"))
    world.expire_leases()
    code, _, err = world.run("resume", "--json")
    assert code == ExitCode.ROLLED_BACK, err  # `resume` reports as for any release: rolled back
    _assert_killed(world)


class _Announcing(AnnouncedEffects):
    def __init__(self, world: FlagWorld, kill_at: int, timing: str) -> None:
        super().__init__(kill_at=kill_at, kill_timing=timing)  # type: ignore[arg-type]
        self.world = world

    def check(self, effect: str, *args: Any) -> None:
        last = self.announcing(_journal(self.world), effect, args, frozenset({ROLLING_BACK}))
        assert args == (FLAG, 0) and last.status.spec["kill"] is True
        self.calls.append((args[1], last.status.state))


@pytest.mark.parametrize("timing", ["before", "after"])
def test_a_driver_killed_inside_the_appconfig_write_is_continued_by_running_it_again(
    world: FlagWorld, monkeypatch: pytest.MonkeyPatch, timing: str
) -> None:
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    watch = _Announcing(world, kill_at=0, timing=timing)
    real = AppConfigFlagStore.set_percentage

    def set_percentage(store: AppConfigFlagStore, flag: str, percentage: int) -> None:
        watch.effect("set_percentage", lambda f, p: real(store, f, p), flag, percentage)

    monkeypatch.setattr(AppConfigFlagStore, "set_percentage", set_percentage)
    with pytest.raises(Killed, match=f"inside set_percentage, {timing}"):
        world.run("kill-flag", "--flag", FLAG)
    assert _flag_state(world) == FlagState(enabled=False, percentage=0)  # written before the effect
    watch.kill_at = None
    world.expire_leases()
    code, _, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.SUCCESS, err
    assert watch.calls == [(0, ROLLING_BACK), (0, ROLLING_BACK)]
    _assert_killed(world)


def test_appconfig_failing_the_kill_exits_1_and_running_it_again_finishes(world: FlagWorld) -> None:
    start = world.appconfig.start_deployment

    def refused(**params: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "InternalServerException", "Message": "down"}}, "StartDeployment")

    world.appconfig.start_deployment = refused  # type: ignore[method-assign]
    code, out, err = world.run("kill-flag", "--flag", FLAG, "--json")
    assert code == ExitCode.ERROR, err
    assert json.loads(out)["state"] == "FAILED" and "InternalServerException" in json.loads(out)["reason"]
    assert _flag_state(world) == FlagState(enabled=False, percentage=0)  # an `up` already keeps it off
    world.appconfig.start_deployment = start  # type: ignore[method-assign]
    code, _, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.SUCCESS, err
    assert len(_journal(world).release_ids()) == 1  # the failed kill was retried, not duplicated
    _assert_killed(world)


# -- refusals ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--flag", "nope"], "refused: --flag: no flag 'nope' in flag set checkout"),
        (["--flag", "9bad"], "refused: --flag: flag key '9bad' must start with a letter"),
        (["--flag", FLAG, "--flag-set", "search"], "refused: --flag-set: unknown flag set 'search'"),
        (["--flag", FLAG, "--flag-set", "a/b"], "refused: --flag-set: must be a flag set name, got 'a/b'"),
        (["--flag", FLAG, "--deploy-timeout", "0"], "refused: --deploy-timeout: must be > 0 seconds"),
        (["--flag", FLAG, "--deploy-poll", "-1"], "refused: --deploy-poll: must be > 0 seconds"),
        (["--flag", FLAG, "--wait", "-1"], "refused: --wait: must be >= 0 seconds"),
        (["--flag", FLAG, "--reason", " "], "refused: --reason: must say why the flag is killed"),
        ([], "the following arguments are required: --flag"),
        (["--flag", FLAG, "--wait", "soon"], "argument --wait: invalid float value: 'soon'"),
    ],
)
def test_bad_input_is_refused_naming_the_flag_and_nothing_changes(world: FlagWorld, argv: list, problem: str) -> None:
    code, out, err = world.run("kill-flag", *argv)
    assert code == ExitCode.REFUSED
    assert problem in err, err
    assert "nothing was changed" in err and "Traceback" not in err + out
    reads = ("ListDeployments", "GetHostedConfigurationVersion")
    assert [op for op, _ in world.appconfig.calls if op not in reads] == []
    assert world.store.blobs().list("") == []  # no journal, no lease, no release state
