"""A flag release's percentages live in the release store, so `pulumi up` never undoes them.

Before this, the FeatureFlags component deployed the percentages of git's stack config: an `up` that
changed anything in the flag set (a new flag, a new allow list) deployed the configured percentage
over a release's, turning a killed flag back on or a released one back off. Now the driver records
each flag it moves in `state/flags/<set>.json` before it moves it, and the program deploys that.

End to end: a flag release through the real CLI (AppConfig's recorded fake, the store on both
backends), then the real stack program under Pulumi's mocks with git's unchanged config and that
store. The hosted version the program declares must be byte for byte the document AppConfig serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract import flags as flag_doc
from zero_downtime.contract.release_state import (
    FlagSetState,
    FlagState,
    StoreKeys,
    decode_flag_set_state,
)
from zero_downtime.contract.types import ResourceType
from zero_downtime.driver.cli import ExitCode
from zero_downtime.offline.evaluate import evaluate_program
from zero_downtime.offline.mocks import unsecret
from zero_downtime.stack_config.convert import ConfigError
from zero_downtime.stack_config.release_state import Applied, apply_flag_release_state

from tests.driver.conftest import StoreSetup
from tests.driver.flag_world import FAST_FLAG, FLAG, FLAG_SET, FlagWorld
from tests.driver.release_world import Killed, recorded

KEY = StoreKeys("zero-downtime", "dev").flag_set_state(FLAG_SET)
# git's config of the flag set, as the world's AppConfig was first seeded (flag_world.py)
GIT_FLAGS = {FLAG: {}, "dark-mode": {"percentage": 50}}


@pytest.fixture
def world(aws: dict[str, Any], store: StoreSetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FlagWorld:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws["url"])  # the program reads an S3 store as on AWS
    return FlagWorld(aws, store, tmp_path)


def _program_document(world: FlagWorld, flags: dict[str, Any]) -> str:
    """The flags document a bare `up` of git's config declares, with the world's release store."""
    ev = evaluate_program(
        "dev", overrides={"featureFlags": {FLAG_SET: {"flags": flags}}}, release_store=world.store.url
    )
    [version] = ev.of_type(ResourceType.APPCONFIG_HOSTED_VERSION)
    return unsecret(version.inputs["content"])


def _served_document(world: FlagWorld) -> str:
    return world.appconfig.versions[max(world.appconfig.versions)].decode()


def _state(world: FlagWorld) -> FlagSetState | None:
    blob = world.store.blobs().get(KEY)
    return None if blob is None else decode_flag_set_state(blob.data, KEY)


def test_a_bare_up_after_a_flag_release_declares_exactly_the_served_document(world: FlagWorld) -> None:
    assert flag_doc.percentage_of(flag_doc.parse_document(_program_document(world, GIT_FLAGS)), FLAG) == 0
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    state = _state(world)
    assert state is not None and dict(state.flags) == {FLAG: FlagState(enabled=True, percentage=100)}
    assert state.release_id.startswith("g-")
    # Same text: Pulumi sees no change, so the `up` neither creates a version nor deploys one.
    assert _program_document(world, GIT_FLAGS) == _served_document(world)


def test_after_a_kill_an_up_that_changes_the_set_keeps_the_flag_off(world: FlagWorld) -> None:
    world.on_error_rate = 0.3
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.ROLLED_BACK, err
    # git now says 30% and gains an allow list: the allow list is git's, on/off and percentage the release's
    document = flag_doc.parse_document(
        _program_document(world, {**GIT_FLAGS, FLAG: {"percentage": 30, "allow": ["qa-1"]}})
    )
    assert document["values"][FLAG] == flag_doc.flag_value(enabled=False, percentage=0, allow=["qa-1"])
    assert document["values"]["dark-mode"]["percentage"] == 50  # never released: git's


def test_every_percentage_is_in_the_release_state_before_appconfig_gets_it(world: FlagWorld) -> None:
    """Journal-before-effect for release state: at each new hosted version, the store already holds
    the flag at that version's percentage (an `up` at that moment would deploy the same)."""
    seen: list[tuple[int, int | None]] = []
    create = world.appconfig.create_hosted_configuration_version

    def spy(**params: Any) -> dict[str, Any]:
        percentage = flag_doc.percentage_of(flag_doc.parse_document(params["Content"]), FLAG)
        state = _state(world)
        seen.append((percentage, None if state is None else state.flags[FLAG].percentage))
        return create(**params)

    world.appconfig.create_hosted_configuration_version = spy  # type: ignore[method-assign]
    world.on_error_rate = 0.3  # walks a step, then the kill switch
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.ROLLED_BACK, err
    assert [p for p, _ in seen] == [10, 0]
    assert all(written == served for served, written in seen), seen


