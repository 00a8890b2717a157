"""The synthetic bake's concurrency (`SyntheticBake.concurrency`, `--synthetic-concurrency`): validated,
journaled, and what the senders really keep in flight, as a local server counts it."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from zero_downtime.contract import probe as probe_module
from zero_downtime.contract.probe import ProbeRequest, handler
from zero_downtime.driver.adapters.synthetic import EARLIER_MAX_CONCURRENCY, ProbeSyntheticTraffic, run_here
from zero_downtime.driver.core.errors import InputError
from zero_downtime.driver.core.plan import (
    DEFAULT_SYNTHETIC_CONCURRENCY,
    MAX_SYNTHETIC_CONCURRENCY,
    Plan,
    Strategy,
    SyntheticBake,
    build_plan,
)
from zero_downtime.rehearsal.cli import build_parser, config_from_args
from zero_downtime.rehearsal.synthetic import LocalSyntheticTraffic


class _Counting(http.server.BaseHTTPRequestHandler):
    """Holds each request until `expected` have been in flight at once (or 2 s pass), and records
    the peak. A sender keeping exactly `expected` in flight makes the peak `expected`; fewer leave
    it lower (each request then waits the 2 s out), more push it higher."""

    expected = 1
    in_flight = 0
    peak = 0
    served = 0
    cond = threading.Condition()

    def do_GET(self) -> None:
        cls = type(self)
        with cls.cond:
            cls.in_flight += 1
            cls.served += 1
            cls.peak = max(cls.peak, cls.in_flight)
            cls.cond.notify_all()
            cls.cond.wait_for(lambda: cls.peak >= cls.expected, timeout=2.0)
            # Done before the answer leaves: a sender may send its next request the moment it has
            # the answer, before this thread could count this one out (CI saw a peak of 2 at 1).
            cls.in_flight -= 1
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # 64 connections at once must not overflow the listen backlog (5)
    daemon_threads = True


@pytest.fixture
def counting() -> Iterator[tuple[str, type[_Counting]]]:
    _Counting.in_flight = _Counting.peak = _Counting.served = 0
    server = _Server(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", _Counting
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- validation and the journal ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -1, MAX_SYNTHETIC_CONCURRENCY + 1, True, 2.5, "8", None])
def test_a_concurrency_out_of_range_is_refused_naming_its_key(bad: object) -> None:
    with pytest.raises(InputError) as err:
        SyntheticBake(concurrency=bad)  # type: ignore[arg-type]
    assert err.value.key == "synthetic_concurrency"
    assert f"must be an integer 1-{MAX_SYNTHETIC_CONCURRENCY}" in str(err.value)


def test_the_concurrency_edges_are_accepted_and_the_default_gives_the_rank_test_its_samples() -> None:
    assert SyntheticBake(concurrency=1).concurrency == 1
    assert SyntheticBake(concurrency=MAX_SYNTHETIC_CONCURRENCY).concurrency == MAX_SYNTHETIC_CONCURRENCY
    from zero_downtime.driver.core.analysis import AnalysisConfig

    # One answer per slot at the bake's first look is enough for the latency rank test.
    assert SyntheticBake().concurrency == DEFAULT_SYNTHETIC_CONCURRENCY == AnalysisConfig().latency_min_samples


def test_the_concurrency_is_journaled_and_a_plan_journaled_before_it_resumes_at_four() -> None:
    plan = build_plan("canary", steps=[10, 100], interval=60, synthetic=SyntheticBake(concurrency=33))
    assert Plan.from_dict(plan.to_dict()).synthetic == SyntheticBake(concurrency=33)
    old = plan.to_dict()
    del old["synthetic"]["concurrency"]  # type: ignore[attr-defined]
    back = Plan.from_dict(old)
    assert back.strategy is Strategy.CANARY and back.synthetic is not None
    assert back.synthetic.concurrency == 4  # what the release was started with


def test_the_rehearsal_refuses_a_bad_concurrency_naming_its_flag() -> None:
    for bad in ("0", "65"):
        with pytest.raises(ValueError, match="--synthetic-concurrency"):
            config_from_args(build_parser().parse_args(["--synthetic-concurrency", bad]))
    cfg = config_from_args(build_parser().parse_args(["--synthetic-concurrency", "9"]))
    assert cfg.good_plan().synthetic == SyntheticBake(
        cfg.synthetic_requests, cfg.synthetic_seconds, cfg.probe_requests, concurrency=9
    )


# -- what the senders keep in flight -----------------------------------------------------------------
@pytest.mark.parametrize("concurrency", [1, 7, DEFAULT_SYNTHETIC_CONCURRENCY, MAX_SYNTHETIC_CONCURRENCY])
def test_the_probe_burst_keeps_the_configured_requests_in_flight(
    counting: tuple[str, type[_Counting]], concurrency: int
) -> None:
    url, server = counting
    server.expected = concurrency
    traffic = ProbeSyntheticTraffic({"test": ProbeRequest(url, attempts=1)}, run_here, concurrency=concurrency)
    got = traffic.send("test", 2 * concurrency, 30)
    assert got.requests == server.served == 2 * concurrency and got.errors_5xx == 0
    assert server.peak == concurrency


@pytest.mark.parametrize("concurrency", [3, DEFAULT_SYNTHETIC_CONCURRENCY])
def test_the_rehearsal_sender_keeps_the_configured_requests_in_flight(
    counting: tuple[str, type[_Counting]], concurrency: int
) -> None:
    url, server = counting
    server.expected = concurrency
    traffic = LocalSyntheticTraffic(url, url, concurrency=concurrency)
    try:
        got = traffic.send("test", 2 * concurrency, 30)
    finally:
        traffic.close()
    assert got.requests == server.served == 2 * concurrency
    assert server.peak == concurrency


def test_a_probe_function_deployed_before_the_limit_was_raised_gets_bursts_it_accepts(
    counting: tuple[str, type[_Counting]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The function of an older stack: its handler accepted at most 16 at a time.
    url, server = counting
    events: list[dict[str, Any]] = []

    def old_function(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        with monkeypatch.context() as old:
            old.setattr(probe_module, "MAX_CONCURRENCY", EARLIER_MAX_CONCURRENCY)
            return handler(event)

    server.expected = EARLIER_MAX_CONCURRENCY
    traffic = ProbeSyntheticTraffic({"test": ProbeRequest(url, attempts=1)}, old_function, concurrency=20)
    started = time.monotonic()
    got = traffic.send("test", 40, 30)
    assert got.requests == server.served == 40 and server.peak == EARLIER_MAX_CONCURRENCY
    assert [e["burst"]["concurrency"] for e in events] == [20, EARLIER_MAX_CONCURRENCY]
    # Refused once: later bursts of the release go at the old limit straight away.
    traffic.send("test", 40, 30)
    assert [e["burst"]["concurrency"] for e in events][2:] == [EARLIER_MAX_CONCURRENCY]
    assert time.monotonic() - started < 20
