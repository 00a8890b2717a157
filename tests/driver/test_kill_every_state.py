"""Kill the driver in every state of a canary and of a blue/green release, then continue from
another checkout once the dead driver's lease has expired: `resume`, or `abort` after a torn last
record. Every state, not a sample (issue 12).

After each: traffic is on one color that has healthy targets, the zero-downtime invariant held
throughout, and the journal still reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.contract.release_state import StoreKeys
from zero_downtime.driver.cli import ExitCode
from zero_downtime.driver.core.flag import FORWARD_STATES as FLAG_FORWARD_STATES
from zero_downtime.driver.core.service import FORWARD_STATES

from tests.driver.conftest import StoreSetup
from tests.driver.flag_world import FAST_FLAG, FLAG, FlagWorld
from tests.driver.release_world import FAST, SERVICE, Killed, World, recorded

STRATEGIES = {
    "canary": ["--strategy", "canary", "--steps", "50,100"],
    "blue-green": ["--strategy", "blue-green", "--bake", "30"],
}
STATES = [*FORWARD_STATES, "ROLLING_BACK"]
CASES = [
    pytest.param(strategy, state, action, id=f"{strategy}-{state}-{action}")
    for strategy in STRATEGIES
    for state in STATES
    for action in ("resume", "abort-after-torn-record")
]


def _kill_and_continue(world: World, strategy: str, state: str, action: str) -> None:
    a, b = world.checkout(), world.checkout()
    if state == "ROLLING_BACK":  # a faulty release: the alarm rolls it back, and the driver dies there
        world.aws["cloudwatch"].set_alarm_state(AlarmName=f"{SERVICE}-green-5xx", StateValue="ALARM", StateReason="t")
    with pytest.raises(Killed):
        a.run("deploy", "--image", "repo/web:2", *STRATEGIES[strategy], *FAST, die_when=recorded(state))
    code, out, _ = b.run("status", "--json")
    assert code == ExitCode.SUCCESS and json.loads(out)["state"] == state
    release_id = json.loads(out)["release_id"]

    if action == "abort-after-torn-record":
        blobs = world.store.blobs()
        keys = StoreKeys("zero-downtime", "dev")
        taken = blobs.list(f"{keys.journal(SERVICE)}{release_id}/")
        blobs.create(keys.record(SERVICE, release_id, len(taken)), b'{"seq": 99, "ts": 17000, "ev')  # torn
    world.expire_leases()
    command = "resume" if action == "resume" else "abort"
    code, out, err = b.run(command, "--json", "--no-percentiles")

    expected = ExitCode.ROLLED_BACK if command == "abort" or state == "ROLLING_BACK" else ExitCode.SUCCESS
    assert code == expected, err
    live = "green" if expected == ExitCode.SUCCESS else "blue"
    assert world.serving() == live and world.healthy(live) >= 1
    assert world.program.violations == []
    # The journal still reads, torn record and all.
    code, out, _ = b.run("status", "--json")
    status = json.loads(out)
    assert code == ExitCode.SUCCESS and status["release_id"] == release_id
    assert status["state"] == ("SUCCEEDED" if live == "green" else "ROLLED_BACK")
    code, out, _ = b.run("history", "--release", release_id, "--json")
    trail = json.loads(out)
    assert code == ExitCode.SUCCESS and trail["release_id"] == release_id
    seqs = [d["seq"] for d in trail["decisions"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    if action == "abort-after-torn-record":
        assert [line for line in trail["unreadable_records"] if "partial or damaged" in line]


@pytest.fixture
def local_world(aws: dict[str, Any], tmp_path: Path, listener: str) -> World:
    return World(aws, StoreSetup("local", f"file://{tmp_path / 'store'}"), tmp_path, listener=listener)


@pytest.mark.parametrize(("strategy", "state", "action"), CASES)
def test_killed_in_every_state_local_store(local_world: World, strategy: str, state: str, action: str) -> None:
    _kill_and_continue(local_world, strategy, state, action)


# -- flag releases (`zdd-release flag`): every state of the flag strategy, resumed or aborted ---------
FLAG_STATES = [*FLAG_FORWARD_STATES, "ROLLING_BACK"]


@pytest.fixture
def flag_world(aws: dict[str, Any], tmp_path: Path) -> FlagWorld:
    return FlagWorld(aws, StoreSetup("local", f"file://{tmp_path / 'store'}"), tmp_path)


@pytest.mark.parametrize("action", ["resume", "abort"])
@pytest.mark.parametrize("state", FLAG_STATES)
def test_flag_release_killed_in_every_state(flag_world: FlagWorld, state: str, action: str) -> None:
    """After a kill in `state` and a continue from another checkout: the flag is served at 100%
    (resumed to the end) or 0% (aborted, or it was rolling back), and the journal reads in order."""
    if state == "ROLLING_BACK":
        flag_world.on_error_rate = 0.5
    with pytest.raises(Killed):
        flag_world.run("flag", "--flag", FLAG, *FAST_FLAG, die_when=recorded(state))
    flag_world.expire_leases()
    code, out, err = flag_world.run(action, "--json")
    rolled_back = action == "abort" or state == "ROLLING_BACK"
    assert code == (ExitCode.ROLLED_BACK if rolled_back else ExitCode.SUCCESS), err
    assert flag_world.appconfig.served_percentage() == (0 if rolled_back else 100)
    seqs = [d["seq"] for d in json.loads(out)["decisions"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
