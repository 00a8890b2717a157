"""MetricsSource over CloudWatch: plain ALB metrics per target group, and the colors' alarms.

No metric math: counts come back per period and the error rate is computed here, so the driver
works where math is unavailable (moto returns nothing for it). p99 over a window is the largest
per-minute p99 (a conservative bound). Apdex comes from percentile-rank statistics:
Apdex = (PR(:T) + PR(:4T)) / 2, weighted by each minute's requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ....contract import Color
from ...core.ports import AlarmStatus, WindowMetrics
from .clients import AWS_ERRORS, port_error

log = logging.getLogger(__name__)
NAMESPACE = "AWS/ApplicationELB"
PERIOD = 60


@dataclass(frozen=True)
class ColorAlarms:
    composite: str | None
    members: tuple[str, ...]


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class CloudWatchMetrics:
    """Per-color metrics and alarms for one ALB.

    `percentiles=False` skips the p99/Apdex query, for sources that cannot compute percentile
    statistics (moto answers 500); the analysis then sees p99 and Apdex as missing.
    """

    def __init__(
        self,
        cloudwatch: Any,
        load_balancer_suffix: str,
        target_group_suffixes: dict[Color, str],
        alarms: dict[Color, ColorAlarms],
        *,
        percentiles: bool = True,
        apdex_t_seconds: float = 0.5,
    ) -> None:
        self.cw = cloudwatch
        self.lb = load_balancer_suffix
        self.tgs = dict(target_group_suffixes)
        self.alarm_names = dict(alarms)
        self.percentiles = percentiles
        self.apdex_t = apdex_t_seconds

    def _query(self, qid: str, tg_suffix: str, metric: str, stat: str) -> dict[str, Any]:
        dims = [
            {"Name": "LoadBalancer", "Value": self.lb},
            {"Name": "TargetGroup", "Value": tg_suffix},
        ]
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dims},
                "Period": PERIOD,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    def _fetch(self, queries: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": _ts(start),
            "EndTime": _ts(end),
        }
        for _ in range(20):  # bounded pagination
            try:
                resp = self.cw.get_metric_data(**kwargs)
            except AWS_ERRORS as exc:
                raise port_error("get_metric_data", exc) from exc
            for res in resp.get("MetricDataResults", []):
                entry = out.setdefault(res["Id"], {})
                for ts, value in zip(res.get("Timestamps", []), res.get("Values", []), strict=False):
                    entry[ts] = value
            token = resp.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return out

    def window(self, color: Color, start: float, end: float) -> WindowMetrics:
        return self.target_group_window(self.tgs[color], start, end)

    def target_group_window(self, tg_suffix: str, start: float, end: float) -> WindowMetrics:
        """What one target group served between `start` and `end` (epoch seconds)."""
        if end <= start:
            return WindowMetrics(requests=0, errors_5xx=0)
        counts = self._fetch(
            [
                self._query("req", tg_suffix, "RequestCount", "Sum"),
                self._query("err", tg_suffix, "HTTPCode_Target_5XX_Count", "Sum"),
            ],
            start,
            end,
        )
        per_minute_requests = counts.get("req", {})
        requests = round(sum(per_minute_requests.values()))
        errors = round(sum(counts.get("err", {}).values()))
        p99: float | None = None
        apdex: float | None = None
        if self.percentiles and requests > 0:
            t, t4 = self.apdex_t, 4 * self.apdex_t
            lat = self._fetch(
                [
                    self._query("p99", tg_suffix, "TargetResponseTime", "p99"),
                    self._query("sat", tg_suffix, "TargetResponseTime", f"PR(:{t:g})"),
                    self._query("tol", tg_suffix, "TargetResponseTime", f"PR(:{t4:g})"),
                ],
                start,
                end,
            )
            if lat.get("p99"):
                p99 = float(max(lat["p99"].values()))
            apdex = _apdex(per_minute_requests, lat.get("sat", {}), lat.get("tol", {}))
        return WindowMetrics(requests=requests, errors_5xx=errors, p99_seconds=p99, apdex=apdex)

    def alarms(self, color: Color) -> AlarmStatus:
        return self.alarm_status(self.alarm_names.get(color))

    def alarm_status(self, names: ColorAlarms | None) -> AlarmStatus:
        """Composite first; its members when the composite is absent (e.g. moto has none)."""
        if names is None or (not names.composite and not names.members):
            return AlarmStatus()
        members = self._states(list(names.members), "MetricAlarm") if names.members else {}
        member_detail = ", ".join(f"{n}={s}" for n, s in sorted(members.items()))
        if names.composite:
            composite = self._states([names.composite], "CompositeAlarm")
            if names.composite in composite:
                state = composite[names.composite]
                firing = (names.composite,) if state == "ALARM" else ()
                return AlarmStatus(firing=firing, source="composite", detail=member_detail)
            log.info(
                "composite alarm %s not found; reading its %d member alarms",
                names.composite,
                len(members),
            )
        missing = [n for n in names.members if n not in members]
        detail = member_detail
        if names.composite:
            detail = f"composite {names.composite} not found; members: {member_detail}"
        if missing:
            detail += f"; missing: {', '.join(missing)}"
        firing = tuple(n for n in names.members if members.get(n) == "ALARM")
        return AlarmStatus(firing=firing, source="members", detail=detail)

    def _states(self, names: list[str], kind: str) -> dict[str, str]:
        states: dict[str, str] = {}
        for i in range(0, len(names), 100):  # describe_alarms takes up to 100 names
            try:
                resp = self.cw.describe_alarms(AlarmNames=names[i : i + 100], AlarmTypes=[kind])
            except AWS_ERRORS as exc:
                raise port_error("describe_alarms", exc) from exc
            key = "CompositeAlarms" if kind == "CompositeAlarm" else "MetricAlarms"
            for alarm in resp.get(key, []):
                states[alarm["AlarmName"]] = alarm["StateValue"]
        return states


def _apdex(requests: dict[Any, float], sat: dict[Any, float], tol: dict[Any, float]) -> float | None:
    """Request-weighted Apdex from per-minute percentile ranks (percent of responses <= T, 4T)."""
    total = 0.0
    score = 0.0
    for ts, n in requests.items():
        if ts not in sat or ts not in tol or n <= 0:
            continue
        total += n
        score += n * (sat[ts] + tol[ts]) / 200.0
    return score / total if total > 0 else None


class TargetGroupMetrics:
    """`FleetMetrics` over a fleet's one target group and its alarms.

    Without the load balancer's ARN suffix, ALB metrics cannot be addressed: the window is empty
    (inconclusive, never a pass) and the alarms plus the refresh's own status decide.
    """

    def __init__(
        self,
        metrics: CloudWatchMetrics,
        target_group_suffix: str,
        alarms: ColorAlarms,
        *,
        addressable: bool = True,
    ) -> None:
        self.metrics = metrics
        self.target_group_suffix = target_group_suffix
        self.alarm_names = alarms
        self.addressable = addressable

    def window(self, start: float, end: float) -> WindowMetrics:
        if not self.addressable:
            return WindowMetrics(requests=0, errors_5xx=0)
        return self.metrics.target_group_window(self.target_group_suffix, start, end)

    def alarms(self) -> AlarmStatus:
        return self.metrics.alarm_status(self.alarm_names)
