"""The built-in metric sources: CloudWatch against moto in server mode (1-second metrics written
with put_metric_data, read back with period 1), botocore's Stubber for what moto cannot answer,
and HTTP JSON against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from zero_downtime.driver.adapters.sources import CloudWatchSource, HttpJsonSource, built_in_sources
from zero_downtime.driver.core.analysis import Judgement
from zero_downtime.driver.core.errors import PortError
from zero_downtime.driver.core.metric_checks import MetricJudge, MetricSample, parse_analysis_file

NS = "ZeroDowntime/App"


def cw_query(**overrides: Any) -> dict[str, Any]:
    raw = {"namespace": NS, "metric": "Errors", "dimensions": {"Service": "api", "Color": "{color}"}, "period": 1}
    raw.update(overrides)
    doc = {"checks": [{"name": "q", "source": "cloudwatch", "query": raw, "threshold": {"max": 1}, "min_sample": 1}]}
    return dict(parse_analysis_file(doc).checks[0].query)


def _at(second: int) -> datetime:
    return datetime.fromtimestamp(second, tz=UTC)


def put_seconds(cw: Any, color: str, start: int, seconds: int, requests: int, errors: int) -> None:
    """What the app's EMF lines become in CloudWatch: one 1-second datum per metric per second."""
    dims = [{"Name": "Service", "Value": "api"}, {"Name": "Color", "Value": color}]
    for s in range(start, start + seconds):
        cw.put_metric_data(
            Namespace=NS,
            MetricData=[
                {"MetricName": "Requests", "Dimensions": dims, "Timestamp": _at(s), "Value": requests,
                 "Unit": "Count", "StorageResolution": 1},
                {"MetricName": "Errors", "Dimensions": dims, "Timestamp": _at(s), "Value": errors,
                 "Unit": "Count", "StorageResolution": 1},
                {"MetricName": "Latency", "Dimensions": dims, "Timestamp": _at(s), "Values": [5.0, 250.0],
                 "Counts": [requests - 1, 1], "Unit": "Milliseconds", "StorageResolution": 1},
            ],
        )  # fmt: skip


# -- CloudWatch on moto ---------------------------------------------------------------------------------
def test_cloudwatch_reads_one_second_metrics_per_color(aws: dict[str, Any]) -> None:
    cw = aws["cloudwatch"]
    now = int(time.time())
    put_seconds(cw, "green", now - 30, 20, requests=10, errors=1)
    put_seconds(cw, "blue", now - 30, 20, requests=30, errors=0)
    source = CloudWatchSource(cw)
    ratio = cw_query(divide_by="Requests")
    green = source.read(ratio, "green", now - 40, now)
    assert green == MetricSample(20 / 200, 200)
    assert source.read(ratio, "blue", now - 40, now) == MetricSample(0.0, 600)
    # A window that covers 5 of the 20 seconds reads those 5 only: 1-second resolution.
    assert source.read(ratio, "green", now - 30, now - 25) == MetricSample(5 / 50, 50)
    errors = source.read(cw_query(), "green", now - 40, now)
    assert errors == MetricSample(20.0, 20)  # Sum of Errors; sample = its 20 data points
    latency = cw_query(metric="Latency", stat="Average")
    avg = source.read(latency, "green", now - 40, now)
    assert avg.sample == 200  # Values/Counts: one observation per request
    assert avg.value == pytest.approx((9 * 5.0 + 250.0) / 10)
    assert source.read(cw_query(metric="Latency", stat="Maximum"), "green", now - 40, now).value == 250.0
    assert source.read(cw_query(metric="Latency", stat="Minimum"), "green", now - 40, now).value == 5.0
    count = source.read(cw_query(metric="Latency", stat="SampleCount"), "green", now - 40, now)
    assert count == MetricSample(200.0, 200.0)


def test_cloudwatch_without_data_is_no_value_and_no_sample(aws: dict[str, Any]) -> None:
    source = CloudWatchSource(aws["cloudwatch"])
    now = int(time.time())
    assert source.read(cw_query(divide_by="Requests"), "green", now - 60, now) == MetricSample(None, 0)
    assert source.read(cw_query(), "green", now - 60, now) == MetricSample(None, 0)
    assert source.read(cw_query(), "green", now, now - 5) == MetricSample(None, 0)  # empty window: no call


