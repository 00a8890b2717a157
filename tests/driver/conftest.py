"""moto in server mode on 127.0.0.1 (free port) for the driver's AWS tests, reset per test."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
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
        for name in ("elbv2", "ec2", "cloudwatch", "sns")
    }
    clients["url"] = moto_url
    yield clients
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10).close()
