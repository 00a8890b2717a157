"""The rehearsal senders' kept-alive connections (`rehearsal/connections.py`), synthetic traffic and
the user load generator, against a plain HTTP/1.1 server on 127.0.0.1: a connection the server
closed while idle is never reused (no request fails for it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from zero_downtime.rehearsal import connections
from zero_downtime.rehearsal.loadgen import LoadGenerator
from zero_downtime.rehearsal.synthetic import LocalSyntheticTraffic

from tests.driver.conftest import http_server

pytestmark = pytest.mark.timeout(60)
SERVER_IDLE_TIMEOUT = 0.2  # the server closes a kept-alive connection idle this long


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    timeout = SERVER_IDLE_TIMEOUT
    connections: set[int] = set()

    def setup(self) -> None:
        super().setup()
        _Handler.connections.add(id(self))

    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.connections = set()
    with http_server(_Handler) as url:
        yield url


def test_connections_are_kept_alive_within_a_burst(server: str) -> None:
    traffic = LocalSyntheticTraffic(server, server, concurrency=4)
    try:
        got = traffic.send("test", 200, 10)
    finally:
        traffic.close()
    assert (got.requests, got.errors_5xx) == (200, 0)
    assert 1 <= len(_Handler.connections) <= 4, "one connection per worker, not one per request"


def test_a_connection_the_server_closed_while_idle_is_not_reused(server: str) -> None:
    assert connections.KEEPALIVE_SECONDS > 3 * SERVER_IDLE_TIMEOUT  # the age check alone would reuse them
    traffic = LocalSyntheticTraffic(server, server, concurrency=4)
    try:
        first = traffic.send("test", 40, 10)
        time.sleep(3 * SERVER_IDLE_TIMEOUT)  # the server closes every idle connection
        second = traffic.send("test", 40, 10)
    finally:
        traffic.close()
    assert (first.requests, first.errors_5xx) == (40, 0)
    assert (second.requests, second.errors_5xx) == (40, 0), [p.status for p in traffic.probes if p.failed]
    assert len(_Handler.connections) > 4, "the second burst opened new connections"


def test_the_load_generator_keeps_connections_alive(server: str) -> None:
    load = LoadGenerator(server, 200, 100, 10, concurrency=4)
    load.start()
    load.join()
    assert sorted({r.status for r in load.records}) == [200] and len(load.records) == 100
    assert 1 <= len(_Handler.connections) <= 4, "one connection per request in flight, not one per request"


def test_the_load_generator_never_sends_on_a_connection_the_server_closed(server: str) -> None:
    gap = 2.5 * SERVER_IDLE_TIMEOUT  # the server closes the connection between two requests
    assert gap < connections.KEEPALIVE_SECONDS  # the age check alone would reuse it
    load = LoadGenerator(server, 1 / gap, 5, 10, concurrency=1)
    load.start()
    load.join()
    assert [r.status for r in load.records] == [200] * 5, [r.error for r in load.records]
    assert len(_Handler.connections) >= 2, "later requests opened new connections"
