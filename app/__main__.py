"""`python -m zero_downtime.app`: serve the sample service with uvicorn on 127.0.0.1.

Settings come from APP_* environment variables (see app/settings.py); a bad one exits 2 with a
message naming it. `--fd` serves on an already-bound socket handed over by the supervisor, so
no port is ever picked twice.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys

import uvicorn

from .server import GracefulServer
from .service import create_app
from .settings import SettingsError, load_settings

DEFAULT_KEEP_ALIVE_SECONDS = 75
"""Longer than the load balancer's idle timeout (ALB's default, 60 s; the rehearsal's HAProxy too)."""


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket `fd` as what it is: TCP on 127.0.0.1 (family, type and protocol read from
    the descriptor).

    Not uvicorn's own `fd=`: it wraps the descriptor as AF_UNIX, so asyncio skips TCP_NODELAY on
    every accepted connection. Nagle's algorithm then holds the body of each response, written after
    its headers, until the peer's delayed ACK: about 40 ms per keep-alive request on Linux, which a
    task on ECS (uvicorn binding its own port) never has (uvicorn issue #3149)."""
    return socket.socket(fileno=fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zero_downtime.app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="bind port (default 8000)")
    parser.add_argument("--fd", type=int, default=None, help="serve on this inherited socket")
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=10,
        help="seconds to finish in-flight requests after the drain (default 10)",
    )
    parser.add_argument(
        "--keep-alive",
        type=int,
        default=DEFAULT_KEEP_ALIVE_SECONDS,
        help=f"idle keep-alive seconds (default {DEFAULT_KEEP_ALIVE_SECONDS}, longer than the LB's idle timeout)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"app: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=args.graceful_timeout,
        # The app must not close an idle connection the load balancer is about to reuse: that race
        # is the classic source of 502s behind ALB, so the app's idle timeout outlives the LB's.
        timeout_keep_alive=args.keep_alive,
        lifespan="on",
    )
    server = GracefulServer(config, app.state.lifecycle)
    server.run(sockets=None if args.fd is None else [inherited_socket(args.fd)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
