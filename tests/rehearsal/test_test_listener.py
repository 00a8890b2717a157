"""The test listener (real HAProxy + app processes): only the idle color, never counted as user traffic."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from zero_downtime.contract import Color, Weights
from zero_downtime.rehearsal.haproxy_config import IDLE_KEY, HaproxyLayout, idle_backend, render_config
from zero_downtime.rehearsal.metrics import HaproxyMetrics

from .conftest import LocalStack

pytestmark = pytest.mark.timeout(120)


def _deploy(stack: LocalStack, color: Color, image: str, count: int = 2) -> None:
    stack.deployer.deploy_idle(color, image, count)
    assert stack.deployer.wait_healthy(color, 20)


def _versions(url: str, n: int) -> Counter[str]:
    with httpx.Client(base_url=url, timeout=5) as client:
        return Counter(client.get("/work").headers.get("x-app-version", "none") for _ in range(n))


def test_config_test_listener_tracks_the_production_slots() -> None:
    text = render_config(
        HaproxyLayout(bind="127.0.0.1:8080", socket_path="/s", test_bind="127.0.0.1:8081", test_map_path="/m.map")
    )
    assert "bind 127.0.0.1:8081" in text
    assert "map(/m.map,green)" in text and f"str({IDLE_KEY})" in text
    assert f"backend {idle_backend('blue')}" in text
    assert "server blue-1 127.0.0.1:9 track app/blue-1" in text


@pytest.mark.parametrize("bind", ["0.0.0.0:81", ":8081"])
def test_config_refuses_a_non_loopback_test_listener(bind: str) -> None:
    with pytest.raises(ValueError, match="test_bind"):
        render_config(HaproxyLayout(bind="127.0.0.1:8080", socket_path="/s", test_bind=bind, test_map_path="/m"))


def test_test_listener_serves_only_the_idle_color(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1")
    _deploy(local_stack, "green", "v2")
    router, haproxy = local_stack.router, local_stack.haproxy
    router.set_weights(Weights.all_to("blue"))
    assert router.live == "blue" and router.idle == "green"
    assert _versions(haproxy.test_url, 40) == Counter({"v2": 40})
    assert _versions(haproxy.url, 40) == Counter({"v1": 40})

    # A canary step moves user traffic; the test listener stays on the new color.
    router.set_weights(Weights(blue=50, green=50))
    assert _versions(haproxy.test_url, 40) == Counter({"v2": 40})

    # Promotion: green is live, the test listener serves the old color until it is scaled down.
    router.set_weights(Weights.all_to("green"))
    assert router.idle == "blue"
    assert _versions(haproxy.test_url, 40) == Counter({"v1": 40})
    assert haproxy.api is not None and haproxy.layout is not None
    assert haproxy.api.show_map(haproxy.layout.test_map_path) == {IDLE_KEY: "blue"}

    # Scaled down (slots in maintenance): the test listener has no server, it answers 503.
    local_stack.deployer.scale_down("blue")
    with httpx.Client(base_url=haproxy.test_url, timeout=5) as client:
        assert client.get("/work").status_code == 503


def test_test_listener_traffic_is_not_user_traffic(local_stack: LocalStack) -> None:
    _deploy(local_stack, "blue", "v1", count=1)
    _deploy(local_stack, "green", "broken", count=1)
    local_stack.router.set_weights(Weights.all_to("blue"))
    assert local_stack.haproxy.api is not None
    metrics = HaproxyMetrics(local_stack.haproxy.api)
    before = metrics.sample()
    with httpx.Client(base_url=local_stack.haproxy.test_url, timeout=5) as client:
        statuses = Counter(client.get("/work").status_code for _ in range(30))
    assert statuses == Counter({500: 30})  # "broken" answers 500 to everything, through the test listener
    after = metrics.sample()
    assert after.requests == before.requests  # the production backend's counters did not move
