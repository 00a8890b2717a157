"""The sample service: health endpoints, version header, faults, flags, circuit breaker, settings."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from zero_downtime.app.lifecycle import Lifecycle
from zero_downtime.app.service import create_app
from zero_downtime.app.settings import Settings, SettingsError, load_settings
from zero_downtime.rehearsal.processes import Supervisor


def _client(**overrides: object) -> TestClient:
    return TestClient(create_app(Settings(**overrides)))  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_work_carries_version_and_instance_headers() -> None:
    with _client(version="v7", instance="green-2") as client:
        response = client.get("/work", params={"user": "alice"})
    assert response.status_code == 200
    assert response.headers["x-app-version"] == "v7"
    assert response.headers["x-app-instance"] == "green-2"
    assert response.json()["version"] == "v7"
    assert response.json()["downstream"] == "none"


def test_version_endpoint() -> None:
    with _client(version="v7") as client:
        assert client.get("/version").json()["version"] == "v7"


def test_readiness_fails_while_draining_but_liveness_does_not() -> None:
    with _client() as client:
        assert client.get("/ready").status_code == 200
        client.app.state.lifecycle.begin_drain()  # type: ignore[attr-defined]
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "draining"
        assert client.get("/live").status_code == 200
        assert client.app.state.lifecycle.failed_probes == 1  # type: ignore[attr-defined]


def test_readiness_waits_for_warm_up() -> None:
    with _client(warmup_seconds=600) as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["warm"] is False


def test_injected_errors_hit_work_not_health() -> None:
    with _client(error_rate=1.0) as client:
        assert client.get("/work").status_code == 500
        assert client.get("/ready").status_code == 200
    with _client(error_rate=0.0) as client:
        assert all(client.get("/work").status_code == 200 for _ in range(20))


def test_injected_latency_delays_work() -> None:
    with _client(added_latency_ms=150) as client:
        client.get("/live")
        response = client.get("/work")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.14


def test_flag_endpoint_uses_rules() -> None:
    flags = load_settings({"APP_FLAGS": json.dumps({"checkout": {"percent": 0, "allow": ["alice"]}})}).flags
    with _client(flags=flags) as client:
        assert client.get("/flags/checkout", params={"user": "alice"}).json()["enabled"] is True
        assert client.get("/flags/checkout", params={"user": "bob"}).json()["enabled"] is False
        assert client.get("/flags/nope").status_code == 404
        assert client.get("/work", params={"user": "alice"}).json()["flags"] == {"checkout": True}


def test_circuit_breaker_opens_on_a_dead_downstream_and_serves_the_fallback() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/"
    with _client(downstream_url=url, breaker_fail_max=3, downstream_required=True) as client:
        downstream = client.app.state.downstream  # type: ignore[attr-defined]
        assert client.get("/ready").status_code == 200
        sources = [client.get("/work").json()["downstream"] for _ in range(5)]
        assert sources == ["fallback"] * 5
        assert downstream.state == "open"
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["downstream_breaker_closed"] is False


def test_downstream_call_through_a_live_service(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    try:
        target = supervisor.spawn_app("downstream-1", {"APP_VERSION": "dep"})
        with _client(downstream_url=f"{target.url}/live") as client:
            body = client.get("/work").json()
            assert body["downstream"] == "downstream"
            assert client.app.state.downstream.state == "closed"  # type: ignore[attr-defined]
    finally:
        supervisor.stop_all()
    assert not supervisor.alive()


def test_settings_defaults() -> None:
    settings = load_settings({})
    assert (settings.version, settings.error_rate, settings.downstream_url) == ("dev", 0.0, None)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"APP_ERROR_RATE": "2"}, "APP_ERROR_RATE"),
        ({"APP_ERROR_RATE": "lots"}, "APP_ERROR_RATE"),
        ({"APP_ADDED_LATENCY_MS": "-1"}, "APP_ADDED_LATENCY_MS"),
        ({"APP_LB_FALL": "0"}, "APP_LB_FALL"),
        ({"APP_DOWNSTREAM_URL": "ftp://x"}, "APP_DOWNSTREAM_URL"),
        ({"APP_DOWNSTREAM_REQUIRED": "maybe"}, "APP_DOWNSTREAM_REQUIRED"),
        ({"APP_FLAGS": "{not json"}, "APP_FLAGS"),
        ({"APP_FLAGS": '{"f": {"percent": 200}}'}, "APP_FLAGS: f.percent"),
    ],
    ids=lambda v: v if isinstance(v, str) else next(iter(v)),
)
def test_bad_settings_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(env)


def test_lifecycle_waits_for_failed_probes_and_quiet_then_times_out() -> None:
    life = Lifecycle(lb_fall=2, quiet_seconds=0.5, timeout_seconds=10)
    assert not life.released_by_lb()
    life.begin_drain()
    t0 = life.draining_since
    assert t0 is not None
    life.probe_failed()
    assert not life.released_by_lb(now=t0 + 1)  # one failed check is not "taken out"
    life.probe_failed()
    life.last_request_at = t0 + 0.9
    assert not life.released_by_lb(now=t0 + 1)  # traffic still arriving
    assert life.released_by_lb(now=t0 + 1.5)
    stuck = Lifecycle(lb_fall=2, timeout_seconds=3)
    stuck.begin_drain()
    assert stuck.draining_since is not None
    assert stuck.released_by_lb(now=stuck.draining_since + 3)  # no checks came: bounded wait