def test_the_judge_over_moto_fails_the_erroring_color_and_passes_the_healthy_one(aws: dict[str, Any]) -> None:
    cw = aws["cloudwatch"]
    now = int(time.time())
    put_seconds(cw, "green", now - 30, 20, requests=10, errors=1)
    put_seconds(cw, "blue", now - 30, 20, requests=30, errors=0)
    doc = {
        "checks": [
            {
                "name": "error-rate",
                "source": "cloudwatch",
                "query": {"namespace": NS, "metric": "Errors", "divide_by": "Requests", "period": 1,
                          "dimensions": {"Service": "api", "Color": "{color}"}},
                "threshold": {"max": 0.05, "max_increase_over_stable": 0.02},
                "min_sample": 100,
            }
        ]
    }  # fmt: skip
    judge = MetricJudge(parse_analysis_file(doc), built_in_sources(cw))
    verdict = judge.judge("green", "blue", now - 40, now)
    assert verdict.outcome is Judgement.FAIL
    assert "error-rate: 0.1 > max 0.05 (sample 200)" in verdict.reasons
    assert judge.judge("blue", "green", now - 40, now).outcome is Judgement.PASS


def test_moto_still_cannot_compute_percentiles(aws: dict[str, Any]) -> None:
    """moto answers 500 for pNN (a known gap): the source turns it into a PortError, i.e. an
    inconclusive check. When moto learns percentiles this fails, and the test above can add p99."""
    cw = aws["cloudwatch"]
    now = int(time.time())
    put_seconds(cw, "green", now - 10, 3, requests=10, errors=0)
    with pytest.raises(PortError, match="get_metric_data"):
        CloudWatchSource(cw).read(cw_query(metric="Latency", stat="p99"), "green", now - 20, now)


# -- CloudWatch with botocore's Stubber (request shape checked against the service model) -----------------
@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    cw = boto3.client("cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cw) as stub:
        yield cw, stub
        stub.assert_no_pending_responses()


def _result(qid: str, values: list[float], base: int = 1_000_000) -> dict[str, Any]:
    return {
        "Id": qid,
        "Timestamps": [_at(base + i) for i in range(len(values))],
        "Values": values,
        "StatusCode": "Complete",
    }


def test_request_shape_period_one_color_substituted_and_pagination(stubbed: tuple[Any, Stubber]) -> None:
    cw, stub = stubbed
    query = cw_query(metric="Latency", stat="p99")
    expected_queries = [
        {
            "Id": qid,
            "MetricStat": {
                "Metric": {
                    "Namespace": NS,
                    "MetricName": "Latency",
                    "Dimensions": [{"Name": "Service", "Value": "api"}, {"Name": "Color", "Value": "green"}],
                },
                "Period": 1,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for qid, stat in (("v", "p99"), ("n", "SampleCount"))
    ]
    first = {"MetricDataQueries": expected_queries, "StartTime": _at(1_000_000), "EndTime": _at(1_000_060)}
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("v", [100.0, 300.0]), _result("n", [10.0, 10.0])], "NextToken": "t1"},
        first,
    )
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("v", [200.0], 1_000_010), _result("n", [5.0], 1_000_010)]},
        {**first, "NextToken": "t1"},
    )
    sample = CloudWatchSource(cw).read(query, "green", 1_000_000.4, 1_000_060.9)
    assert sample == MetricSample(300.0, 25.0)  # the largest period's p99 over both pages


def test_high_resolution_windows_are_cut_to_three_hours(stubbed: tuple[Any, Stubber]) -> None:
    cw, stub = stubbed
    end = 2_000_000
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": []},
        {"MetricDataQueries": ANY, "StartTime": _at(end - 3 * 3600), "EndTime": _at(end)},
    )
    assert CloudWatchSource(cw).read(cw_query(), "blue", end - 10 * 3600, end) == MetricSample(None, 0)


def test_endless_pagination_is_a_port_error(stubbed: tuple[Any, Stubber]) -> None:
    cw, stub = stubbed
    for _ in range(3):
        stub.add_response("get_metric_data", {"MetricDataResults": [_result("v", [1.0])], "NextToken": "again"})
    with pytest.raises(PortError, match="more than 3 pages"):
        CloudWatchSource(cw, max_pages=3).read(cw_query(), "blue", 1_000_000, 1_000_060)


