"""CloudFormation AutoScalingRollingUpdate -> instance refresh preferences: a table of cases."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pytest
from zero_downtime.components.rolling_update_policy import (
    RefreshPreferences,
    parse_pause_time,
    resolve_refresh_preferences,
    translate_rolling_update,
)
from zero_downtime.components.validation import ArgError


@dataclass(frozen=True)
class Translation:
    id: str
    policy: dict[str, Any]
    desired: int
    min_pct: int
    max_pct: int
    warmup: int | None
    note: str | None = None
    """A fragment one of the notes must contain; None means no notes at all."""


TRANSLATIONS = [
    Translation(
        "reference-10-min8-batch2-PT5M",
        {"MinInstancesInService": 8, "MaxBatchSize": 2, "PauseTime": "PT5M"},
        10,
        80,
        100,
        300,
    ),
    Translation("cloudformation-defaults", {}, 10, 90, 100, None),
    Translation(
        "min-above-desired-minus-batch-launches-first",
        {"MinInstancesInService": 9, "MaxBatchSize": 2},
        10,
        90,
        110,
        None,
    ),
    Translation(
        "batch-bounds-in-flight-when-min-is-0", {"MinInstancesInService": 0, "MaxBatchSize": 3}, 10, 70, 100, None
    ),
    Translation("rounding-keeps-min-in-service", {"MinInstancesInService": 2, "MaxBatchSize": 1}, 3, 67, 100, None),
    Translation("batch-larger-than-group", {"MaxBatchSize": 20}, 4, 0, 100, None, note="one batch replaces all"),
    Translation("signals-default-pause-PT5M", {"WaitOnResourceSignals": True}, 10, 90, 100, 300, note="cfn-signal"),
    Translation(
        "signals-with-pause", {"WaitOnResourceSignals": True, "PauseTime": "PT10M"}, 10, 90, 100, 600, note="cfn-signal"
    ),
    Translation("pause-PT0S-kept", {"PauseTime": "PT0S"}, 10, 90, 100, 0),
    Translation("pause-PT1H-is-the-limit", {"PauseTime": "PT1H"}, 10, 90, 100, 3600),
    Translation("pause-minutes-and-seconds", {"PauseTime": "PT1M30S"}, 10, 90, 100, 90),
    Translation("min-successful-below-100", {"MinSuccessfulInstancesPercent": 80}, 10, 90, 100, None, note="stricter"),
    Translation(
        "suspend-processes-not-suspended",
        {"SuspendProcesses": ["AZRebalance", "AlarmNotification"]},
        10,
        90,
        100,
        None,
        note="not suspended",
    ),
    Translation(
        "one-instance-under-1-percent", {"MinInstancesInService": 199}, 200, 100, 101, None, note="raised to 101%"
    ),
    Translation("single-instance-group-warns", {}, 1, 0, 100, None, note="No instance stays in service"),
]


@pytest.mark.parametrize("case", TRANSLATIONS, ids=lambda c: c.id)
def test_translation(case: Translation) -> None:
    prefs = translate_rolling_update(case.policy, case.desired)
    assert (prefs.min_healthy_percentage, prefs.max_healthy_percentage) == (case.min_pct, case.max_pct)
    assert prefs.instance_warmup_seconds == case.warmup
    if case.note is None:
        assert prefs.notes == ()
    else:
        assert any(case.note in n for n in prefs.notes), prefs.notes


def test_capacity_is_kept_and_batches_are_bounded_for_every_small_group() -> None:
    """For every group up to 25 instances: never fewer than MinInstancesInService healthy, never
    more than MaxBatchSize in flight, whatever way AWS rounds the healthy count."""
    for desired in range(1, 26):
        for in_service in range(desired):
            for batch in range(1, desired + 2):
                policy = {"MinInstancesInService": in_service, "MaxBatchSize": batch}
                prefs = translate_rolling_update(policy, desired)
                low, high = prefs.min_healthy_percentage, prefs.max_healthy_percentage
                kept = math.floor(low * desired / 100)
                ceiling = math.floor(high * desired / 100)
                assert kept >= in_service, (desired, in_service, batch, low)
                assert ceiling - kept <= min(batch, desired), (desired, in_service, batch, low, high)
                assert 0 <= low < high <= 200 and high - low <= 100


@dataclass(frozen=True)
class Invalid:
    id: str
    policy: Any
    key: str
    desired: int = 10


INVALID_POLICIES = [
    Invalid("min-in-service-equals-desired", {"MinInstancesInService": 10}, "MinInstancesInService"),
    Invalid("min-in-service-above-desired", {"MinInstancesInService": 12}, "MinInstancesInService"),
    Invalid("min-in-service-negative", {"MinInstancesInService": -1}, "MinInstancesInService"),
    Invalid("min-in-service-text", {"MinInstancesInService": "8"}, "MinInstancesInService"),
    Invalid("batch-zero", {"MaxBatchSize": 0}, "MaxBatchSize"),
    Invalid("batch-negative", {"MaxBatchSize": -2}, "MaxBatchSize"),
    Invalid("batch-boolean", {"MaxBatchSize": True}, "MaxBatchSize"),
    Invalid("pause-over-PT1H", {"PauseTime": "PT1H1S"}, "PauseTime"),
    Invalid("pause-PT2H", {"PauseTime": "PT2H"}, "PauseTime"),
    Invalid("pause-61-minutes", {"PauseTime": "PT61M"}, "PauseTime"),
    Invalid("pause-not-iso", {"PauseTime": "5m"}, "PauseTime"),
    Invalid("pause-empty-duration", {"PauseTime": "PT"}, "PauseTime"),
    Invalid("pause-days", {"PauseTime": "P1D"}, "PauseTime"),
    Invalid("pause-number", {"PauseTime": 300}, "PauseTime"),
    Invalid("success-above-100", {"MinSuccessfulInstancesPercent": 101}, "MinSuccessfulInstancesPercent"),
    Invalid("success-negative", {"MinSuccessfulInstancesPercent": -1}, "MinSuccessfulInstancesPercent"),
    Invalid("signals-not-boolean", {"WaitOnResourceSignals": "yes"}, "WaitOnResourceSignals"),
    Invalid("suspend-launch", {"SuspendProcesses": ["Launch"]}, "SuspendProcesses"),
    Invalid("suspend-terminate", {"SuspendProcesses": ["AZRebalance", "Terminate"]}, "SuspendProcesses"),
    Invalid("suspend-instance-refresh", {"SuspendProcesses": ["InstanceRefresh"]}, "SuspendProcesses"),
    Invalid("suspend-unknown-process", {"SuspendProcesses": ["Reboot"]}, "SuspendProcesses"),
    Invalid("suspend-not-a-list", {"SuspendProcesses": "AZRebalance"}, "SuspendProcesses"),
    Invalid("unknown-field", {"MaxBatch": 2}, "MaxBatch"),
    Invalid("snake-case-field", {"max_batch_size": 2}, "max_batch_size"),
]


@pytest.mark.parametrize("case", INVALID_POLICIES, ids=lambda c: c.id)
def test_impossible_policy_names_the_field(case: Invalid) -> None:
    with pytest.raises(ArgError, match=rf"^fleets\.api\.rollingUpdate\.{re.escape(case.key)}: "):
        translate_rolling_update(case.policy, case.desired, where="fleets.api.rollingUpdate")


def test_policy_must_be_a_mapping() -> None:
    with pytest.raises(ArgError, match=r"^rollingUpdate: must be a mapping"):
        translate_rolling_update(["MaxBatchSize", 2], 10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT0S", 0), ("PT45S", 45), ("PT5M", 300), ("PT1M30S", 90), ("PT1H", 3600), ("PT0H59M60S", 3600)],
)
def test_pause_time_parses_iso_8601(text: str, seconds: int) -> None:
    assert parse_pause_time(text) == seconds


# Explicit preferences override the translation; impossible combinations are refused.


def test_explicit_preferences_override_the_translation() -> None:
    prefs = resolve_refresh_preferences(
        desired_capacity=10,
        rolling_update={"MinInstancesInService": 8, "MaxBatchSize": 2, "PauseTime": "PT5M"},
        instance_refresh={"max_healthy_percentage": 120, "checkpoint_percentages": [20, 100], "skip_matching": False},
    )
    assert (prefs.min_healthy_percentage, prefs.max_healthy_percentage) == (80, 120)
    assert prefs.instance_warmup_seconds == 300
    assert prefs.checkpoint_percentages == (20, 100)
    assert prefs.skip_matching is False and prefs.auto_rollback is True


def test_without_a_policy_aws_defaults_apply() -> None:
    prefs = resolve_refresh_preferences(desired_capacity=4)
    assert prefs == RefreshPreferences(min_healthy_percentage=90, max_healthy_percentage=100)


def test_partial_checkpoints_are_allowed_with_a_note() -> None:
    prefs = resolve_refresh_preferences(desired_capacity=4, instance_refresh={"checkpoint_percentages": [50]})
    assert any("stops there" in n for n in prefs.notes)


@dataclass(frozen=True)
class InvalidPreferences:
    id: str
    instance_refresh: dict[str, Any]
    key: str
    rolling_update: dict[str, Any] | None = None


INVALID_PREFERENCES = [
    InvalidPreferences("min-equals-max", {"min_healthy_percentage": 100}, "max_healthy_percentage"),
    InvalidPreferences(
        "min-above-max", {"min_healthy_percentage": 100, "max_healthy_percentage": 100}, "max_healthy_percentage"
    ),
    InvalidPreferences(
        "override-closes-the-gap",
        {"min_healthy_percentage": 100},
        "max_healthy_percentage",
        {"MinInstancesInService": 8, "MaxBatchSize": 2},
    ),
    InvalidPreferences(
        "gap-over-100", {"min_healthy_percentage": 0, "max_healthy_percentage": 150}, "max_healthy_percentage"
    ),
    InvalidPreferences("min-above-100", {"min_healthy_percentage": 101}, "min_healthy_percentage"),
    InvalidPreferences("max-below-100", {"max_healthy_percentage": 99}, "max_healthy_percentage"),
    InvalidPreferences("max-above-200", {"max_healthy_percentage": 201}, "max_healthy_percentage"),
    InvalidPreferences("warmup-negative", {"instance_warmup_seconds": -1}, "instance_warmup_seconds"),
    InvalidPreferences("checkpoints-descending", {"checkpoint_percentages": [50, 40]}, "checkpoint_percentages"),
    InvalidPreferences("checkpoints-repeated", {"checkpoint_percentages": [50, 50, 100]}, "checkpoint_percentages"),
    InvalidPreferences("checkpoint-zero", {"checkpoint_percentages": [0, 100]}, "checkpoint_percentages"),
    InvalidPreferences("checkpoints-empty", {"checkpoint_percentages": []}, "checkpoint_percentages"),
    InvalidPreferences("delay-without-checkpoints", {"checkpoint_delay_seconds": 600}, "checkpoint_delay_seconds"),
    InvalidPreferences(
        "delay-over-48h",
        {"checkpoint_percentages": [50, 100], "checkpoint_delay_seconds": 172_801},
        "checkpoint_delay_seconds",
    ),
    InvalidPreferences("skip-matching-text", {"skip_matching": "yes"}, "skip_matching"),
    InvalidPreferences("auto-rollback-number", {"auto_rollback": 1}, "auto_rollback"),
    InvalidPreferences("unknown-preference", {"bake_time": 60}, "bake_time"),
]


@pytest.mark.parametrize("case", INVALID_PREFERENCES, ids=lambda c: c.id)
def test_impossible_preferences_name_the_key(case: InvalidPreferences) -> None:
    with pytest.raises(ArgError, match=rf"^instance_refresh\.{case.key}: "):
        resolve_refresh_preferences(
            desired_capacity=10, rolling_update=case.rolling_update, instance_refresh=case.instance_refresh
        )


def test_errors_use_the_callers_key_names() -> None:
    with pytest.raises(
        ArgError, match=r"^fleets\.api\.instanceRefresh\.checkpointDelaySeconds: needs checkpointPercentages"
    ):
        resolve_refresh_preferences(
            desired_capacity=10,
            instance_refresh={"checkpoint_delay_seconds": 60},
            instance_refresh_key="fleets.api.instanceRefresh",
            field_names={
                "checkpoint_delay_seconds": "checkpointDelaySeconds",
                "checkpoint_percentages": "checkpointPercentages",
            },
        )


def test_boto3_and_provider_shapes_carry_the_same_preferences() -> None:
    prefs = resolve_refresh_preferences(
        desired_capacity=10,
        rolling_update={"MinInstancesInService": 8, "MaxBatchSize": 2, "PauseTime": "PT5M"},
        instance_refresh={"checkpoint_percentages": [50, 100], "checkpoint_delay_seconds": 600},
    )
    alarms = ["fleet-5xx-rate", "fleet-p99-latency"]
    boto = prefs.to_boto3(alarms)
    provider = prefs.to_provider_args(alarms)
    assert boto["MinHealthyPercentage"] == provider["min_healthy_percentage"] == 80
    assert boto["MaxHealthyPercentage"] == provider["max_healthy_percentage"] == 100
    assert boto["InstanceWarmup"] == int(provider["instance_warmup"]) == 300
    assert boto["CheckpointDelay"] == int(provider["checkpoint_delay"]) == 600
    assert boto["AlarmSpecification"] == {"Alarms": alarms}
    assert provider["alarm_specification"] == {"alarms": alarms}
    assert boto["AutoRollback"] is provider["auto_rollback"] is True