def test_a_driver_killed_between_the_state_and_appconfig_resumes_to_the_same_end(world: FlagWorld) -> None:
    with pytest.raises(Killed):
        world.run("flag", "--flag", FLAG, *FAST_FLAG, die_when=recorded("BAKING"))
    assert _state(world).flags[FLAG].percentage == 10  # type: ignore[union-attr]
    world.expire_leases()
    code, _, err = world.run("abort", "--reason", "kill switch")
    assert code == ExitCode.ROLLED_BACK, err
    assert _state(world).flags[FLAG] == FlagState(enabled=False, percentage=0)  # type: ignore[union-attr]
    assert _program_document(world, GIT_FLAGS) == _served_document(world)


def test_after_kill_flag_on_a_succeeded_release_an_up_keeps_the_flag_off(world: FlagWorld) -> None:
    """The kill switch after success (`kill-flag`): a bare `up` declares exactly what AppConfig serves,
    and an `up` whose git config says 30% still deploys the flag off."""
    code, _, err = world.run("flag", "--flag", FLAG, *FAST_FLAG)
    assert code == ExitCode.SUCCESS, err
    code, _, err = world.run("kill-flag", "--flag", FLAG)
    assert code == ExitCode.SUCCESS, err
    assert _state(world).flags[FLAG] == FlagState(enabled=False, percentage=0)  # type: ignore[union-attr]
    assert _program_document(world, GIT_FLAGS) == _served_document(world)
    document = flag_doc.parse_document(_program_document(world, {**GIT_FLAGS, FLAG: {"percentage": 30}}))
    assert document["values"][FLAG]["enabled"] is False and document["values"][FLAG]["percentage"] == 0


# -- the program side, directly -------------------------------------------------------------------------
def _args(**flags: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {FLAG_SET: {"environment": "dev", "flags": flags}}


def test_state_of_a_flag_the_stack_no_longer_declares_is_ignored_and_said(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    state = FlagSetState({"a": FlagState(True, 40), "gone": FlagState(True, 10)}, release_id="g-1")
    (tmp_path / "store" / KEY).parent.mkdir(parents=True)
    (tmp_path / "store" / KEY).write_bytes(state.to_json())
    applied = Applied(store=url)
    out = apply_flag_release_state(
        url,
        project="zero-downtime",
        stack="dev",
        flag_sets=_args(a={"percentage": 5, "deny": ["u-9"]}, b={"percentage": 7}),
        base_dir=tmp_path,
        applied=applied,
    )
    assert out[FLAG_SET]["flags"] == {"a": {"percentage": 40, "deny": ["u-9"], "enabled": True}, "b": {"percentage": 7}}
    assert applied.flags == [f"{FLAG_SET}.a"] and applied.ignored == [f"featureFlags.{FLAG_SET}.gone"]
    assert any("gone is ignored" in note for note in applied.notes)


def test_without_a_store_or_state_git_bootstraps_the_flags(tmp_path: Path) -> None:
    args = _args(a={"percentage": 5})
    assert apply_flag_release_state("", project="p", stack="s", flag_sets=args, base_dir=tmp_path) == args
    url = f"file://{tmp_path / 'store'}"
    assert apply_flag_release_state(url, project="p", stack="s", flag_sets=args, base_dir=tmp_path) == args


@pytest.mark.parametrize(
    ("flags", "key"),
    [
        ({"a": {"enabled": "yes", "percentage": 5}}, "flags.a.enabled"),
        ({"a": {"enabled": True, "percentage": 101}}, "flags.a.percentage"),
        ({"a": {"enabled": True, "percentage": -1}}, "flags.a.percentage"),
        ({"a": {"enabled": True}}, "flags.a.percentage"),
        ({"9lives": {"enabled": True, "percentage": 5}}, "flags.9lives"),
        ([], "flags"),
    ],
)
def test_a_damaged_flag_state_fails_the_program_naming_the_key(tmp_path: Path, flags: Any, key: str) -> None:
    import json

    path = tmp_path / "store" / KEY
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"format": 1, "kind": "flags", "flags": flags}))
    with pytest.raises(ConfigError, match=rf"releaseStore: .*{KEY}\.{key}\b"):
        apply_flag_release_state(
            f"file://{tmp_path / 'store'}",
            project="zero-downtime",
            stack="dev",
            flag_sets=_args(a={}),
            base_dir=tmp_path,
        )


def test_flag_state_round_trips_and_refuses_another_kind() -> None:
    state = FlagSetState({"b": FlagState(False, 0), "a": FlagState(True, 25)}, release_id="g-2", updated_at=3.5)
    assert decode_flag_set_state(state.to_json(), "x") == state
    with pytest.raises(Exception, match=r"x\.kind: expected 'flags'"):
        decode_flag_set_state(state.to_json().replace(b'"flags",\n', b'"fleet",\n', 1), "x")
