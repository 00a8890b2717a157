"""moto in server mode on 127.0.0.1 (free port) for the driver's AWS tests, reset per test."""

from __future__ import annotations

import contextlib
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from zero_downtime.store import Blobs, open_blobs

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from tests.moto_server import start_moto

    server = start_moto()  # conditional writes as atomic as S3's (tests/moto_server.py)
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Fresh emulator state and clients pointed at it. Credentials are dummies for moto only."""
    import boto3
    from zero_downtime.driver.adapters.aws.clients import retry_config

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    req = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    cfg = retry_config(max_attempts=2)
    clients = {
        name: boto3.client(name, region_name=REGION, endpoint_url=moto_url, config=cfg)
        for name in ("elbv2", "ec2", "cloudwatch", "sns", "s3", "ssm")
    }
    clients["url"] = moto_url
    yield clients
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()


@dataclass(frozen=True)
class StoreSetup:
    """A release store for a test: its URL and how to open its blobs."""

    backend: str
    url: str
    s3: Any = None

    def blobs(self) -> Blobs:
        return open_blobs(self.url, s3_client=self.s3)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSetup:
    """The release store on both backends: local files, and S3 on the moto server."""
    if request.param == "local":
        return StoreSetup("local", f"file://{tmp_path / 'store'}")
    aws = request.getfixturevalue("aws")
    aws["s3"].create_bucket(Bucket="zdd-test-releases")
    return StoreSetup("s3", "s3://zdd-test-releases/releases", aws["s3"])


class _Healthy(http.server.BaseHTTPRequestHandler):
    """Answers every GET 200: the test and production listeners of a healthy release."""

    def do_GET(self) -> None:
        body = b'{"status":"ok"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


class _Server(http.server.ThreadingHTTPServer):
    # The synthetic bake opens 20 connections at once (64 at most). With socketserver's default
    # listen backlog of 5, a busy machine drops SYNs and the client retries a second later: requests
    # of 1-3 s that fail the 2 s p99 guard of a healthy test listener.
    request_queue_size = 128
    daemon_threads = True


@contextlib.contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on 127.0.0.1 (a free port) for the block; its base URL is yielded."""
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[str]:
    """A local HTTP server standing in for the load balancer's listeners (the synthetic bake and
    the probes reach it); stopped after the test."""
    with http_server(_Healthy) as url:
        yield url
