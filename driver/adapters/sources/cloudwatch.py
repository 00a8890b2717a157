"""The `cloudwatch` metric source: one metric of any namespace, read with GetMetricData.

A query (validated by `driver/core/metric_checks.py`) names the namespace, metric, dimensions
(`{color}` is replaced by the color read), statistic and period. Period 1 reads high-resolution
metrics at their 1-second storage (the sample app's EMF metrics); CloudWatch keeps 1-second data for
3 hours, so a window is cut to its last 3 hours (24 hours for periods of a minute or more).

No metric math (moto answers nothing for it): the source asks for the metric and its sample count
(or, with `divide_by`, the Sum of the second metric) and combines the periods here:

| stat                  | value over the window                        | sample                  |
| --------------------- | -------------------------------------------- | ----------------------- |
| Sum                   | sum of the periods                           | SampleCount of the metric |
| Sum + `divide_by`     | Sum(metric) / Sum(divide_by)                 | Sum(divide_by)          |
| SampleCount           | sum of the periods                           | the same                |
| Average               | average weighted by each period's count      | SampleCount             |
| Minimum / Maximum     | smallest / largest period                    | SampleCount             |
| pNN                   | largest period's pNN (conservative for tails) | SampleCount             |
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ....contract import Color
from ...core.errors import PortError
from ...core.metric_checks import MetricSample, substitute
from ..aws.clients import AWS_ERRORS, port_error

HIGH_RESOLUTION_WINDOW_SECONDS = 3 * 3600
MAX_WINDOW_SECONDS = 24 * 3600
MAX_PAGES = 50


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class CloudWatchSource:
    """`MetricSource` over a boto3 CloudWatch client (the driver's own, with standard retries)."""

    def __init__(self, cloudwatch: Any, *, max_pages: int = MAX_PAGES) -> None:
        self.cw = cloudwatch
        self.max_pages = max_pages

    def read(self, query: Mapping[str, Any], color: Color, start: float, end: float) -> MetricSample:
        period = int(query["period"])
        limit = HIGH_RESOLUTION_WINDOW_SECONDS if period < 60 else MAX_WINDOW_SECONDS
        end_s = math.floor(end)
        start_s = max(math.floor(start), end_s - limit)
        if end_s <= start_s:
            return MetricSample(None, 0)
        # In the file's order: CloudWatch matches dimensions as a set, moto in order.
        dims = [{"Name": k, "Value": substitute(v, color=color)} for k, v in query["dimensions"].items()]
        stat = str(query["stat"])
        divide_by = query.get("divide_by")
        queries = [self._query("v", query, query["metric"], dims, stat)]
        if divide_by:
            queries.append(self._query("d", query, divide_by, dims, "Sum"))
        elif stat != "SampleCount":
            queries.append(self._query("n", query, query["metric"], dims, "SampleCount"))
        series = self._fetch(queries, start_s, end_s)
        return _combine(stat, series.get("v", {}), series.get("n", {}), series.get("d") if divide_by else None)

    @staticmethod
    def _query(qid: str, query: Mapping[str, Any], metric: str, dims: list[dict[str, str]], stat: str) -> dict:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": query["namespace"], "MetricName": metric, "Dimensions": dims},
                "Period": int(query["period"]),
                "Stat": stat,
            },
            "ReturnData": True,
        }

    def _fetch(self, queries: list[dict[str, Any]], start: int, end: int) -> dict[str, dict[Any, float]]:
        out: dict[str, dict[Any, float]] = {q["Id"]: {} for q in queries}
        kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": _ts(start), "EndTime": _ts(end)}
        for _ in range(self.max_pages):
            try:
                resp = self.cw.get_metric_data(**kwargs)
            except AWS_ERRORS as exc:
                raise port_error("get_metric_data", exc) from exc
            for res in resp.get("MetricDataResults", []):
                status = res.get("StatusCode", "Complete")
                if status in ("InternalError", "Forbidden"):
                    detail = "; ".join(f"{m.get('Code')}: {m.get('Value')}" for m in res.get("Messages", []))
                    raise PortError(f"get_metric_data: {res.get('Id')} {status}" + (f" ({detail})" if detail else ""))
                entry = out.setdefault(res["Id"], {})
                for ts, value in zip(res.get("Timestamps", []), res.get("Values", []), strict=False):
                    entry[ts] = float(value)
            token = resp.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token
        raise PortError(f"get_metric_data: more than {self.max_pages} pages for one window; shorten the bake")


def _combine(
    stat: str, values: dict[Any, float], counts: dict[Any, float], divisor: dict[Any, float] | None
) -> MetricSample:
    """One value and sample size from per-period series (see the module's table)."""
    if divisor is not None:
        denominator = sum(divisor.values())
        return MetricSample(sum(values.values()) / denominator if denominator > 0 else None, denominator)
    if stat == "SampleCount":
        total = sum(values.values())
        return MetricSample(total if values else None, total)
    sample = sum(counts.values())
    if not values:
        return MetricSample(None, sample)
    if stat == "Sum":
        return MetricSample(sum(values.values()), sample)
    if stat == "Average":
        weighted = [(v, counts[t]) for t, v in values.items() if counts.get(t, 0) > 0]
        weight = sum(n for _, n in weighted)
        return MetricSample(sum(v * n for v, n in weighted) / weight if weight > 0 else None, sample)
    if stat == "Minimum":
        return MetricSample(min(values.values()), sample)
    return MetricSample(max(values.values()), sample)  # Maximum, and pNN (largest period: conservative)
