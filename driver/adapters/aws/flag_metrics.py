"""FlagMetrics over CloudWatch: the service's own per-variant metrics, and the flag set's alarms.

The load balancer cannot tell which requests a flag changed, so the service publishes them: in the
namespace `ZeroDowntime/Flags`, metrics `Requests`, `Errors5xx` (Sum) and `Latency` (milliseconds,
p99), with the dimensions `FlagSet`, `Flag` and `Variant` (`on` / `off`). The sample app writes them
in CloudWatch's embedded metric format with `APP_EMF_METRICS` and `APP_FLAG_SET`
(`app/flag_metrics.py`); the rehearsal reads the variant each answer carries instead.
"""

from __future__ import annotations

from typing import Any

from ....contract import FeatureFlagsOutputs
from ...core.ports import AlarmStatus, Variant, WindowMetrics
from .clients import AWS_ERRORS, port_error
from .metrics import CloudWatchMetrics

NAMESPACE = "ZeroDowntime/Flags"
PERIOD = 60


class CloudWatchFlagMetrics:
    def __init__(self, cloudwatch: Any, flags: FeatureFlagsOutputs, *, percentiles: bool = True) -> None:
        self.cw = cloudwatch
        self.flags = flags
        self.percentiles = percentiles
        self._fetcher = CloudWatchMetrics(cloudwatch, "", {}, {}, percentiles=percentiles)

    def _query(self, qid: str, flag: str, variant: Variant, metric: str, stat: str) -> dict[str, Any]:
        dims = [
            {"Name": "FlagSet", "Value": self.flags.name},
            {"Name": "Flag", "Value": flag},
            {"Name": "Variant", "Value": variant},
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

    def window(self, flag: str, variant: Variant, start: float, end: float) -> WindowMetrics:
        if end <= start:
            return WindowMetrics(requests=0, errors_5xx=0)
        queries = [self._query("req", flag, variant, "Requests", "Sum")]
        queries.append(self._query("err", flag, variant, "Errors5xx", "Sum"))
        if self.percentiles:
            queries.append(self._query("p99", flag, variant, "Latency", "p99"))
        data = self._fetcher._fetch(queries, start, end)
        requests = round(sum(data.get("req", {}).values()))
        errors = round(sum(data.get("err", {}).values()))
        p99 = float(max(data["p99"].values())) / 1000 if data.get("p99") else None  # milliseconds -> seconds
        return WindowMetrics(requests=requests, errors_5xx=errors, p99_seconds=p99)

    def alarms(self) -> AlarmStatus:
        names = list(self.flags.alarm_names)
        if not names:
            return AlarmStatus()
        states: dict[str, str] = {}
        try:
            resp = self.cw.describe_alarms(AlarmNames=names[:100], AlarmTypes=["CompositeAlarm", "MetricAlarm"])
        except AWS_ERRORS as exc:
            raise port_error("describe_alarms", exc) from exc
        for alarm in [*resp.get("CompositeAlarms", []), *resp.get("MetricAlarms", [])]:
            states[alarm["AlarmName"]] = alarm["StateValue"]
        missing = [n for n in names if n not in states]
        detail = ", ".join(f"{n}={s}" for n, s in sorted(states.items()))
        if missing:
            detail += f"; missing: {', '.join(missing)}"
        firing = tuple(n for n in names if states.get(n) == "ALARM")
        return AlarmStatus(firing=firing, source="members", detail=detail)
