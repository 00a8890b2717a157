"""Real HAProxy + real app processes on 127.0.0.1: live weights, stats deltas, graceful shutdown."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest
from zero_downtime.contract import Weights
from zero_downtime.driver.core.errors import PortError
from zero_downtime.rehearsal.haproxy_config import BACKEND
from zero_downtime.rehearsal.haproxy_runtime import RuntimeApiError
from zero_downtime.rehearsal.loadgen import LoadGenerator
from zero_downtime.rehearsal.metrics import HaproxyMetrics

from .conftest import LocalStack

pytestmark = pytest.mark.timeout(120)


def _deploy(stack: LocalStack, color: str, image: str, count: int = 2) -> None:
    stack.deployer.deploy_idle(color, image, count)  # type: ignore[arg-type]
    assert stack.deployer.wait_healthy(color, 20)  # type: ignore[arg-type]


def test_live_weights_split_traffic_without_reload(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1")
    _deploy(local_stack, "green", "v2")
    pid_before = local_stack.haproxy._proc.pid  # type: ignore[union-attr]
    local_stack.router.set_weights(Weights(blue=75, green=25))
    assert local_stack.router.observed_weights() == Weights(blue=75, green=25)
    with httpx.Client(base_url=local_stack.haproxy.url, timeout=5) as client:
        versions = Counter(client.get("/work").headers["x-app-version"] for _ in range(400))
    assert abs(versions["v2"] / 400 - 0.25) < 0.03
    local_stack.router.set_weights(Weights.all_to("green"))
    with httpx.Client(base_url=local_stack.haproxy.url, timeout=5) as client:
        served = {client.get("/work").headers["x-app-version"] for _ in range(50)}
    assert served == {"v2"}
    assert local_stack.haproxy._proc.pid == pid_before  # type: ignore[union-attr]


def test_refused_weight_changes_nothing(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1")
    local_stack.router.set_weights(Weights.all_to("blue"))
    assert local_stack.haproxy.api is not None
    with pytest.raises(RuntimeApiError, match="No such server"):
        local_stack.haproxy.api.set_weight(BACKEND, "purple-1", 10)
    with pytest.raises(PortError, match="green: no instances"):
        local_stack.router.set_weights(Weights(blue=50, green=50))
    assert local_stack.router.observed_weights() == Weights.all_to("blue")
    assert local_stack.haproxy.api.show_stat(BACKEND)["blue-1"].weight == 100


def test_metrics_window_counts_requests_and_5xx_per_color(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1")
    _deploy(local_stack, "green", "broken", count=1)
    local_stack.router.set_weights(Weights(blue=50, green=50))
    assert local_stack.haproxy.api is not None
    metrics = HaproxyMetrics(local_stack.haproxy.api)
    start = time.time()
    metrics.sample()
    with httpx.Client(base_url=local_stack.haproxy.url, timeout=5) as client:
        statuses = Counter(client.get("/work").status_code for _ in range(100))
    end = time.time()
    green = metrics.window("green", start, end)
    blue = metrics.window("blue", start, end)
    assert green.requests + blue.requests == 100
    assert green.errors_5xx == statuses[500] == green.requests  # "broken" fails every request
    assert blue.errors_5xx == 0
    assert 40 <= green.requests <= 60
    assert metrics.alarms("green").is_firing is False


def test_graceful_shutdown_of_one_instance_under_load_drops_nothing(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1")
    local_stack.router.set_weights(Weights.all_to("blue"))
    victim = local_stack.deployer.instances("blue")[0]
    load = LoadGenerator(local_stack.haproxy.url, rate=150, max_requests=900, max_seconds=8)
    load.start()
    time.sleep(1.5)
    codes: dict[str, int] = {}
    sigterm_at = time.time()
    stopper = threading.Thread(target=lambda: codes.update(local_stack.supervisor.terminate([victim], 15)))
    stopper.start()
    stopper.join(20)
    exited_at = time.time()
    load.join(15)
    records = load.snapshot()
    assert codes == {victim.name: 0}  # exited by itself after draining, not killed
    assert len(records) >= 400  # the rate is not guaranteed on a busy 2-core machine
    assert any(r.sent_at > exited_at for r in records)  # load went on after the instance was gone
    assert [r for r in records if r.failed] == []
    # The victim served traffic before the stop, the survivor carried the rest.
    served = Counter(r.server for r in records)
    assert served[victim.name] > 50
    assert served["blue-2"] > served[victim.name]
    # Readiness failed first: the victim kept serving while HAProxy took it out.
    assert any(r.server == victim.name for r in records if r.sent_at > sigterm_at)


def test_load_generator_stops_by_itself(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1", count=1)
    local_stack.router.set_weights(Weights.all_to("blue"))
    load = LoadGenerator(local_stack.haproxy.url, rate=200, max_requests=60, max_seconds=30)
    load.start()
    load.join(15)
    assert not load.running
    records = load.snapshot()
    assert len(records) == 60
    assert {r.version for r in records} == {"v1"}
    assert all(r.server == "blue-1" for r in records)
