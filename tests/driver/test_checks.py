"""The pre-traffic checks against a local server and real commands."""

from __future__ import annotations

import http.server
import io
import json
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from zero_downtime.contract.probe import ProbeAnswer, ProbeRequest
from zero_downtime.driver.adapters.checks import CommandHook, HttpCheck, ProbeFunctionCheck
from zero_downtime.driver.core.errors import InputError

from tests.driver.conftest import http_server


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, b"version=2") if self.path == "/health" else (503, b"down")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def local_url() -> Iterator[str]:
    with http_server(_Handler) as url:
        yield url.rstrip("/")


def test_http_check_status_and_body(local_url: str) -> None:
    assert HttpCheck(f"{local_url}/health", body_pattern=r"version=2").run().passed
    body = HttpCheck(f"{local_url}/health", body_pattern=r"version=3", attempts=1).run()
    assert not body.passed and "does not match" in body.detail
    down = HttpCheck(f"{local_url}/other", attempts=1).run()
    assert not down.passed and down.detail == "status 503, expected 200"
    assert HttpCheck(f"{local_url}/other", expected_status=503).run().passed


def test_http_check_connection_refused(local_url: str) -> None:
    closed = HttpCheck("http://127.0.0.1:9/health", attempts=1, timeout_seconds=1).run()
    assert not closed.passed and closed.detail == "127.0.0.1:9 refused the connection: nothing listens there"


@pytest.mark.parametrize(
    ("kwargs", "flag_key"),
    [({"expected_status": 99}, "check_status"), ({"body_pattern": "(["}, "check_body"), ({}, "check_path")],
)
def test_http_check_refuses_bad_input_naming_the_driver_setting(kwargs: dict, flag_key: str) -> None:
    url = "ftp://x/health" if flag_key == "check_path" else "http://127.0.0.1:9/health"
    with pytest.raises(InputError) as caught:
        HttpCheck(url, **kwargs)
    assert caught.value.key == flag_key


# -- the probe function, invoked through a stubbed Lambda client ----------------------------------------
ARN = "arn:aws:lambda:us-east-1:123456789012:function:probe-fn-1a2b3c4"


@pytest.fixture
def lambda_client() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def _payload(data: Any) -> StreamingBody:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return StreamingBody(io.BytesIO(body), len(body))


def _expect_invoke(stub: Stubber, response: dict[str, Any]) -> ProbeRequest:
    request = ProbeRequest("https://alb.example:9443/health", host_name="shop.example.test")
    stub.add_response(
        "invoke",
        {"StatusCode": 200, **response},
        {
            "FunctionName": ARN,
            "InvocationType": "RequestResponse",
            "Payload": json.dumps(request.to_event()).encode(),
        },
    )
    return request


def test_probe_function_answer_becomes_the_check_result(lambda_client: tuple[Any, Stubber]) -> None:
    client, stub = lambda_client
    request = _expect_invoke(stub, {"Payload": _payload(ProbeAnswer(False, "status 502, expected 200", 502).to_dict())})
    result = ProbeFunctionCheck(client, ARN, request).run()
    assert (result.passed, result.detail) == (False, "status 502, expected 200")
    assert (
        result.name == "GET https://alb.example:9443/health as shop.example.test (from the probe function in the VPC)"
    )


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            {"FunctionError": "Unhandled", "Payload": _payload({"errorMessage": "Task timed out after 90.00 seconds"})},
            f"the probe function {ARN} failed (Unhandled): Task timed out after 90.00 seconds",
        ),
        ({"Payload": _payload(b"<html>")}, f"the probe function {ARN} answered something other than JSON: b'<html>'"),
        ({"Payload": _payload({"hello": 1})}, f"the probe function {ARN} gave not a probe answer: {{'hello': 1}}"),
    ],
)
def test_a_probe_function_that_does_not_answer_a_verdict_fails_the_check_saying_why(
    lambda_client: tuple[Any, Stubber], response: dict[str, Any], expected: str
) -> None:
    client, stub = lambda_client
    request = _expect_invoke(stub, response)
    result = ProbeFunctionCheck(client, ARN, request).run()
    assert not result.passed and result.detail == expected


def test_a_probe_function_the_driver_may_not_invoke_fails_the_check_saying_why(
    lambda_client: tuple[Any, Stubber],
) -> None:
    client, stub = lambda_client
    stub.add_client_error("invoke", "AccessDeniedException", "not authorized to perform: lambda:InvokeFunction")
    result = ProbeFunctionCheck(client, ARN, ProbeRequest("https://alb.example:9443/health")).run()
    assert not result.passed
    assert result.detail.startswith(
        f"cannot invoke the probe function {ARN}: An error occurred (AccessDeniedException)"
    )


def test_command_hook_passes_env_and_exit_code() -> None:
    ok = CommandHook(
        f"{sys.executable} -c \"import os,sys; sys.exit(os.environ['ZDD_COLOR'] != 'green')\"",
        env={"ZDD_COLOR": "green"},
    ).run()
    assert ok.passed and ok.detail.startswith("exit 0")
    bad = CommandHook(f"{sys.executable} -c \"print('nope'); raise SystemExit(3)\"").run()
    assert not bad.passed and bad.detail == "exit 3: nope"
    missing = CommandHook("definitely-not-a-command-zdd").run()
    assert not missing.passed and "command not found" in missing.detail


def test_command_hook_timeout() -> None:
    slow = CommandHook(f'{sys.executable} -c "import time; time.sleep(5)"', timeout_seconds=0.5)
    res = slow.run()
    assert not res.passed and "timed out" in res.detail
