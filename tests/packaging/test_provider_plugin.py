"""The plugin entry point, launched as the Pulumi CLI launches it, answers GetSchema over gRPC.

This is what `pulumi package add` does first; the provider listens on 127.0.0.1 only and is
always stopped by the fixture.
"""

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc
from zero_downtime.provider.catalog import PACKAGE_NAME, component_classes, package_version, type_token

from tests.paths import REPO_ROOT

STARTUP_SECONDS = 90
# Never dialled for GetSchema; the host requires an engine address argument.
UNUSED_ENGINE = "127.0.0.1:1"


def _read_port(proc: subprocess.Popen[bytes]) -> int:
    """The host prints its port as the first stdout line; wait for it, bounded."""
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else b""), daemon=True)
    reader.start()
    reader.join(STARTUP_SECONDS)
    if not line or not line[0].strip().isdigit():
        stderr = b""
        if proc.poll() is not None and proc.stderr:
            stderr = proc.stderr.read()
        pytest.fail(f"provider did not print its port within {STARTUP_SECONDS}s: {line!r} {stderr.decode()[-2000:]}")
    return int(line[0])


@pytest.fixture
def provider_port() -> Iterator[int]:
    entry = REPO_ROOT / yaml.safe_load((REPO_ROOT / "PulumiPlugin.yaml").read_text())["main"]
    proc = subprocess.Popen(
        [sys.executable, str(entry), UNUSED_ENGINE],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield _read_port(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_plugin_manifest_points_at_the_provider_entry_point() -> None:
    manifest = yaml.safe_load((REPO_ROOT / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    entry = Path(REPO_ROOT / manifest["main"])
    # Not the stack program's __main__.py at the root: that one would deploy, not serve a schema.
    assert entry.resolve() != REPO_ROOT.resolve()
    assert (entry / "__main__.py").is_file()


def test_entry_point_serves_the_schema_of_every_component(provider_port: int) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{provider_port}") as channel:
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        reply = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
    schema = json.loads(reply.schema)
    assert schema["name"] == PACKAGE_NAME
    assert schema["version"] == package_version()
    assert set(schema["resources"]) == {type_token(c) for c in component_classes()}
