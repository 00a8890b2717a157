"""The kill-in-every-state runs of test_kill_every_state.py on the S3 backend (moto server): every
state of a canary release, continued with `resume` from another checkout. (The local-store module
runs both strategies, `resume` and `abort` after a torn record, in every state.) A module of its
own, so the suite's workers run it beside the local-store one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.driver.conftest import StoreSetup
from tests.driver.release_world import World
from tests.driver.test_kill_every_state import STATES, _kill_and_continue


@pytest.fixture
def s3_world(aws: dict[str, Any], tmp_path: Path, listener: str) -> World:
    aws["s3"].create_bucket(Bucket="zdd-kill-tests")
    return World(aws, StoreSetup("s3", "s3://zdd-kill-tests/releases", aws["s3"]), tmp_path, listener=listener)


@pytest.mark.parametrize("state", STATES)
def test_killed_in_every_state_s3_store(s3_world: World, state: str) -> None:
    _kill_and_continue(s3_world, "canary", state, "resume")


def test_a_damaged_record_on_s3_never_blocks_an_abort(s3_world: World) -> None:
    _kill_and_continue(s3_world, "canary", "BAKING", "abort-after-torn-record")
