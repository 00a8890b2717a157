"""Feature flags: a stable bucket across processes, percentages, allow-list, kill switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from zero_downtime.app.flags import BUCKETS, FlagRule, bucket, is_enabled, parse_flags
from zero_downtime.rehearsal.processes import PROJECT_ROOT

USERS = [f"user-{i}" for i in range(10_000)]


def _buckets_in_child(seed: str, users: list[str]) -> list[int]:
    code = (
        "import json, sys; from app.flags import bucket; "
        "print(json.dumps([bucket('checkout', u) for u in json.load(sys.stdin)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(users),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONHASHSEED": seed},
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def test_same_bucket_in_two_processes_with_different_hash_seeds() -> None:
    users = USERS[:500]
    first = _buckets_in_child("1", users)
    second = _buckets_in_child("2", users)
    assert first == second
    assert first == [bucket("checkout", u) for u in users]
    # The buckets are spread, not constant: the comparison above means something.
    assert len(set(first)) > 400


def test_python_hash_would_not_be_stable() -> None:
    """Why the flag uses SHA-256: hash() of the same string differs between processes."""
    code = "print(hash('checkout:user-1'))"
    values = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(values) == 2


@pytest.mark.parametrize("percent", [1, 10, 25, 50, 90])
def test_percentage_holds_within_tolerance_over_10000_users(percent: int) -> None:
    rule = FlagRule(percent=percent)
    enabled = sum(is_enabled(rule, "checkout", u) for u in USERS)
    assert abs(enabled / len(USERS) - percent / 100) < 0.015


def test_rollout_grows_monotonically() -> None:
    """Raising the percentage only adds users: nobody flips off during a rollout."""
    at_10 = {u for u in USERS if is_enabled(FlagRule(percent=10), "checkout", u)}
    at_30 = {u for u in USERS if is_enabled(FlagRule(percent=30), "checkout", u)}
    assert at_10 < at_30


def test_allow_list_and_kill_switch() -> None:
    outsider = next(u for u in USERS if bucket("checkout", u) >= BUCKETS // 2)
    assert not is_enabled(FlagRule(percent=0), "checkout", "alice")
    assert is_enabled(FlagRule(percent=0, allow=frozenset({"alice"})), "checkout", "alice")
    assert not is_enabled(FlagRule(percent=50), "checkout", outsider)
    killed = FlagRule(percent=100, allow=frozenset({"alice"}), killed=True)
    assert not is_enabled(killed, "checkout", "alice")
    assert not any(is_enabled(killed, "checkout", u) for u in USERS[:100])


def test_parse_flags_reads_rules() -> None:
    rules = parse_flags({"checkout": {"percent": 25, "allow": ["alice"], "killed": False}})
    assert rules == {"checkout": FlagRule(percent=25.0, allow=frozenset({"alice"}), killed=False)}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"checkout": {"percent": 101}}, r"checkout\.percent"),
        ({"checkout": {"percent": "10"}}, r"checkout\.percent"),
        ({"checkout": {"allow": "alice"}}, r"checkout\.allow"),
        ({"checkout": {"killed": "yes"}}, r"checkout\.killed"),
        ({"checkout": {"pct": 5}}, r"checkout: unknown key\(s\) pct"),
        ([1, 2], "expected an object"),
    ],
    ids=["percent-range", "percent-type", "allow-type", "killed-type", "unknown-key", "not-object"],
)
def test_parse_flags_names_the_bad_key(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_flags(raw)
