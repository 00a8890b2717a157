"""Fixtures of the release store tests: moto in server mode on 127.0.0.1, and `blobs` on both backends.

moto runs once per session on a free port and is reset before and after every test; each S3 test
gets its own bucket. The credentials are dummies that only moto sees.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
BUCKET = "zdd-store-tests"
PREFIX = "team/zdd"


def _reset(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from tests.moto_server import start_moto

    server = start_moto()  # conditional writes as atomic as S3's (tests/moto_server.py)
    try:
        host, port = server.get_host_and_port()
        assert host == "127.0.0.1"
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_factory(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function making boto3 S3 clients (per region) pointed at a freshly reset moto."""
    import boto3
    from botocore.config import Config

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    _reset(moto_endpoint)
    config = Config(
        retries={"mode": "standard", "max_attempts": 2},
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=16,
    )

    def make(region: str = REGION) -> Any:
        return boto3.client("s3", region_name=region, endpoint_url=moto_endpoint, config=config)

    try:
        yield make
    finally:
        _reset(moto_endpoint)


@pytest.fixture
def s3(s3_factory: Any) -> Any:
    """A raw boto3 S3 client on moto (no bucket yet)."""
    return s3_factory()


@pytest.fixture
def bucket(s3: Any) -> str:
    """An empty bucket on moto, made for this test."""
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The same `Blobs` interface on local files (under tmp_path) and on S3 (a moto bucket, under a prefix)."""
    if request.param == "local":
        from zero_downtime.store.local import LocalBlobs

        return LocalBlobs(tmp_path / "store")
    from zero_downtime.store.s3 import S3Blobs

    client = request.getfixturevalue("s3")
    name = request.getfixturevalue("bucket")
    return S3Blobs(client, name, PREFIX)
