"""ReleaseAlarms: three metric alarms and a composite, none of which fires on a color without traffic."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.resource_types import ResourceType as T
from components.validation import ArgError
from offline.evaluate import Evaluation, run_under_mocks
from offline.mocks import RecordingMocks

TG_SUFFIX = "targetgroup/web-green/0123"
LB_SUFFIX = "app/alb/4567"


def build(**overrides: Any) -> Evaluation:
    from components.release_alarms import ReleaseAlarms

    args = {
        "load_balancer_arn_suffix": LB_SUFFIX,
        "target_group_arn_suffix": TG_SUFFIX,
        "service": "web",
        "color": "green",
        "notification_topic_arn": "arn:aws:sns:us-east-1:123456789012:releases",
        **overrides,
    }

    def program() -> None:
        alarms = ReleaseAlarms("web-green", args)
        pulumi.export("composite", alarms.composite_alarm_name)
        pulumi.export("members", alarms.alarm_names)

    return run_under_mocks(program, stack="unit")


def by_suffix(ev: Evaluation, suffix: str) -> dict[str, Any]:
    [alarm] = [a for a in ev.of_type(T.METRIC_ALARM) if a.name.endswith(suffix)]
    return alarm.inputs


def test_defaults_from_the_article() -> None:
    ev = build()
    assert by_suffix(ev, "5xx-rate")["threshold"] == 5
    assert by_suffix(ev, "p99-latency")["threshold"] == 2
    assert by_suffix(ev, "unhealthy-hosts")["threshold"] == 0
    for alarm in ev.of_type(T.METRIC_ALARM):
        assert alarm.inputs["treatMissingData"] == "notBreaching"
        assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm.inputs["tags"]["color"] == "green"


def test_error_rate_is_metric_math_over_plain_counts() -> None:
    queries = by_suffix(build(), "5xx-rate")["metricQueries"]
    by_id = {q["id"]: q for q in queries}
    assert by_id["errors"]["metric"]["metricName"] == "HTTPCode_Target_5XX_Count"
    assert by_id["requests"]["metric"]["metricName"] == "RequestCount"
    assert by_id["error_rate"]["returnData"] is True
    assert "100 * FILL(errors, 0) / requests" in by_id["error_rate"]["expression"]
    returned = [q for q in queries if q.get("returnData")]
    assert len(returned) == 1  # CloudWatch requires exactly one returned series


def test_composite_alarm_covers_every_member_and_notifies() -> None:
    ev = build()
    [composite] = ev.of_type(T.COMPOSITE_ALARM)
    assert sorted(ev.outputs["members"]) == sorted(a.inputs["name"] for a in ev.of_type(T.METRIC_ALARM))
    for name in ev.outputs["members"]:
        assert f'ALARM("{name}")' in composite.inputs["alarmRule"]
    assert composite.inputs["alarmActions"] == ["arn:aws:sns:us-east-1:123456789012:releases"]
    assert ev.outputs["composite"] == composite.inputs["alarmName"]
    assert ev.outputs["composite"].startswith("zero-downtime-unit-")


def test_thresholds_and_periods_are_configurable() -> None:
    ev = build(thresholds={"error_rate_percent": 1, "p99_latency_seconds": 0.5, "period_seconds": 30})
    assert by_suffix(ev, "5xx-rate")["threshold"] == 1
    latency = by_suffix(ev, "p99-latency")
    assert (latency["threshold"], latency["period"]) == (0.5, 30)


@pytest.mark.parametrize(
    ("thresholds", "key"),
    [
        ({"error_rate_percent": 0}, "thresholds.error_rate_percent"),
        ({"p99_latency_seconds": -1}, "thresholds.p99_latency_seconds"),
        ({"period_seconds": 45}, "thresholds.period_seconds"),
        ({"evaluation_periods": 2, "datapoints_to_alarm": 3}, "thresholds.datapoints_to_alarm"),
        ({"error_rate": 3}, "thresholds.error_rate"),
    ],
    ids=["zero-error-rate", "negative-latency", "odd-period", "more-datapoints-than-periods", "unknown-key"],
)
def test_bad_thresholds_are_refused_before_any_alarm_exists(thresholds: dict[str, Any], key: str) -> None:
    from components.release_alarms import ReleaseAlarms

    mocks = RecordingMocks()
    args = {"load_balancer_arn_suffix": LB_SUFFIX, "target_group_arn_suffix": TG_SUFFIX, "service": "web"}
    with pytest.raises(ArgError, match=key):
        run_under_mocks(lambda: ReleaseAlarms("x", {**args, "thresholds": thresholds}), mocks=mocks)
    assert mocks.resources == []
