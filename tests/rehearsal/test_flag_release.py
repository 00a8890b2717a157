"""A flag release through the rehearsal: real app processes reading the flag file through
OpenFeature, the driver's file flag store writing it, flag-on vs flag-off judged from the answers.

Two small runs (about 5 s each): a good flag reaches 100%; a flag whose code path fails is rolled
back and killed to 0% for everyone."""

from __future__ import annotations

from pathlib import Path

import pytest
from zero_downtime.rehearsal.flag_release import FlagRehearsalConfig, main, run_flag_rehearsal


def test_a_good_flag_release_reaches_100_percent_with_stable_buckets(tmp_path: Path) -> None:
    result = run_flag_rehearsal(FlagRehearsalConfig(tmp_path, steps=(30, 100), bake_seconds=2.0, users=60))
    assert result.state == "SUCCEEDED", result.reason
    assert result.served_percentage == 100
    assert result.states.count("BAKING") >= 2
    assert result.failed_on == 0 and result.failed_off == 0
    # two processes, one user, one percentage: the same variant (SHA-256 buckets, not hash())
    assert result.inconsistent_users == 0
    assert result.users_on_both > 10  # ... and the check saw users on both instances
    assert result.requests > 100


def test_a_faulty_flag_is_rolled_back_and_killed(tmp_path: Path) -> None:
    result = run_flag_rehearsal(FlagRehearsalConfig(tmp_path, steps=(30, 100), bake_seconds=2.0, faulty_error_rate=0.5))
    assert result.state == "ROLLED_BACK", result.reason
    assert result.served_percentage == 0
    assert result.failed_on > 0  # the flagged path failed, which is why it was rolled back
    assert result.failed_off == 0  # users without the flag were never hurt
    assert result.on_after_kill == 0  # every request after the kill switch went without the flag
    assert "SUCCEEDED" not in result.states


@pytest.mark.parametrize("argv", [["--steps", "a,b"], ["--faulty", "2"], ["--bake", "0"]])
def test_bad_options_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), *argv]) == 2
    assert "refused: --" in capsys.readouterr().err
    assert not (tmp_path / "flags.json").exists()
