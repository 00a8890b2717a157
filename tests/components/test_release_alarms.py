"""ReleaseAlarms: three metric alarms and a composite, none of which fires on a color without traffic."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from zero_downtime.components.validation import ArgError
from zero_downtime.contract.types import ResourceType as T
from zero_downtime.offline.evaluate import Evaluation, run_under_mocks
from zero_downtime.offline.mocks import RecordingMocks

TG_SUFFIX = "targetgroup/web-green/0123"
LB_SUFFIX = "app/alb/4567"


def build(**overrides: Any) -> Evaluation:
    from zero_downtime.components.release_alarms import ReleaseAlarms

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
    from zero_downtime.components.release_alarms import ReleaseAlarms

    mocks = RecordingMocks()
    args = {"load_balancer_arn_suffix": LB_SUFFIX, "target_group_arn_suffix": TG_SUFFIX, "service": "web"}
    with pytest.raises(ArgError, match=key):
        run_under_mocks(lambda: ReleaseAlarms("x", {**args, "thresholds": thresholds}), mocks=mocks)
    assert mocks.resources == []


def test_resolve_fills_in_the_default_thresholds_once() -> None:
    from zero_downtime.components.release_alarms import DEFAULT_THRESHOLDS, AlarmThresholds, resolve_release_alarms

    settings = resolve_release_alarms({"service": "web", "thresholds": {"period_seconds": 30}})  # type: ignore[typeddict-item]
    assert settings.thresholds == AlarmThresholds(
        error_rate_percent=DEFAULT_THRESHOLDS.error_rate_percent,
        p99_latency_seconds=DEFAULT_THRESHOLDS.p99_latency_seconds,
        period_seconds=30,
        evaluation_periods=DEFAULT_THRESHOLDS.evaluation_periods,
        datapoints_to_alarm=DEFAULT_THRESHOLDS.datapoints_to_alarm,
    )
    assert settings.thresholds.as_args()["period_seconds"] == 30
    assert (settings.service, settings.color, settings.tags) == ("web", None, {})


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ({"load_balancer_arn_suffix": LB_SUFFIX, "target_group_arn_suffix": TG_SUFFIX}, "service"),
        ({"service": "web", "target_group_arn_suffix": TG_SUFFIX}, "load_balancer_arn_suffix"),
        ({"service": "web", "load_balancer_arn_suffix": LB_SUFFIX}, "target_group_arn_suffix"),
    ],
    ids=["service", "load-balancer", "target-group"],
)
def test_missing_inputs_are_refused_before_any_alarm_exists(args: dict[str, Any], key: str) -> None:
    from zero_downtime.components.release_alarms import ReleaseAlarms

    mocks = RecordingMocks()
    with pytest.raises(ArgError) as raised:
        run_under_mocks(lambda: ReleaseAlarms("x", args), mocks=mocks)  # type: ignore[arg-type]
    assert raised.value.key == key
    assert mocks.resources == []


def test_children_are_the_registered_alarms() -> None:
    from zero_downtime.components.release_alarms import ReleaseAlarms

    from tests.components.children import export_urns, registered_children

    built: list[ReleaseAlarms] = []

    def program() -> None:
        alarms = ReleaseAlarms(
            "web-green",
            {"load_balancer_arn_suffix": LB_SUFFIX, "target_group_arn_suffix": TG_SUFFIX, "service": "web"},
        )
        built.append(alarms)
        export_urns(
            {
                "error_rate_alarm": alarms.error_rate_alarm,
                "latency_alarm": alarms.latency_alarm,
                "unhealthy_hosts_alarm": alarms.unhealthy_hosts_alarm,
                "composite_alarm": alarms.composite_alarm,
            }
        )

    ev = run_under_mocks(program, stack="unit")
    assert registered_children(ev) == {
        "error_rate_alarm": (T.METRIC_ALARM, "web-green-5xx-rate"),
        "latency_alarm": (T.METRIC_ALARM, "web-green-p99-latency"),
        "unhealthy_hosts_alarm": (T.METRIC_ALARM, "web-green-unhealthy-hosts"),
        "composite_alarm": (T.COMPOSITE_ALARM, "web-green-health"),
    }
    [alarms] = built
    assert alarms.metric_alarms == [alarms.error_rate_alarm, alarms.latency_alarm, alarms.unhealthy_hosts_alarm]
    # No topic given: the composite notifies nobody.
    [composite] = ev.of_type(T.COMPOSITE_ALARM)
    assert composite.inputs["alarmActions"] == []
