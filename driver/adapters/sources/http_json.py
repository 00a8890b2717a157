"""The `http-json` metric source: GET a JSON document and read a value and a sample size from it.

The query (validated by `driver/core/metric_checks.py`) gives the URL (`{color}` and
`{window_seconds}` replaced), the dotted paths of the value and of the sample size
(`latency_ms.p99`, `requests`; a numeric segment indexes a list), a timeout and optional headers.
Only http and https URLs are fetched, redirects are not followed, and an answer above 1 MB or slower
than the timeout is a failed read. A `null` value means no data (the check is inconclusive).

The sample app's `/metrics.json?window={window_seconds}` is such a document (app/metrics.py).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ....contract import Color
from ...core.errors import PortError
from ...core.metric_checks import MetricSample, substitute

MAX_BYTES = 1_000_000


class HttpJsonSource:
    """`MetricSource` over HTTP(S) JSON documents."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(follow_redirects=False)

    def read(self, query: Mapping[str, Any], color: Color, start: float, end: float) -> MetricSample:
        window = max(1, math.ceil(end - start))
        url = substitute(str(query["url"]), color=color, window_seconds=window)
        if urlsplit(url).scheme not in ("http", "https"):
            raise PortError(f"GET {url}: only http and https URLs are read")
        headers = {k: substitute(v, color=color) for k, v in dict(query.get("headers") or {}).items()}
        timeout = float(query.get("timeout_seconds", 5.0))
        body = self._get(url, headers, timeout)
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise PortError(f"GET {url}: the answer is not JSON ({exc})") from None
        value = _at(doc, str(query["value"]), url)
        sample = _at(doc, str(query["sample"]), url)
        if sample is None or sample < 0:
            raise PortError(f"GET {url}: sample at {query['sample']!r} must be a number >= 0, got {sample!r}")
        return MetricSample(value, sample)

    def _get(self, url: str, headers: dict[str, str], timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        body = bytearray()
        try:
            with self.client.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=False) as resp:
                if resp.status_code != 200:
                    raise PortError(f"GET {url}: HTTP {resp.status_code}, expected 200")
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise PortError(f"GET {url}: the answer is larger than {MAX_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise PortError(f"GET {url}: no complete answer within {timeout:g}s")
        except httpx.HTTPError as exc:
            raise PortError(f"GET {url}: {type(exc).__name__}: {exc or 'no answer'}") from None
        return bytes(body)


def _at(doc: Any, dotted: str, url: str) -> float | None:
    """The number at `dotted` in `doc`; None for JSON null; PortError when absent or not a number."""
    node = doc
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PortError(f"GET {url}: the answer has nothing at {dotted!r}")
    if node is None:
        return None
    if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
        raise PortError(f"GET {url}: {dotted!r} is not a number: {str(node)[:80]!r}")
    return float(node)
