"""The evidence bench's bookkeeping (`bench/evidence.py`): what it counts and says for each run."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.paths import REPO_ROOT


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("evidence_bench", REPO_ROOT / "bench" / "evidence.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _fault_summary(state: str, reason: str) -> dict[str, object]:
    return {
        "good_release_state": None,
        "bad_release_state": state,
        "bad_release_reason": reason,
        "bad_release_failed_beyond_background": 3,
        "bad_release_caught_before_users": False,
        "bad_version_share_release": 0.1,
        "rollback_seconds": 61.5,
    }


def test_a_fault_that_was_not_rolled_back_is_counted_out_and_says_why() -> None:
    bench = _bench()
    row = bench.Row("30% errors, lag 60s, no synthetic", ())
    outcome = bench.Outcome()
    bench.record(outcome, row, _fault_summary("ROLLED_BACK", "alarm in ALARM: api-green-5xx"))
    bench.record(outcome, row, _fault_summary("FAILED", "rollback refused by the interlock: blue has 0"))
    assert outcome.rolled_back == 1
    assert outcome.not_rolled_back == ["FAILED: rollback refused by the interlock: blue has 0"]
    assert outcome.beyond_background == [3, 3] and outcome.restores == [61.5, 61.5]


def test_a_good_release_rolled_back_is_a_false_alarm_with_its_reason() -> None:
    bench = _bench()
    row = bench.Row("good, noise 0.005:20", (), good=True)
    outcome = bench.Outcome()
    summary = {
        "good_release_state": "ROLLED_BACK",
        "good_release_reason": "conclusive: probes: ...",
        "good_release_failed_beyond_background": 0,
    }
    bench.record(outcome, row, summary)
    assert outcome.false_alarms == ["conclusive: probes: ..."] and outcome.not_rolled_back == []
