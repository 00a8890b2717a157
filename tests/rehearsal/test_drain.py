"""Stopping instances behind an ALB-like HAProxy (no retries): what the drain saves, and what it costs
to remove it.

* The deployer stops a color as ECS stops tasks behind an ALB: deregister (HAProxy DRAIN), wait
  the deregistration delay while in-flight requests finish, then SIGTERM. Under load, nothing
  fails and no request reaches an instance after its SIGTERM.
* With both drains removed (the deployer sends SIGTERM at once, the app exits at once), requests
  fail: the load balancer keeps sending to the instance until its health check notices, and
  without retries each of those is the user's error (HAProxy's retries, on before issue 17, resent
  most of them to another instance and hid them).
* The app's own SIGTERM handling, on a real process without a load balancer: readiness fails at
  once, the process keeps serving for at least fall x interval, the request in flight finishes,
  and it exits 0.
* The app's keep-alive: `--keep-alive` (default 75 s, over the load balancer's 60 s idle timeout)
  is what uvicorn gets, and a real process keeps an idle connection open past uvicorn's own 5 s
  default and closes it after its keep-alive.
"""

from __future__ import annotations

import http.client
import itertools
import select
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from zero_downtime.app.lifecycle import Lifecycle
from zero_downtime.contract import Weights
from zero_downtime.rehearsal.deployer import AppRelease, LocalDeployer
from zero_downtime.rehearsal.haproxy_config import HaproxyLayout, render_config
from zero_downtime.rehearsal.haproxy_process import HaproxyProcess
from zero_downtime.rehearsal.lb_settings import LoadBalancerSettings
from zero_downtime.rehearsal.loadgen import LoadGenerator, Record
from zero_downtime.rehearsal.processes import Supervisor
from zero_downtime.rehearsal.router import HaproxyRouter

pytestmark = pytest.mark.timeout(120)

# Slow enough that requests are in flight at any moment of the stop.
SLOW_MS = 150.0


@dataclass
class Stack:
    haproxy: HaproxyProcess
    supervisor: Supervisor
    deployer: LocalDeployer
    router: HaproxyRouter


def _stack(tmp_path: Path, *, retries: bool, drain: bool) -> Iterator[Stack]:
    lb = LoadBalancerSettings(retries=retries)
    haproxy = HaproxyProcess(tmp_path, slots_per_color=2, check=lb.health_check(), retries=retries)
    supervisor = Supervisor(tmp_path)
    # Without the drain the app exits as soon as it gets SIGTERM: APP_DRAIN_TIMEOUT_SECONDS=0.
    extra = {} if drain else {"APP_DRAIN_TIMEOUT_SECONDS": "0"}
    releases = {
        "v1": AppRelease("v1", added_latency_ms=SLOW_MS, extra_env=extra),
        "v2": AppRelease("v2", added_latency_ms=SLOW_MS, extra_env=extra),
    }
    try:
        haproxy.start()
        assert haproxy.api is not None and haproxy.layout is not None
        deployer = LocalDeployer(
            haproxy,
            supervisor,
            releases,
            drain_timeout_seconds=10,
            deregistration_delay_seconds=lb.drain_seconds,
            drain=drain,
        )
        router = HaproxyRouter(haproxy.api, deployer.attached, test_map_path=haproxy.layout.test_map_path)
        yield Stack(haproxy, supervisor, deployer, router)
    finally:
        supervisor.stop_all()
        haproxy.stop()


