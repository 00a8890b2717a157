"""Kill the driver in every migration state of a release with expand and contract, then continue
from another checkout through the real CLI once the dead driver's lease expired (issue 15).

The migration commands are local processes (`true`): what is checked is the machine's handling of
the new states, not a schema. After `resume` the release succeeds on green; once the contract has
started, `abort` is refused with exit 6 (frozen) and traffic stays on green.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.driver.cli import ExitCode
from zero_downtime.driver.core.migrations import MIGRATION_STATES

from tests.driver.conftest import StoreSetup
from tests.driver.release_world import FAST, Killed, World, recorded

MIGRATE = ["--strategy", "blue-green", "--bake", "30", "--expand-command", "true", "--compat-command", "true"]
MIGRATE += ["--contract-command", "true", "--contract-delay", "10"]


@pytest.fixture
def world(aws: dict[str, Any], tmp_path: Path, listener: str) -> World:
    return World(aws, StoreSetup("local", f"file://{tmp_path / 'store'}"), tmp_path, listener=listener)


def test_a_release_with_migrations_walks_every_migration_state(world: World) -> None:
    code, out, err = world.checkout().run("deploy", "--image", "repo/web:2", *MIGRATE, *FAST, "--json")
    assert code == ExitCode.SUCCESS, err
    states = [d["state"] for d in json.loads(out)["decisions"] if d["event"] in ("start", "transition")]
    assert [s for s in states if s in MIGRATION_STATES] == list(MIGRATION_STATES)
    assert world.serving() == "green"
    # The decision trail shows each command's outcome and where its log is.
    from zero_downtime.driver.cli import _detail
    from zero_downtime.driver.core.status import Record

    decisions = [d for d in json.loads(out)["decisions"] if "migration" in d["detail"]]
    assert [d["detail"]["migration"]["phase"] for d in decisions] == ["compat", "expand", "contract"]
    for d in decisions:
        line = _detail(Record.from_dict(d, "trail"))
        phase, log = d["detail"]["migration"]["phase"], d["detail"]["migration"]["log_url"]
        assert line.startswith(f"{phase} passed: {phase}: exit 0") and line.endswith(f"(logs: {log})")
        assert Path(log).read_text().startswith("$ true")


@pytest.mark.parametrize("state", MIGRATION_STATES)
def test_killed_in_a_migration_state_resume_finishes(world: World, state: str) -> None:
    a, b = world.checkout(), world.checkout()
    with pytest.raises(Killed):
        a.run("deploy", "--image", "repo/web:2", *MIGRATE, *FAST, die_when=recorded(state))
    code, out, _ = b.run("status", "--json")
    status = json.loads(out)
    assert code == ExitCode.SUCCESS and status["state"] == state
    assert status["frozen"] is (state == "CONTRACTING")
    world.expire_leases()
    if state == "CONTRACTING":
        code, _, err = b.run("abort", "--json", "--no-percentiles")
        assert code == ExitCode.FROZEN and "frozen: roll forward only" in err
        assert world.serving() == "green"
    code, out, err = b.run("resume", "--json", "--no-percentiles")
    assert code == ExitCode.SUCCESS, err
    assert world.serving() == "green" and world.program.violations == []


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--expand-command", "true"], "refused: --compat-command: required with an expand command"),
        (["--contract-command", "'unbalanced"], "refused: --contract-command: cannot split"),
        (["--contract-command", "true", "--contract-delay", "-1"], "refused: --contract-delay: must be 0-"),
        (
            ["--contract-command", "true", "--contract-delay", "600", "--keep-warm", "60"],
            "refused: --keep-warm: must be at least the contract delay (600s)",
        ),
    ],
)
def test_bad_migration_flags_are_refused_naming_the_flag(world: World, flags: list[str], said: str) -> None:
    checkout = world.checkout()
    at = FAST.index("--keep-warm")
    fast = FAST[:at] + FAST[at + 2 :]
    code, _, err = checkout.run("deploy", "--image", "repo/web:2", *fast, *flags)
    assert code == ExitCode.REFUSED and said in err, err
    assert "Traceback" not in err and world.serving() == "blue"
    code, _, _ = checkout.run("status", "--json")
    assert code == ExitCode.REFUSED  # nothing was recorded: no release to show
