"""The app on a socket handed over by the supervisor (`--fd`) is served as TCP, so every accepted
connection has TCP_NODELAY, as on ECS where uvicorn binds its own port.

uvicorn's own `fd=` wraps the descriptor as AF_UNIX and asyncio then leaves Nagle's algorithm on:
each keep-alive response waited about 40 ms for the peer's delayed ACK, which capped the
rehearsal's synthetic bake at about 900 requests/s on 2 cores (2,000-2,400 with TCP_NODELAY;
docs/DEVELOPING.md, benchmarks)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import pytest
from zero_downtime.app import __main__ as app_main

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()  # as the supervisor makes it (rehearsal/processes.py): proto left at 0
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock
    finally:
        sock.close()


def _nodelay_of_an_accepted_connection(server_socket: socket.socket) -> int:
    """TCP_NODELAY on the server side of one connection asyncio accepted on `server_socket`."""

    async def main() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                conn = transport.get_extra_info("socket")
                accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=server_socket)
        async with server:
            _, writer = await asyncio.open_connection(*server_socket.getsockname()[:2])
            try:
                return await asyncio.wait_for(accepted, 10)
            finally:
                writer.close()

    return asyncio.run(main())


def test_an_inherited_listener_is_tcp_and_its_connections_have_no_nagle_delay(listener: socket.socket) -> None:
    sock = app_main.inherited_socket(os.dup(listener.fileno()))  # the app owns its copy, as after exec
    assert (sock.family, sock.type, sock.proto) == (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    assert _nodelay_of_an_accepted_connection(sock) != 0


def test_main_serves_the_inherited_socket_itself_not_uvicorns_fd(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, object] = {}

    def run(self: app_main.GracefulServer, sockets: list[socket.socket] | None = None) -> None:
        served.update(fd=self.config.fd, sockets=sockets)

    monkeypatch.setattr(app_main.GracefulServer, "run", run)
    fd = os.dup(listener.fileno())
    assert app_main.main(["--fd", str(fd)]) == 0
    assert served["fd"] is None, "uvicorn's fd= would serve the socket as AF_UNIX"
    [sock] = served["sockets"]  # type: ignore[misc]
    with sock:
        assert sock.fileno() == fd and sock.proto == socket.IPPROTO_TCP
