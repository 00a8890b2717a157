"""The one downstream call, behind a circuit breaker (pybreaker) with a fallback."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pybreaker


@dataclass(frozen=True)
class DownstreamResult:
    """Answer source: "downstream", "fallback" (breaker open or call failed) or "none"."""

    source: str
    status: int | None = None


class Downstream:
    """Calls `url` with a short timeout; an open breaker answers from the fallback at once."""

    def __init__(self, url: str | None, fail_max: int, reset_seconds: float) -> None:
        self.url = url
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_seconds, name="downstream")
        # One pooled client: the call runs in a worker thread, httpx.Client is thread-safe.
        self._client = httpx.Client(timeout=httpx.Timeout(0.5, connect=0.2)) if url else None

    @property
    def state(self) -> str:
        return "none" if self.url is None else str(self.breaker.current_state)

    def _get(self) -> int:
        assert self._client is not None and self.url is not None
        response = self._client.get(self.url)
        response.raise_for_status()  # 5xx/4xx count as failures for the breaker
        return response.status_code

    def call(self) -> DownstreamResult:
        """Blocking; run it in a thread from async code."""
        if self.url is None:
            return DownstreamResult("none")
        try:
            return DownstreamResult("downstream", self.breaker.call(self._get))
        except (pybreaker.CircuitBreakerError, httpx.HTTPError):
            return DownstreamResult("fallback")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