@pytest.fixture
def drained(haproxy_binary: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(tmp_path, retries=False, drain=True)


@pytest.fixture
def undrained(haproxy_binary: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(tmp_path, retries=False, drain=False)


def _stop_green_under_load(stack: Stack) -> tuple[list[Record], float]:
    """Blue and green share traffic; green is stopped while it still has its share."""
    for color, image in (("blue", "v1"), ("green", "v2")):
        stack.deployer.deploy_idle(color, image, 2)  # type: ignore[arg-type]
        assert stack.deployer.wait_healthy(color, 20)  # type: ignore[arg-type]
    stack.router.set_weights(Weights(blue=50, green=50))
    load = LoadGenerator(stack.haproxy.url, rate=120, max_requests=900, max_seconds=6)
    load.start()
    time.sleep(1.5)
    stack.deployer.scale_down("green")
    time.sleep(1.0)  # load goes on after green is gone
    load.stop()
    load.join(15)
    [stop] = stack.deployer.stops
    return load.snapshot(), stop.sigterm_at


def test_drain_then_sigterm_drops_nothing_without_retries(drained: Stack) -> None:
    assert drained.haproxy.layout is not None and not drained.haproxy.layout.retries
    records, sigterm_at = _stop_green_under_load(drained)
    [stop] = drained.deployer.stops
    assert stop.graceful and stop.in_flight_at_sigterm == 0
    assert len(records) >= 200
    assert sum(r.version == "v2" for r in records) > 20  # green served its share before the stop
    assert [r for r in records if r.failed] == []
    # Deregistered first: after its SIGTERM no request even reached green ...
    assert [r for r in records if r.version == "v2" and r.sent_at > sigterm_at] == []
    # ... and SIGTERM waited for the requests in flight at the drain: none can have been answered by
    # green after it. Judged by the earliest the app can have answered (sent, plus HAProxy's measure
    # of the server's time): the client sees the answer later, by up to 0.5 s on a busy machine, and
    # that delay is not the app's. Without the wait some are answered 0-150 ms after SIGTERM.
    assert stop.drained_seconds > 0
    late = [r for r in records if r.version == "v2" and r.sent_at + (r.server_seconds or 0.0) > sigterm_at + 0.05]
    assert late == []


def test_without_any_drain_requests_fail_when_the_lb_does_not_retry(undrained: Stack) -> None:
    assert undrained.haproxy.layout is not None and not undrained.haproxy.layout.retries
    records, _ = _stop_green_under_load(undrained)
    failed = [r for r in records if r.failed]
    # The app is healthy throughout: every failure is the stop's (refused or cut connections).
    assert failed, "stopping green without a drain failed no request: the test would not notice a missing drain"
    assert {r.status for r in failed} <= {0, 502, 503, 504}


# -- the app's SIGTERM handling ---------------------------------------------------------------------
def test_app_fails_readiness_then_waits_fall_x_interval_and_finishes_in_flight(tmp_path: Path) -> None:
    fall, interval = 2, 0.5
    supervisor = Supervisor(tmp_path)
    try:
        inst = supervisor.spawn_app(
            "solo",
            {
                "APP_VERSION": "v1",
                "APP_LB_FALL": str(fall),
                "APP_LB_INTERVAL_SECONDS": str(interval),
                "APP_ADDED_LATENCY_MS": "1500",
                "APP_DRAIN_QUIET_SECONDS": "0.1",
            },
        )
        slow: dict[str, int] = {}
        client = httpx.Client(base_url=inst.url, timeout=10)
        in_flight = threading.Thread(target=lambda: slow.update(status=client.get("/work").status_code))
        in_flight.start()
        time.sleep(0.3)  # the slow request is in flight
        sigterm_at = time.monotonic()
        inst.proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        readiness: list[tuple[float, int]] = []
        with httpx.Client(base_url=inst.url, timeout=2) as probe:
            while inst.alive and time.monotonic() - sigterm_at < 8:  # the load balancer's checks
                try:
                    readiness.append((time.monotonic() - sigterm_at, probe.get("/ready").status_code))
                except httpx.HTTPError:
                    break
                time.sleep(0.1)
        code = inst.proc.wait(timeout=10)
        exited_after = time.monotonic() - sigterm_at
        in_flight.join(10)
        client.close()
    finally:
        supervisor.stop_all()
    assert code == 0
    assert readiness and {status for _, status in readiness} == {503}  # failing readiness from the first check
    # It kept answering (so an LB could take it out) for at least fall x interval after SIGTERM: its
    # last answer came within one probe of that (probes are 0.1 s apart plus the request, more on a
    # busy machine; a CI run saw the last at 0.87 s of 1 s, the next probe after the exit) ...
    times = [t for t, _ in readiness]
    probe_gap = max((b - a for a, b in itertools.pairwise(times)), default=0.2)
    assert times[-1] + probe_gap >= fall * interval, (times, probe_gap)
    assert exited_after >= fall * interval
    # ... and the request in flight at SIGTERM finished.
    assert slow == {"status": 200}


def test_lifecycle_waits_at_least_fall_x_interval_even_when_checks_come_fast() -> None:
    life = Lifecycle(lb_fall=2, lb_interval_seconds=1.0, quiet_seconds=0.1, timeout_seconds=30)
    life.begin_drain()
    t0 = life.draining_since
    assert t0 is not None
    life.probe_failed()
    life.probe_failed()  # two failed checks already, and quiet
    assert not life.released_by_lb(now=t0 + 1.99)
    assert life.released_by_lb(now=t0 + 2.0)


# -- settings ---------------------------------------------------------------------------------------
def test_rehearsal_lb_defaults_come_from_the_stacks_alb_defaults() -> None:
    from zero_downtime.contract import load_balancer as alb

    lb = LoadBalancerSettings()
    check = lb.health_check()
    assert (check.fall, check.rise) == (alb.DEFAULT_UNHEALTHY_THRESHOLD, alb.DEFAULT_HEALTHY_THRESHOLD)
    assert check.interval_ms == round(alb.DEFAULT_INTERVAL_SECONDS * lb.time_scale * 1000)
    assert lb.drain_seconds == alb.DEFAULT_DEREGISTRATION_DELAY_SECONDS * lb.time_scale
    assert not lb.retries
    assert "no retries" in lb.describe()
    assert "retries ON" in LoadBalancerSettings(retries=True).describe()


def test_app_keep_alive_outlives_the_load_balancers_idle_timeout() -> None:
    from zero_downtime.app.__main__ import DEFAULT_KEEP_ALIVE_SECONDS
    from zero_downtime.contract.load_balancer import DEFAULT_IDLE_TIMEOUT_SECONDS

    text = render_config(HaproxyLayout(bind="127.0.0.1:1", socket_path="/tmp/x.sock"))
    idle = next(line.split()[-1] for line in text.splitlines() if "timeout http-keep-alive" in line)
    assert idle == f"{DEFAULT_IDLE_TIMEOUT_SECONDS * 1000}ms"
    assert DEFAULT_KEEP_ALIVE_SECONDS > DEFAULT_IDLE_TIMEOUT_SECONDS


def test_the_keep_alive_setting_is_what_uvicorn_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default (75 s) and `--keep-alive` reach uvicorn's `timeout_keep_alive`; without that wiring
    uvicorn would close idle connections after its own 5 s, under the load balancer's 60 s."""
    from zero_downtime.app import __main__ as app_main

    given: list[dict[str, object]] = []

    class Server:
        def __init__(self, config: dict[str, object], lifecycle: Lifecycle) -> None:
            given.append(config)

        def run(self, sockets: object = None) -> None:  # as uvicorn.Server.run
            pass

    monkeypatch.setattr(app_main.uvicorn, "Config", lambda app, **kwargs: kwargs)
    monkeypatch.setattr(app_main, "GracefulServer", Server)
    monkeypatch.setattr(app_main.logging, "basicConfig", lambda **_: None)
    assert app_main.main([]) == 0
    assert app_main.main(["--keep-alive", "7"]) == 0
    assert [config["timeout_keep_alive"] for config in given] == [app_main.DEFAULT_KEEP_ALIVE_SECONDS, 7]


def test_an_idle_connection_outlives_uvicorns_default_and_closes_after_the_apps_keep_alive(tmp_path: Path) -> None:
    """A real app process with `--keep-alive 8`: an idle kept-alive connection is still open after 6 s
    (uvicorn's own default, 5 s, would have closed it), and the app closes it once 8 s have passed.
    The margins (2 s each side of 6 s) leave room for a busy machine; the test takes about 9 s."""
    keep_alive, idle = 8, 6.0
    supervisor = Supervisor(tmp_path)
    conn: http.client.HTTPConnection | None = None
    try:
        inst = supervisor.spawn_app("idle", {"APP_VERSION": "v1"}, args=["--keep-alive", str(keep_alive)])
        conn = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=5)
        conn.request("GET", "/live")
        response = conn.getresponse()
        response.read()
        answered = time.monotonic()
        assert response.status == 200 and not response.will_close
        sock = conn.sock
        assert sock is not None
        # The server closing the connection makes it readable (end of file).
        readable, _, _ = select.select([sock], [], [], idle)
        assert not readable, f"the app closed the idle connection after {time.monotonic() - answered:.1f}s"
        readable, _, _ = select.select([sock], [], [], keep_alive + 10 - idle)
        closed_after = time.monotonic() - answered
        assert readable and sock.recv(1) == b"", f"still open after {closed_after:.1f}s idle"
    finally:
        if conn is not None:
            conn.close()
        supervisor.stop_all()


# -- the report says how the load balancer behaved ------------------------------------------------
def test_report_says_when_haproxy_retries_were_on() -> None:
    from rich.console import Console
    from zero_downtime.rehearsal.deployer import StopRecord
    from zero_downtime.rehearsal.report import chart_notes, render, summarize
    from zero_downtime.rehearsal.scenario import GOOD, RehearsalConfig

    from .test_realism import _rec, _result

    for retries in (False, True):
        result = _result(RehearsalConfig(lb_retries=retries), [_rec(1.0, GOOD)], [], restored_at=12.0)
        result.stops = [StopRecord("blue", 5.0, {"blue-1": 0}, drained_seconds=1.5, in_flight_at_sigterm=2)]
        summary = summarize(result)
        console = Console(record=True, width=200)
        render(summary, console)
        text = console.export_text()
        assert summary.settings["load_balancer"]["retries"] is retries
        assert summary.in_flight_at_sigterm == 2  # what the drain could not finish is counted, not hidden
        assert "requests in flight at SIGTERM (after the drain)" in text
        named = [name for name in summary.expectations if name.startswith("0 failed requests during the good")]
        assert len(named) == 1
        if retries:
            assert "retries ON" in text and "not ALB-like" in named[0]
            assert "HAProxy retries ON (not ALB-like)" in chart_notes(summary)
        else:
            assert "no retries, like an ALB" in text and "retries ON" not in text
            assert not [note for note in chart_notes(summary) if "retries" in note]