def test_forbidden_results_and_api_errors_are_port_errors(stubbed: tuple[Any, Stubber]) -> None:
    cw, stub = stubbed
    forbidden = {**_result("v", []), "StatusCode": "Forbidden", "Messages": [{"Code": "Forbidden", "Value": "no"}]}
    stub.add_response("get_metric_data", {"MetricDataResults": [forbidden]})
    with pytest.raises(PortError, match="Forbidden"):
        CloudWatchSource(cw).read(cw_query(), "blue", 1_000_000, 1_000_060)
    stub.add_client_error("get_metric_data", "Throttling", "Rate exceeded")
    with pytest.raises(PortError, match="throttled"):
        CloudWatchSource(cw).read(cw_query(), "blue", 1_000_000, 1_000_060)


# -- HTTP JSON against a real server on 127.0.0.1 ---------------------------------------------------------
class _Metrics(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("X-Color")))
        route = self.path.split("?")[0]
        if route == "/slow":
            time.sleep(1.5)
        if route.startswith("/metrics/"):
            color = route.rsplit("/", 1)[-1]
            body = json.dumps({"requests": 120 if color == "green" else 400, "latency_ms": {"p99": 42.5}}).encode()
        elif route == "/null":
            body = b'{"requests": 0, "latency_ms": {"p99": null}}'
        elif route == "/list":
            body = b'{"series": [{"v": 1.5, "n": 9}]}'
        elif route == "/text":
            body = b'{"requests": "many", "latency_ms": {"p99": 1}}'
        elif route == "/notjson":
            body = b"<html>"
        elif route == "/big":
            body = b'{"x": "' + b"a" * 1_100_000 + b'"}'
        elif route == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/metrics/green")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        elif route == "/slow":
            body = b'{"requests": 1, "latency_ms": {"p99": 1}}'
        else:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # the client hanging up on /big and /slow is the point of those tests


@pytest.fixture
def metrics_server() -> Iterator[str]:
    _Metrics.seen = []
    server = _QuietServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def http_query(url: str, **overrides: Any) -> dict[str, Any]:
    raw = {"url": url, "value": "latency_ms.p99", "sample": "requests", "timeout_seconds": 1}
    raw.update(overrides)
    doc = {"checks": [{"name": "q", "source": "http-json", "query": raw, "threshold": {"max": 1}, "min_sample": 1}]}
    return dict(parse_analysis_file(doc).checks[0].query)


def test_http_json_reads_value_and_sample_with_color_and_window(metrics_server: str) -> None:
    source = HttpJsonSource()
    query = http_query(f"{metrics_server}/metrics/{{color}}?window={{window_seconds}}", headers={"X-Color": "{color}"})
    assert source.read(query, "green", 100.0, 130.2) == MetricSample(42.5, 120)
    assert source.read(query, "blue", 100.0, 160.0) == MetricSample(42.5, 400)
    assert _Metrics.seen == [("/metrics/green?window=31", "green"), ("/metrics/blue?window=60", "blue")]


def test_http_json_null_is_no_value_and_list_indexes_work(metrics_server: str) -> None:
    source = HttpJsonSource()
    assert source.read(http_query(f"{metrics_server}/null"), "green", 0, 1) == MetricSample(None, 0)
    listed = http_query(f"{metrics_server}/list", value="series.0.v", sample="series.0.n")
    assert source.read(listed, "green", 0, 1) == MetricSample(1.5, 9)


@pytest.mark.parametrize(
    ("route", "overrides", "match"),
    [
        ("/missing", {}, "HTTP 503"),
        ("/redirect", {}, "HTTP 302"),
        ("/notjson", {}, "not JSON"),
        ("/text", {}, "'requests' is not a number"),
        ("/metrics/green", {"value": "latency_ms.p50"}, "nothing at 'latency_ms.p50'"),
        ("/big", {}, "larger than"),
        ("/slow", {"timeout_seconds": 0.3}, "Timeout"),
    ],
)
def test_http_json_failures_are_port_errors(metrics_server: str, route: str, overrides: dict, match: str) -> None:
    with pytest.raises(PortError, match=match):
        HttpJsonSource().read(http_query(metrics_server + route, **overrides), "green", 0, 1)


def test_http_json_refuses_a_connection_it_cannot_make() -> None:
    with pytest.raises(PortError, match=r"GET http://127\.0\.0\.1:9/"):
        HttpJsonSource().read(http_query("http://127.0.0.1:9/metrics"), "green", 0, 1)
