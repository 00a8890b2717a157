"""The sample service's own metrics: one CloudWatch EMF line per second (validated against the EMF
specification's schema and its reference rules), bounded memory, `/metrics.json`, and the settings
that turn EMF on. The last test runs the real app process and reads it with the driver's
`http-json` source."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import jsonschema
import pytest
from starlette.testclient import TestClient
from zero_downtime.app.metrics import MAX_BINS, EmfWriter, Identity, RequestMetrics, emf_document
from zero_downtime.app.service import create_app
from zero_downtime.app.settings import Settings, SettingsError, load_settings
from zero_downtime.driver.adapters.sources import HttpJsonSource
from zero_downtime.driver.core.metric_checks import parse_analysis_file

UNITS = (
    "Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|Megabits|"
    "Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|Gigabytes/Second|"
    "Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None"
)
NUMBER_ARRAY = {"type": "array", "items": {"type": "number"}, "maxItems": 100}
# The schema published with the EMF specification (CloudWatch User Guide, "Specification: Embedded
# metric format"), plus the members the current specification added: `StorageResolution` (1 or 60)
# on a MetricDefinition, dimension sets of up to 30 keys, and metric targets as a number, an array
# of at most 100 numbers, or a Values/Counts histogram as the AWS EMF libraries write it.
EMF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^(.*)$"},
                            "Dimensions": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "array",
                                    "minItems": 0,
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^:]"},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "Unit": {"type": "string", "pattern": f"^({UNITS})$"},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
HISTOGRAM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["Values", "Counts", "Max", "Min", "Count", "Sum"],
    "additionalProperties": False,
    "properties": {
        "Values": {**NUMBER_ARRAY, "minItems": 1},
        "Counts": {**NUMBER_ARRAY, "minItems": 1},
        "Max": {"type": "number"},
        "Min": {"type": "number"},
        "Count": {"type": "number", "exclusiveMinimum": 0},
        "Sum": {"type": "number"},
    },
}


def emf_problems(doc: dict[str, Any]) -> list[str]:
    """Schema errors, then the rules a JSON schema cannot say: every dimension key and metric name
    references a root member (a string for a dimension; a number, an array of at most 100 numbers
    or a consistent histogram for a metric)."""
    problems = [e.message for e in jsonschema.Draft202012Validator(EMF_SCHEMA).iter_errors(doc)]
    if problems:
        return problems
    for directive in doc["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                value = doc.get(key)
                if not isinstance(value, str) or not 1 <= len(value) <= 1024:
                    problems.append(f"dimension {key!r} has no string target")
        for metric in directive["Metrics"]:
            target = doc.get(metric["Name"])
            if isinstance(target, bool) or target is None:
                problems.append(f"metric {metric['Name']!r} has no target")
            elif isinstance(target, dict):
                problems += [e.message for e in jsonschema.Draft202012Validator(HISTOGRAM_SCHEMA).iter_errors(target)]
                if not problems:
                    if len(target["Values"]) != len(target["Counts"]):
                        problems.append("Values and Counts differ in length")
                    if sum(target["Counts"]) != target["Count"]:
                        problems.append("Counts do not add up to Count")
                    if not target["Min"] <= min(target["Values"]) <= max(target["Values"]) <= target["Max"]:
                        problems.append("Values outside [Min, Max]")
            elif isinstance(target, list):
                problems += [e.message for e in jsonschema.Draft202012Validator(NUMBER_ARRAY).iter_errors(target)]
            elif not isinstance(target, int | float):
                problems.append(f"metric {metric['Name']!r} target is not numeric")
    return problems


def _second(requests: int = 3) -> RequestMetrics:
    m = RequestMetrics(clock=lambda: 1000.5)
    for i in range(requests):
        m.record(500 if i == 0 else 200, 12.0 + i, now=1000.1)
    return m


def test_an_emf_line_meets_the_specification() -> None:
    [second] = _second().finished(now=1001.0)
    doc = emf_document(second, Identity("ZeroDowntime/App", "api", "green", "v2"))
    assert emf_problems(doc) == []
    assert doc["_aws"]["Timestamp"] == 1_000_000  # milliseconds
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ZeroDowntime/App"
    assert ["Service", "Color"] in directive["Dimensions"]
    assert directive["Metrics"] and all(m["StorageResolution"] == 1 for m in directive["Metrics"])
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "Requests": "Count",
        "Errors": "Count",
        "Latency": "Milliseconds",
    }
    assert (doc["Requests"], doc["Errors"], doc["Color"]) == (3, 1, "green")
    assert doc["Latency"]["Count"] == 3 and doc["Latency"]["Sum"] == 39.0


@pytest.mark.parametrize(
    ("breakage", "expect"),
    [
        (lambda d: d["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda d: d["_aws"].__setitem__("Timestamp", "now"), "integer"),
        (lambda d: d.pop("Color"), "Color"),
        (lambda d: d.__setitem__("Requests", "3"), "Requests"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("StorageResolution", 5), "1, 60"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].__setitem__("Unit", "Requests"), "does not match"),
        (lambda d: d["Latency"]["Counts"].append(1), "Count"),
        (lambda d: d.__setitem__("Requests", list(range(101))), "long"),
    ],
)
def test_the_validator_catches_broken_documents(breakage: Any, expect: str) -> None:
    [second] = _second().finished(now=1001.0)
    doc = emf_document(second, Identity())
    breakage(doc)
    problems = emf_problems(doc)
    assert problems and any(expect in p for p in problems), problems


def test_one_line_per_second_not_per_request() -> None:
    m = RequestMetrics(clock=lambda: 0)
    for t in (100.1, 100.2, 100.9, 101.0, 101.5, 103.2):
        m.record(200, 5.0, now=t)
    assert m.finished(now=100.95) == []  # second 100 is still filling
    done = m.finished(now=102.0)
    assert [(s.second, s.requests) for s in done] == [(100, 3), (101, 2)]
    assert m.finished(now=102.5) == []  # written once
    assert [(s.second, s.requests) for s in m.remaining()] == [(103, 1)]  # at shutdown


def test_memory_is_bounded_in_seconds_and_bins() -> None:
    m = RequestMetrics(history_seconds=300)
    for t in range(2000):
        m.record(200, 10 ** ((t % 70) / 10), now=float(t))  # 1 ms .. 10^6.9 ms
    assert len(m.seconds) <= 301
    one = RequestMetrics()
    for i in range(10_000):
        one.record(200, 0.001 * 1.01**i, now=5.0)  # 0.001 ms .. far beyond 100 s
    [second] = one.remaining()
    assert len(second.bins) <= MAX_BINS
    doc = emf_document(second, Identity())
    assert emf_problems(doc) == []
    assert doc["Latency"]["Count"] == 10_000


def test_window_percentiles_and_error_rate() -> None:
    m = RequestMetrics()
    m.record(200, 10.0, now=10.0)  # outside a 30-second window
    for i in range(100):
        m.record(500 if i < 5 else 200, 10.0 if i < 90 else 1000.0, now=50.5)
    w = m.window(30, now=51.0)
    assert (w["requests"], w["errors"], w["error_rate"]) == (100, 5, 0.05)
    assert w["latency_ms"]["p50"] == pytest.approx(10.0, rel=0.15)
    assert w["latency_ms"]["p99"] == pytest.approx(1000.0, rel=0.15)
    assert w["latency_ms"]["max"] == 1000.0
    empty = m.window(5, now=500.0)
    assert empty["requests"] == 0 and empty["error_rate"] is None and empty["latency_ms"]["p99"] is None


def test_the_app_writes_emf_from_a_background_task_only_when_enabled() -> None:
    out = io.StringIO()
    with TestClient(
        create_app(Settings(emf_metrics=True, service="api", color="blue", version="v9"), metrics_out=out)
    ) as c:
        for _ in range(25):
            assert c.get("/work").status_code == 200
        c.get("/ready")
        c.get("/metrics.json")
        assert out.getvalue() == ""  # nothing on the request path
        time.sleep(1.3)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines, "no EMF line within a second"
    for doc in lines:
        assert emf_problems(doc) == []
        assert (doc["Service"], doc["Color"], doc["Version"]) == ("api", "blue", "v9")
    assert sum(d["Requests"] for d in lines) == 25  # probes and /metrics.json are not counted
    off = io.StringIO()
    with TestClient(create_app(Settings(), metrics_out=off)) as c:
        c.get("/work")
    assert off.getvalue() == ""


def test_metrics_json_counts_errors_and_refuses_bad_windows() -> None:
    with TestClient(create_app(Settings(error_rate=1.0, color="green"))) as c:
        for _ in range(4):
            assert c.get("/work").status_code == 500
        body = c.get("/metrics.json", params={"window": 30}).json()
        assert (body["requests"], body["errors"], body["error_rate"], body["color"]) == (4, 4, 1.0, "green")
        assert c.get("/metrics.json", params={"window": 0}).status_code == 400
        assert c.get("/metrics.json", params={"window": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"APP_EMF_METRICS": "maybe"}, "APP_EMF_METRICS"),
        ({"APP_EMF_NAMESPACE": "AWS/ApplicationELB"}, "APP_EMF_NAMESPACE"),
        ({"APP_EMF_NAMESPACE": "bad\nname"}, "APP_EMF_NAMESPACE"),
        ({"APP_COLOR": "x" * 300}, "APP_COLOR"),
        ({"APP_SERVICE": "   "}, "APP_SERVICE"),
    ],
)
def test_emf_settings_are_validated_naming_the_variable(env: dict[str, str], match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        load_settings(env)


def test_emf_is_off_by_default_and_on_by_setting() -> None:
    assert load_settings({}).emf_metrics is False
    on = load_settings({"APP_EMF_METRICS": "true", "APP_COLOR": "green", "APP_SERVICE": "api"})
    assert (on.emf_metrics, on.color, on.service, on.emf_namespace) == (True, "green", "api", "ZeroDowntime/App")


def test_emf_writer_flushes_what_is_left_at_stop() -> None:
    import asyncio

    m = RequestMetrics()
    out = io.StringIO()
    writer = EmfWriter(m, Identity(), out)

    async def run() -> None:
        writer.start()
        m.record(200, 3.0)
        await writer.stop()

    asyncio.run(run())
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["Requests"] == 1


def test_the_real_app_process_emits_emf_and_serves_the_http_json_source() -> None:
    """The app as it runs in a task: its own process, EMF on stdout, read by the driver's source."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    env = {
        **os.environ,
        "APP_EMF_METRICS": "true",
        "APP_SERVICE": "api",
        "APP_COLOR": "green",
        "APP_VERSION": "v2",
        "APP_ERROR_RATE": "0.5",
        "APP_DRAIN_TIMEOUT_SECONDS": "0.2",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "zero_downtime.app", "--fd", str(sock.fileno())],
        pass_fds=[sock.fileno()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sock.close()
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the app did not become ready"
            time.sleep(0.1)
        statuses = [httpx.get(f"{base}/work", timeout=5).status_code for _ in range(40)]
        query = {"url": base + "/metrics.json?window={window_seconds}", "value": "error_rate", "sample": "requests"}
        doc = {
            "checks": [{"name": "e", "source": "http-json", "query": query, "threshold": {"max": 1}, "min_sample": 1}]
        }
        check = parse_analysis_file(doc).checks[0]
        sample = HttpJsonSource().read(check.query, "green", time.time() - 60, time.time())
        assert sample.sample == 40
        assert sample.value == pytest.approx(statuses.count(500) / 40)
        time.sleep(1.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    docs = [json.loads(line) for line in stdout.splitlines()]
    assert docs, f"no EMF on stdout; stderr: {stderr}"
    for d in docs:
        assert emf_problems(d) == []
    assert sum(d["Requests"] for d in docs) == 40
    assert sum(d["Errors"] for d in docs) == statuses.count(500)
    assert len({d["_aws"]["Timestamp"] for d in docs}) == len(docs)  # one line per second
    assert all(not math.isnan(d["Latency"]["Sum"]) for d in docs)
