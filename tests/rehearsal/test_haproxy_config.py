"""Generated HAProxy config, and the pure weight arithmetic of the router."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from zero_downtime.contract import Weights
from zero_downtime.driver.core.errors import PortError
from zero_downtime.rehearsal.haproxy_config import HaproxyLayout, HealthCheck, render_config, slot_color
from zero_downtime.rehearsal.router import percents, server_weight


def test_config_has_slots_checks_and_admin_socket() -> None:
    text = render_config(
        HaproxyLayout(bind="127.0.0.1:8080", socket_path="/tmp/x.sock", slots_per_color=3, check=HealthCheck(fall=3))
    )
    servers = [line.split()[1] for line in text.splitlines() if line.strip().startswith("server ")]
    assert servers == ["blue-1", "blue-2", "blue-3", "green-1", "green-2", "green-3"]
    assert "stats socket /tmp/x.sock mode 600 level admin" in text
    assert "http-check send meth GET uri /ready" in text
    assert "fall 3" in text
    assert "bind 127.0.0.1:8080" in text
    assert "balance roundrobin" in text  # a dynamic algorithm: weights change without reload


@pytest.mark.parametrize("bind", ["0.0.0.0:80", ":8080", "10.0.0.1:80"])
def test_config_refuses_non_loopback_binds(bind: str) -> None:
    with pytest.raises(ValueError, match="bind"):
        render_config(HaproxyLayout(bind=bind, socket_path="/tmp/x.sock"))


def test_haproxy_accepts_the_generated_config(haproxy_binary: str, tmp_path: Path) -> None:
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_config(HaproxyLayout(bind="127.0.0.1:18999", socket_path=str(tmp_path / "a.sock"))))
    check = subprocess.run([haproxy_binary, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


def test_slot_color() -> None:
    assert (slot_color("blue-2"), slot_color("green-1"), slot_color("BACKEND")) == ("blue", "green", None)


@pytest.mark.parametrize(
    ("percent", "servers", "weight"),
    [(0, 2, 0), (10, 2, 10), (100, 2, 100), (100, 1, 200), (1, 4, 1), (50, 0, 0)],
)
def test_server_weight(percent: int, servers: int, weight: int) -> None:
    assert server_weight(percent, servers) == weight


def test_split_is_exact_for_equal_fleets_and_uneven_ones_round_trip() -> None:
    for green in (1, 5, 10, 25, 50, 90, 99):
        w = Weights(blue=100 - green, green=green)
        totals = {"blue": 2 * server_weight(w.blue, 2), "green": 1 * server_weight(w.green, 1)}
        assert percents(totals) == w


def test_percents_refuses_all_zero() -> None:
    with pytest.raises(PortError, match="503"):
        percents({"blue": 0, "green": 0})


# -- ALB-like by default (issue 17) ---------------------------------------------------------------
def test_default_config_never_retries_like_an_alb() -> None:
    text = render_config(HaproxyLayout(bind="127.0.0.1:8080", socket_path="/tmp/x.sock"))
    lines = [line.strip() for line in text.splitlines()]
    assert "retries 0" in lines
    assert not [line for line in lines if "redispatch" in line or line.startswith("retry-on")]


def test_retries_only_when_asked() -> None:
    text = render_config(HaproxyLayout(bind="127.0.0.1:8080", socket_path="/tmp/x.sock", retries=True))
    lines = [line.strip() for line in text.splitlines()]
    assert {"retries 3", "option redispatch 1"} <= set(lines)
    assert "retries 0" not in lines


def test_health_check_comes_from_the_load_balancer_settings() -> None:
    from zero_downtime.rehearsal.lb_settings import LoadBalancerSettings

    lb = LoadBalancerSettings(interval_seconds=20, healthy_threshold=3, unhealthy_threshold=4, time_scale=0.1)
    text = render_config(HaproxyLayout(bind="127.0.0.1:8080", socket_path="/tmp/x.sock", check=lb.health_check()))
    assert "default-server inter 2000ms fastinter 2000ms downinter 2000ms fall 4 rise 3" in text
    assert lb.drain_seconds == 3.0  # the stack's 30 s deregistration delay, x0.1


@pytest.mark.parametrize("retries", [False, True])
def test_haproxy_accepts_both_retry_settings(haproxy_binary: str, tmp_path: Path, retries: bool) -> None:
    cfg = tmp_path / "haproxy.cfg"
    layout = HaproxyLayout(bind="127.0.0.1:18999", socket_path=str(tmp_path / "a.sock"), retries=retries)
    cfg.write_text(render_config(layout))
    check = subprocess.run([haproxy_binary, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
