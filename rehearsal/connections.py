"""Kept-alive `http.client` connections to one origin, for the rehearsal's senders on 127.0.0.1.

The standard library's client, not httpx: on the 2-core development machine httpx spent 1.1-1.5 ms
of CPU per request against 0.15-0.18 ms (`bench/synthetic_sender.py`), and the rehearsal's senders,
its driver and its metrics share one process (docs/DEVELOPING.md, benchmarks).

A connection is used by one thread at a time: `take` it, send, then `give` it back if the answer
left it open. An idle connection is reused only while it is younger than `KEEPALIVE_SECONDS` and the
server has not closed it (nothing to read on it), so a request never goes out on a connection the
server dropped, which would look like a failure of the app.
"""

from __future__ import annotations

import http.client
import queue
import select
import time
from urllib.parse import urlsplit

KEEPALIVE_SECONDS = 1.0
"""An idle connection older than this is closed rather than reused: well inside any keep-alive
timeout of HAProxy or the app."""

TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
"""What a request without an HTTP answer raises: refused, reset, closed early, timed out."""


class KeptAliveConnections:
    """Connections to the origin of `url`, each taken by one thread at a time."""

    def __init__(self, url: str, timeout_seconds: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port
        self.timeout_seconds = timeout_seconds
        self._idle: queue.SimpleQueue[tuple[http.client.HTTPConnection, float]] = queue.SimpleQueue()

    def take(self) -> http.client.HTTPConnection:
        """An idle connection that is fresh and still open, else a new one."""
        while True:
            try:
                conn, idle_since = self._idle.get_nowait()
            except queue.Empty:
                break
            sock = conn.sock
            fresh = sock is not None and time.monotonic() - idle_since < KEEPALIVE_SECONDS
            if fresh and not select.select([sock], [], [], 0)[0]:
                return conn
            conn.close()
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_seconds)

    def give(self, conn: http.client.HTTPConnection) -> None:
        """Back to the idle ones, for the next `take`."""
        self._idle.put((conn, time.monotonic()))

    def close(self) -> None:
        """Close every idle connection (a connection still taken is closed by its taker)."""
        while True:
            try:
                self._idle.get_nowait()[0].close()
            except queue.Empty:
                break


def get(
    conn: http.client.HTTPConnection, target: str, headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bool]:
    """`GET target` on `conn`, the whole body read; the response, and whether `conn` may carry the
    next request. Raises one of `TRANSPORT_ERRORS` when no HTTP answer came."""
    conn.request("GET", target, headers=headers or {})
    response = conn.getresponse()
    response.read()
    return response, not response.will_close
