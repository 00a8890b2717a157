"""The built-in metric sources of the analysis file (`driver/core/metric_checks.py`): each
implements the `MetricSource` port for one `source:` name.

| source      | module           | reads                                                             |
| ----------- | ---------------- | ----------------------------------------------------------------- |
| `cloudwatch`| `cloudwatch.py`  | `GetMetricData`, any namespace; period 1 reads 1-second storage   |
| `http-json` | `http_json.py`   | a JSON document over HTTP(S), value and sample by dotted path     |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.metric_checks import CLOUDWATCH, HTTP_JSON, MetricSource
from .cloudwatch import CloudWatchSource
from .http_json import HttpJsonSource


def built_in_sources(cloudwatch: Any, http: Any = None) -> Mapping[str, MetricSource]:
    """Every built-in source by its `source:` name: `cloudwatch` over the boto3 client `cloudwatch`,
    `http-json` over an httpx.Client (None: one of its own)."""
    return {CLOUDWATCH: CloudWatchSource(cloudwatch), HTTP_JSON: HttpJsonSource(http)}


__all__ = ["CloudWatchSource", "HttpJsonSource", "built_in_sources"]
