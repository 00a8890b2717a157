"""Fixtures that start real HAProxy and app processes on 127.0.0.1 and always tear them down."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from zero_downtime.rehearsal.deployer import AppRelease, LocalDeployer
from zero_downtime.rehearsal.haproxy_process import HaproxyMissing, HaproxyProcess, find_haproxy
from zero_downtime.rehearsal.processes import Supervisor
from zero_downtime.rehearsal.router import HaproxyRouter


@pytest.fixture(scope="session")
def haproxy_binary() -> str:
    try:
        return find_haproxy()
    except HaproxyMissing as exc:  # CI installs it; a developer is told how
        pytest.fail(f"{exc}\n(run scripts/ensure-haproxy)", pytrace=False)


@dataclass
class LocalStack:
    haproxy: HaproxyProcess
    supervisor: Supervisor
    deployer: LocalDeployer
    router: HaproxyRouter


RELEASES = {
    "v1": AppRelease("v1"),
    "v2": AppRelease("v2"),
    "broken": AppRelease("broken", error_rate=1.0),
}


@pytest.fixture
def local_stack(haproxy_binary: str, tmp_path: Path) -> Iterator[LocalStack]:
    """HAProxy with 2 slots per color and nothing attached yet."""
    haproxy = HaproxyProcess(tmp_path, slots_per_color=2)
    supervisor = Supervisor(tmp_path)
    try:
        haproxy.start()
        deployer = LocalDeployer(haproxy, supervisor, RELEASES, drain_timeout_seconds=10)
        assert haproxy.api is not None and haproxy.layout is not None
        router = HaproxyRouter(haproxy.api, deployer.attached, test_map_path=haproxy.layout.test_map_path)
        yield LocalStack(haproxy, supervisor, deployer, router)
    finally:
        supervisor.stop_all()
        haproxy.stop()
