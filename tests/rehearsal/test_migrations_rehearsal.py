"""The migration rehearsal end to end, once per module: real HAProxy, app processes and PostgreSQL
15 on 127.0.0.1, the driver's release machine, under a bounded write load (issue 15).

Three scenarios in one run: an expand that breaks v1 (caught by the compatibility gate), a good
expand then contract, and a contract tried while the old version still serves (refused).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from zero_downtime.rehearsal.migrations import (
    MigrationRehearsalConfig,
    MigrationRehearsalResult,
    ReleaseFigures,
    render_markdown,
    run_migration_rehearsal,
)


@pytest.fixture(scope="module")
def result(haproxy_binary: str, tmp_path_factory: pytest.TempPathFactory) -> MigrationRehearsalResult:
    out = tmp_path_factory.mktemp("migrations")
    cfg = MigrationRehearsalConfig(
        rate=80.0, steps=(100,), interval=2.0, keep_warm_seconds=0.5, contract_delay_seconds=0.5, out_dir=out
    )
    return run_migration_rehearsal(cfg, say=lambda line: None)


def scenario(result: MigrationRehearsalResult, name: str) -> ReleaseFigures:
    (found,) = [f for f in result.releases if f.scenario == name]
    return found


def test_an_expand_that_breaks_v1_is_caught_by_the_gate_with_no_failed_request(
    result: MigrationRehearsalResult,
) -> None:
    f = scenario(result, "breaking-expand")
    assert f.state == "ROLLED_BACK" and f.reason.startswith("compatibility gate: the old version (v1) fails")
    assert f.states[:2] == ["PENDING", "COMPAT_GATE"] and "EXPANDING" not in f.states
    assert "DEPLOYING_IDLE" not in f.states  # no new color, no user request ever reached it
    assert (f.revision_before, f.revision_after) == ("0001", "0001")
    assert f.requests > 0 and f.failed == 0


def test_a_good_expand_then_contract_loses_no_write_and_fails_no_request(result: MigrationRehearsalResult) -> None:
    expand, contract = scenario(result, "expand"), scenario(result, "contract")
    assert expand.state == "SUCCEEDED" and (expand.revision_before, expand.revision_after) == ("0001", "0002")
    assert expand.states.index("EXPANDING") < expand.states.index("DEPLOYING_IDLE")
    assert contract.state == "SUCCEEDED" and (contract.revision_before, contract.revision_after) == ("0002", "0003")
    assert contract.states[-3:] == ["CONTRACT_CHECK", "CONTRACTING", "SUCCEEDED"] and contract.frozen
    assert [m["phase"] for m in contract.migrations] == ["contract"] and contract.migrations[0]["log_url"]
    for f in (expand, contract):
        assert f.requests > 0 and f.failed == 0 and f.writes_acknowledged > 0
    # Every write acknowledged under load is readable afterwards, on the contracted schema.
    assert result.final_revision == "0003"
    assert result.writes_acknowledged > 0 and result.writes_missing_after == []
    assert result.writes_readable_after == result.writes_acknowledged
    assert result.total_failed == 0 and result.leftover_pids == []


def test_a_contract_while_the_old_version_serves_is_refused(result: MigrationRehearsalResult) -> None:
    f = scenario(result, "contract-while-old-serves")
    assert "CONTRACT_CHECK" in f.states and "CONTRACTING" not in f.states and not f.frozen
    assert "PAUSED" in f.states and f.refused.startswith("contract refused: green (the old version) still serves")
    assert f.state == "ROLLED_BACK"  # then aborted: the expanded schema still suits the old version
    assert (f.revision_before, f.revision_after) == ("0002", "0002")
    assert f.failed == 0


def test_the_report_shows_the_figures(result: MigrationRehearsalResult, tmp_path: Path) -> None:
    text = render_markdown(result)
    assert "| breaking-expand | v2 | ROLLED_BACK | 0001 -> 0001 |" in text
    assert f"{result.writes_acknowledged} writes acknowledged, {result.writes_readable_after} readable" in text
    assert result.to_dict()["where"].startswith("local: HAProxy")
