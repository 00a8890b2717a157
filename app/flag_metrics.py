"""Per-variant request metrics of the flags, as CloudWatch EMF: what the driver's flag analysis reads.

A load balancer cannot tell which requests a flag changed, so the service counts them itself: for
every `/work` request and every flag, the request is added to the flag's `on` or `off` series. With
`APP_EMF_METRICS` and `APP_FLAG_SET`, each finished second of each series becomes one EMF line on
stdout, in the namespace `ZeroDowntime/Flags` with the dimensions `FlagSet`, `Flag` and `Variant`:
`Requests` and `Errors5xx` (Count) and `Latency` (Milliseconds, a Values/Counts histogram, so
CloudWatch answers p99). `driver/adapters/aws/flag_metrics.py` reads exactly these.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from .metrics import RequestMetrics, Second

NAMESPACE = "ZeroDowntime/Flags"
MAX_SERIES = 200
"""Flag x variant series kept (100 flags): memory stays bounded whatever the document holds."""


def flag_emf_document(s: Second, flag_set: str, flag: str, variant: str) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": s.second * 1000,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FlagSet", "Flag", "Variant"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count", "StorageResolution": 1},
                        {"Name": "Errors5xx", "Unit": "Count", "StorageResolution": 1},
                        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1},
                    ],
                }
            ],
        },
        "FlagSet": flag_set,
        "Flag": flag,
        "Variant": variant,
        "Requests": s.requests,
        "Errors5xx": s.errors,
        "Latency": s.histogram(),
    }


class FlagVariantMetrics:
    """One `RequestMetrics` per flag and variant. Used from the event loop only."""

    def __init__(self, flag_set: str, out: TextIO | None = None) -> None:
        self.flag_set = flag_set
        self.out = out
        self.series: dict[tuple[str, str], RequestMetrics] = {}
        self._task: asyncio.Task[None] | None = None

    def record(self, flags: Mapping[str, bool], status: int, ms: float) -> None:
        for flag, on in flags.items():
            key = (flag, "on" if on else "off")
            series = self.series.get(key)
            if series is None:
                if len(self.series) >= MAX_SERIES:
                    continue
                series = self.series[key] = RequestMetrics()
            series.record(status, ms)

    def flush(self, *, final: bool = False) -> None:
        out = self.out or sys.stdout
        wrote = False
        for (flag, variant), series in self.series.items():
            for s in series.remaining() if final else series.finished():
                out.write(json.dumps(flag_emf_document(s, self.flag_set, flag, variant), separators=(",", ":")) + "\n")
                wrote = True
        if wrote:
            out.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.flush(final=True)
