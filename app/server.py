"""uvicorn server whose SIGTERM handling is a graceful drain, not an immediate stop.

On SIGTERM: readiness answers 503 at once; the server keeps serving until the load balancer has
taken the instance out (see `Lifecycle.released_by_lb`); then uvicorn stops accepting, finishes
in-flight requests (bounded by `timeout_graceful_shutdown`) and the process exits 0.
A second SIGTERM or SIGINT forces the exit.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn

from .lifecycle import Lifecycle

log = logging.getLogger("app.server")


class GracefulServer(uvicorn.Server):
    """uvicorn.Server that drains on SIGTERM before it stops."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded in _captured_signals: uvicorn would re-raise it after a clean drain and
        # the process would die by the signal instead of exiting 0.
        if self.lifecycle.draining or (sig == signal.SIGINT and self.should_exit):
            self.should_exit = True
            self.force_exit = True
            return
        if sig == signal.SIGTERM:
            log.warning("SIGTERM: failing readiness and waiting for the load balancer")
            self.lifecycle.begin_drain()
            return
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self.lifecycle.draining and not self.should_exit and self.lifecycle.released_by_lb():
            log.warning(
                "load balancer let go after %d failed readiness checks; draining in-flight",
                self.lifecycle.failed_probes,
            )
            self.should_exit = True
        return await super().on_tick(counter)
